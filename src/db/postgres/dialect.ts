/**
 * PostgreSQL: quoting, the catalog, and `pg_dump -Fc` / `pg_restore` with the password in `PGPASSWORD`, never on
 * a command line.
 */

import { jdbcParam } from '../../config/jdbc-url.js';
import type { DatabaseTarget } from '../../config/types.js';
import { errorMessage } from '../../core/errors.js';
import { readStart } from '../../core/streams.js';
import { ClientToolError, collectText, feedTool, startTool, superviseTool } from '../client-process.js';
import {
  DumpFormatError,
  type CheckedDump,
  type Dialect,
  type DumpCheckRequest,
  type DumpRequest,
  type DumpResult,
  type IndexColumn,
  type RestoreRequest,
  type TableRef,
} from '../dialect.js';
import { APIM_MIGRATE_CLIENT_NAME, openSession, type DbSession } from '../session.js';
import { postgresClientSessions } from './client-sessions.js';
import { POSTGRES_STAGE_LOCK } from './lock.js';
import { parseServerVersion, type ServerInfo } from '../server-info.js';
import { pickStoredNames } from '../dialect.js';
import { SEARCH_PATH_TABLES, tableRefOf } from './catalog.js';
import { postgresProfileCatalog } from './statistics.js';

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

async function listTables(session: DbSession): Promise<TableRef[]> {
  const rows = await session.query<{ schema_name: string; table_name: string }>(
    `SELECT n.nspname AS schema_name, c.relname AS table_name ${SEARCH_PATH_TABLES} ORDER BY 1, 2`,
  );
  return rows.map((row) => tableRefOf(row, quote));
}

async function insertReturningId(session: DbSession, insert: string, values: readonly unknown[]): Promise<number> {
  const [row] = await session.query<{ id: number }>(`${insert} RETURNING ID AS id`, values);
  if (!row) throw new Error('the insert returned no id');
  return Number(row.id);
}

/** Unquoted names fold to lower case on PostgreSQL, so the table is looked up that way. */
async function tableColumns(session: DbSession, table: string): Promise<string[]> {
  const rows = await session.query<{ name: string }>(
    'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1',
    [table.toLowerCase()],
  );
  return rows.map((row) => String(row.name));
}

async function storedTableNames(session: DbSession, names: readonly string[]): Promise<Map<string, string>> {
  // The catalog, not information_schema, which hides the tables this login has no privilege on: such a table
  // exists, and reading it must fail as "permission denied", not pass as absent.
  const rows = await session.query<{ name: string }>(
    'SELECT tablename AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND lower(tablename) = ANY($1::text[])',
    [names.map((name) => name.toLowerCase())],
  );
  return pickStoredNames(
    names,
    rows.map((row) => row.name),
    (name) => name.toLowerCase(),
  );
}

async function tablesUnquotedSqlFinds(session: DbSession, names: readonly string[]): Promise<string[]> {
  const rows = await session.query<{ name: string }>(
    'SELECT tablename AS name FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1::text[])',
    [[...new Set(names.map((name) => name.toLowerCase()))]],
  );
  return rows.map((row) => row.name);
}

async function tableRefsUnquotedSqlFinds(session: DbSession, names: readonly string[]): Promise<TableRef[]> {
  const rows = await session.query<{ schema_name: string; table_name: string }>(
    'SELECT schemaname AS schema_name, tablename AS table_name FROM pg_catalog.pg_tables ' +
      'WHERE schemaname = current_schema() AND tablename = ANY($1::text[])',
    [[...new Set(names.map((name) => name.toLowerCase()))]],
  );
  return rows.map((row) => ({
    key: `${row.schema_name}.${row.table_name}`,
    quoted: `${quote(row.schema_name)}.${quote(row.table_name)}`,
  }));
}

