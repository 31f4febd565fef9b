/**
 * Verified backups of the deployment's databases, as design.md "Artifacts" describes them: one dump file
 * per physical database (`<db>.pgdump` or `<db>.sql.gz`, plus `.age` when encrypted) and `manifest.json`,
 * uploaded as one artifact and downloaded again to check every byte before a stage may change data.
 *
 * Secrets never reach a command line: PostgreSQL tools get `PGPASSWORD` in their environment, MySQL/MariaDB
 * tools a 0600 defaults file that is removed as soon as the tool has exited.
 */

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Duplex, Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ArtifactStore, RunIdentity, StoredArtifact } from '../artifacts/store.js';
import { sha256File } from '../artifacts/local-store.js';
import type { DatabaseName, DatabaseTarget, DbEngine } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { formatBytes } from '../format.js';
import { SecretMasker, type Logger } from '../log/logger.js';
import { findClientTools, type ClientTool, type ClientTools } from './client-tools.js';
import {
  AGE_EXTENSION,
  checkEncryptionMode,
  describeEncryption,
  encryptTransform,
  type EncryptionMode,
} from './encryption.js';
import { readServerInfo, type DbProduct, type ServerInfo } from './probes.js';
import { mapMysqlSsl, openSession, type DbSession } from './session.js';

const gzipBlock = promisify(gzip);

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'apim-migrate-backup/1';
const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;
const STDERR_TAIL_LINES = 20;

/** What the counts of a MySQL/MariaDB backup mean, written into its manifest. */
export const MYSQL_COUNT_NOTE =
  'Row counts were taken in a separate consistent-snapshot transaction beside the dump: mysqldump/mariadb-dump ' +
  'cannot share its snapshot. They describe the dump exactly only if nothing wrote to the database while it ran, ' +
  'so the API-M server must have been down (no writer) during the backup.';

export type DumpFormat = 'pg-custom' | 'sql-gzip';

export interface BackupManifestDatabase {
  /** The configured names this physical database serves, e.g. `["apim_db", "shared_db"]`. */
  names: DatabaseName[];
  engine: DbEngine;
  /** Where the dump was taken from (never credentials). */
  host: string;
  port: number;
  database: string;
  server: { product: DbProduct; version: string };
  dumpTool: { name: string; version: string };
  format: DumpFormat;
  encrypted: boolean;
  file: string;
  bytes: number;
  sha256: string;
  /** Rows of every table of the database's current schema(s): `schema.table` on PostgreSQL, `table` on MySQL. */
  rowCounts: Record<string, number>;
  /** `dump-snapshot`: counted inside the snapshot pg_dump used. `separate-snapshot`: see rowCountNote. */
  rowCountSnapshot: 'dump-snapshot' | 'separate-snapshot';
  rowCountNote?: string;
  durationMs: number;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  stage: string;
  artifact: string;
  runId: string;
  attempt: number;
  createdAt: string;
  completedAt: string;
  toolVersion: string;
  /** The mode and, for a recipient, the public key; never a passphrase or identity. */
  encryption: { mode: EncryptionMode['kind']; recipient?: string };
  databases: BackupManifestDatabase[];
}

export interface BackupDatabase {
  names: DatabaseName[];
  target: DatabaseTarget;
}

export interface CreateBackupOptions {
  stage: string;
  artifactName: string;
  /** One entry per physical database (see groupPhysicalDatabases). */
  databases: BackupDatabase[];
  store: ArtifactStore;
  run: RunIdentity;
  encryption: EncryptionMode;
  logger: Logger;
  /** Where the dump files are written; they stay there after the upload unless the store moved them into place. */
  workDir: string;
  retentionDays: number;
  toolVersion: string;
  /** How often a progress line is logged while a dump runs. Default 5000. */
  progressIntervalMs?: number;
}

export interface BackupResult {
  artifact: StoredArtifact;
  manifest: BackupManifest;
  /**
   * The artifact's files on this machine (dumps, then manifest.json): in the store's folder when the store keeps
   * its files here (the local folder store), otherwise in the work dir.
   */
  files: string[];
}

/** A dump or restore tool failed; the message holds its last stderr lines (secrets masked). */
export class ClientToolError extends Error {
  readonly exitCode = 1;

