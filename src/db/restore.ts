/**
 * Puts databases back to the state of a backup taken by backup.ts. Everything that can be checked
 * without a database is checked first (manifest, sizes, sha256, decryption, the dump's own format),
 * so that a wrong key or a damaged, truncated or foreign file is refused with the databases untouched.
 */

import { Buffer } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlibConstants, createGunzip, gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { sha256File } from '../artifacts/local-store.js';
import type { ArtifactStore } from '../artifacts/store.js';
import type { DatabaseName, DatabaseTarget } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { SecretMasker, type Logger } from '../log/logger.js';
import {
  checkFile,
  ClientToolError,
  countRows,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  postgresToolEnv,
  quoteMysql,
  quotePg,
  registerSecrets,
  requireTool,
  startTool,
  superviseTool,
  withMysqlDefaultsFile,
  type BackupManifest,
  type BackupManifestDatabase,
  type ResolvedTool,
} from './backup.js';
import { findClientTools } from './client-tools.js';
import {
  AGE_EXTENSION,
  AgeFormatError,
  BackupKeyError,
  checkDecryptionMode,
  decryptFile,
  describeKeyMismatch,
  readAgeHeader,
  type DecryptionMode,
} from './encryption.js';
import { describeAddress, openSession } from './session.js';

export interface RestoreOptions {
  artifactName: string;
  /** The run that holds the backup; this run when absent. */
  runId?: string;
  store: ArtifactStore;
  decryption: DecryptionMode;
  /** The configured databases; each database of the backup is matched to one of them by name. */
  databases: DatabaseTarget[];
  logger: Logger;
  /** Where the backup is downloaded and decrypted; the plaintext is removed before this returns. */
  workDir: string;
  /**
   * The sha256 of the backup's manifest.json as the ledger recorded it when the backup was stored: a manifest that
   * differs (a replaced, damaged or foreign artifact of the same name) is refused.
   */
  manifestSha256?: string;
}

export interface RestoreResult {
  manifest: BackupManifest;
  restored: Array<{ names: DatabaseName[]; rowCounts: Record<string, number> }>;
}

/** The backup cannot be used: incomplete, damaged, foreign, or not matching the configuration. Nothing was changed. */
export class BackupRejectedError extends Error {
  readonly exitCode = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackupRejectedError';
  }
}

/** The restore ran, but the databases do not hold what the manifest says the backup held. */
export class RestoreMismatchError extends Error {
  readonly exitCode = 1;

  constructor(
    message: string,
    /** One line per table that differs, e.g. `apim_db: public.am_api: 12 rows in the backup, 11 now`. */
    readonly tables: string[],
  ) {
    super(message);
    this.name = 'RestoreMismatchError';
  }
}

const databaseName = z.enum(['apim_db', 'shared_db', 'config', 'user']);
const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  stage: z.string(),
  artifact: z.string(),
  runId: z.string(),
  attempt: z.number(),
  createdAt: z.string(),
  completedAt: z.string(),
  toolVersion: z.string(),
  encryption: z.object({ mode: z.enum(['none', 'passphrase', 'recipient']), recipient: z.string().optional() }),
  databases: z
    .array(
      z.object({
        names: z.array(databaseName).min(1),
        engine: z.enum(['postgresql', 'mysql', 'mariadb']),
        host: z.string(),
        port: z.number(),
        database: z.string(),
        server: z.object({ product: z.enum(['PostgreSQL', 'MySQL', 'MariaDB']), version: z.string() }),
        dumpTool: z.object({ name: z.string(), version: z.string() }),
        format: z.enum(['pg-custom', 'sql-gzip']),
        encrypted: z.boolean(),
        // A plain file name: the manifest must not point outside the download folder.
        file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
        bytes: z.number().int().nonnegative(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        rowCounts: z.record(z.string(), z.number().int().nonnegative()),
        rowCountSnapshot: z.enum(['dump-snapshot', 'separate-snapshot']),
        rowCountNote: z.string().optional(),
        durationMs: z.number(),
      }),
    )
    .min(1),
});

