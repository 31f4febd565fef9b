/** The dialect of each engine, and the catalog questions every caller asks through it. */

import type { DbEngine } from '../config/types.js';
import type { Dialect, TableRef } from './dialect.js';
import { MARIADB, MYSQL } from './mysql/dialect.js';
import { POSTGRESQL } from './postgres/dialect.js';
import type { DbSession } from './session.js';

export function dialectOf(engine: DbEngine): Dialect {
  switch (engine) {
    case 'postgresql':
      return POSTGRESQL;
    case 'mysql':
      return MYSQL;
    case 'mariadb':
      return MARIADB;
  }
}

/** The base tables of the session's current schema(s). */
export function listTables(session: DbSession): Promise<TableRef[]> {
  return dialectOf(session.engine).listTables(session);
}

/** Counts the rows of every table in the session's current schema(s), in the session's transaction. */
export async function countRows(session: DbSession): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of await listTables(session)) {
    const [row] = await session.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table.quoted}`);
    counts[table.key] = Number(row?.n ?? 0);
  }
  return counts;
}