  constructor(
    message: string,
    readonly tool: string,
    readonly stderrTail: string[],
  ) {
    super(message);
    this.name = 'ClientToolError';
  }
}

/** The uploaded backup did not come back byte for byte; no stage may rely on it. */
export class BackupVerificationError extends Error {
  readonly exitCode = 1;

  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = 'BackupVerificationError';
  }
}

export async function createBackup(options: CreateBackupOptions): Promise<BackupResult> {
  const { logger } = options;
  if (options.databases.length === 0) throw new Error('createBackup: no databases to back up');
  checkEncryptionMode(options.encryption);
  const masker = new SecretMasker();
  registerSecrets(
    logger,
    masker,
    options.databases.map((db) => db.target.password),
  );
  if (options.encryption.kind === 'passphrase') registerSecrets(logger, masker, [options.encryption.passphrase]);

  await mkdir(options.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(options.workDir, `${options.artifactName}-`));
  const createdAt = new Date().toISOString();
  try {
    const entries: BackupManifestDatabase[] = [];
    for (const database of options.databases) {
      const label = database.names.join(' = ');
      entries.push(await logger.group(`Backing up ${label}`, () => dumpDatabase(options, database, dir, masker)));
    }
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      stage: options.stage,
      artifact: options.artifactName,
      runId: options.run.runId,
      attempt: options.run.attempt,
      createdAt,
      completedAt: new Date().toISOString(),
      toolVersion: options.toolVersion,
      encryption:
        options.encryption.kind === 'recipient'
          ? { mode: 'recipient', recipient: options.encryption.recipient.trim() }
          : { mode: options.encryption.kind },
      databases: entries,
    };
    // The manifest comes last: a backup without one is, by definition, incomplete.
    const manifestPath = path.join(dir, MANIFEST_FILE);
    await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    let files = [...entries.map((entry) => path.join(dir, entry.file)), manifestPath];

    logger.info(`Uploading ${options.artifactName} (${files.length} files) to ${options.store.description}`);
    // The files were written for the store alone: a store on this machine may move them instead of copying them.
    const artifact = await options.store.upload(options.artifactName, files, {
      retentionDays: options.retentionDays,
      moveFiles: true,
    });
    await verifyStoredBackup(options, artifact, manifest);
    const stored = artifact.localDir;
    if (stored !== undefined) files = files.map((file) => path.join(stored, path.basename(file)));
    logger.info(
      `Backup ${options.artifactName} verified: ${entries.map((e) => `${e.file} ${formatBytes(e.bytes)}`).join(', ')}` +
        ` (encryption: ${describeEncryption(options.encryption)})`,
    );
    return { artifact, manifest, files };
  } catch (error) {
    // Partial dumps are of no use to anyone and may hold plaintext data.
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Reads the stored artifact back and checks every file against the manifest: in place when the store keeps its
 * files on this machine (the local folder store), otherwise downloaded into a scratch folder.
 */
async function verifyStoredBackup(
  options: CreateBackupOptions,
  artifact: StoredArtifact,
  manifest: BackupManifest,
): Promise<void> {
  if (artifact.localDir) return checkStoredBackup(options, artifact, manifest, artifact.localDir);
  const scratch = await mkdtemp(path.join(options.workDir, `verify-${options.artifactName}-`));
  try {
    await options.store.download(artifact.name, scratch, { runId: artifact.runId });
    await checkStoredBackup(options, artifact, manifest, scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function checkStoredBackup(
  options: CreateBackupOptions,
  artifact: StoredArtifact,
  manifest: BackupManifest,
  dir: string,
): Promise<void> {
  const problems: string[] = [];
  const storedManifest = await readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  if (storedManifest === undefined) problems.push(`${MANIFEST_FILE} is missing`);
  else if (storedManifest !== `${JSON.stringify(manifest, null, 2)}\n`) problems.push(`${MANIFEST_FILE} differs`);
  for (const entry of manifest.databases) {
    const problem = await checkFile(path.join(dir, entry.file), entry.bytes, entry.sha256);
    if (problem) problems.push(`${entry.file}: ${problem}`);
  }
  if (problems.length > 0) {
    throw new BackupVerificationError(
      `backup ${artifact.name} did not come back intact from ${options.store.description}: ${problems.join('; ')}. ` +
        'No data was changed; check the store (disk space, network) and run the stage again',
      problems,
    );
  }
}

/** Compares a file with an expected size and sha256; returns what is wrong, or undefined. */
export async function checkFile(file: string, bytes: number, sha256: string): Promise<string | undefined> {
  const size = await stat(file).then(
    (info) => info.size,
    () => undefined,
  );
  if (size === undefined) return 'missing';
  if (size !== bytes) return `${size} bytes instead of ${bytes}`;
  const actual = await sha256File(file);
  if (actual !== sha256) return `sha256 ${actual} instead of ${sha256}`;
  return undefined;
}

async function dumpDatabase(
  options: CreateBackupOptions,
  database: BackupDatabase,
  dir: string,
  masker: SecretMasker,
): Promise<BackupManifestDatabase> {
  const { target } = database;
  const first = database.names[0] ?? target.name;
  const tools = await findClientTools(target.engine);
  const dumpTool = requireTool(tools.dump, target.engine);
  const started = Date.now();
  const session = await openSession(target);
  try {
    const server = await readServerInfo(session);
    const postgres = target.engine === 'postgresql';
    const format: DumpFormat = postgres ? 'pg-custom' : 'sql-gzip';
    const encrypted = options.encryption.kind !== 'none';
    const file = `${first}${postgres ? '.pgdump' : '.sql.gz'}${encrypted ? AGE_EXTENSION : ''}`;
    const output = path.join(dir, file);
    const context: DumpContext = { options, database, session, tool: dumpTool, tools, server, output, masker };
    const result = postgres ? await dumpPostgres(context) : await dumpMysql(context);
    const entry: BackupManifestDatabase = {
      names: [...database.names],
      engine: target.engine,
      host: target.host,
      port: target.port,
      database: target.database,
      server: { product: server.product, version: server.version },
      dumpTool: { name: dumpTool.name, version: dumpTool.versionText ?? 'unknown' },
      format,
      encrypted,
      file,
      bytes: result.bytes,
      sha256: result.sha256,
      rowCounts: result.rowCounts,
      rowCountSnapshot: postgres ? 'dump-snapshot' : 'separate-snapshot',
      ...(postgres ? {} : { rowCountNote: MYSQL_COUNT_NOTE }),
      durationMs: Date.now() - started,
    };
    const tables = Object.keys(result.rowCounts).length;
    const rows = Object.values(result.rowCounts).reduce((sum, count) => sum + count, 0);
    options.logger.info(
      `${database.names.join(' = ')}: ${file} ${formatBytes(result.bytes)}, ${tables} tables, ${rows} rows, ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return entry;
  } finally {
    await session.close().catch(() => undefined);
  }
}

interface DumpContext {
  options: CreateBackupOptions;
  database: BackupDatabase;
  session: DbSession;
  tool: ResolvedTool;
  tools: ClientTools;
  server: ServerInfo;
  output: string;
  masker: SecretMasker;
}

interface DumpResult {
  bytes: number;
  sha256: string;
  rowCounts: Record<string, number>;
}

async function dumpPostgres(context: DumpContext): Promise<DumpResult> {
  const { session, database } = context;
  const target = database.target;
  // The counts and pg_dump see the same snapshot: exported here, imported by pg_dump.
  await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const [row] = await session.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
    if (!row) throw new Error('pg_export_snapshot() returned nothing');
    const args = [
      '-Fc',
      `--snapshot=${row.snapshot}`,
      '--no-password',
      '-h',
      target.host,
      '-p',
      String(target.port),
      '-U',
      target.username,
      '-d',
      target.database,
    ];
    // The transaction stays open until pg_dump exits, so that the snapshot stays valid.
    const result = await runDump(context, args, postgresToolEnv(target), false);
    await session.query('COMMIT');
    return result;
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function dumpMysql(context: DumpContext): Promise<DumpResult> {
  const { session, database, tool } = context;
  const target = database.target;
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
        ...mysqlFlavorDumpArgs(tool, context.server),
        // One database, without CREATE DATABASE/USE: the restore recreates it under the configured name.
        target.database,
      ];
      return runDump(context, args, process.env, true);
    });
  } finally {
    await session.query('COMMIT').catch(() => undefined);
  }
}

function mysqlFlavorDumpArgs(tool: ResolvedTool, server: ServerInfo): string[] {
  const version = tool.version;
  if (version?.flavor !== 'MySQL') return [];
  // Oracle's mysqldump: GTID_PURGED lines break a restore into a server with its own GTID history,
  // and MySQL 8's tool asks MariaDB for column statistics that MariaDB does not have.
  const args = ['--set-gtid-purged=OFF'];
  if (version.major >= 8 && server.product === 'MariaDB') args.push('--column-statistics=0');
  return args;
}

/**
 * Runs the dump tool into the output file (gzip and age as asked), counting rows in the
 * context's session at the same time.
 */
async function runDump(
  context: DumpContext,
  args: string[],
  env: NodeJS.ProcessEnv,
  gzip: boolean,
): Promise<DumpResult> {
  const { options, session, tool, output, masker } = context;
  const label = context.database.names.join(' = ');
  // The raw bytes are only counted, for the progress lines: hashing them too would cost a second sha256 pass
  // over every byte of the dump, and only the written file's digest goes into the manifest.
  const raw = createMeter({ hash: false });
  const written = createMeter();
  const stages: Array<NodeJS.ReadWriteStream> = [raw.stream];
  if (gzip) stages.push(createParallelGzip());
  if (options.encryption.kind !== 'none') stages.push(Duplex.from(encryptTransform(options.encryption)));
  stages.push(written.stream);

  const started = Date.now();
  const interval = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  const timer = setInterval(() => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    options.logger.info(
      `${label}: ${formatBytes(raw.bytes)} from ${tool.name} (${formatBytes(raw.bytes / seconds)}/s), ` +
        `${formatBytes(written.bytes)} written`,
    );
  }, interval);
  timer.unref();

  let rowCounts: Record<string, number> = {};
  const run = startTool(tool, args, env, 'ignore', masker);
  try {
    await superviseTool(run, `dumping ${label}`, [
      pipeline([run.child.stdout, ...stages, createWriteStream(output, { mode: 0o600 })]).catch((error: unknown) => {
        throw new Error(`writing the dump of ${label} to ${output} failed: ${errorMessage(error)}`, { cause: error });
      }),
      countRows(session).then((counts) => {
        rowCounts = counts;
      }),
    ]);
  } finally {
    clearInterval(timer);
  }
  for (const line of run.stderrTail()) options.logger.warning(`${tool.name}: ${line}`);
  return { bytes: written.bytes, sha256: written.digest(), rowCounts };
}

const GZIP_BLOCK_BYTES = 1024 * 1024;

/**
 * gzip on several of zlib's threads at once, as pigz does: the input is cut into 1 MiB blocks, each compressed
 * on its own (level 6, as gzip) into one gzip member, and the members are written in order. A file of
 * concatenated members is a valid gzip file (RFC 1952); gunzip, zcat and Node's gunzip read it whole.
 *
 * Why: one deflate stream over a MariaDB dump was the bottleneck of the backup: gzip -6 alone takes longer than
 * the dump tool (docs/benchmarks.md). Each block's dictionary starts empty, which costs well
 * under 1% of the size. At most `inFlight` blocks are being compressed or waiting to be written; the input is
 * not taken faster than that, so memory stays at a few MiB whatever the dump size.
 */
export function createParallelGzip(options: { inFlight?: number; blockBytes?: number } = {}): Transform {
  const blockBytes = options.blockBytes ?? GZIP_BLOCK_BYTES;
  const inFlight = options.inFlight ?? Math.min(4, Math.max(2, os.availableParallelism()));
  const pending: Array<Promise<Buffer>> = [];
  let buffered: Buffer[] = [];
  let bufferedBytes = 0;
  let members = 0;
  const startBlock = (): void => {
    const block = Buffer.concat(buffered, bufferedBytes);
    buffered = [];
    bufferedBytes = 0;
    members += 1;
    const compressed = gzipBlock(block, { level: 6 });
    // Awaited in order below; until then a failure must not count as unhandled.
    compressed.catch(() => undefined);
    pending.push(compressed);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      buffered.push(chunk);
      bufferedBytes += chunk.length;
      if (bufferedBytes >= blockBytes) startBlock();
      const drain = async (): Promise<void> => {
        while (pending.length >= inFlight) this.push(await (pending.shift() as Promise<Buffer>));
      };
      drain().then(() => callback(), callback);
    },
    flush(callback) {
      // Empty input still makes a valid (empty) gzip file.
      if (bufferedBytes > 0 || members === 0) startBlock();
      const drain = async (): Promise<void> => {
        while (pending.length > 0) this.push(await (pending.shift() as Promise<Buffer>));
      };
      drain().then(() => callback(), callback);
    },
  });
}

interface Meter {
  stream: Transform;
  readonly bytes: number;
  digest(): string;
}

/** A pass-through that counts and (unless told not to) hashes the bytes that flow through it. */
function createMeter(options: { hash?: boolean } = {}): Meter {
  const hash = options.hash === false ? undefined : createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash?.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return {
    stream,
    get bytes() {
      return bytes;
    },
    digest: () => {
      if (!hash) throw new Error('this meter only counts bytes');
      return hash.digest('hex');
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Helpers shared with restore.ts

export type ResolvedTool = ClientTool & { path: string };

/** The tool, or a clear error naming the package to install. */
export function requireTool(tool: ClientTool, engine: DbEngine): ResolvedTool {
  if (tool.path !== undefined) return tool as ResolvedTool;
  const what = engine === 'postgresql' ? 'postgresql-client' : 'mariadb-client (or default-mysql-client)';
  throw new ClientToolError(
    `${tool.name} is not on PATH; install the Debian package ${what} on this runner`,
    tool.name,
    [],
  );
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

export interface TableRef {
  /** The key in manifests: `schema.table` on PostgreSQL, `table` on MySQL/MariaDB. */
  key: string;
  /** Quoted for use in SQL. */
  quoted: string;
}

/** The base tables of the current schema(s): search_path on PostgreSQL, the current database on MySQL. */
export async function listTables(session: DbSession): Promise<TableRef[]> {
  if (session.engine === 'postgresql') {
    const rows = await session.query<{ schema_name: string; table_name: string }>(
      `SELECT n.nspname AS schema_name, c.relname AS table_name
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY (current_schemas(false))
        ORDER BY 1, 2`,
    );
    return rows.map((row) => ({
      key: `${row.schema_name}.${row.table_name}`,
      quoted: `${quotePg(row.schema_name)}.${quotePg(row.table_name)}`,
    }));
  }
  const rows = await session.query<{ table_name: string }>(
    `SELECT table_name AS table_name FROM information_schema.tables
      WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  return rows.map((row) => ({ key: row.table_name, quoted: quoteMysql(row.table_name) }));
}

export function quotePg(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export function quoteMysql(identifier: string): string {
  return `\`${identifier.replace(/`/g, '``')}\``;
}

/** The environment of a PostgreSQL client tool: the password in PGPASSWORD, TLS as the JDBC URL asks. */
export function postgresToolEnv(target: DatabaseTarget): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['PGPASSWORD', 'PGPASSFILE', 'PGSSLMODE', 'PGSERVICE', 'PGOPTIONS']) delete env[name];
  if (target.password.length > 0) env['PGPASSWORD'] = target.password;
  env['PGCONNECT_TIMEOUT'] ??= '10';
  const sslmode = postgresSslMode(target.params);
  if (sslmode) env['PGSSLMODE'] = sslmode;
  const files: Array<[string, string]> = [
    ['sslrootcert', 'PGSSLROOTCERT'],
    ['sslcert', 'PGSSLCERT'],
    ['sslkey', 'PGSSLKEY'],
  ];
  for (const [param, variable] of files) {
    const value = lookupParam(target.params, param);
    if (value) env[variable] = value;
  }
  return env;
}

/** pgJDBC's sslmode carries over to libpq; its bare `ssl=true` means verify-full. */
function postgresSslMode(params: Record<string, string>): string | undefined {
  const mode = lookupParam(params, 'sslmode')?.toLowerCase();
  if (mode && ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) return mode;
  const ssl = lookupParam(params, 'ssl')?.toLowerCase();
  if (ssl === 'true') return 'verify-full';
  if (ssl === 'false') return 'disable';
  return undefined;
}

function lookupParam(params: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(params).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : params[key];
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
    ...mysqlSslOptions(target.params, tool.version?.flavor ?? 'MariaDB'),
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

function mysqlSslOptions(params: Record<string, string>, flavor: DbProduct): string[] {
  const ssl = mapMysqlSsl(params);
  const mode = lookupParam(params, 'sslMode')?.toUpperCase();
  const off = mode === 'DISABLED' || lookupParam(params, 'useSSL')?.toLowerCase() === 'false';
  if (flavor === 'MySQL') {
    if (!ssl) return off ? ['ssl-mode=DISABLED'] : [];
    if (ssl.verifyIdentity) return ['ssl-mode=VERIFY_IDENTITY'];
    return [ssl.rejectUnauthorized ? 'ssl-mode=VERIFY_CA' : 'ssl-mode=REQUIRED'];
  }
  if (!ssl) return off ? ['skip-ssl'] : [];
  return ['ssl', ssl.rejectUnauthorized ? 'ssl-verify-server-cert' : 'skip-ssl-verify-server-cert'];
}

export interface ToolRun {
  child: ChildProcessByStdio<Writable | null, Readable, Readable>;
  tool: ResolvedTool;
  /** Resolves when the tool has exited and its output is read; rejects when it could not start. */
  finished: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the tool wrote to stderr, secrets masked. */
  stderrTail(): string[];
  /** Stops the tool because something beside it failed. */
  abort(): void;
  readonly aborted: boolean;
}

/** Starts a client tool with stdout piped; stdin piped or ignored. Nothing secret goes into `args`. */
export function startTool(
  tool: ResolvedTool,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin: 'pipe' | 'ignore',
  masker: SecretMasker,
): ToolRun {
  const child = spawn(tool.path, args, { env, stdio: [stdin, 'pipe', 'pipe'] }) as ChildProcessByStdio<
    Writable | null,
    Readable,
    Readable
  >;
  const tail: string[] = [];
  let partial = '';
  const addLine = (line: string): void => {
    const trimmed = line.trimEnd();
    if (trimmed === '') return;
    tail.push(masker.mask(trimmed.length > 500 ? `${trimmed.slice(0, 500)}...` : trimmed));
    if (tail.length > STDERR_TAIL_LINES) tail.shift();
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(addLine);
  });
  let aborted = false;
  const finished = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      addLine(partial);
      partial = '';
      resolve({ code, signal });
    });
  });
  return {
    child,
    tool,
    finished,
    stderrTail: () => [...tail],
    abort() {
      if (child.exitCode === null && child.signalCode === null) {
        aborted = true;
        child.kill('SIGTERM');
      }
    },
    get aborted() {
      return aborted;
    },
  };
}