/**
 * 1 MiB reads and gunzip output chunks instead of Node's 64 KiB / 16 KiB: every chunk is a round trip to zlib's
 * thread, and with the small defaults the full gunzip pass that checks a MySQL dump took 2.5 times as long
 * (see docs/benchmarks.md).
 */
const STREAM_CHUNK = { highWaterMark: 1024 * 1024 };
const GUNZIP_CHUNK = { chunkSize: 1024 * 1024 };

interface RestorePlan {
  entry: BackupManifestDatabase;
  target: DatabaseTarget;
  label: string;
  tool: ResolvedTool;
  /** The decrypted, checked dump. */
  plainFile: string;
  /** PostgreSQL: the relations the archive holds, from `pg_restore --list`. */
  archiveRelations?: Set<string>;
}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const { logger, decryption } = options;
  checkDecryptionMode(decryption);
  const masker = new SecretMasker();
  registerSecrets(
    logger,
    masker,
    options.databases.map((db) => db.password),
  );
  if (decryption.kind === 'passphrase') registerSecrets(logger, masker, [decryption.passphrase]);
  if (decryption.kind === 'identity') registerSecrets(logger, masker, [decryption.identity.trim()]);

  const backup = `backup ${options.artifactName} of run ${options.runId ?? 'this run'}`;
  await mkdir(options.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(options.workDir, `restore-${options.artifactName}-`));
  try {
    const plainDir = path.join(dir, 'plain');
    await mkdir(plainDir, { mode: 0o700 });
    const backupDir = await fetchBackup(options, path.join(dir, 'download'), backup);
    // The manifest is the one the ledger recorded, and each file is then checked against its sha256 below: every
    // byte is the backup's own, which the backup saw complete. A full pass over a gzip dump would add nothing.
    const ledgerChecked = options.manifestSha256 !== undefined;
    if (options.manifestSha256 !== undefined) await checkManifestDigest(backupDir, options.manifestSha256, backup);
    const manifest = await readManifest(backupDir, backup);
    const matches = matchDatabases(manifest, options.databases, backup);

    // Every file is checked against the manifest, decrypted and checked as a dump before any database is touched.
    // The sha256 pass runs beside the rest, which only reads; a damaged file explains any failure best.
    const filesChecked = checkFiles(backupDir, manifest, backup);
    filesChecked.catch(() => undefined);
    const plans: RestorePlan[] = [];
    try {
      for (const { entry, target } of matches) {
        const label = entry.names.join(' = ');
        const tools = await findClientTools(target.engine);
        const tool = requireTool(tools.restore, target.engine);
        const plainFile = await preparePlainFile(entry, backupDir, plainDir, decryption, backup);
        const plan: RestorePlan = { entry, target, label, tool, plainFile };
        if (entry.format === 'pg-custom') plan.archiveRelations = await checkPgArchive(plan, masker, backup);
        else await checkSqlGzip(plan, backup, { whole: !ledgerChecked });
        plans.push(plan);
      }
    } catch (error) {
      await filesChecked;
      throw error;
    }
    await filesChecked;
    for (const { entry } of plans) {
      logger.info(
        `${entry.file}: checked (${entry.encrypted ? 'decrypted, ' : ''}${describeFormat(entry, ledgerChecked)})`,
      );
    }

    const restored: RestoreResult['restored'] = [];
    const mismatches: string[] = [];
    for (const plan of plans) {
      await logger.group(`Restoring ${plan.label} into ${describeAddress(plan.target)}`, async () => {
        if (plan.entry.format === 'pg-custom') await restorePostgres(plan, masker, logger);
        else await restoreMysql(plan, masker, logger);
        const rowCounts = await countTargetRows(plan.target);
        const differences = compareCounts(plan.entry.rowCounts, rowCounts).map((line) => `${plan.label}: ${line}`);
        mismatches.push(...differences);
        restored.push({ names: [...plan.entry.names], rowCounts });
        const rows = Object.values(rowCounts).reduce((sum, count) => sum + count, 0);
        logger.info(
          `${plan.label}: ${Object.keys(rowCounts).length} tables, ${rows} rows` +
            (differences.length === 0 ? ', as in the backup' : `, ${differences.length} tables differ from the backup`),
        );
      });
    }
    if (mismatches.length > 0) {
      throw new RestoreMismatchError(
        `after restoring ${backup}, these tables do not hold what the backup held:\n  ${mismatches.join('\n  ')}\n` +
          'Do not run a migration stage on these databases. Check the restore output above (and, on MySQL/MariaDB, ' +
          'that nothing wrote to the database while the backup was taken), then run the restore again.',
        mismatches,
      );
    }
    logger.info(`Restored ${backup}: ${plans.map((plan) => plan.label).join(', ')}`);
    return { manifest, restored };
  } finally {
    // The plaintext of the dumps must not stay on the runner.
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The folder that holds the backup's files: the store's own when it keeps them on this machine (read in place, which
 * spares a copy of every dump), otherwise `backupDir`, where they are downloaded.
 */
async function fetchBackup(options: RestoreOptions, backupDir: string, backup: string): Promise<string> {
  const { store } = options;
  const from = options.runId === undefined ? {} : { runId: options.runId };
  try {
    const local = await store.localFolder?.(options.artifactName, from);
    if (local !== undefined) {
      options.logger.info(`Reading ${backup} in place from ${store.description}`);
      return local;
    }
    options.logger.info(`Downloading ${backup} from ${store.description}`);
    await store.download(options.artifactName, backupDir, from);
    return backupDir;
  } catch (error) {
    throw new BackupRejectedError(
      `${backup} could not be downloaded from ${store.description}: ${errorMessage(error)}. Nothing was ` +
        'changed; run again when the store answers, or restore from another backup.',
      { cause: error },
    );
  }
}

async function checkManifestDigest(dir: string, expected: string, backup: string): Promise<void> {
  const actual = await sha256File(path.join(dir, MANIFEST_FILE)).catch(() => undefined);
  if (actual === undefined || actual === expected.toLowerCase()) return; // a missing manifest is readManifest's to say
  throw new BackupRejectedError(
    `${MANIFEST_FILE} of ${backup} is not the one recorded in the ledger when the backup was stored (sha256 ${actual} ` +
      `instead of ${expected.toLowerCase()}): the artifact was replaced or damaged since. Nothing was changed; ` +
      'restore from another backup.',
  );
}

async function readManifest(dir: string, backup: string): Promise<BackupManifest> {
  const text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) {
    throw new BackupRejectedError(
      `${backup} has no ${MANIFEST_FILE}: the backup is incomplete (it was interrupted before it finished) ` +
        'and cannot be restored. Nothing was changed; restore from an earlier complete backup.',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BackupRejectedError(
      `${MANIFEST_FILE} of ${backup} is not valid JSON (${errorMessage(error)}): the backup is damaged or incomplete. ` +
        'Nothing was changed; restore from another backup.',
      { cause: error },
    );
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new BackupRejectedError(
      `${MANIFEST_FILE} of ${backup} is not an apim-migrate backup manifest (${issues.slice(0, 5).join('; ')}). ` +
        'Nothing was changed; restore from a backup that apim-migrate took.',
    );
  }
  return result.data as BackupManifest;
}

function matchDatabases(
  manifest: BackupManifest,
  databases: readonly DatabaseTarget[],
  backup: string,
): Array<{ entry: BackupManifestDatabase; target: DatabaseTarget }> {
  const problems: string[] = [];
  const matches: Array<{ entry: BackupManifestDatabase; target: DatabaseTarget }> = [];
  for (const entry of manifest.databases) {
    const targets = entry.names
      .map((name) => databases.find((db) => db.name === name))
      .filter((db): db is DatabaseTarget => db !== undefined);
    const target = targets[0];
    const label = entry.names.join(' = ');
    if (!target) {
      problems.push(`the backup holds ${label}, which is not among the configured databases`);
      continue;
    }
    const places = new Set(targets.map((db) => `${db.host}:${db.port}/${db.database}`));
    if (places.size > 1) {
      problems.push(
        `the backup holds ${label} as one database, but the config now points them at different databases (${[...places].join(', ')})`,
      );
      continue;
    }
    if ((entry.engine === 'postgresql') !== (target.engine === 'postgresql')) {
      problems.push(`${label} was backed up from ${entry.server.product}, but ${target.name} is now ${target.engine}`);
      continue;
    }
    if (entry.database !== target.database) {
      // A backup of another database (another environment's, or a copy's) would replace this one's data.
      problems.push(
        `${label} was backed up from database ${entry.database}, but ${target.name} is now ${target.database}`,
      );
      continue;
    }
    matches.push({ entry, target });
  }
  if (problems.length > 0) {
    throw new BackupRejectedError(
      `${backup} does not fit the configured databases: ${problems.join('; ')}. Nothing was changed; ` +
        'restore with the config the backup was taken with.',
    );
  }
  return matches;
}

async function checkFiles(dir: string, manifest: BackupManifest, backup: string): Promise<void> {
  const problems: string[] = [];
  for (const entry of manifest.databases) {
    const problem = await checkFile(path.join(dir, entry.file), entry.bytes, entry.sha256);
    if (problem) problems.push(`${entry.file}: ${problem}`);
  }
  if (problems.length > 0) {
    throw new BackupRejectedError(
      `${backup} does not match its manifest (${problems.join('; ')}): a file is truncated, damaged or was replaced ` +
        'after the backup. Nothing was changed; download it again or restore from another backup.',
    );
  }
}

async function preparePlainFile(
  entry: BackupManifestDatabase,
  backupDir: string,
  plainDir: string,
  decryption: DecryptionMode,
  backup: string,
): Promise<string> {
  const file = path.join(backupDir, entry.file);
  if (!entry.encrypted) return file;
  const header = await readAgeHeader(file);
  if (!header) {
    throw new BackupRejectedError(
      `${entry.file} of ${backup} is not an age-encrypted file, although its manifest says it is encrypted. ` +
        'Nothing was changed; restore from another backup.',
    );
  }
  if (decryption.kind === 'none') {
    throw new BackupKeyError(
      `${backup} is encrypted (${header.passphrase ? 'with a passphrase' : 'to an age recipient'}); ` +
        `give the ${header.passphrase ? 'backup passphrase' : 'age identity (AGE-SECRET-KEY-1...)'} to restore it`,
    );
  }
  const base = entry.file.endsWith(AGE_EXTENSION) ? entry.file.slice(0, -AGE_EXTENSION.length) : `${entry.file}.plain`;
  const plain = path.join(plainDir, base);
  try {
    await decryptFile(file, plain, decryption);
  } catch (error) {
    if (error instanceof BackupKeyError) {
      throw new BackupKeyError(
        `cannot decrypt ${entry.file} of ${backup}: ${describeKeyMismatch(decryption, header)}. Nothing was changed.`,
        { cause: error },
      );
    }
    if (error instanceof AgeFormatError) {
      throw new BackupRejectedError(
        `${entry.file} of ${backup}: ${error.message}. Nothing was changed; restore from another backup.`,
        { cause: error },
      );
    }
    throw error;
  }
  return plain;
}

/** Checks the custom-format signature and reads the archive's table of contents. */
async function checkPgArchive(plan: RestorePlan, masker: SecretMasker, backup: string): Promise<Set<string>> {
  const head = await readHead(plan.plainFile, 5);
  if (head.toString('latin1') !== 'PGDMP') {
    throw new BackupRejectedError(
      `${plan.entry.file} of ${backup} is not a PostgreSQL custom-format dump (pg_dump -Fc). ` +
        'Nothing was changed; restore from another backup.',
    );
  }
  const run = startTool(plan.tool, ['--list', plan.plainFile], process.env, 'ignore', masker);
  let listing = '';
  try {
    await superviseTool(run, `reading ${plan.entry.file}`, [
      collectText(run.child.stdout).then((text) => (listing = text)),
    ]);
  } catch (error) {
    throw new BackupRejectedError(
      `${plan.entry.file} of ${backup} cannot be read by ${plan.tool.name} (${errorMessage(error)}). ` +
        'Nothing was changed; restore from another backup, or use a pg_restore at least as new as the pg_dump ' +
        `that wrote it (${plan.entry.dumpTool.version}).`,
      { cause: error },
    );
  }
  return parseArchiveRelations(listing);
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

/**
 * Checks that the file is a gzip-compressed mysqldump/mariadb-dump file. `whole`: decompresses all of it (gzip checks
 * its CRC and length at the end) and checks that the dump is complete; otherwise only its start is read.
 */
async function checkSqlGzip(plan: RestorePlan, backup: string, options: { whole: boolean }): Promise<void> {
  const reject = (why: string, cause?: unknown): BackupRejectedError =>
    new BackupRejectedError(
      `${plan.entry.file} of ${backup} ${why}. Nothing was changed; restore from another backup.`,
      cause === undefined ? undefined : { cause },
    );
  const magic = await readHead(plan.plainFile, 2);
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) throw reject('is not a gzip file');
  let head = Buffer.alloc(0);
  let tail = Buffer.alloc(0);
  if (options.whole) {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (head.length < 4096) head = Buffer.concat([head, chunk.subarray(0, 4096 - head.length)]);
        tail = Buffer.concat([tail, chunk]).subarray(-512);
        callback();
      },
    });
    try {
      await pipeline(createReadStream(plan.plainFile, STREAM_CHUNK), createGunzip(GUNZIP_CHUNK), sink);
    } catch (error) {
      throw reject(`is damaged or cut short (${errorMessage(error)})`, error);
    }
  } else {
    try {
      // A sync flush at the end: what the first 64 KiB hold, without an error for the rest that is not read.
      const start = gunzipSync(await readHead(plan.plainFile, 64 * 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      head = start.subarray(0, 4096);
    } catch (error) {
      throw reject(`is damaged (${errorMessage(error)})`, error);
    }
  }
  if (!/^-- (MySQL|MariaDB) dump/m.test(head.toString('utf8'))) throw reject('is not a mysqldump/mariadb-dump file');
  if (options.whole && !/-- Dump completed/.test(tail.toString('utf8')))
    throw reject('is an incomplete dump (no "Dump completed" line)');
}

async function restorePostgres(plan: RestorePlan, masker: SecretMasker, logger: Logger): Promise<void> {
  const { target } = plan;
  // pg_restore --clean drops only what the archive holds: relations created after the backup
  // (by the stage being rolled back) would survive and could block dropping the backed-up tables.
  const session = await openSession(target);
  try {
    const extra = await listExtraRelations(session, plan.archiveRelations ?? new Set());
    if (extra.length > 0) {
      logger.info(`${plan.label}: dropping what was created after the backup: ${extra.map((r) => r.key).join(', ')}`);
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
    '--no-password',
    // All or nothing: a failing restore leaves the database as it was.
    '--single-transaction',
    '--exit-on-error',
    '-h',
    target.host,
    '-p',
    String(target.port),
    '-U',
    target.username,
    '-d',
    target.database,
    plan.plainFile,
  ];
  const run = startTool(plan.tool, args, postgresToolEnv(target), 'ignore', masker);
  try {
    await superviseTool(run, `restoring ${plan.label}`, [collectText(run.child.stdout)]);
  } catch (error) {
    if (!(error instanceof ClientToolError)) throw error;
    throw new ClientToolError(
      `${error.message}\npg_restore ran in one transaction, so ${target.database} still holds what it held before ` +
        'the restore (apart from relations created after the backup, which were dropped). Fix the cause and run the restore again.',
      error.tool,
      error.stderrTail,
    );
  }
  for (const line of run.stderrTail()) logger.warning(`${plan.tool.name}: ${line}`);
}

interface ExtraRelation {
  key: string;
  kind: 'TABLE' | 'VIEW' | 'MATERIALIZED VIEW' | 'SEQUENCE';
  quoted: string;
}

async function listExtraRelations(
  session: Awaited<ReturnType<typeof openSession>>,
  archive: Set<string>,
): Promise<ExtraRelation[]> {
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
      quoted: `${quotePg(row.schema_name)}.${quotePg(row.relation_name)}`,
    }));
}

