/**
 * Content checksums of the tables of the current schema (PostgreSQL) or database (MySQL/MariaDB), computed the same
 * way on both DBMSs, so that tests can say "exactly these rows changed and no other".
 *
 * Every row becomes a canonical text: each column in ordinal order as `v<text>` (or `n` for NULL), joined by U+001F,
 * where <text> is the decimal form of numbers, `YYYY-MM-DD HH:MM:SS.ffffff` for timestamps, lower-case hex for binary
 * data and the UTF-8 text of strings. The row's MD5 is cut into two 60-bit numbers, and the table's checksum is the
 * two exact sums over all rows. The sums are the digest of the table's content as a multiset: independent of the
 * order in which rows are stored or returned (so no ORDER BY, whose NULL and collation order differ between the
 * DBMSs), sensitive to every value of every row and to duplicate rows (which mapping tables without a key can
 * have). The server does the hashing in one scan per table; only two numbers per table come back, whatever the size.
 *
 * {@link ChecksumAccumulator} computes the same checksum in Node from canonical values, so that a fixture can say what a
 * table must hold without asking the database.
 */

import { createHash } from 'node:crypto';
import type { DbSession } from './session.js';
import { dialectOf } from './dialects.js';

export interface TableChecksum {
  rows: number;
  checksum: string;
}

/** Keyed by the table's name in upper case (PostgreSQL stores WSO2's unquoted names in lower case). */
export type TableChecksums = Record<string, TableChecksum>;

const SEPARATOR = '\u001f';

/** The checksum of the rows added so far; values must be canonical (see the file comment). */
export class ChecksumAccumulator {
  private count = 0;
  private high = 0n;
  private low = 0n;

  add(values: ReadonlyArray<string | null>): void {
    const text = values.map((value) => (value === null ? 'n' : `v${value}`)).join(SEPARATOR);
    const hex = createHash('md5').update(text, 'utf8').digest('hex');
    this.high += BigInt(`0x${hex.slice(0, 15)}`);
    this.low += BigInt(`0x${hex.slice(15, 30)}`);
    this.count += 1;
  }

  result(): TableChecksum {
    return { rows: this.count, checksum: formatChecksum(this.high, this.low) };
  }
}

/** `2020-05-01 10:11:12` (or with fractions) → the canonical `2020-05-01 10:11:12.000000`. */
export function canonicalTimestamp(text: string): string {
  const match = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?$/.exec(text);
  if (!match) throw new Error(`not a timestamp: ${text}`);
  return `${match[1]}.${(match[2] ?? '').padEnd(6, '0')}`;
}

export function canonicalBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function formatChecksum(high: bigint, low: bigint): string {
  return `${high.toString(16)}.${low.toString(16)}`;
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
}

/**
 * Checksums of the given tables (matched case-insensitively; a missing one is an error), or of every base table of
 * the current schema/database. On MySQL/MariaDB the session's time_zone is set to UTC for the call and restored,
 * so TIMESTAMP columns read the same whatever the session says.
 */
export async function tableChecksums(session: DbSession, tables?: readonly string[]): Promise<TableChecksums> {
  const columns = await readColumns(session);
  const byTable = new Map<string, ColumnRow[]>();
  for (const column of columns) {
    const list = byTable.get(column.table_name) ?? [];
    list.push(column);
    byTable.set(column.table_name, list);
  }
  let names = [...byTable.keys()];
  if (tables !== undefined) {
    const wanted = new Set(tables.map((table) => table.toLowerCase()));
    names = names.filter((name) => wanted.has(name.toLowerCase()));
    const found = new Set(names.map((name) => name.toLowerCase()));
    const missing = tables.filter((table) => !found.has(table.toLowerCase()));
    if (missing.length > 0) throw new Error(`tables not found: ${missing.join(', ')}`);
  }
  names.sort();

  return withUtcTimeZone(session, async () => {
    const result: TableChecksums = {};
    for (const name of names) {
      const key = name.toUpperCase();
      if (key in result) throw new Error(`two tables named ${key} in different case; checksums need distinct names`);
      result[key] = await checksumTable(session, name, byTable.get(name) ?? []);
    }
    return result;
  });
}