async function columnsUnquotedSqlFinds(session: DbSession, tables: readonly string[]): Promise<string[]> {
  const rows = await session.query<{ table_name: string; column_name: string }>(
    'SELECT t.tablename AS table_name, a.attname AS column_name FROM pg_catalog.pg_tables t ' +
      'JOIN pg_catalog.pg_namespace n ON n.nspname = t.schemaname ' +
      'JOIN pg_catalog.pg_class c ON c.relname = t.tablename AND c.relnamespace = n.oid ' +
      'JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ' +
      'WHERE t.schemaname = current_schema() AND t.tablename = ANY($1::text[])',
    [[...new Set(tables.map((table) => table.toLowerCase()))]],
  );
  // Exact names: a column created quoted in upper case is not the one unquoted SQL finds.
  return rows.map((row) => `${row.table_name}.${row.column_name}`);
}

async function indexColumns(session: DbSession, names: readonly string[]): Promise<IndexColumn[]> {
  // pg_indexes lists the indices of the schema; pg_index gives their key columns in order.
  const rows = await session.query<{ index_name: string; table_name: string; column_name: string | null }>(
    'SELECT ix.indexname AS index_name, ix.tablename AS table_name, a.attname AS column_name ' +
      'FROM pg_catalog.pg_indexes ix ' +
      'JOIN pg_catalog.pg_namespace n ON n.nspname = ix.schemaname ' +
      'JOIN pg_catalog.pg_class ic ON ic.relname = ix.indexname AND ic.relnamespace = n.oid ' +
      'JOIN pg_catalog.pg_index x ON x.indexrelid = ic.oid ' +
      'CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) ' +
      'LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ' +
      'WHERE ix.schemaname = current_schema() AND lower(ix.indexname) = ANY($1::text[]) ' +
      'AND k.ord <= x.indnkeyatts ' +
      'ORDER BY ix.indexname, k.ord',
    [names.map((name) => name.toLowerCase())],
  );
  return rows.map((row) => ({ index: row.index_name, table: row.table_name, column: row.column_name }));
}

async function readServerInfo(session: DbSession): Promise<ServerInfo> {
  const [row] = await session.query<{ server_version: string }>('SHOW server_version');
  if (!row) throw new Error('SHOW server_version returned no row');
  return parseServerVersion('PostgreSQL', row.server_version);
}

async function serverIdentity(session: DbSession): Promise<string> {
  const [row] = await session.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  if (!row?.id) throw new Error('pg_control_system() returned no system_identifier');
  return row.id;
}

