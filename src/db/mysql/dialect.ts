/**
 * MySQL and MariaDB: quoting, the catalog, and mysqldump / mariadb-dump and the mysql client with the login in a
 * 0600 defaults file that is removed as soon as the tool has exited, never on a command line.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { jdbcParam } from '../../config/jdbc-url.js';
import type { DatabaseTarget } from '../../config/types.js';
import { errorMessage } from '../../core/errors.js';
import { ClientToolError, collectText, startTool, superviseTool, type ResolvedTool } from '../client-process.js';
import type { ClientTool } from '../client-tools.js';
import {
  DumpFormatError,
  pickStoredNames,
  type CheckedDump,
  type Dialect,
  type DumpCheckRequest,
  type DumpRequest,
  type DumpResult,
  type IndexColumn,
  type RestoreRequest,
  type TableRef,
} from '../dialect.js';
import { parseServerVersion, type DbProduct, type ServerInfo } from '../server-info.js';
import { openSession, type DbSession } from '../session.js';
import { mapMysqlSsl } from './session.js';
import { DATABASE_BASE_TABLES } from './catalog.js';
import { MYSQL_STAGE_LOCK } from './lock.js';
import { mysqlClientSessions } from './client-sessions.js';
import { mysqlProfileCatalog } from './statistics.js';

/** What the counts of a MySQL/MariaDB backup mean, written into its manifest. */
export const MYSQL_COUNT_NOTE =
  'Row counts were taken in a separate consistent-snapshot transaction beside the dump: mysqldump/mariadb-dump ' +
  'cannot share its snapshot. They describe the dump exactly only if nothing wrote to the database while it ran, ' +
  'so the API-M server must have been down (no writer) during the backup.';

/**
 * 1 MiB gunzip output chunks instead of Node's 16 KiB (and 1 MiB reads, which the restore gives): every chunk is a
 * round trip to zlib's thread, and with the small defaults the full gunzip pass that checks a MySQL dump took 2.5
 * times as long (see docs/benchmarks.md).
 */

function quote(identifier: string): string {
  return `\`${identifier.replace(/`/g, '``')}\``;
}

async function listTables(session: DbSession): Promise<TableRef[]> {
  const rows = await session.query<{ table_name: string }>(
    `SELECT TABLE_NAME AS table_name ${DATABASE_BASE_TABLES} ORDER BY TABLE_NAME`,
  );
  return rows.map((row) => ({ key: row.table_name, quoted: quote(row.table_name) }));
}

async function insertReturningId(session: DbSession, insert: string, values: readonly unknown[]): Promise<number> {
  await session.query(insert, values);
  // LAST_INSERT_ID() belongs to the connection, so no other writer can change it in between.
  const [row] = await session.query<{ id: number | string }>('SELECT LAST_INSERT_ID() AS id');
  if (!row) throw new Error('LAST_INSERT_ID() returned nothing');
  return Number(row.id);
}

async function tableColumns(session: DbSession, table: string): Promise<string[]> {
  const rows = await session.query<{ name: string }>(
    'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?',
    [table],
  );
  return rows.map((row) => String(row.name));
}

async function storedTableNames(session: DbSession, names: readonly string[]): Promise<Map<string, string>> {
  const lower = names.map((name) => name.toLowerCase());
  const rows = await session.query<{ name: string }>(
    'SELECT TABLE_NAME AS name FROM information_schema.tables ' +
      `WHERE TABLE_SCHEMA = DATABASE() AND LOWER(TABLE_NAME) IN (${lower.map(() => '?').join(', ')})`,
    lower,
  );
  return pickStoredNames(
    names,
    rows.map((row) => row.name),
    (name) => name,
  );
}

async function tablesUnquotedSqlFinds(session: DbSession, names: readonly string[]): Promise<string[]> {
  const lower = [...new Set(names.map((name) => name.toLowerCase()))];
  const rows = await session.query<{ name: string }>(
    `SELECT TABLE_NAME AS name ${DATABASE_BASE_TABLES} AND LOWER(TABLE_NAME) IN (${lower.map(() => '?').join(', ')})`,
    lower,
  );
  return rows.map((row) => row.name);
}

async function tableRefsUnquotedSqlFinds(session: DbSession, names: readonly string[]): Promise<TableRef[]> {
  return (await tablesUnquotedSqlFinds(session, names)).map((name) => ({ key: name, quoted: quote(name) }));
}