/**
 * Waits for a tool and the work that runs beside it (feeding it, reading it, counting rows).
 * When the work fails first, the tool is stopped and the work's error is thrown; when the tool fails
 * (non-zero exit, or an error on stderr), a ClientToolError with its last stderr lines is thrown.
 */
export async function superviseTool(run: ToolRun, what: string, work: Array<Promise<unknown>>): Promise<void> {
  const guarded = work.map((task) =>
    task.catch((error: unknown) => {
      run.abort();
      throw error;
    }),
  );
  const [exit, ...results] = await Promise.allSettled([run.finished, ...guarded]);
  const name = run.tool.name;
  if (exit?.status === 'rejected') {
    throw new ClientToolError(
      `${name} could not be started (${run.tool.path}): ${errorMessage(exit.reason)}`,
      name,
      run.stderrTail(),
    );
  }
  const failedWork = results.find((result) => result.status === 'rejected');
  const tail = run.stderrTail();
  const exited = exit?.status === 'fulfilled' ? exit.value : { code: null, signal: null };
  const toolFailed = exited.code !== 0 || tail.some((line) => /\b(error|fatal)\b/i.test(line));
  if (toolFailed && !run.aborted) {
    const how =
      exited.code !== null && exited.code !== 0
        ? `exit code ${exited.code}`
        : exited.signal
          ? `killed by ${exited.signal}`
          : 'an error on stderr';
    const details = tail.length > 0 ? `:\n  ${tail.join('\n  ')}` : ' (no output on stderr)';
    throw new ClientToolError(`${name} failed while ${what} (${how})${details}`, name, tail);
  }
  if (failedWork?.status === 'rejected') throw failedWork.reason;
}

/** Registers values with the logger and with the masker used for error messages. */
export function registerSecrets(logger: Logger, masker: SecretMasker, values: string[]): void {
  for (const value of values) {
    if (value.length === 0) continue;
    logger.setSecret(value);
    masker.add(value);
  }
}