async function dump(request: DumpRequest): Promise<DumpResult> {
  const { session, target } = request;
  // The counts and pg_dump see the same snapshot: exported here, imported by pg_dump.
  await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const [row] = await session.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
    if (!row) throw new Error('pg_export_snapshot() returned nothing');
    // pg_dump compresses on one core; zstd behind it uses all of them (docs/benchmarks.md).
    const compress = request.variant.compression === 'tool' ? [] : ['--compress=0'];
    const args = ['-Fc', ...compress, `--snapshot=${row.snapshot}`, ...connectionArgs(target)];
    // The transaction stays open until pg_dump exits, so that the snapshot stays valid.
    const result = await request.run(args, postgresToolEnv(target));
    await session.query('COMMIT');
    return result;
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Checks the custom-format signature and reads the archive's table of contents. */
async function checkDump(request: DumpCheckRequest): Promise<CheckedDump> {
  const { head, all } = await readStart(request.input, 5);
  if (head.toString('latin1') !== 'PGDMP')
    throw new DumpFormatError('is not a PostgreSQL custom-format dump (pg_dump -Fc)');
  // Without a file name pg_restore reads the archive from stdin; --list stops after the table of contents.
  const run = startTool(request.tool, ['--list'], process.env, 'pipe', request.masker);
  let listing = '';
  try {
    await superviseTool(run, `reading ${request.name}`, [
      feedTool(run, all),
      collectText(run.child.stdout).then((text) => (listing = text)),
    ]);
  } catch (error) {
    throw new DumpFormatError(
      `cannot be read by ${request.tool.name} (${errorMessage(error)})`,
      `use a pg_restore at least as new as the pg_dump that wrote it (${request.dumpToolVersion})`,
      { cause: error },
    );
  }
  return { relations: parseArchiveRelations(listing) };
}

/** `215; 1259 16390 TABLE public am_api postgres` and the like: the relations the archive creates. */
export function parseArchiveRelations(listing: string): Set<string> {
  const relations = new Set<string>();
  const pattern =
    /^\d+; \d+ \d+ (TABLE(?! DATA)|VIEW|MATERIALIZED VIEW(?! DATA)|SEQUENCE(?! SET| OWNED BY)) (\S+) (.+) \S+$/;
  for (const line of listing.split('\n')) {
    const match = pattern.exec(line.trim());
    if (match?.[2] && match[3]) relations.add(`${match[2]}.${match[3]}`);
  }
  return relations;
}

async function restore(request: RestoreRequest): Promise<void> {
  const { target, logger } = request;
  // pg_restore --clean drops only what the archive holds: relations created after the backup
  // (by the stage being rolled back) would survive and could block dropping the backed-up tables.
  const session = await openSession(target);
  try {
    const extra = await listExtraRelations(session, request.checked.relations ?? new Set());
    if (extra.length > 0) {
      logger.info(
        `${request.label}: dropping what was created after the backup: ${extra.map((r) => r.key).join(', ')}`,
      );
      await session.query('BEGIN');
      for (const relation of extra) await session.query(`DROP ${relation.kind} IF EXISTS ${relation.quoted} CASCADE`);
      await session.query('COMMIT');
    }
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw new Error(
      `could not drop what was created in ${target.database} after the backup (${errorMessage(error)}); ` +
        `nothing was changed. Restore as the owner of these objects (the login ${target.username} may lack the right)`,
      { cause: error },
    );
  } finally {
    await session.close().catch(() => undefined);
  }
  const args = [
    '--clean',
    '--if-exists',
    '--no-owner',
    // All or nothing: a failing restore leaves the database as it was.
    '--single-transaction',
    '--exit-on-error',
    ...connectionArgs(target),
  ];
  // The archive comes on stdin, as the restore reads and verifies it: an input that ends short (it was cut because
  // the stored file changed) fails pg_restore inside its transaction, which then rolls back.
  const run = startTool(request.tool, args, postgresToolEnv(target), 'pipe', request.masker);
  try {
    await superviseTool(run, `restoring ${request.label}`, [
      feedTool(run, request.openDump()),
      collectText(run.child.stdout),
    ]);
  } catch (error) {
    if (!(error instanceof ClientToolError)) throw error;
    throw new ClientToolError(
      `${error.message}\npg_restore ran in one transaction, so ${target.database} still holds what it held before ` +
        'the restore (apart from relations created after the backup, which were dropped). Fix the cause and run the restore again.',
      error.tool,
      error.stderrTail,
    );
  }
  for (const line of run.stderrTail()) logger.warning(`${request.tool.name}: ${line}`);
}

interface ExtraRelation {
  key: string;
  kind: 'TABLE' | 'VIEW' | 'MATERIALIZED VIEW' | 'SEQUENCE';
  quoted: string;
}

async function listExtraRelations(session: DbSession, archive: ReadonlySet<string>): Promise<ExtraRelation[]> {
  const rows = await session.query<{ schema_name: string; relation_name: string; relkind: string }>(
    `SELECT n.nspname AS schema_name, c.relname AS relation_name, c.relkind::text AS relkind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname = ANY (current_schemas(false))
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                         WHERE d.objid = c.oid AND d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i', 'e'))
      ORDER BY 1, 2`,
  );
  const kinds: Record<string, ExtraRelation['kind']> = {
    r: 'TABLE',
    p: 'TABLE',
    v: 'VIEW',
    m: 'MATERIALIZED VIEW',
    S: 'SEQUENCE',
  };
  return rows
    .filter((row) => !archive.has(`${row.schema_name}.${row.relation_name}`))
    .map((row) => ({
      key: `${row.schema_name}.${row.relation_name}`,
      kind: kinds[row.relkind] ?? 'TABLE',
      quoted: `${quote(row.schema_name)}.${quote(row.relation_name)}`,
    }));
}

/**
 * Where a client tool connects; the password goes in its environment (postgresToolEnv), never here. The tools take
 * a -d value with an "=" as a connection string, so the database goes in one, quoted: no name becomes an option, a
 * connection string or a URI of its own.
 */
function connectionArgs(target: DatabaseTarget): string[] {
  return [
    '--no-password',
    '-h',
    target.host,
    '-p',
    String(target.port),
    '-U',
    target.username,
    '-d',
    `dbname=${quoteConninfoValue(target.database)}`,
  ];
}

/** A value of a libpq connection string: in single quotes, with `'` and `\` escaped by a backslash. */
function quoteConninfoValue(value: string): string {
  return `'${value.replace(/['\\]/g, (char) => `\\${char}`)}'`;
}

/** The environment of a PostgreSQL client tool: the password in PGPASSWORD, TLS as the JDBC URL asks. */
export function postgresToolEnv(target: DatabaseTarget): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['PGPASSWORD', 'PGPASSFILE', 'PGSSLMODE', 'PGSERVICE', 'PGOPTIONS']) delete env[name];
  if (target.password.length > 0) env['PGPASSWORD'] = target.password;
  env['PGCONNECT_TIMEOUT'] ??= '10';
  // Names the tool's session as apim-migrate's in pg_stat_activity (libpq reads PGAPPNAME).
  env['PGAPPNAME'] = APIM_MIGRATE_CLIENT_NAME;
  const sslmode = postgresSslMode(target);
  if (sslmode) env['PGSSLMODE'] = sslmode;
  const files: Array<[string, string]> = [
    ['sslrootcert', 'PGSSLROOTCERT'],
    ['sslcert', 'PGSSLCERT'],
    ['sslkey', 'PGSSLKEY'],
  ];
  for (const [param, variable] of files) {
    const value = jdbcParam(target, param);
    if (value) env[variable] = value;
  }
  return env;
}

