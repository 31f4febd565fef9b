/**
 * Backups and restores against the machine's real PostgreSQL and MariaDB, with the real dump tools
 * and the stock `age` tool. Needs `bash scripts/ensure-services.sh` first.
 */

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/artifacts/local-store.js';
import { sha256File } from '../../src/core/files.js';
import type { ArtifactStore } from '../../src/artifacts/store.js';
import type { DatabaseName, DatabaseTarget, DbEngine } from '../../src/config/types.js';
import { BackupVerificationError, createBackup, type BackupResult } from '../../src/backup/create-backup.js';
import { ClientToolError } from '../../src/db/client-process.js';
import { MANIFEST_FILE, type BackupManifest } from '../../src/backup/manifest.js';
import {
  AGE_MAGIC,
  BackupKeyError,
  encryptFile,
  type DecryptionMode,
  type EncryptionMode,
} from '../../src/backup/encryption.js';
import {
  BackupRejectedError,
  RestoreMismatchError,
  restoreBackup,
  type ExpectedEncryption,
  type RestoreOptions,
} from '../../src/backup/restore-backup.js';
import { TOOL_VERSION } from '../../src/core/version.js';
import {
  changeFixture,
  databaseChecksums,
  DISTINCTIVE_VALUE,
  fillBigTable,
  seedBackupFixture,
  withSession,
} from '../helpers/backup-fixtures.js';
import {
  createMariadbUser,
  createPostgresRole,
  createScratchMariadb,
  createScratchPostgres,
  mariadbAdminTarget,
  postgresAdminTarget,
  type ScratchDatabase,
  type ScratchLogin,
} from '../helpers/databases.js';
import { createRecordingLogger, type RecordingLogger } from '../helpers/fakes.js';
import { SecretMasker } from '../../src/core/secrets.js';

const run = promisify(execFile);

