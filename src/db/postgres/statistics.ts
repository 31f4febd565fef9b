/**
 * PostgreSQL's part of the data profile: the catalog's row estimates and sizes. `pg_class.reltuples` is the
 * planner's estimate, kept by VACUUM, ANALYZE and some DDL, and -1 before the first of them (PostgreSQL 14 and
 * later); `pg_total_relation_size` counts the table, its indices and its TOAST data.
 */

import type { ProfileCatalog, TableStatistics } from '../dialect.js';
import type { DbSession } from '../session.js';
import { SEARCH_PATH_TABLES, tableRefOf } from './catalog.js';

async function tableStatistics(session: DbSession, quote: (name: string) => string): Promise<TableStatistics[]> {
  const rows = await session.query<{ schema_name: string; table_name: string; estimate: number; bytes: string }>(
    `SELECT n.nspname AS schema_name, c.relname AS table_name, c.reltuples AS estimate,
            pg_total_relation_size(c.oid) AS bytes
       ${SEARCH_PATH_TABLES}
      ORDER BY 1, 2`,
  );
  return rows.map((row) => ({
    ...tableRefOf(row, quote),
    estimatedRows: Number(row.estimate) < 0 ? null : Math.round(Number(row.estimate)),
    bytes: Number(row.bytes),
  }));
}

/** The profile's catalog questions; `quote` is the dialect's identifier quoting. */
export function postgresProfileCatalog(quote: (name: string) => string): ProfileCatalog {
  return {
    tableStatistics: (session) => tableStatistics(session, quote),
    millisSinceSql: (column) => `(EXTRACT(EPOCH FROM ((CURRENT_TIMESTAMP AT TIME ZONE 'UTC') - ${column})) * 1000)`,
    // PostgreSQL has no per-character-set key prefix limit to check.
    characterSets: async () => undefined,
    // docs/benchmarks.md, full mode on the reference machine: a 1.05 GiB database, 637 MiB of dump, 42.62 s.
    defaultBackupRate: { bytesPerDataByte: 637 / (1.05 * 1024), dataBytesPerSecond: (1.05 * 1024 ** 3) / 42.62 },
  };
}