async function columnsUnquotedSqlFinds(session: DbSession, tables: readonly string[]): Promise<string[]> {
  const lower = [...new Set(tables.map((table) => table.toLowerCase()))];
  const rows = await session.query<{ table_name: string; column_name: string }>(
    'SELECT c.TABLE_NAME AS table_name, c.COLUMN_NAME AS column_name FROM information_schema.columns c ' +
      'JOIN information_schema.tables t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME ' +
      "WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' " +
      `AND LOWER(c.TABLE_NAME) IN (${lower.map(() => '?').join(', ')})`,
    lower,
  );
  // Any case: MySQL/MariaDB find columns whatever case they were created in.
  return rows.map((row) => `${row.table_name}.${row.column_name}`.toLowerCase());
}

async function indexColumns(session: DbSession, names: readonly string[]): Promise<IndexColumn[]> {
  const lower = names.map((name) => name.toLowerCase());
  const rows = await session.query<{ index_name: string; table_name: string; column_name: string | null }>(
    'SELECT INDEX_NAME AS index_name, TABLE_NAME AS table_name, COLUMN_NAME AS column_name ' +
      'FROM information_schema.statistics ' +
      `WHERE TABLE_SCHEMA = DATABASE() AND LOWER(INDEX_NAME) IN (${lower.map(() => '?').join(', ')}) ` +
      'ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
    lower,
  );
  return rows.map((row) => ({ index: row.index_name, table: row.table_name, column: row.column_name }));
}

async function readServerInfo(session: DbSession): Promise<ServerInfo> {
  const [row] = await session.query<{ version: string }>('SELECT VERSION() AS version');
  if (!row) throw new Error('SELECT VERSION() returned no row');
  // A MySQL URL may well reach a MariaDB server; only VERSION() tells.
  return parseServerVersion(/mariadb/i.test(row.version) ? 'MariaDB' : 'MySQL', row.version);
}

/** MySQL/MariaDB TIMESTAMP values depend on the session time zone: read and write them in UTC. */
async function inUtc<T>(session: DbSession, work: () => Promise<T>): Promise<T> {
  const [row] = await session.query<{ zone: string }>('SELECT @@SESSION.time_zone AS zone');
  await session.query("SET SESSION time_zone = '+00:00'");
  try {
    return await work();
  } finally {
    await session.query('SET SESSION time_zone = ?', [row?.zone ?? 'SYSTEM']);
  }
}

async function serverIdentity(session: DbSession): Promise<string> {
  const [info] = await session.query<{ version: string }>('SELECT VERSION() AS version');
  const sql = /mariadb/i.test(info?.version ?? '')
    ? "SELECT CONCAT(@@hostname, ':', @@port, ':', @@datadir) AS id"
    : 'SELECT @@server_uuid AS id';
  const [row] = await session.query<{ id: string | null }>(sql);
  if (!row?.id) throw new Error('the server gave no identity');
  return row.id;
}

async function dump(request: DumpRequest): Promise<DumpResult> {
  const { session, target, tool } = request;
  await session.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  await session.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  try {
    return await withMysqlDefaultsFile(target, tool, async (defaultsFile) => {
      const args = [
        // Must come first: the tools only accept it as their first argument.
        `--defaults-extra-file=${defaultsFile}`,
        '--single-transaction',
        '--routines',
        '--triggers',
        // No --hex-blob: hex text doubles what must be compressed, the slowest part of the backup. Binary columns
        // come out as escaped raw bytes, and the restore reads them back with mysql --binary-mode, byte for byte.
        '--no-tablespaces',
        '--default-character-set=utf8mb4',
        ...flavorDumpArgs(tool, request.server),
        // One database, without CREATE DATABASE/USE: the restore recreates it under the configured name. After "--"
        // the tools take every argument as a name, so a database called "-x" is not read as an option.
        '--',
        target.database,
      ];
      return request.run(args, process.env);
    });
  } finally {
    await session.query('COMMIT').catch(() => undefined);
  }
}

function flavorDumpArgs(tool: ResolvedTool, server: ServerInfo): string[] {
  const version = tool.version;
  if (version?.flavor !== 'MySQL') return [];
  // Oracle's mysqldump: GTID_PURGED lines break a restore into a server with its own GTID history,
  // and MySQL 8's tool asks MariaDB for column statistics that MariaDB does not have.
  const args = ['--set-gtid-purged=OFF'];
  if (version.major >= 8 && server.product === 'MariaDB') args.push('--column-statistics=0');
  return args;
}