/** zstd's command-line tool on a buffer, as the stock tool would be used by hand. */
function zstdTool(args: string[], input: Buffer): Buffer {
  const result = spawnSync('zstd', ['-q', '-c', ...args], { input, maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`zstd ${args.join(' ')} failed: ${result.stderr.toString()}`);
  return result.stdout;
}
const unzstd = (input: Buffer): Buffer => zstdTool(['-d'], input);
const zstd = (input: Buffer | string): Buffer => zstdTool([], Buffer.from(input));

interface EngineCase {
  label: string;
  engine: DbEngine;
  createScratch: (prefix: string) => Promise<ScratchDatabase>;
  /** A non-admin login that owns what it creates in the scratch database. */
  createLogin: (scratch: ScratchDatabase) => Promise<ScratchLogin>;
  dumpTool: RegExp;
  extension: string;
  /** Turns a decrypted dump into text in which the rows can be found. */
  dumpToText: (file: string) => Promise<string>;
}

const cases: EngineCase[] = [
  {
    label: 'PostgreSQL',
    engine: 'postgresql',
    createScratch: createScratchPostgres,
    createLogin: async (scratch) => {
      const login = await createPostgresRole(scratch, 'bkp_role');
      // PostgreSQL 15 no longer lets everyone create in public.
      await withSession(scratch.target, (session) => session.query(`GRANT ALL ON SCHEMA public TO ${login.username}`));
      return login;
    },
    dumpTool: /\bpg_dump\b/,
    extension: '.pgdump.zst',
    dumpToText: async (file) => {
      const archive = path.join(path.dirname(file), `${path.basename(file)}.pgdump`);
      await writeFile(archive, unzstd(await readFile(file)));
      return (await run('pg_restore', ['-f', '-', archive], { maxBuffer: 64 * 1024 * 1024 })).stdout;
    },
  },
  {
    label: 'MariaDB',
    engine: 'mariadb',
    createScratch: createScratchMariadb,
    createLogin: (scratch) => createMariadbUser(scratch, 'bkp_user'),
    dumpTool: /\b(mariadb-dump|mysqldump)\b/,
    extension: '.sql.zst',
    dumpToText: async (file) => unzstd(await readFile(file)).toString('utf8'),
  },
];

/** Both names in one physical database, as in the common API-M setup. */
const NAMES: DatabaseName[] = ['apim_db', 'shared_db'];
const PASSPHRASE = 'correct horse battery staple 42';

describe.each(cases)('backup and restore on $label', (engineCase) => {
  let scratch: ScratchDatabase;
  let baseDir: string;
  let storeDir: string;
  let store: LocalFolderStore;
  let runId: string;
  let counter = 0;

  beforeAll(async () => {
    scratch = await engineCase.createScratch('bkp');
    await seedBackupFixture(scratch.target);
    baseDir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-bkp-'));
    storeDir = path.join(baseDir, 'store');
    runId = `run-${process.pid}`;
    store = new LocalFolderStore(storeDir, runId);
  });

  afterAll(async () => {
    await scratch?.drop();
    if (baseDir) await rm(baseDir, { recursive: true, force: true });
  });

  function nextName(label: string): string {
    counter += 1;
    return `apim-migrate-${label}-backup-a${counter}`;
  }

  async function backup(
    encryption: EncryptionMode,
    options: {
      name?: string;
      target?: DatabaseTarget;
      logger?: RecordingLogger;
      useStore?: ArtifactStore;
      progressIntervalMs?: number;
      signingKey?: KeyObject;
    } = {},
  ): Promise<BackupResult> {
    return createBackup({
      stage: 'registry-scripts',
      artifactName: options.name ?? nextName('registry-scripts'),
      databases: [{ names: NAMES, target: options.target ?? scratch.target }],
      store: options.useStore ?? store,
      run: { runId, attempt: 1 },
      encryption,
      logger: options.logger ?? createRecordingLogger(),
      secrets: secretsOf(options.target ?? scratch.target),
      workDir: path.join(baseDir, 'work'),
      retentionDays: 30,
      toolVersion: TOOL_VERSION,
      ...(options.progressIntervalMs === undefined ? {} : { progressIntervalMs: options.progressIntervalMs }),
      ...(options.signingKey === undefined ? {} : { signingKey: options.signingKey }),
    });
  }

  async function restore(
    artifactName: string,
    decryption: DecryptionMode,
    logger = createRecordingLogger(),
    extra: Partial<Pick<RestoreOptions, 'manifestSha256' | 'authenticateWith' | 'expectedEncryption'>> = {},
  ) {
    return restoreBackup({
      artifactName,
      runId,
      store,
      decryption,
      databases: [{ names: NAMES, target: scratch.target }],
      logger,
      secrets: secretsOf(scratch.target),
      workDir: path.join(baseDir, 'work'),
      expectedEncryption: expectedFor(decryption),
      ...extra,
    });
  }

  /** The backup's files in the local store. */
  function storedFile(result: BackupResult, file: string): string {
    return path.join(storeDir, 'runs', runId, result.artifact.name, file);
  }

  /** Stores a variant of a backup under a new name: the tool itself would never produce one. */
  async function storeVariant(
    result: BackupResult,
    change: (dir: string, dumpFile: string, manifest: BackupManifest) => Promise<{ withManifest: boolean }>,
  ): Promise<string> {
    const dir = await mkdtemp(path.join(baseDir, 'variant-'));
    const entry = result.manifest.databases[0]!;
    const dumpFile = path.join(dir, entry.file);
    await copyFile(storedFile(result, entry.file), dumpFile);
    const name = nextName('variant');
    // Stored under its own name, as a backup of that name would be: only the change tells it apart.
    const manifest = { ...structuredClone(result.manifest), artifact: name };
    const { withManifest } = await change(dir, dumpFile, manifest);
    const files = [dumpFile];
    if (withManifest) {
      await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
      files.push(path.join(dir, MANIFEST_FILE));
    }
    await store.upload(name, files);
    return name;
  }

  /** The plain files under a folder, at any depth (empty folders do not count). */
  async function filesUnder(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
  }

  /** Points the manifest at the file as it is now, so that only the content checks can catch it. */
  async function matchManifest(manifest: BackupManifest, file: string): Promise<void> {
    const entry = manifest.databases[0]!;
    entry.bytes = (await stat(file)).size;
    entry.sha256 = await sha256File(file);
  }

  it('restores exactly what it backed up, after the data, the schema and the routines changed', async () => {
    const before = await databaseChecksums(scratch.target);
    const name = nextName('registry-scripts');
    const logger = createRecordingLogger();
    const result = await backup({ kind: 'none' }, { name, logger });

    // The manifest.
    const { manifest } = result;
    expect(manifest).toMatchObject({
      format: 'apim-migrate-backup/1',
      stage: 'registry-scripts',
      artifact: name,
      runId,
      attempt: 1,
      toolVersion: TOOL_VERSION,
      encryption: { mode: 'none' },
    });
    expect(Date.parse(manifest.createdAt)).not.toBeNaN();
    expect(manifest.databases).toHaveLength(1);
    const entry = manifest.databases[0]!;
    expect(entry).toMatchObject({
      names: NAMES,
      engine: engineCase.engine,
      database: scratch.target.database,
      server: { product: engineCase.engine === 'postgresql' ? 'PostgreSQL' : 'MariaDB' },
      format: engineCase.engine === 'postgresql' ? 'pg-custom-zstd' : 'sql-zstd',
      encrypted: false,
      file: `apim_db${engineCase.extension}`,
    });
    expect(entry.server.version).toMatch(/^\d+\.\d+/);
    expect(entry.dumpTool.name).toMatch(engineCase.dumpTool);
    expect(entry.dumpTool.version).toMatch(/\d+\.\d+/);
    const pg = engineCase.engine === 'postgresql';
    expect(entry.rowCounts).toEqual(
      pg
        ? { 'public.Mixed Case': 2, 'public.am_api': 40, 'public.am_empty': 0, 'public.reg_content': 41 }
        : { AM_API: 40, AM_EMPTY: 0, 'Mixed Case': 2, REG_CONTENT: 41 },
    );
    if (pg) {
      expect(entry.rowCountSnapshot).toBe('dump-snapshot');
      expect(entry.rowCountNote).toBeUndefined();
    } else {
      expect(entry.rowCountSnapshot).toBe('separate-snapshot');
      expect(entry.rowCountNote).toMatch(/separate consistent-snapshot/);
      expect(entry.rowCountNote).toMatch(/server must have been down \(no writer\)/);
    }

    // The artifact in the local store, and what it says about its files.
    const artifactDir = path.join(storeDir, 'runs', runId, name);
    expect(result.artifact).toMatchObject({ name, runId, localDir: artifactDir });
    expect((await readdir(artifactDir)).sort()).toEqual(['.artifact.json', entry.file, MANIFEST_FILE].sort());
    expect(entry.bytes).toBe((await stat(path.join(artifactDir, entry.file))).size);
    expect(entry.sha256).toBe(await sha256File(path.join(artifactDir, entry.file)));
    expect(JSON.parse(await readFile(path.join(artifactDir, MANIFEST_FILE), 'utf8'))).toEqual(manifest);
    expect((await store.list()).map((artifact) => artifact.name)).toContain(name);
    // The dump was moved into the store, not copied: the work folder keeps no second copy.
    expect(result.files).toEqual([path.join(artifactDir, entry.file), path.join(artifactDir, MANIFEST_FILE)]);
    expect(await filesUnder(path.join(baseDir, 'work'))).toEqual([]);
    expect(logger.lines.some((line) => line.includes(`${name} verified`))).toBe(true);

    await changeFixture(scratch.target);
    expect(await databaseChecksums(scratch.target)).not.toEqual(before);

    const restoreLogger = createRecordingLogger();
    const restored = await restore(name, { kind: 'none' }, restoreLogger);
    expect(restored.manifest).toEqual(manifest);
    expect(restored.restored).toEqual([{ names: NAMES, rowCounts: entry.rowCounts }]);
    expect(await databaseChecksums(scratch.target)).toEqual(before);
    // Read where the store keeps it, and checked whole: no ledger record was given.
    expect(restoreLogger.lines).toContainEqual(
      expect.stringContaining(`Reading backup ${name} of run ${runId} in place`),
    );
    if (!pg) expect(restoreLogger.lines).toContainEqual(expect.stringContaining('complete zstd-compressed SQL dump'));
    expect(await filesUnder(path.join(baseDir, 'work'))).toEqual([]);
  });

  it('restores a backup whose manifest matches the ledger, reading only the start of a compressed dump', async () => {
    const before = await databaseChecksums(scratch.target);
    const name = nextName('registry-scripts');
    const result = await backup({ kind: 'none' }, { name });
    await changeFixture(scratch.target);
    const logger = createRecordingLogger();
    const manifestSha256 = await sha256File(storedFile(result, MANIFEST_FILE));
    await restore(name, { kind: 'none' }, logger, { manifestSha256 });
    expect(await databaseChecksums(scratch.target)).toEqual(before);
    const checked = logger.lines.find((line) => line.includes(': checked ('));
    expect(checked).toMatch(
      engineCase.engine === 'postgresql' ? /PostgreSQL custom-format dump/ : /its manifest as the ledger recorded it/,
    );
  });

  it('without zstd backs up as before and restores it; a zstd backup is refused there, naming the package', async () => {
    const before = await databaseChecksums(scratch.target);
    const pg = engineCase.engine === 'postgresql';
    const withZstd = await backup({ kind: 'none' });
    const logger = createRecordingLogger();
    const passphrase: DecryptionMode = { kind: 'passphrase', passphrase: PASSPHRASE };
    const older = await withoutZstdOnPath(() => backup(passphrase, { logger }));
    const entry = older.manifest.databases[0]!;
    expect(entry).toMatchObject({
      format: pg ? 'pg-custom' : 'sql-gzip',
      file: pg ? 'apim_db.pgdump.age' : 'apim_db.sql.gz.age',
    });
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/zstd is not on PATH: .*install the Debian package zstd/),
    );
    await changeFixture(scratch.target);
    const changed = await databaseChecksums(scratch.target);

    const refused = await withoutZstdOnPath(() => restore(withZstd.artifact.name, { kind: 'none' })).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ClientToolError);
    expect((refused as Error).message).toMatch(
      /apim_db\.(pgdump|sql)\.zst of backup .* is compressed with zstd, which is not on PATH: install the Debian package zstd .* Nothing was changed/,
    );
    expect(await databaseChecksums(scratch.target)).toEqual(changed);

    // A backup of the earlier format restores where zstd is installed, and where it is not.
    await restore(older.artifact.name, passphrase);
    expect(await databaseChecksums(scratch.target)).toEqual(before);
    await changeFixture(scratch.target);
    await withoutZstdOnPath(() => restore(older.artifact.name, passphrase));
    expect(await databaseChecksums(scratch.target)).toEqual(before);
  });

  it('encrypts with a passphrase: no plaintext in the file, the stock age tool decrypts it, and it restores', async () => {
    const before = await databaseChecksums(scratch.target);
    const result = await backup({ kind: 'passphrase', passphrase: PASSPHRASE });
    const entry = result.manifest.databases[0]!;
    expect(entry.file).toBe(`apim_db${engineCase.extension}.age`);
    expect(entry.encrypted).toBe(true);
    expect(result.manifest.encryption).toEqual({ mode: 'passphrase' });
    expect(JSON.stringify(result.manifest)).not.toContain(PASSPHRASE);

    const encrypted = await readFile(storedFile(result, entry.file));
    expect(encrypted.subarray(0, AGE_MAGIC.length).toString('latin1')).toBe(AGE_MAGIC);
    expect(encrypted.includes(DISTINCTIVE_VALUE)).toBe(false);

    // The stock age tool reads a passphrase only from a terminal: give it one with script(1).
    const decrypted = path.join(baseDir, `stock-pass${engineCase.extension}`);
    await stockAgeWithPassphrase(storedFile(result, entry.file), decrypted, PASSPHRASE);
    expect(await engineCase.dumpToText(decrypted)).toContain(DISTINCTIVE_VALUE);

    await changeFixture(scratch.target);
    await restore(result.artifact.name, { kind: 'passphrase', passphrase: PASSPHRASE });
    expect(await databaseChecksums(scratch.target)).toEqual(before);
  });

  it('encrypts to an age recipient: age -d -i decrypts it, and it restores with the identity', async () => {
    const before = await databaseChecksums(scratch.target);
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const result = await backup({ kind: 'recipient', recipient });
    const entry = result.manifest.databases[0]!;
    expect(result.manifest.encryption).toEqual({ mode: 'recipient', recipient });
    expect(JSON.stringify(result.manifest)).not.toContain(identity);
    const encrypted = await readFile(storedFile(result, entry.file));
    expect(encrypted.includes(DISTINCTIVE_VALUE)).toBe(false);

    const identityFile = path.join(baseDir, 'identity.txt');
    await writeFile(identityFile, `# created: by the test\n${identity}\n`, { mode: 0o600 });
    const decrypted = path.join(baseDir, `stock-id${engineCase.extension}`);
    await run('age', ['-d', '-i', identityFile, '-o', decrypted, storedFile(result, entry.file)]);
    expect(await engineCase.dumpToText(decrypted)).toContain(DISTINCTIVE_VALUE);

    await changeFixture(scratch.target);
    // An identity file's content, comments and all, is accepted.
    await restore(result.artifact.name, { kind: 'identity', identity: await readFile(identityFile, 'utf8') });
    expect(await databaseChecksums(scratch.target)).toEqual(before);
  });

  it('signs the manifest with an Ed25519 key: a recipient backup proves itself to the public key alone', async () => {
    const before = await databaseChecksums(scratch.target);
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const keys = generateKeyPairSync('ed25519');
    const result = await backup({ kind: 'recipient', recipient }, { signingKey: keys.privateKey });
    expect(result.manifest.authentication?.signature?.algorithm).toBe('ed25519');
    expect(result.manifest.authentication?.passphraseMac).toBeUndefined();

    await changeFixture(scratch.target);
    const changed = await databaseChecksums(scratch.target);
    const decryption: DecryptionMode = { kind: 'identity', identity };
    const stranger = generateKeyPairSync('ed25519').publicKey;
    const refused = await restore(result.artifact.name, decryption, undefined, {
      authenticateWith: { signingPublicKey: stranger },
    }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BackupRejectedError);
    expect((refused as Error).message).toMatch(
      /signed with another key than backup.signingPublicKey.*Nothing was changed/s,
    );
    expect(await databaseChecksums(scratch.target)).toEqual(changed);
    // The passphrase of another config proves nothing about a recipient backup.
    const unproven = await restore(result.artifact.name, decryption, undefined, {
      authenticateWith: { passphrase: PASSPHRASE },
    }).catch((error: unknown) => error);
    expect((unproven as Error).message).toMatch(/which the config cannot check/);

    const logger = createRecordingLogger();
    await restore(result.artifact.name, decryption, logger, { authenticateWith: { signingPublicKey: keys.publicKey } });
    expect(logger.lines.join('\n')).toMatch(/is authentic: signature/);
    expect(await databaseChecksums(scratch.target)).toEqual(before);
  });

  it('refuses a wrong key and broken, incomplete or foreign backups, and leaves the database as it was', async () => {
    const original = await databaseChecksums(scratch.target);
    const encrypted = await backup({ kind: 'passphrase', passphrase: PASSPHRASE });
    const plain = await backup({ kind: 'none' });
    await changeFixture(scratch.target);
    const changed = await databaseChecksums(scratch.target);

    async function expectRefused(
      artifactName: string,
      decryption: DecryptionMode,
      errorClass: new (...args: never[]) => Error,
      message: RegExp,
      expectedEncryption = expectedFor(decryption),
    ): Promise<void> {
      const error = await restore(artifactName, decryption, undefined, { expectedEncryption }).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(errorClass);
      expect((error as Error).message).toMatch(message);
      expect(await databaseChecksums(scratch.target)).toEqual(changed);
    }

    const passphrase: DecryptionMode = { kind: 'passphrase', passphrase: PASSPHRASE };
    const identity = await generateIdentity();

    await expectRefused(
      encrypted.artifact.name,
      { kind: 'passphrase', passphrase: 'not the passphrase' },
      BackupKeyError,
      /passphrase is wrong/,
    );
    // The key given does not fit the backup although the config's encryption would.
    const passphraseBackups: ExpectedEncryption = { mode: 'passphrase', allowPlaintext: false };
    await expectRefused(
      encrypted.artifact.name,
      { kind: 'identity', identity },
      BackupKeyError,
      /encrypted with a passphrase, but an age identity was given/,
      passphraseBackups,
    );
    await expectRefused(
      encrypted.artifact.name,
      { kind: 'none' },
      BackupKeyError,
      /give the backup passphrase/,
      passphraseBackups,
    );
    // The backup's encryption is not the config's: refused before any key is tried.
    await expectRefused(
      encrypted.artifact.name,
      { kind: 'identity', identity },
      BackupRejectedError,
      /is encrypted with a passphrase, but the config's backups are encrypted to an age recipient/,
    );
    await expectRefused(
      plain.artifact.name,
      passphrase,
      BackupRejectedError,
      /is not encrypted, but the config encrypts backups \(encrypted with a passphrase\)/,
    );

    const truncated = await storeVariant(encrypted, async (_dir, file) => {
      await truncate(file, Math.floor((await stat(file)).size / 2));
      return { withManifest: true };
    });
    await expectRefused(truncated, passphrase, BackupRejectedError, /does not match its manifest.*bytes instead of/);

    const corrupted = await storeVariant(encrypted, async (_dir, file) => {
      await flipByte(file);
      return { withManifest: true };
    });
    await expectRefused(corrupted, passphrase, BackupRejectedError, /does not match its manifest.*sha256/);

    const incomplete = await storeVariant(encrypted, async () => ({ withManifest: false }));
    await expectRefused(incomplete, passphrase, BackupRejectedError, /no manifest\.json: the backup is incomplete/);

    // From here on the manifest matches the replaced file, so only the content checks can refuse it.
    const notAge = await storeVariant(encrypted, async (_dir, file, manifest) => {
      await writeFile(file, 'just some text, not a backup\n');
      await matchManifest(manifest, file);
      return { withManifest: true };
    });
    await expectRefused(notAge, passphrase, BackupRejectedError, /is not an age-encrypted file/);

    const damagedAge = await storeVariant(encrypted, async (_dir, file, manifest) => {
      await flipByte(file);
      await matchManifest(manifest, file);
      return { withManifest: true };
    });
    await expectRefused(damagedAge, passphrase, BackupRejectedError, /damaged or cut short/);

    const foreignInAge = await storeVariant(encrypted, async (dir, file, manifest) => {
      const inner = path.join(dir, 'inner.txt');
      await writeFile(inner, zstd('SELECT 1;\n'));
      await encryptFile(inner, file, { kind: 'passphrase', passphrase: PASSPHRASE }, { scryptWorkFactor: 10 });
      await matchManifest(manifest, file);
      return { withManifest: true };
    });
    await expectRefused(
      foreignInAge,
      passphrase,
      BackupRejectedError,
      /not a PostgreSQL custom-format dump|not a mysqldump\/mariadb-dump file/,
    );

    const foreignPlain = await storeVariant(plain, async (_dir, file, manifest) => {
      await writeFile(file, 'just some text, not a backup\n');
      await matchManifest(manifest, file);
      return { withManifest: true };
    });
    await expectRefused(foreignPlain, { kind: 'none' }, BackupRejectedError, /is not a zstd-compressed file/);

    const notDumpInZstd = await storeVariant(plain, async (_dir, file, manifest) => {
      await writeFile(file, zstd('just some text, not a backup\n'));
      await matchManifest(manifest, file);
      return { withManifest: true };
    });
    await expectRefused(
      notDumpInZstd,
      { kind: 'none' },
      BackupRejectedError,
      /not a PostgreSQL custom-format dump|not a mysqldump\/mariadb-dump file/,
    );

    const cutZstd = await storeVariant(plain, async (_dir, file, manifest) => {
      const compressed = await readFile(file);
      await writeFile(file, compressed.subarray(0, Math.floor(compressed.length / 2)));
      await matchManifest(manifest, file);
      return { withManifest: true };
    });
    await expectRefused(cutZstd, { kind: 'none' }, BackupRejectedError, /damaged or cut short|cannot be read/);

    if (engineCase.engine !== 'postgresql') {
      const cutSql = await storeVariant(plain, async (_dir, file, manifest) => {
        const sql = unzstd(await readFile(file));
        await writeFile(file, zstd(sql.subarray(0, Math.floor(sql.length / 2))));
        await matchManifest(manifest, file);
        return { withManifest: true };
      });
      await expectRefused(cutSql, { kind: 'none' }, BackupRejectedError, /incomplete dump/);
    }

    // Counts that do not describe the dump: the restore runs, then says which tables differ.
    const miscounted = await storeVariant(plain, async (_dir, _file, manifest) => {
      const counts = manifest.databases[0]!.rowCounts;
      const table = Object.keys(counts).find((key) => /am_api$/i.test(key))!;
      counts[table] = 999;
      return { withManifest: true };
    });
    const mismatch = await restore(miscounted, { kind: 'none' }).catch((e: unknown) => e);
    expect(mismatch).toBeInstanceOf(RestoreMismatchError);
    expect((mismatch as RestoreMismatchError).tables).toEqual([
      `apim_db = shared_db: ${engineCase.engine === 'postgresql' ? 'public.am_api' : 'AM_API'}: 999 rows in the backup, 40 now`,
    ]);
    expect((mismatch as Error).message).toMatch(/Do not run a migration stage/);

    // A plaintext backup restores where the config allows plaintext backups.
    await restore(plain.artifact.name, passphrase, undefined, {
      expectedEncryption: { mode: 'passphrase', allowPlaintext: true },
    });
    expect(await databaseChecksums(scratch.target)).toEqual(original);
    await changeFixture(scratch.target);

    // The real backup is still good.
    await restore(encrypted.artifact.name, passphrase);
    expect(await databaseChecksums(scratch.target)).toEqual(original);
  });

  it('refuses a bad recipient before dumping anything', async () => {
    const name = nextName('bad-recipient');
    const error = await backup({ kind: 'recipient', recipient: 'age1notakey' }, { name }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupKeyError);
    expect((await store.list()).map((artifact) => artifact.name)).not.toContain(name);
  });

  it('fails with BackupVerificationError when a downloaded backup does not come back intact', async () => {
    const inner: ArtifactStore = store;
    const remote: ArtifactStore = {
      kind: inner.kind,
      description: 'a store that damages downloads',
      // Without localDir the backup is verified through a download, as with GitHub's artifact service.
      async upload(name, files, options) {
        const { localDir: _kept, ...stored } = await inner.upload(name, files, options);
        return stored;
      },
      list: (options) => store.list(options),
      async download(name, destination, options) {
        const paths = await store.download(name, destination, options);
        const dump = paths.find((file) => !file.endsWith(MANIFEST_FILE));
        if (dump) await flipByte(dump);
        return paths;
      },
    };
    const error = await backup({ kind: 'none' }, { useStore: remote }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupVerificationError);
    expect((error as Error).message).toMatch(/did not come back intact.*sha256/);
  });

  it('fails with BackupVerificationError when the local store keeps a damaged copy', async () => {
    const inner: ArtifactStore = store;
    const damaging: ArtifactStore = {
      kind: inner.kind,
      description: 'a store that damages what it keeps',
      async upload(name, files, options) {
        const stored = await inner.upload(name, files, options);
        const dump = stored.files.find((file) => file.name !== MANIFEST_FILE);
        if (dump && stored.localDir) await flipByte(path.join(stored.localDir, dump.name));
        return stored;
      },
      list: (options) => store.list(options),
      download: (name, destination, options) => store.download(name, destination, options),
    };
    const error = await backup({ kind: 'none' }, { useStore: damaging }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupVerificationError);
    expect((error as Error).message).toMatch(/did not come back intact.*sha256/);
  });

  describe('with a password-protected login and a bigger table', () => {
    let bigScratch: ScratchDatabase;
    let login: ScratchLogin;
    let target: DatabaseTarget;

    beforeAll(async () => {
      bigScratch = await engineCase.createScratch('bkp_big');
      login = await engineCase.createLogin(bigScratch);
      let password = login.password;
      if (engineCase.engine !== 'postgresql') {
        // Characters that a defaults file must quote or escape.
        password = `${login.password}"#\\ 'x;y`;
        await withSession(mariadbAdminTarget(), (session) =>
          session.query(`ALTER USER ?@'%' IDENTIFIED BY ?`, [login.username, password]),
        );
      }
      target = { ...login.target, password };
      await fillBigTable(target, 200_000);
    });

    afterAll(async () => {
      if (engineCase.engine === 'postgresql' && login) {
        await withSession(postgresAdminTarget(bigScratch.target.database), (session) =>
          session.query(`DROP OWNED BY ${login.username}`),
        );
      }
      await login?.drop();
      await bigScratch?.drop();
    });

    it('never puts the password on a command line or in any output', async () => {
      const logger = createRecordingLogger();
      const watcher = watchProcesses(engineCase.dumpTool, target.password, target.database);
      let result: BackupResult;
      try {
        result = await backup({ kind: 'none' }, { target, logger, progressIntervalMs: 20 });
      } finally {
        await watcher.stop();
      }
      expect(watcher.sawTool()).toBe(true);
      expect(watcher.leaks()).toEqual([]);
      expect(watcher.defaultsFileModes().every((mode) => mode === 0o600)).toBe(true);
      for (const file of watcher.defaultsFiles()) await expect(stat(file)).rejects.toThrow(/ENOENT/);
      if (engineCase.engine !== 'postgresql') expect(watcher.defaultsFiles().length).toBeGreaterThan(0);

      expect(logger.lines.some((line) => /apim_db = shared_db: .* from .* \(.*\/s\), .* written/.test(line))).toBe(
        true,
      );
      expect(logger.lines.join('\n')).not.toContain(target.password);
      expect(await readFile(result.files.at(-1)!, 'utf8')).not.toContain(target.password);
      expect(result.manifest.databases[0]!.rowCounts).toMatchObject({
        [engineCase.engine === 'postgresql' ? 'public.big_table' : 'big_table']: 200_000,
      });

      // The same login restores it (the restore client gets the password the same way).
      const before = await databaseChecksums(target);
      await withSession(target, (session) => session.query('DELETE FROM big_table WHERE id > 1000'));
      const restoreWatcher = watchProcesses(/\b(pg_restore|mariadb|mysql)\b/, target.password, target.database);
      try {
        await restoreBackup({
          artifactName: result.artifact.name,
          runId,
          store,
          decryption: { kind: 'none' },
          databases: [{ names: NAMES, target }],
          logger,
          secrets: secretsOf(target),
          workDir: path.join(baseDir, 'work'),
          expectedEncryption: expectedFor({ kind: 'none' }),
        });
      } finally {
        await restoreWatcher.stop();
      }
      expect(restoreWatcher.leaks()).toEqual([]);
      expect(logger.lines.join('\n')).not.toContain(target.password);
      expect(await databaseChecksums(target)).toEqual(before);
    });

    it('reports a failing dump tool with its own error lines, and stores nothing', async () => {
      // Something the dump tool trips over but the row count does not see.
      const admin = bigScratch.target;
      const breakIt =
        engineCase.engine === 'postgresql'
          ? ['CREATE SCHEMA hidden', 'CREATE TABLE hidden.secret_table (id INTEGER)']
          : [
              'CREATE TABLE doomed (id INTEGER)',
              'CREATE VIEW broken_view AS SELECT id FROM doomed',
              'DROP TABLE doomed',
            ];
      await withSession(admin, async (session) => {
        for (const statement of breakIt) await session.query(statement);
      });
      try {
        const name = nextName('failing');
        const logger = createRecordingLogger();
        const error = await backup({ kind: 'none' }, { name, target, logger }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ClientToolError);
        const message = (error as Error).message;
        expect(message).toMatch(engineCase.dumpTool);
        expect(message).toMatch(engineCase.engine === 'postgresql' ? /permission denied/ : /broken_view|invalid/i);
        expect(message).not.toContain(target.password);
        expect((await store.list()).map((artifact) => artifact.name)).not.toContain(name);
        const leftovers = await readdir(path.join(baseDir, 'work')).catch(() => []);
        expect(leftovers.filter((entry) => entry.startsWith(name))).toEqual([]);
      } finally {
        await withSession(admin, async (session) => {
          const cleanup =
            engineCase.engine === 'postgresql' ? ['DROP SCHEMA hidden CASCADE'] : ['DROP VIEW broken_view'];
          for (const statement of cleanup) await session.query(statement);
        });
      }
    });
  });
});

