/**
 * Verified backups of the deployment's databases, as design.md "Artifacts" describes them: one dump file
 * per physical database (`<db>.pgdump.zst` or `<db>.sql.zst`, where zstd is not installed `<db>.pgdump` or
 * `<db>.sql.gz`, plus `.age` when encrypted) and `manifest.json`, uploaded as one artifact and read back from the
 * store to check every byte before a stage may change data. The dialect of each database runs its dump tool; this
 * module streams the output through the compressor (compression.ts) and age into the file, counts and hashes it,
 * writes the manifest, and hands the artifact to the store. {@link storeBackup} is the part every backup artifact
 * shares (the home backup of home-backup.ts too).
 */

import type { KeyObject } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore, RunIdentity, StoredArtifact } from '../artifacts/store.js';
import type { DatabaseName, DatabaseTarget } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import { checkFile } from '../core/files.js';
import { formatBytes } from '../core/format.js';
import { createMeter, type Meter } from '../core/streams.js';
import { requireTool, startTool, superviseTool, type ResolvedTool } from '../db/client-process.js';
import { findClientTools, findZstd, ZSTD_PACKAGE } from '../db/client-tools.js';
import type { DumpResult, DumpVariant } from '../db/dialect.js';
import { countRows, dialectOf } from '../db/dialects.js';
import { readServerInfo } from '../db/probes.js';
import { openSession, type DbSession } from '../db/session.js';
import type { SecretMasker } from '../core/secrets.js';
import type { Logger } from '../log/logger.js';
import {
  AGE_EXTENSION,
  checkEncryptionMode,
  describeEncryption,
  encryptTransform,
  type EncryptionMode,
} from './encryption.js';
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  serializeManifest,
  storedFilesOf,
  type BackupManifest,
  type BackupManifestDatabase,
  type BackupManifestHomeFile,
} from './manifest.js';
import { chooseDumpVariant, describeCompression, startCompressor } from './compression.js';
import { createParallelGzip } from './parallel-gzip.js';
import { authenticateManifest } from './authentication.js';

const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;

export interface BackupDatabase {
  names: DatabaseName[];
  target: DatabaseTarget;
}

/** What every backup artifact is written with, whatever it holds. */
export interface BackupArtifactOptions {
  stage: string;
  artifactName: string;
  store: ArtifactStore;
  run: RunIdentity;
  encryption: EncryptionMode;
  /** `backup.signingKeyEnv`'s Ed25519 key: the manifest is signed with it (passphrase backups also get an HMAC). */
  signingKey?: KeyObject;
  logger: Logger;
  /** Where the backup's files are written; they stay there after the upload unless the store moved them into place. */
  workDir: string;
  retentionDays: number;
  toolVersion: string;
}