/** pgJDBC's sslmode carries over to libpq; its bare `ssl=true` means verify-full. */
function postgresSslMode(target: DatabaseTarget): string | undefined {
  const mode = jdbcParam(target, 'sslmode')?.toLowerCase();
  if (mode && ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) return mode;
  const ssl = jdbcParam(target, 'ssl')?.toLowerCase();
  if (ssl === 'true') return 'verify-full';
  if (ssl === 'false') return 'disable';
  return undefined;
}

export const POSTGRESQL: Readonly<Dialect> = Object.freeze({
  ...postgresProfileCatalog(quote),
  family: 'postgresql',
  product: 'PostgreSQL',
  stageLock: POSTGRES_STAGE_LOCK,
  clientSessions: postgresClientSessions,
  // NAMEDATALEN - 1; longer names are truncated by the server.
  maxIdentifierLength: 63,
  jdbcDriverJars: ['postgresql-'],
  caseSensitiveDatabaseNames: true,
  migrationPrivilege: 'the PostgreSQL user is SUPERUSER',
  disablesStatementCache: true,
  clientToolNames: { dump: ['pg_dump'], restore: ['pg_restore'] },
  clientPackage: 'postgresql-client',
  quote,
  placeholder: (index: number) => `$${index}`,
  nowUtcSql: "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')",
  utcIsoText: (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  ownTableTypes: {
    identity: 'INTEGER GENERATED BY DEFAULT AS IDENTITY',
    utcTimestamp: 'TIMESTAMP(3)',
    longText: 'TEXT',
    tableOptions: '',
  },
  insertReturningId,
  tableColumns,
  storedTableNames,
  tablesUnquotedSqlFinds,
  tableRefsUnquotedSqlFinds,
  columnsUnquotedSqlFinds,
  indexColumns,
  indexNamesPer: 'schema',
  tablesLive: 'the current schema of',
  readServerInfo,
  databaseSizeSql: 'SELECT pg_database_size(current_database()) AS size',
  // Timestamps without a zone are read and written as they are.
  inUtc: <T>(_session: DbSession, work: () => Promise<T>) => work(),
  listTables,
  serverIdentity,
  dumpVariants: [
    { format: 'pg-custom-zstd', extension: '.pgdump.zst', compression: 'zstd' },
    { format: 'pg-custom', extension: '.pgdump', compression: 'tool' },
  ] as const,
  restoreInput: 'stream',
  rowCountSnapshot: 'dump-snapshot',
  dump,
  checkDump,
  restore,
});
