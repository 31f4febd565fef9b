/** The tables apim-migrate reads on PostgreSQL: one definition for every catalog query that lists them. */
import type { TableRef } from '../dialect.js';

/**
 * The ordinary and partitioned tables of the session's search path (`current_schemas(false)`), as `pg_class c` and
 * `pg_namespace n`: the FROM and WHERE of a query that lists them.
 */
export const SEARCH_PATH_TABLES = `FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY (current_schemas(false))`;

/** A table of such a query (`n.nspname AS schema_name, c.relname AS table_name`) as a TableRef. */
export function tableRefOf(
  row: { schema_name: string; table_name: string },
  quote: (name: string) => string,
): TableRef {
  return { key: `${row.schema_name}.${row.table_name}`, quoted: `${quote(row.schema_name)}.${quote(row.table_name)}` };
}