async function restoreMysql(plan: RestorePlan, masker: SecretMasker, logger: Logger): Promise<void> {
  const { target } = plan;
  const database = quoteMysql(target.database);
  const session = await openSession(target);
  try {
    const [row] = await session.query<{ charset: string; collation: string }>(
      `SELECT default_character_set_name AS charset, default_collation_name AS collation
         FROM information_schema.schemata WHERE schema_name = ?`,
      [target.database],
    );
    const charset = row && /^\w+$/.test(row.charset) ? ` CHARACTER SET ${row.charset}` : '';
    const collation = row && /^\w+$/.test(row.collation) ? ` COLLATE ${row.collation}` : '';
    logger.info(`${plan.label}: recreating database ${target.database}${charset}${collation}`);
    await session.query(`DROP DATABASE IF EXISTS ${database}`);
    await session.query(`CREATE DATABASE ${database}${charset}${collation}`);
  } finally {
    await session.close().catch(() => undefined);
  }
  try {
    await withMysqlDefaultsFile(target, plan.tool, async (defaultsFile) => {
      const args = [
        `--defaults-extra-file=${defaultsFile}`,
        '--default-character-set=utf8mb4',
        // The dump holds binary columns as escaped raw bytes: the client passes them through untouched.
        '--binary-mode',
        target.database,
      ];
      const run = startTool(plan.tool, args, process.env, 'pipe', masker);
      const stdin = run.child.stdin;
      if (!stdin) throw new Error(`${plan.tool.name} was started without stdin`);
      await superviseTool(run, `restoring ${plan.label}`, [
        pipeline(createReadStream(plan.plainFile, STREAM_CHUNK), createGunzip(GUNZIP_CHUNK), stdin),
        collectText(run.child.stdout),
      ]);
      for (const line of run.stderrTail()) logger.warning(`${plan.tool.name}: ${line}`);
    });
  } catch (error) {
    throw new ClientToolError(
      `${errorMessage(error)}\nThe database ${target.database} was recreated and is only partly restored. ` +
        'Do not use it; fix the cause and run the restore again (the backup itself is unchanged).',
      error instanceof ClientToolError ? error.tool : plan.tool.name,
      error instanceof ClientToolError ? error.stderrTail : [],
    );
  }
}

async function countTargetRows(target: DatabaseTarget): Promise<Record<string, number>> {
  const session = await openSession(target);
  try {
    return await countRows(session);
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** Lines that describe each difference between the counts in the manifest and the counts now. */
export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): string[] {
  const lines: string[] = [];
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  for (const table of tables) {
    const before = expected[table];
    const now = actual[table];
    if (before === now) continue;
    if (now === undefined) lines.push(`${table}: in the backup (${before} rows), missing now`);
    else if (before === undefined) lines.push(`${table}: not in the backup, ${now} rows now`);
    else lines.push(`${table}: ${before} rows in the backup, ${now} now`);
  }
  return lines;
}

function describeFormat(entry: BackupManifestDatabase, ledgerChecked: boolean): string {
  if (entry.format === 'pg-custom') return 'PostgreSQL custom-format dump';
  return ledgerChecked
    ? 'gzip-compressed SQL dump, its manifest as the ledger recorded it'
    : 'complete gzip-compressed SQL dump';
}

async function readHead(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Reads a tool's stdout to the end (also to keep it from blocking on a full pipe). */
async function collectText(stream: Readable, limit = 16 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}
