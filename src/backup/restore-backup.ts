/**
 * Puts databases back to the state of a backup taken by create-backup.ts. Everything that can be checked
 * without a database is checked first (manifest, sizes, sha256, decryption, the dump's own format),
 * so that a wrong key or a damaged, truncated or foreign file is refused with the databases untouched.
 * The dialect of each database checks its dump file and runs its restore tool. Both get only bytes of a read that
 * was hashed: a file that changes in the store after its check is never restored.
 */

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore } from '../artifacts/store.js';
import type { DatabaseName, DatabaseTarget } from '../config/types.js';
import type { BackupDatabase } from './create-backup.js';
import { errorMessage } from '../core/errors.js';
import { checkFileSize, sha256File } from '../core/files.js';
import { readStart, readThrough } from '../core/streams.js';
import { ClientToolError, requireTool, type ResolvedTool } from '../db/client-process.js';
import { findClientTools, findZstd, ZSTD_PACKAGE } from '../db/client-tools.js';
import { DumpFormatError, type CheckedDump, type Dialect, type DumpVariant } from '../db/dialect.js';
import { decompressDump, dumpVariantOf } from './compression.js';
import { countRows, dialectOf } from '../db/dialects.js';
import { describeAddress, openSession } from '../db/session.js';
import type { SecretMasker } from '../core/secrets.js';
import type { Logger } from '../log/logger.js';
import {
  AGE_EXTENSION,
  AGE_HEADER_BYTES,
  AgeFormatError,
  BackupKeyError,
  checkDecryptionMode,
  decryptTransform,
  describeKeyMismatch,
  parseAgeHeader,
  type DecryptionMode,
} from './encryption.js';
import {
  ManifestAuthenticationError,
  verifyManifestAuthentication,
  type ManifestVerifier,
  type Proof,
} from './authentication.js';
import {
  backupManifestSchema,
  MANIFEST_FILE,
  storedFilesOf,
  type BackupManifest,
  type BackupManifestDatabase,
  type ManifestStoredFile,
} from './manifest.js';
import { CHECKPOINT_BYTES, readCheckedFile, StoredFileMismatch } from './checked-read.js';

export interface RestoreOptions {
  artifactName: string;
  /** The run that holds the backup; this run when absent. */
  runId?: string;
  store: ArtifactStore;
  decryption: DecryptionMode;
  /**
   * The configured databases, one entry per physical database (see physicalDatabases); each database of the backup
   * is matched to the entry that holds its names.
   */
  databases: readonly BackupDatabase[];
  logger: Logger;
  /** The run's secrets (config/secrets.ts): the tools' stderr is masked with them. */
  secrets: SecretMasker;
  /** Where the backup is downloaded and decrypted; the plaintext is removed before this returns. */
  workDir: string;
  /**
   * The sha256 of the backup's manifest.json as the ledger recorded it when the backup was stored: a manifest that
   * differs (a replaced, damaged or foreign artifact of the same name) is refused.
   */
  manifestSha256?: string;
  /**
   * The backup comes from a run the ledger does not record, and the operator trusts that run: its manifest must
   * prove, with what this verifier holds, that a holder of the backup key wrote it.
   */
  authenticateWith?: ManifestVerifier;
  /** The encryption the config gives backups: a backup encrypted otherwise (or not at all) is refused. */
  expectedEncryption: ExpectedEncryption;
}

/** What the config's backup settings say a backup must be encrypted with. */
export interface ExpectedEncryption {
  mode: BackupManifest['encryption']['mode'];
  /** The config's age recipient, when it names one. */
  recipient?: string;
  /** `backup.allowPlaintextBackups`: a plaintext backup is restored although the config encrypts. */
  allowPlaintext: boolean;
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

interface RestorePlan extends PreparedDump {
  entry: BackupManifestDatabase;
  target: DatabaseTarget;
  dialect: Dialect;
  label: string;
  tool: ResolvedTool;
}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const { logger, decryption } = options;
  checkDecryptionMode(decryption);
  const masker = options.secrets;