/**
 * Checks that the dump is a mysqldump/mariadb-dump file. `whole`: reads all of it (its decompression checks the
 * compressed file's own checksums on the way) and checks that the dump is complete; otherwise only its start is read.
 */
async function checkDump(request: DumpCheckRequest): Promise<CheckedDump> {
  let head = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  try {
    for await (const chunk of request.input as AsyncIterable<Buffer>) {
      if (head.length < 4096) head = Buffer.concat([head, chunk.subarray(0, 4096 - head.length)]);
      if (!request.whole && head.length >= 4096) break;
      tail = Buffer.concat([tail.subarray(-512), chunk]).subarray(-512);
    }
  } catch (error) {
    if (error instanceof DumpFormatError) throw error;
    throw new DumpFormatError(`is damaged or cut short (${errorMessage(error)})`, undefined, { cause: error });
  }
  if (!/^-- (MySQL|MariaDB) dump/m.test(head.toString('utf8'))) {
    throw new DumpFormatError('is not a mysqldump/mariadb-dump file');
  }
  if (request.whole && !/-- Dump completed/.test(tail.toString('utf8'))) {
    throw new DumpFormatError('is an incomplete dump (no "Dump completed" line)');
  }
  return {};
}

async function restore(request: RestoreRequest): Promise<void> {
  const { target, tool, logger } = request;
  const database = quote(target.database);
  const session = await openSession(target);
  try {
    const [row] = await session.query<{ charset: string; collation: string }>(
      `SELECT default_character_set_name AS charset, default_collation_name AS collation
         FROM information_schema.schemata WHERE schema_name = ?`,
      [target.database],
    );
    const charset = row && /^\w+$/.test(row.charset) ? ` CHARACTER SET ${row.charset}` : '';
    const collation = row && /^\w+$/.test(row.collation) ? ` COLLATE ${row.collation}` : '';
    logger.info(`${request.label}: recreating database ${target.database}${charset}${collation}`);
    await session.query(`DROP DATABASE IF EXISTS ${database}`);
    await session.query(`CREATE DATABASE ${database}${charset}${collation}`);
  } finally {
    await session.close().catch(() => undefined);
  }
  try {
    await withMysqlDefaultsFile(target, tool, async (defaultsFile) => {
      const args = [
        `--defaults-extra-file=${defaultsFile}`,
        '--default-character-set=utf8mb4',
        // The dump holds binary columns as escaped raw bytes: the client passes them through untouched.
        '--binary-mode',
        '--',
        target.database,
      ];
      const run = startTool(tool, args, process.env, 'pipe', request.masker);
      const stdin = run.child.stdin;
      if (!stdin) throw new Error(`${tool.name} was started without stdin`);
      await superviseTool(run, `restoring ${request.label}`, [
        pipeline(request.openDump(), stdin),
        collectText(run.child.stdout),
      ]);
      for (const line of run.stderrTail()) logger.warning(`${tool.name}: ${line}`);
    });
  } catch (error) {
    throw new ClientToolError(
      `${errorMessage(error)}\nThe database ${target.database} was recreated and is only partly restored. ` +
        'Do not use it; fix the cause and run the restore again (the backup itself is unchanged).',
      error instanceof ClientToolError ? error.tool : tool.name,
      error instanceof ClientToolError ? error.stderrTail : [],
    );
  }
}

/**
 * Writes a 0600 client defaults file with the login of `target` into a private temporary folder,
 * runs `work` with its path and removes it again, whatever happens.
 */
