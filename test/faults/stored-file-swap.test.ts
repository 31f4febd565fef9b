/**
 * What is checked is what is restored: a dump that is replaced in the local store after the restore checked it, and
 * before the restore tool reads it, is never restored. The replacement is a valid dump of the same database (with a
 * marker row), so only the restore's own reads can tell. PostgreSQL: the restore is cut off inside pg_restore's
 * transaction and refused, the database as it was. MariaDB: the private copy made in the read that was checked is
 * restored, never the replacement. Against the real servers and tools, through restoreBackup as the stages call it;
 * the swap runs when the restore logs that its dumps are checked, before any database is touched.
 */
import { copyFileSync, openSync, readSync, renameSync, writeSync, closeSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/artifacts/local-store.js';
import { createBackup, type BackupResult } from '../../src/backup/create-backup.js';
import type { DecryptionMode, EncryptionMode } from '../../src/backup/encryption.js';
import { MANIFEST_FILE } from '../../src/backup/manifest.js';
import { BackupRejectedError, restoreBackup, type ExpectedEncryption } from '../../src/backup/restore-backup.js';
import type { DatabaseName, DbEngine } from '../../src/config/types.js';
import { sha256File } from '../../src/core/files.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { TOOL_VERSION } from '../../src/core/version.js';
import {
  changeFixture,
  databaseChecksums,
  fillBigTable,
  seedBackupFixture,
  withSession,
} from '../helpers/backup-fixtures.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';
import { createRecordingLogger, type RecordingLogger } from '../helpers/fakes.js';

const NAMES: DatabaseName[] = ['apim_db', 'shared_db'];
const MARKER = 'swapped-in-after-the-check';
/** Where a dump changed in place starts to differ: after two of the restore's 1 MiB blocks. */
const GENUINE_PREFIX = 2 * 1024 * 1024;

interface EngineCase {
  label: string;
  engine: DbEngine;
  createScratch: (prefix: string) => Promise<ScratchDatabase>;
}

const cases: EngineCase[] = [
  { label: 'PostgreSQL', engine: 'postgresql', createScratch: createScratchPostgres },
  { label: 'MariaDB', engine: 'mariadb', createScratch: createScratchMariadb },
];

describe.each(cases)('a stored dump replaced after its check, on $label', (engineCase) => {
  const pg = engineCase.engine === 'postgresql';
  let scratch: ScratchDatabase;
  let baseDir: string;
  let store: LocalFolderStore;
  let identity: string;
  let recipient: string;
  let counter = 0;
  const runId = `run-${process.pid}`;

  beforeAll(async () => {
    baseDir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-swap-'));
    store = new LocalFolderStore(path.join(baseDir, 'store'), runId);
    identity = await generateIdentity();
    recipient = await identityToRecipient(identity);
  });

  // Every case starts from the same data, whatever the one before left.
  beforeEach(async () => {
    scratch = await engineCase.createScratch('swap');
    await seedBackupFixture(scratch.target);
    // Big enough for a dump of several 1 MiB blocks.
    await fillBigTable(scratch.target, 200_000);
  }, 120_000);

  afterEach(async () => {
    await scratch?.drop();
  });

  afterAll(async () => {
    if (baseDir) await rm(baseDir, { recursive: true, force: true });
  });

  async function backup(encryption: EncryptionMode): Promise<BackupResult> {
    counter += 1;
    return createBackup({
      stage: 'registry-scripts',
      artifactName: `apim-migrate-registry-scripts-backup-a${counter}`,
      databases: [{ names: NAMES, target: scratch.target }],
      store,
      run: { runId, attempt: counter },
      encryption,
      logger: createRecordingLogger(),
      secrets: new SecretMasker(),
      workDir: path.join(baseDir, 'work'),
      retentionDays: 30,
      toolVersion: TOOL_VERSION,
    });
  }

  /** A logger that runs `swap` once, right after the restore says a dump is checked. */
  function swappingLogger(swap: () => void): RecordingLogger {
    const logger = createRecordingLogger();
    const info = logger.info;
    let swapped = false;
    logger.info = (message) => {
      info(message);
      if (!swapped && /: checked \(/.test(message)) {
        swapped = true;
        swap();
      }
    };
    return logger;
  }

  async function restore(result: BackupResult, decryption: DecryptionMode, logger: RecordingLogger) {
    const expectedEncryption: ExpectedEncryption = {
      mode: decryption.kind === 'identity' ? 'recipient' : decryption.kind,
      allowPlaintext: false,
    };
    return restoreBackup({
      artifactName: result.artifact.name,
      runId,
      store,
      decryption,
      databases: [{ names: NAMES, target: scratch.target }],
      logger,
      secrets: new SecretMasker(),
      workDir: path.join(baseDir, 'work'),
      manifestSha256: await sha256File(result.files.at(-1) ?? ''),
      expectedEncryption,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
  }

  /** Rows changed, deleted and added and a table dropped, as a stage might, but no relation created. */
  async function changeRows(): Promise<void> {
    const statements = pg
      ? [
          `UPDATE am_api SET api_name = 'changed' WHERE api_id <= 5`,
          `DELETE FROM reg_content WHERE reg_content_id % 2 = 0`,
          `INSERT INTO am_api (api_name) VALUES ('added after the backup')`,
          `DROP TABLE IF EXISTS am_empty`,
        ]
      : [
          `UPDATE AM_API SET API_NAME = 'changed' WHERE API_ID <= 5`,
          `DELETE FROM REG_CONTENT WHERE REG_CONTENT_ID % 2 = 0`,
          `INSERT INTO AM_API (API_NAME) VALUES ('added after the backup')`,
          `DROP TABLE IF EXISTS AM_EMPTY`,
        ];
    await withSession(scratch.target, async (session) => {
      for (const statement of statements) await session.query(statement);
    });
  }

  async function markerRows(): Promise<number> {
    return withSession(scratch.target, async (session) => {
      const sql = pg
        ? 'SELECT COUNT(*) AS n FROM am_api WHERE api_name = $1'
        : 'SELECT COUNT(*) AS n FROM AM_API WHERE API_NAME = ?';
      const [row] = await session.query<{ n: number | string }>(sql, [MARKER]);
      return Number(row?.n ?? 0);
    });
  }

  /**
   * The backup to restore, then a valid replacement for its dump: a backup of the same database with a marker row
   * added (it is removed again, so the database is as at the backup).
   */
  async function backupAndReplacement(encryption: EncryptionMode): Promise<{
    genuine: BackupResult;
    storedDump: string;
    replacement: string;
    backedUp: Record<string, string>;
  }> {
    const genuine = await backup(encryption);
    const backedUp = await databaseChecksums(scratch.target);
    const api = pg ? 'am_api (api_name)' : 'AM_API (API_NAME)';
    await withSession(scratch.target, (session) =>
      session.query(`INSERT INTO ${api} VALUES (${pg ? '$1' : '?'})`, [MARKER]),
    );
    const other = await backup(encryption);
    await withSession(scratch.target, (session) =>
      session.query(`DELETE FROM ${pg ? 'am_api WHERE api_name = $1' : 'AM_API WHERE API_NAME = ?'}`, [MARKER]),
    );
    const replacement = path.join(baseDir, `replacement-${counter}`);
    await copyFile(other.files[0] ?? '', replacement);
    return { genuine, storedDump: genuine.files[0] ?? '', replacement, backedUp };
  }

  async function expectNoPlaintextLeft(): Promise<void> {
    const entries = await readdir(path.join(baseDir, 'work'), { recursive: true, withFileTypes: true });
    expect(entries.filter((entry) => entry.isFile())).toEqual([]);
  }

  const modes = [
    {
      label: 'a plain backup, its dump renamed over by another',
      encryption: (): EncryptionMode => ({ kind: 'none' }),
      decryption: (): DecryptionMode => ({ kind: 'none' }),
      swap: (replacement: string, stored: string) => renameSync(replacement, stored),
    },
    {
      label: 'an age-encrypted backup, its dump overwritten in place by another encrypted to the same recipient',
      encryption: (): EncryptionMode => ({ kind: 'recipient', recipient }),
      decryption: (): DecryptionMode => ({ kind: 'identity', identity }),
      swap: (replacement: string, stored: string) => copyFileSync(replacement, stored),
    },
  ];

  it.each(modes)('$label: the replacement is not restored', { timeout: 120_000 }, async (mode) => {
    const { genuine, storedDump, replacement, backedUp } = await backupAndReplacement(mode.encryption());
    const replacementSha256 = await sha256File(replacement);
    await changeRows();
    const before = await databaseChecksums(scratch.target);

    const logger = swappingLogger(() => mode.swap(replacement, storedDump));
    const error = await restore(genuine, mode.decryption(), logger);

    // The swap did happen after the check: the store now holds the replacement.
    expect(logger.lines.some((line) => /: checked \(/.test(line))).toBe(true);
    expect(await sha256File(storedDump)).toBe(replacementSha256);
    expect(await markerRows()).toBe(0);
    if (pg) {
      expect(error).toBeInstanceOf(BackupRejectedError);
      expect((error as Error).message).toMatch(
        /changed in local folder .* after it was checked \(its bytes 0 to \d+ differ .*\), so its restore was cut off .*nothing of the changed file was restored/s,
      );
      expect(await databaseChecksums(scratch.target)).toEqual(before);
    } else {
      // The private copy made in the checked read is what the restore read.
      expect(error).toBeUndefined();
      expect(await databaseChecksums(scratch.target)).toEqual(backedUp);
    }
    await expectNoPlaintextLeft();
  });

  it('a dump changed in place after its first blocks is cut off where it differs', { timeout: 120_000 }, async () => {
    const genuine = await backup({ kind: 'none' });
    const backedUp = await databaseChecksums(scratch.target);
    expect(genuine.manifest.databases[0]?.bytes).toBeGreaterThan(GENUINE_PREFIX + 1024 * 1024);
    await changeRows();
    const before = await databaseChecksums(scratch.target);

    // The first 2 MiB stay the backup's own: the restore tool gets them before the difference.
    const logger = swappingLogger(() => flipBytesFrom(genuine.files[0] ?? '', GENUINE_PREFIX));
    const error = await restore(genuine, { kind: 'none' }, logger);

    if (pg) {
      expect(error).toBeInstanceOf(BackupRejectedError);
      expect((error as Error).message).toMatch(new RegExp(`its bytes ${GENUINE_PREFIX} to \\d+ differ`));
      expect(await databaseChecksums(scratch.target)).toEqual(before);
    } else {
      expect(error).toBeUndefined();
      expect(await databaseChecksums(scratch.target)).toEqual(backedUp);
    }
    await expectNoPlaintextLeft();
  });

  // PostgreSQL only: MariaDB's restore drops the whole database anyway.
  if (pg)
    it(
      'relations created after the backup are dropped first, in a transaction of their own, and stay dropped',
      { timeout: 120_000 },
      async () => {
        const { genuine, storedDump, replacement } = await backupAndReplacement({ kind: 'none' });
        await changeFixture(scratch.target);
        const before = await databaseChecksums(scratch.target);

        const logger = swappingLogger(() => renameSync(replacement, storedDump));
        const error = await restore(genuine, { kind: 'none' }, logger);

        expect(error).toBeInstanceOf(BackupRejectedError);
        expect(await markerRows()).toBe(0);
        const after = await databaseChecksums(scratch.target);
        // The table and the view changeFixture created went; every table of the backup holds what it held before.
        expect(Object.keys(before).filter((key) => !(key in after))).toEqual(['table public.am_api_revision']);
        for (const [key, value] of Object.entries(after)) {
          if (key.startsWith('table ')) expect(value, key).toBe(before[key]);
        }
        expect(after['views']).toMatch(/^0 /);
        await expectNoPlaintextLeft();
      },
    );

  it('and an untouched backup restores', { timeout: 120_000 }, async () => {
    const genuine = await backup({ kind: 'none' });
    const backedUp = await databaseChecksums(scratch.target);
    await changeRows();
    const error = await restore(genuine, { kind: 'none' }, createRecordingLogger());
    expect(error).toBeUndefined();
    expect(await databaseChecksums(scratch.target)).toEqual(backedUp);
    expect(genuine.files.at(-1)?.endsWith(MANIFEST_FILE)).toBe(true);
  });
});

/** Changes every byte of `file` from `from` on, in place (the same inode, as a writer into the store would). */
function flipBytesFrom(file: string, from: number): void {
  const handle = openSync(file, 'r+');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    for (let position = from; ; position += buffer.length) {
      const read = readSync(handle, buffer, 0, buffer.length, position);
      if (read === 0) break;
      for (let index = 0; index < read; index += 1) buffer[index] = (buffer[index] ?? 0) ^ 0xff;
      writeSync(handle, buffer, 0, read, position);
    }
  } finally {
    closeSync(handle);
  }
}