export interface CreateBackupOptions extends BackupArtifactOptions {
  /** One entry per physical database (see groupPhysicalDatabases). */
  databases: BackupDatabase[];
  /** The run's secrets (config/secrets.ts): the tools' stderr is masked with them. */
  secrets: SecretMasker;
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

/** What the files of a backup hold, for its manifest. */
export interface BackupContents {
  databases: BackupManifestDatabase[];
  homeFiles?: BackupManifestHomeFile[];
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
  return storeBackup(options, async (dir) => {
    const databases: BackupManifestDatabase[] = [];
    for (const database of options.databases) {
      const label = database.names.join(' = ');
      databases.push(
        await logger.group(`Backing up ${label}`, () => dumpDatabase(options, database, dir, options.secrets)),
      );
    }
    return { databases };
  });
}

/**
 * Writes, stores and verifies one backup artifact: `write` puts the backup's files into a fresh folder of the work
 * dir and says what they hold; their manifest is authenticated and written last, the artifact is uploaded and read
 * back from the store. Whatever fails, the folder goes (partial files are of no use, and may hold plaintext).
 */
export async function storeBackup(
  options: BackupArtifactOptions,
  write: (dir: string) => Promise<BackupContents>,
): Promise<BackupResult> {
  const { logger } = options;
  checkEncryptionMode(options.encryption);

  await mkdir(options.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(options.workDir, `${options.artifactName}-`));
  const createdAt = new Date().toISOString();
  try {
    const contents = await write(dir);
    const manifest = await authenticateManifest(
      {
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
        databases: contents.databases,
        ...(contents.homeFiles === undefined ? {} : { homeFiles: contents.homeFiles }),
      },
      {
        ...(options.encryption.kind === 'passphrase' ? { passphrase: options.encryption.passphrase } : {}),
        ...(options.signingKey ? { signingKey: options.signingKey } : {}),
      },
    );
    // The manifest comes last: a backup without one is, by definition, incomplete.
    const manifestPath = path.join(dir, MANIFEST_FILE);
    await writeFile(manifestPath, serializeManifest(manifest), { mode: 0o600 });
    const stored = storedFilesOf(manifest);
    let files = [...stored.map((entry) => path.join(dir, entry.file)), manifestPath];

    logger.info(`Uploading ${options.artifactName} (${files.length} files) to ${options.store.description}`);
    // The files were written for the store alone: a store on this machine may move them instead of copying them.
    const artifact = await options.store.upload(options.artifactName, files, {
      retentionDays: options.retentionDays,
      moveFiles: true,
    });
    await verifyStoredBackup(options, artifact, manifest);
    const storeDir = artifact.localDir;
    if (storeDir !== undefined) files = files.map((file) => path.join(storeDir, path.basename(file)));
    const listed = stored.map((e) => `${e.file} ${formatBytes(e.bytes)}`).join(', ');
    logger.info(
      `Backup ${options.artifactName} verified: ${listed || `only its ${MANIFEST_FILE}`}` +
        ` (encryption: ${describeEncryption(options.encryption)}; manifest ${describeAuthentication(manifest)})`,
    );
    return { artifact, manifest, files };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Reads the stored artifact back and checks every file against the manifest: in place when the store keeps its
 * files on this machine (the local folder store), otherwise downloaded into a scratch folder.
 */
async function verifyStoredBackup(
  options: BackupArtifactOptions,
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
  options: BackupArtifactOptions,
  artifact: StoredArtifact,
  manifest: BackupManifest,
  dir: string,
): Promise<void> {
  const problems: string[] = [];
  const storedManifest = await readFile(path.join(dir, MANIFEST_FILE), 'utf8').catch(() => undefined);
  if (storedManifest === undefined) problems.push(`${MANIFEST_FILE} is missing`);
  else if (storedManifest !== serializeManifest(manifest)) problems.push(`${MANIFEST_FILE} differs`);
  for (const entry of storedFilesOf(manifest)) {
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

async function dumpDatabase(
  options: CreateBackupOptions,
  database: BackupDatabase,
  dir: string,
  masker: SecretMasker,
): Promise<BackupManifestDatabase> {
  const { target } = database;
  const dialect = dialectOf(target.engine);
  const first = database.names[0] ?? target.name;
  const tools = await findClientTools(target.engine);
  const tool = requireTool(tools.dump, dialect.clientPackage);
  const zstd = await findZstd();
  const variant = chooseDumpVariant(dialect, zstd);
  if (variant.compression !== 'zstd' && dialect.dumpVariants.some((v) => v.compression === 'zstd')) {
    options.logger.info(
      `zstd is not on PATH: the dump is compressed ${variant.compression === 'tool' ? `by ${tool.name}` : 'with gzip'}, ` +
        `which is several times slower (install the Debian package ${ZSTD_PACKAGE})`,
    );
  }
  const started = Date.now();
  const session = await openSession(target);
  try {
    const server = await readServerInfo(session);
    const encrypted = options.encryption.kind !== 'none';
    const file = `${first}${variant.extension}${encrypted ? AGE_EXTENSION : ''}`;
    const output = path.join(dir, file);
    const label = database.names.join(' = ');
    const compressor = variant.compression === 'zstd' ? requireTool(zstd, ZSTD_PACKAGE) : undefined;
    const stream: DumpStream = { options, label, variant, compressor, session, tool, output, masker };
    const result = await dialect.dump({
      session,
      target,
      tool,
      server,
      variant,
      run: (args, env) => runDump(stream, args, env),
    });
    const entry: BackupManifestDatabase = {
      names: [...database.names],
      engine: target.engine,
      host: target.host,
      port: target.port,
      database: target.database,
      server: { product: server.product, version: server.version },
      dumpTool: { name: tool.name, version: tool.versionText ?? 'unknown' },
      format: variant.format,
      encrypted,
      file,
      bytes: result.bytes,
      sha256: result.sha256,
      rowCounts: result.rowCounts,
      rowCountSnapshot: dialect.rowCountSnapshot,
      ...(dialect.rowCountNote === undefined ? {} : { rowCountNote: dialect.rowCountNote }),
      durationMs: Date.now() - started,
    };
    const tables = Object.keys(result.rowCounts).length;
    const rows = Object.values(result.rowCounts).reduce((sum, count) => sum + count, 0);
    options.logger.info(
      `${stream.label}: ${file} ${formatBytes(result.bytes)} (${describeCompression(variant, tool.name)}), ` +
        `${tables} tables, ${rows} rows, ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return entry;
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** Where one database's dump goes, and what runDump needs on the way. */
interface DumpStream {
  options: CreateBackupOptions;
  label: string;
  variant: DumpVariant;
  /** zstd, when the variant compresses with it. */
  compressor: ResolvedTool | undefined;
  session: DbSession;
  tool: ResolvedTool;
  output: string;
  masker: SecretMasker;
}

/**
 * Runs the dump tool into the output file (compressed as the variant says, encrypted as the config says), counting
 * rows in the dump's session at the same time.
 */
async function runDump(context: DumpStream, args: string[], env: NodeJS.ProcessEnv): Promise<DumpResult> {
  const { options, session, tool, output, masker, label } = context;
  // The raw bytes are only counted, for the progress lines: hashing them too would cost a second sha256 pass
  // over every byte of the dump, and only the written file's digest goes into the manifest.
  const raw = createMeter({ hash: false });
  const compressor = startCompressor(
    context.variant.compression,
    context.compressor,
    masker,
    `compressing the dump of ${label}`,
  );
  const { stages, written } = backupFileStages({ compress: false, encryption: options.encryption });

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
    const writing = pipeline([
      run.child.stdout,
      raw.stream,
      ...compressor.stages,
      ...stages,
      createWriteStream(output, { mode: 0o600 }),
    ]).catch((error: unknown) => {
      throw new Error(`writing the dump of ${label} to ${output} failed: ${errorMessage(error)}`, { cause: error });
    });
    await superviseTool(run, `dumping ${label}`, [
      compressor.supervise(writing),
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

/**
 * The streams a backup file's bytes pass on their way to the file: gzip when asked, age when the backup is encrypted,
 * then `written`, which counts and hashes what the file gets.
 */
export function backupFileStages(options: { compress: boolean; encryption: EncryptionMode }): {
  stages: NodeJS.ReadWriteStream[];
  written: Meter;
} {
  const written = createMeter();
  const stages: NodeJS.ReadWriteStream[] = [];
  if (options.compress) stages.push(createParallelGzip());
  if (options.encryption.kind !== 'none') stages.push(Duplex.from(encryptTransform(options.encryption)));
  stages.push(written.stream);
  return { stages, written };
}

/** What proves the manifest, for the log: an unauthenticated one restores only while the ledger records it. */
function describeAuthentication(manifest: BackupManifest): string {
  const proofs = [
    manifest.authentication?.passphraseMac ? 'an HMAC of the passphrase' : '',
    manifest.authentication?.signature ? 'an Ed25519 signature' : '',
  ].filter(Boolean);
  return proofs.length > 0
    ? `authenticated with ${proofs.join(' and ')}`
    : 'not authenticated: without the ledger record it cannot be restored; set backup.signingKeyEnv to sign it';
}