/** Flips one byte in the middle of a file. */
/**
 * Runs `work` with a PATH that has the database client tools but no zstd, as on a runner without the package. The
 * folder of links is removed afterwards.
 */
async function withoutZstdOnPath<T>(work: () => Promise<T>): Promise<T> {
  const bin = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-no-zstd-'));
  const original = process.env.PATH;
  try {
    for (const tool of ['pg_dump', 'pg_restore', 'mariadb-dump', 'mysqldump', 'mariadb', 'mysql']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      if (found !== '') await symlink(found, path.join(bin, tool));
    }
    process.env.PATH = bin;
    return await work();
  } finally {
    process.env.PATH = original;
    await rm(bin, { recursive: true, force: true });
  }
}

async function flipByte(file: string): Promise<void> {
  const bytes = await readFile(file);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  await writeFile(file, bytes);
}

/** Runs `age -d` in a pseudo-terminal (script(1)) and types the passphrase when it asks. */
async function stockAgeWithPassphrase(input: string, output: string, passphrase: string): Promise<void> {
  const child = spawn('script', ['-qec', `age -d -o '${output}' '${input}'`, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let seen = '';
  let typed = false;
  child.stdout.on('data', (chunk: Buffer) => {
    seen += chunk.toString('utf8');
    if (!typed && /passphrase/i.test(seen)) {
      typed = true;
      child.stdin.write(`${passphrase}\n`);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (seen += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`age -d failed (${code}): ${seen}`);
}

interface ProcessWatcher {
  stop(): Promise<void>;
  /** Whether any sample showed the tool running. */
  sawTool(): boolean;
  /** Process lines that contained the secret. */
  leaks(): string[];
  defaultsFiles(): string[];
  defaultsFileModes(): number[];
}

/**
 * Samples `ps -eo args` until stopped, looking for a tool working on `database` (other test files run dumps of
 * their own at the same time) and for a secret anywhere in the list.
 */
function watchProcesses(tool: RegExp, secret: string, database: string): ProcessWatcher {
  let running = true;
  let sawTool = false;
  const leaks: string[] = [];
  const defaultsFiles = new Set<string>();
  const modes: number[] = [];
  const loop = (async () => {
    while (running) {
      const { stdout } = await run('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 });
      for (const line of stdout.split('\n')) {
        if (line.includes(secret)) leaks.push(line);
        if (!tool.test(line) || line.includes('ps -eo') || !line.includes(database)) continue;
        sawTool = true;
        const match = /--defaults-extra-file=(\S+)/.exec(line);
        if (match?.[1]) {
          defaultsFiles.add(match[1]);
          const info = await stat(match[1]).catch(() => undefined);
          if (info) modes.push(info.mode & 0o777);
        }
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
    sawTool: () => sawTool,
    leaks: () => leaks,
    defaultsFiles: () => [...defaultsFiles],
    defaultsFileModes: () => modes,
  };
}

/** The encryption a config with this restore key gives its backups. */
function expectedFor(decryption: DecryptionMode): ExpectedEncryption {
  const mode = decryption.kind === 'identity' ? 'recipient' : decryption.kind;
  return { mode, allowPlaintext: false };
}

/** The secrets a stage's operation would hand the backup: here, the database password. */
function secretsOf(target: DatabaseTarget): SecretMasker {
  const secrets = new SecretMasker();
  secrets.add(target.password);
  return secrets;
}
