/**
 * Reads the data profile of one database, read-only: every base table's rows and bytes from the catalog
 * (Dialect.tableStatistics), exact counts below a threshold, and the WSO2 figures of wso2/workload-figures.ts for
 * the tables the database has. A table above the threshold keeps the catalog's estimate, marked as such: counting
 * it would read all of it.
 */

import type { DatabaseProfile, RowCount, TableProfile, WorkloadFigure } from '../core/data-profile.js';
import { errorMessage } from '../core/errors.js';
import { TOKEN_TABLES, WORKLOAD_FIGURES, type WorkloadFigureDefinition } from '../wso2/workload-figures.js';
import type { TableStatistics } from './dialect.js';
import { dialectOf } from './dialects.js';
import { readDatabaseSizeBytes } from './probes.js';
import { describeAddress, type DbSession } from './session.js';

/** Counts are exact below this many rows (by the catalog's estimate); above it the estimate stands. */
export const EXACT_COUNT_BELOW_ROWS = 1_000_000;

export interface ReadDataProfileOptions {
  /** `apim_db = shared_db` */
  label: string;
  /** Default {@link EXACT_COUNT_BELOW_ROWS}; lower in tests of the estimate path. */
  exactCountBelowRows?: number;
}

export async function readDataProfile(session: DbSession, options: ReadDataProfileOptions): Promise<DatabaseProfile> {
  const threshold = options.exactCountBelowRows ?? EXACT_COUNT_BELOW_ROWS;
  const statistics = await dialectOf(session.engine).tableStatistics(session);
  const tables: TableProfile[] = [];
  for (const table of statistics) {
    tables.push({ table: table.key, rows: await countRows(session, table, threshold), bytes: table.bytes });
  }
  tables.sort((a, b) => b.bytes - a.bytes || a.table.localeCompare(b.table));
  const totalBytes = tables.reduce((sum, table) => sum + table.bytes, 0);
  const figures: WorkloadFigure[] = [];
  for (const definition of WORKLOAD_FIGURES) {
    const found = findTable(statistics, tables, definition.table);
    if (found) figures.push(await readFigure(session, definition, found.statistics, found.profile, threshold));
  }
  const tokenBytes = TOKEN_TABLES.map((name) => findTable(statistics, tables, name)?.profile.bytes ?? 0).reduce(
    (sum, bytes) => sum + bytes,
    0,
  );
  return {
    label: options.label,
    address: describeAddress(session.target),
    engine: session.engine,
    totalBytes,
    databaseBytes: await readDatabaseSizeBytes(session),
    tables,
    figures,
    tokenTables: { bytes: tokenBytes, share: totalBytes > 0 ? tokenBytes / totalBytes : 0 },
  };
}

/** Exact below the threshold, and when the catalog has no estimate at all; the estimate above it. */
async function countRows(session: DbSession, table: TableStatistics, threshold: number): Promise<RowCount> {
  if (table.estimatedRows !== null && table.estimatedRows >= threshold) {
    return { rows: table.estimatedRows, estimate: true };
  }
  const [row] = await session.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table.quoted}`);
  return { rows: Number(row?.n ?? 0), estimate: false };
}

/** The table of that name in any case (the first schema that has it on PostgreSQL). */
function findTable(
  statistics: readonly TableStatistics[],
  tables: readonly TableProfile[],
  name: string,
): { statistics: TableStatistics; profile: TableProfile } | undefined {
  const wanted = name.toLowerCase();
  const found = statistics.find((table) => (table.key.split('.').pop() ?? '').toLowerCase() === wanted);
  const profile = found && tables.find((table) => table.table === found.key);
  return found && profile ? { statistics: found, profile } : undefined;
}

async function readFigure(
  session: DbSession,
  definition: WorkloadFigureDefinition,
  table: TableStatistics,
  profile: TableProfile,
  threshold: number,
): Promise<WorkloadFigure> {
  const plus = definition.plus ?? 0;
  const figure: WorkloadFigure = {
    id: definition.id,
    label: definition.label,
    table: table.key,
    count: { rows: profile.rows.rows + plus, estimate: profile.rows.estimate },
  };
  if (!definition.byColumn && !definition.expiry) return figure;
  if (profile.rows.estimate) {
    return {
      ...figure,
      note: `above ${threshold} rows: states and expiry not counted (that would read the whole table)`,
    };
  }
  try {
    if (definition.byColumn) figure.byValue = await countByValue(session, table.quoted, definition.byColumn);
    if (definition.expiry) figure.expired = await countExpired(session, table.quoted, definition.expiry);
  } catch (error) {
    figure.note = `not counted: ${errorMessage(error)}`;
  }
  return figure;
}

async function countByValue(session: DbSession, table: string, column: string): Promise<Record<string, number>> {
  const rows = await session.query<{ state_value: string | null; n: number | string }>(
    `SELECT ${column} AS state_value, COUNT(*) AS n FROM ${table} GROUP BY ${column} ORDER BY 2 DESC, 1`,
  );
  return Object.fromEntries(rows.map((row) => [row.state_value ?? 'NULL', Number(row.n)]));
}

/**
 * WSO2's rule (OAuth2Util.getAccessTokenExpireMillis): a negative validity never expires; otherwise a token has
 * expired once its issue time plus its validity in milliseconds is past. TIME_CREATED holds UTC (WSO2 writes it
 * with a UTC calendar), so it is compared with the server's UTC clock; the skew WSO2 allows (5 s) is left out.
 */
async function countExpired(
  session: DbSession,
  table: string,
  columns: { created: string; validityMs: string },
): Promise<number> {
  const dialect = dialectOf(session.engine);
  const elapsed = dialect.millisSinceSql(columns.created);
  const [row] = await dialect.inUtc(session, () =>
    session.query<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM ${table} WHERE ${columns.validityMs} >= 0 AND ${elapsed} >= ${columns.validityMs}`,
    ),
  );
  return Number(row?.n ?? 0);
}