  const backup = describeBackup(options);
  await mkdir(options.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(options.workDir, `restore-${options.artifactName}-`));
  try {
    const plainDir = path.join(dir, 'plain');
    await mkdir(plainDir, { mode: 0o700 });
    const { backupDir, manifest } = await fetchCheckedBackup(options, path.join(dir, 'download'));
    // The manifest is the one the ledger recorded, and each file is then checked against its sha256 below: every
    // byte is the backup's own, which the backup saw complete. A full pass over a gzip dump would add nothing.
    const ledgerChecked = options.manifestSha256 !== undefined;
    if (manifest.databases.length === 0) {
      throw new BackupRejectedError(
        `${backup} is a backup of API-M home files (${manifest.stage}), not of databases: restore it with ` +
          `restore --stage ${manifest.stage}. Nothing was changed.`,
      );
    }
    const matches = matchDatabases(manifest, options.databases, backup);

    // Every file is read against the manifest, decrypted and checked as a dump before any database is touched, in one
    // read per file: what the dump check sees, and what is restored, are bytes of a read that was hashed.
    await checkSizes(backupDir, manifest, backup);
    const plans: RestorePlan[] = [];
    for (const { entry, target } of matches) {
      const label = entry.names.join(' = ');
      const dialect = dialectOf(target.engine);
      const tools = await findClientTools(target.engine);
      const tool = requireTool(tools.restore, dialect.clientPackage);
      const variant = dumpVariantOf(dialect, entry.format);
      if (variant === undefined) {
        throw new BackupRejectedError(
          `${entry.file} of ${backup} is a ${entry.format} dump, which ${dialect.product} does not restore (it takes ` +
            `${dialect.dumpVariants.map((v) => v.format).join(', ')}). Nothing was changed; restore from another backup.`,
        );
      }
      const zstd = variant.compression === 'zstd' ? await requireZstd(entry.file, backup) : undefined;
      const prepared = await prepareDump(
        { entry, dialect, variant, zstd, file: path.join(backupDir, entry.file), plainDir, decryption, backup },
        { tool, masker, whole: !ledgerChecked },
      );
      plans.push({ entry, target, dialect, label, tool, ...prepared });
    }
    for (const { entry } of plans) {
      logger.info(
        `${entry.file}: checked (${entry.encrypted ? 'decrypted, ' : ''}${describeFormat(entry, ledgerChecked)})`,
      );
    }

    const restored: RestoreResult['restored'] = [];
    const mismatches: string[] = [];
    for (const plan of plans) {
      await logger.group(`Restoring ${plan.label} into ${describeAddress(plan.target)}`, async () => {
        try {
          await plan.dialect.restore({
            target: plan.target,
            tool: plan.tool,
            openDump: plan.openDump,
            checked: plan.checked,
            label: plan.label,
            masker,
            logger,
          });
        } catch (error) {
          const changed = plan.changed();
          if (changed === undefined) throw error;
          throw new BackupRejectedError(
            `${plan.entry.file} of ${backup} changed in ${options.store.description} after it was checked ` +
              `(${changed.problem}), so its restore was cut off before the first block that differs: nothing of the ` +
              `changed file was restored. ${plan.tool.name} read it inside one transaction, which rolled back. Find ` +
              'out what else writes to the store, then restore again or restore from another backup.',
            { cause: error },
          );
        }
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

/** What {@link readTrustedManifest} needs: the backup, where it is, and the proof a restore would ask of it. */
export type ManifestReadOptions = Pick<
  RestoreOptions,
  | 'artifactName'
  | 'runId'
  | 'store'
  | 'logger'
  | 'workDir'
  | 'manifestSha256'
  | 'authenticateWith'
  | 'expectedEncryption'
>;

/**
 * The manifest of a backup, trusted exactly as a restore trusts it (the ledger's digest or the operator's key, the
 * config's encryption, the artifact and run it names), without restoring anything. A store that keeps its files on
 * this machine is read in place, so no dump is copied; another store's artifact is downloaded whole (GitHub's
 * artifacts come as one archive) and removed again.
 */
export async function readTrustedManifest(options: ManifestReadOptions): Promise<BackupManifest> {
  await mkdir(options.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(options.workDir, `manifest-${options.artifactName}-`));
  try {
    return (await fetchCheckedBackup(options, path.join(dir, 'download'))).manifest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `backup <artifact> of run <run>`, as every message of a restore names the backup. */
export function describeBackup(options: Pick<ManifestReadOptions, 'artifactName' | 'runId'>): string {
  return `backup ${options.artifactName} of run ${options.runId ?? 'this run'}`;
}

/**
 * Fetches a backup and checks its manifest as every restore does, before any of its files is read: the folder that
 * holds its files (the store's own, read in place, or `downloadDir`) and the manifest.
 */
export async function fetchCheckedBackup(
  options: ManifestReadOptions,
  downloadDir: string,
): Promise<{ backupDir: string; manifest: BackupManifest }> {
  const backup = describeBackup(options);
  const backupDir = await fetchBackup(options, downloadDir, backup);
  return { backupDir, manifest: await checkManifest(backupDir, options, backup) };
}

/** Every check of the manifest that a restore makes before it reads a dump. */
async function checkManifest(backupDir: string, options: ManifestReadOptions, backup: string): Promise<BackupManifest> {
  if (options.manifestSha256 !== undefined) await checkManifestDigest(backupDir, options.manifestSha256, backup);
  const { manifest, text } = await readManifest(backupDir, backup);
  checkEncryption(manifest, options.expectedEncryption, backup);
  checkProvenance(manifest, options, backup);
  if (options.authenticateWith !== undefined) {
    const proofs = await verifyAuthentication(text, manifest, options.authenticateWith, backup);
    options.logger.info(`${MANIFEST_FILE} of ${backup} is authentic: ${proofs.join(' and ')}`);
  }
  return manifest;
}

/**
 * The folder that holds the backup's files: the store's own when it keeps them on this machine (read in place, which
 * spares a copy of every dump), otherwise `backupDir`, where they are downloaded.
 */
async function fetchBackup(options: ManifestReadOptions, backupDir: string, backup: string): Promise<string> {
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

async function readManifest(dir: string, backup: string): Promise<{ manifest: BackupManifest; text: string }> {
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
  const result = backupManifestSchema.safeParse(parsed);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new BackupRejectedError(
      `${MANIFEST_FILE} of ${backup} is not an apim-migrate backup manifest (${issues.slice(0, 5).join('; ')}). ` +
        'Nothing was changed; restore from a backup that apim-migrate took.',
    );
  }
  return { manifest: result.data, text };
}

/** A backup is restored only with the encryption the config gives backups (a plaintext one only when allowed). */
function checkEncryption(manifest: BackupManifest, expected: ExpectedEncryption, backup: string): void {
  const { mode, recipient } = manifest.encryption;
  const describe = (which: string, key?: string) =>
    which === 'none'
      ? 'not encrypted'
      : which === 'passphrase'
        ? 'encrypted with a passphrase'
        : `encrypted to ${key ?? 'an age recipient'}`;
  const reject = (why: string) =>
    new BackupRejectedError(
      `${backup} ${why}. Nothing was changed; restore from a backup taken with this config's encryption.`,
    );
  const inconsistent = storedFilesOf(manifest).filter((entry) => entry.encrypted !== (mode !== 'none'));
  if (inconsistent.length > 0) {
    throw reject(
      `is inconsistent: its manifest says the backup is ${describe(mode, recipient)}, but lists ${inconsistent.map((entry) => entry.file).join(', ')} as ${mode === 'none' ? 'encrypted' : 'not encrypted'}`,
    );
  }
  if (mode === expected.mode) {
    if (mode === 'recipient' && expected.recipient !== undefined && recipient?.trim() !== expected.recipient.trim()) {
      throw reject(`is ${describe(mode, recipient)}, but backup.recipient is ${expected.recipient}`);
    }
    return;
  }
  if (mode === 'none') {
    if (expected.allowPlaintext) return;
    throw reject(
      `is not encrypted, but the config encrypts backups (${describe(expected.mode, expected.recipient)}): a plaintext backup is ` +
        'what anyone could have put in the store. Set backup.allowPlaintextBackups: true only if this plaintext backup is known to be yours',
    );
  }
  throw reject(
    `is ${describe(mode, recipient)}, but the config's backups are ${describe(expected.mode, expected.recipient)}`,
  );
}

/** The manifest was written for this artifact of this run: a copy of a genuine backup under another name is not it. */
function checkProvenance(manifest: BackupManifest, options: ManifestReadOptions, backup: string): void {
  const problems: string[] = [];
  if (manifest.artifact !== options.artifactName) problems.push(`its manifest is of artifact ${manifest.artifact}`);
  if (options.runId !== undefined && manifest.runId !== options.runId) {
    problems.push(`its manifest says it was taken in run ${manifest.runId}`);
  }
  if (problems.length === 0) return;
  throw new BackupRejectedError(
    `${backup} was copied from elsewhere: ${problems.join(', and ')}. Nothing was changed; restore the backup from ` +
      'the run that took it.',
  );
}

async function verifyAuthentication(
  text: string,
  manifest: BackupManifest,
  verifier: ManifestVerifier,
  backup: string,
): Promise<Proof[]> {
  try {
    return await verifyManifestAuthentication(text, manifest, verifier);
  } catch (error) {
    if (!(error instanceof ManifestAuthenticationError)) throw error;
    throw new BackupRejectedError(
      `${backup} comes from a run the ledger does not record, and ${error.message}. Nothing was changed. If you know ` +
        'this backup is yours, check it and restore it by hand (README, "Restoring a backup by hand"): decrypt each ' +
        'file with `age -d`, compare its sha256 with the manifest, and feed it to pg_restore or mysql.',
      { cause: error },
    );
  }
}

function matchDatabases(
  manifest: BackupManifest,
  databases: readonly BackupDatabase[],
  backup: string,
): Array<{ entry: BackupManifestDatabase; target: DatabaseTarget }> {
  const problems: string[] = [];
  const matches: Array<{ entry: BackupManifestDatabase; target: DatabaseTarget }> = [];
  for (const entry of manifest.databases) {
    const groups = [
      ...new Set(
        entry.names
          .map((name) => databases.find((db) => db.names.includes(name)))
          .filter((db): db is BackupDatabase => db !== undefined),
      ),
    ];
    const target = groups[0]?.target;
    const label = entry.names.join(' = ');
    if (!target) {
      problems.push(`the backup holds ${label}, which is not among the configured databases`);
      continue;
    }
    if (groups.length > 1) {
      const places = groups.map((db) => `${db.target.host}:${db.target.port}/${db.target.database}`);
      problems.push(
        `the backup holds ${label} as one database, but the config now points them at different databases (${places.join(', ')})`,
      );
      continue;
    }
    if (dialectOf(entry.engine).family !== dialectOf(target.engine).family) {
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

/** Every file is there with the manifest's size: the part of the check that needs no read, for all files at once. */
export async function checkSizes(dir: string, manifest: BackupManifest, backup: string): Promise<void> {
  const problems: string[] = [];
  for (const entry of storedFilesOf(manifest)) {
    const problem = await checkFileSize(path.join(dir, entry.file), entry.bytes);
    if (problem) problems.push(`${entry.file}: ${problem}`);
  }
  if (problems.length > 0) throw notAsInManifest(backup, problems);
}

export function notAsInManifest(backup: string, problems: string[]): BackupRejectedError {
  return new BackupRejectedError(
    `${backup} does not match its manifest (${problems.join('; ')}): a file is truncated, damaged or was replaced ` +
      'after the backup. Nothing was changed; download it again or restore from another backup.',
  );
}

/** 1 MiB reads of the private copy, as of the stored file (docs/benchmarks.md: the gunzip pass). */
const COPY_READS = { highWaterMark: CHECKPOINT_BYTES };

/** How the restore tool gets a checked dump. */
interface PreparedDump {
  checked: CheckedDump;
  /** Opens the dump for the restore tool. */
  openDump: () => Readable;
  /** What the restore's read of the stored file found different from the checked one, if anything. */
  changed: () => StoredFileMismatch | undefined;
}

/** A file of a backup, to be read against its manifest entry. */
export interface StoredBackupFile {
  entry: ManifestStoredFile;
  /** The stored file, in the store's folder or where it was downloaded. */
  file: string;
  decryption: DecryptionMode;
  /** The backup, for messages: see {@link describeBackup}. */
  backup: string;
}

interface StoredDump extends StoredBackupFile {
  entry: BackupManifestDatabase;
  dialect: Dialect;
  variant: DumpVariant;
  /** zstd, for a variant compressed with it. */
  zstd: ResolvedTool | undefined;
  plainDir: string;
}

/** zstd, which a zstd-compressed dump needs, or a clear error before anything is changed. */
async function requireZstd(file: string, backup: string): Promise<ResolvedTool> {
  const zstd = await findZstd();
  if (zstd.path !== undefined) return { ...zstd, path: zstd.path };
  throw new ClientToolError(
    `${file} of ${backup} is compressed with zstd, which is not on PATH: install the Debian package ` +
      `${ZSTD_PACKAGE} on this runner and restore again. Nothing was changed.`,
    'zstd',
    [],
  );
}

/**
 * Reads a stored dump once against its manifest entry, decrypting and decompressing it on the way, and has the
 * dialect check it. A `stream` dialect checks that very read, and its restore tool gets a second read that gives out
 * only the blocks the first one hashed (readCheckedFile's checkpoints). A `private-copy` dialect gets that read
 * written into the private work folder, and the copy is what is checked and restored.
 *
 * The first read of a `stream` dialect hashes every byte, but decrypts only what the check reads unless `whole`: the
 * file then matches the manifest's sha256, and the manifest is the ledger's, so every block is one the backup
 * encrypted and decrypts with the key that opened its header; the restore's read decrypts it all again anyway, in
 * one transaction that a failure rolls back.
 */
async function prepareDump(
  stored: StoredDump,
  check: { tool: ResolvedTool; masker: SecretMasker; whole: boolean },
): Promise<PreparedDump> {
  const { entry, dialect, variant, file, decryption, backup } = stored;
  const expected = { bytes: entry.bytes, sha256: entry.sha256 };
  const decompress = (input: Readable): Readable =>
    decompressDump(variant.compression, input, {
      zstd: stored.zstd,
      masker: check.masker,
      what: `decompressing ${entry.file}`,
    });
  if (dialect.restoreInput === 'stream') {
    const record: string[] = [];
    const firstRead = readCheckedFile(file, expected, { record });
    const checked = await readDump(
      firstRead,
      stored,
      (plain) => checkDump(dialect, entry, { ...check, input: decompress(plain) }, backup),
      { decryptAll: check.whole },
    );
    let changed: StoredFileMismatch | undefined;
    const openDump = (): Readable => {
      // Noted before decryption, which would report a cut input as damaged data.
      async function* secondRead(): AsyncGenerator<Buffer, void, undefined> {
        try {
          yield* readCheckedFile(file, expected, { verify: record });
        } catch (error) {
          if (error instanceof StoredFileMismatch) changed = error;
          throw error;
        }
      }
      const key = decryption.kind === 'none' ? undefined : decryption;
      const plain = entry.encrypted && key ? decryptTransform(key)(secondRead()) : secondRead();
      return decompress(Readable.from(plain, { objectMode: false }));
    };
    return { checked, openDump, changed: () => changed };
  }
  const copy = path.join(stored.plainDir, plainName(entry));
  await copyStoredFile(stored, copy);
  const input = decompress(createReadStream(copy, COPY_READS));
  try {
    const checked = await checkDump(dialect, entry, { ...check, input }, backup);
    return { checked, openDump: () => decompress(createReadStream(copy, COPY_READS)), changed: () => undefined };
  } finally {
    input.destroy();
  }
}

/**
 * Writes the plaintext of a stored file to `copy`, a new private file, in one read that hashes what it reads: it ends
 * with the file checked against its manifest entry, refused when it does not match, whatever the decryption found.
 */
export async function copyStoredFile(stored: StoredBackupFile, copy: string): Promise<void> {
  const { bytes, sha256 } = stored.entry;
  const source = readCheckedFile(stored.file, { bytes, sha256 }, { record: [] });
  await readDump(source, stored, (plain) => pipeline(plain, createWriteStream(copy, { mode: 0o600, flags: 'wx' })));
}

/** The name of a stored file's private copy: the stored file's, without `.age`. */
export function plainName(entry: ManifestStoredFile): string {
  if (!entry.encrypted) return entry.file;
  return entry.file.endsWith(AGE_EXTENSION) ? entry.file.slice(0, -AGE_EXTENSION.length) : `${entry.file}.plain`;
}

/**
 * One read of a stored dump, hashed as `source` reads it; an encrypted one is decrypted on the way, and `use` gets the
 * plaintext. A file that does not match its manifest is refused as such, whatever `use` or the decryption found: a
 * damaged file explains any failure best.
 */
async function readDump<T>(
  source: AsyncIterable<Uint8Array>,
  stored: StoredBackupFile,
  use: (plain: Readable) => Promise<T>,
  options: { decryptAll: boolean } = { decryptAll: true },
): Promise<T> {
  let outcome: PromiseSettledResult<T>;
  try {
    outcome = await readThrough(source, (bytes) =>
      stored.entry.encrypted ? decryptDump(bytes, stored, use, options.decryptAll) : use(bytes),
    );
  } catch (error) {
    if (error instanceof StoredFileMismatch)
      throw notAsInManifest(stored.backup, [`${stored.entry.file}: ${error.problem}`]);
    throw error;
  }
  if (outcome.status === 'rejected') throw outcome.reason;
  return outcome.value;
}

/**
 * Decrypts a stored dump on its way to `use`, with errors that say whether the key or the file is wrong. Without
 * `decryptAll` the decryption stops where `use` stops reading.
 */
async function decryptDump<T>(
  encrypted: Readable,
  stored: StoredBackupFile,
  use: (plain: Readable) => Promise<T>,
  decryptAll: boolean,
): Promise<T> {
  const { entry, decryption, backup } = stored;
  const { head, all } = await readStart(encrypted, AGE_HEADER_BYTES);
  const header = parseAgeHeader(head);
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
  let outcome: PromiseSettledResult<T>;
  try {
    outcome = await readThrough(decryptTransform(decryption)(all), use, { drain: decryptAll });
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
  if (outcome.status === 'rejected') throw outcome.reason;
  return outcome.value;
}

/**
 * Has the dialect check a decrypted dump: its format must be the dialect's, and the file must read as one. A file
 * that does not is refused before any database is touched.
 */
async function checkDump(
  dialect: Dialect,
  entry: BackupManifestDatabase,
  request: { input: Readable; tool: ResolvedTool; masker: SecretMasker; whole: boolean },
  backup: string,
): Promise<CheckedDump> {
  const reject = (why: string, advice?: string, cause?: unknown): BackupRejectedError =>
    new BackupRejectedError(
      `${entry.file} of ${backup} ${why}. Nothing was changed; restore from another backup${advice ? `, or ${advice}` : ''}.`,
      cause === undefined ? undefined : { cause },
    );
  try {
    return await dialect.checkDump({ ...request, name: entry.file, dumpToolVersion: entry.dumpTool.version });
  } catch (error) {
    if (error instanceof DumpFormatError) throw reject(error.why, error.advice, error.cause);
    throw error;
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
  if (entry.format === 'pg-custom-zstd') return 'zstd-compressed PostgreSQL custom-format dump';
  const sql = `${entry.format === 'sql-zstd' ? 'zstd' : 'gzip'}-compressed SQL dump`;
  return ledgerChecked ? `${sql}, its manifest as the ledger recorded it` : `complete ${sql}`;
}