export async function withMysqlDefaultsFile<T>(
  target: DatabaseTarget,
  tool: ClientTool,
  work: (file: string) => Promise<T>,
): Promise<T> {
  // mkdtemp creates the folder 0700: nobody else can even list it. The pid in its name lets the next run remove it
  // if this one is killed before it can (src/stages/operations.ts).
  const dir = await mkdtemp(path.join(os.tmpdir(), `apim-migrate-mysql-${process.pid}-`));
  try {
    const file = path.join(dir, 'client.cnf');
    await writeFile(file, mysqlDefaultsFileContent(target, tool), { mode: 0o600, flag: 'wx' });
    return await work(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function mysqlDefaultsFileContent(target: DatabaseTarget, tool: ClientTool): string {
  const lines = [
    '# Written by apim-migrate for one dump or restore, removed right after.',
    '[client]',
    `user=${quoteOptionValue(target.username)}`,
    ...(target.password.length > 0 ? [`password=${quoteOptionValue(target.password)}`] : []),
    `host=${quoteOptionValue(target.host)}`,
    `port=${target.port}`,
    // JDBC always uses TCP; "localhost" would otherwise mean the Unix socket.
    'protocol=TCP',
    ...sslOptions(target, tool.version?.flavor ?? 'MariaDB'),
  ];
  return `${lines.join('\n')}\n`;
}

/** Option files take quoted values with backslash escapes (both MySQL's and MariaDB's parsers). */
function quoteOptionValue(value: string): string {
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return `"${escaped}"`;
}

function sslOptions(target: DatabaseTarget, flavor: DbProduct): string[] {
  const ssl = mapMysqlSsl(target);
  const mode = jdbcParam(target, 'sslMode')?.toUpperCase();
  const off = mode === 'DISABLED' || jdbcParam(target, 'useSSL')?.toLowerCase() === 'false';
  if (flavor === 'MySQL') {
    if (!ssl) return off ? ['ssl-mode=DISABLED'] : [];
    if (ssl.verifyIdentity) return ['ssl-mode=VERIFY_IDENTITY'];
    return [ssl.rejectUnauthorized ? 'ssl-mode=VERIFY_CA' : 'ssl-mode=REQUIRED'];
  }
  if (!ssl) return off ? ['skip-ssl'] : [];
  return ['ssl', ssl.rejectUnauthorized ? 'ssl-verify-server-cert' : 'skip-ssl-verify-server-cert'];
}

export const MYSQL: Readonly<Dialect> = Object.freeze({
  ...mysqlProfileCatalog(quote),
  family: 'mysql',
  product: 'MySQL',
  stageLock: MYSQL_STAGE_LOCK,
  clientSessions: mysqlClientSessions,
  maxIdentifierLength: 64,
  // mysql-connector-java-8.0.x.jar and, from 8.0.31, mysql-connector-j-8.x.jar.
  jdbcDriverJars: ['mysql-connector-'],
  caseSensitiveDatabaseNames: false,
  migrationPrivilege: 'MySQL sql_safe_updates is off',
  disablesStatementCache: false,
  clientToolNames: { dump: ['mysqldump', 'mariadb-dump'], restore: ['mysql', 'mariadb'] },
  clientPackage: 'mariadb-client (or default-mysql-client)',
  quote,
  placeholder: () => '?',
  nowUtcSql: 'UTC_TIMESTAMP(3)',
  utcIsoText: (column: string) => `CONCAT(SUBSTRING(DATE_FORMAT(${column}, '%Y-%m-%dT%H:%i:%s.%f'), 1, 23), 'Z')`,
  // DATETIME, not TIMESTAMP: MySQL's TIMESTAMP type would convert with the session's time zone.
  ownTableTypes: {
    identity: 'INTEGER NOT NULL AUTO_INCREMENT',
    utcTimestamp: 'DATETIME(3)',
    longText: 'MEDIUMTEXT',
    tableOptions: ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
  },
  insertReturningId,
  tableColumns,
  storedTableNames,
  tablesUnquotedSqlFinds,
  tableRefsUnquotedSqlFinds,
  columnsUnquotedSqlFinds,
  indexColumns,
  indexNamesPer: 'table',
  tablesLive: 'database',
  readServerInfo,
  databaseSizeSql:
    'SELECT COALESCE(SUM(data_length + index_length), 0) AS size FROM information_schema.tables WHERE table_schema = DATABASE()',
  inUtc,
  listTables,
  serverIdentity,
  dumpVariants: [
    { format: 'sql-zstd', extension: '.sql.zst', compression: 'zstd' },
    { format: 'sql-gzip', extension: '.sql.gz', compression: 'gzip' },
  ] as const,
  restoreInput: 'private-copy',
  rowCountSnapshot: 'separate-snapshot',
  rowCountNote: MYSQL_COUNT_NOTE,
  dump,
  checkDump,
  restore,
});

export const MARIADB: Readonly<Dialect> = Object.freeze({
  ...MYSQL,
  clientToolNames: { dump: ['mariadb-dump', 'mysqldump'], restore: ['mariadb', 'mysql'] },
  jdbcDriverJars: ['mariadb-java-client-'],
  product: 'MariaDB',
});