async function readColumns(session: DbSession): Promise<ColumnRow[]> {
  // information_schema returns upper-case column names on MySQL unless aliased.
  const sql =
    session.engine === 'postgresql'
      ? 'SELECT c.table_name AS table_name, c.column_name AS column_name, c.data_type AS data_type ' +
        'FROM information_schema.columns c JOIN information_schema.tables t ' +
        'ON t.table_schema = c.table_schema AND t.table_name = c.table_name ' +
        "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' " +
        'ORDER BY c.table_name, c.ordinal_position'
      : 'SELECT c.TABLE_NAME AS table_name, c.COLUMN_NAME AS column_name, c.DATA_TYPE AS data_type ' +
        'FROM information_schema.columns c JOIN information_schema.tables t ' +
        'ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME ' +
        "WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' " +
        'ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION';
  return session.query<ColumnRow>(sql);
}

async function checksumTable(session: DbSession, table: string, columns: ColumnRow[]): Promise<TableChecksum> {
  const pg = session.engine === 'postgresql';
  const quote = (name: string) => (pg ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``);
  const values = columns.map((column) =>
    pg ? pgValue(quote(column.column_name), column.data_type) : mysqlValue(quote(column.column_name), column.data_type),
  );
  const sql = pg
    ? 'SELECT COUNT(*) AS n, ' +
      "COALESCE(SUM(('x' || substr(h, 1, 15))::bit(60)::bigint), 0) AS high, " +
      "COALESCE(SUM(('x' || substr(h, 16, 15))::bit(60)::bigint), 0) AS low " +
      `FROM (SELECT md5(concat_ws(chr(31), ${values.join(', ')})) AS h FROM ${quote(table)}) s`
    : 'SELECT COUNT(*) AS n, ' +
      'COALESCE(SUM(CAST(CONV(SUBSTRING(h, 1, 15), 16, 10) AS UNSIGNED)), 0) AS high, ' +
      'COALESCE(SUM(CAST(CONV(SUBSTRING(h, 16, 15), 16, 10) AS UNSIGNED)), 0) AS low ' +
      `FROM (SELECT MD5(CONCAT_WS(CHAR(31), ${values.join(', ')})) AS h FROM ${quote(table)}) s`;
  const [row] = await session.query<{ n: number | string; high: number | string; low: number | string }>(sql);
  if (!row) throw new Error(`no checksum row for ${table}`);
  return { rows: Number(row.n), checksum: formatChecksum(BigInt(String(row.high)), BigInt(String(row.low))) };
}

/** PostgreSQL: the canonical text of a column, `v`-prefixed, or `n` for NULL. */
function pgValue(column: string, dataType: string): string {
  let text: string;
  if (dataType === 'bytea') text = `encode(${column}, 'hex')`;
  else if (dataType.startsWith('timestamp')) text = `to_char(${column}, 'YYYY-MM-DD HH24:MI:SS.US')`;
  else if (dataType === 'date') text = `to_char(${column}, 'YYYY-MM-DD')`;
  else if (dataType === 'boolean') text = `CASE WHEN ${column} THEN '1' ELSE '0' END`;
  else text = `${column}::text`;
  return `COALESCE('v' || ${text}, 'n')`;
}

/** MySQL/MariaDB: the same canonical text, as binary UTF-8 so that no collation gets in the way. */
function mysqlValue(column: string, dataType: string): string {
  const type = dataType.toLowerCase();
  let text: string;
  if (/blob|binary/.test(type)) text = `LOWER(HEX(${column}))`;
  else if (type === 'timestamp' || type === 'datetime') text = `DATE_FORMAT(${column}, '%Y-%m-%d %H:%i:%s.%f')`;
  else if (type === 'date') text = `DATE_FORMAT(${column}, '%Y-%m-%d')`;
  else text = column;
  return `COALESCE(CONCAT(_binary'v', CAST(CONVERT(${text} USING utf8mb4) AS BINARY)), _binary'n')`;
}

/** Timestamps read and written in UTC (MySQL/MariaDB TIMESTAMP values depend on the session time zone). */
export function withUtcTimeZone<T>(session: DbSession, work: () => Promise<T>): Promise<T> {
  return dialectOf(session.engine).inUtc(session, work);
}
