/**
 * Database names that the dump and restore tools could read as something else: a leading "-" (an option), an "="
 * (a libpq connection string), quotes and backslashes (the quoting of one). Databases really named so are backed up
 * and restored by the real pg_dump/pg_restore and mariadb-dump/mariadb, and come back exactly. The databases are
 * created here and dropped after.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/artifacts/local-store.js';
import { createBackup } from '../../src/backup/create-backup.js';
import { restoreBackup } from '../../src/backup/restore-backup.js';
import type { DatabaseName, DatabaseTarget, DbEngine } from '../../src/config/types.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { TOOL_VERSION } from '../../src/core/version.js';
import { dialectOf } from '../../src/db/dialects.js';
import { changeFixture, databaseChecksums, seedBackupFixture, withSession } from '../helpers/backup-fixtures.js';
import { mariadbAdminTarget, postgresAdminTarget } from '../helpers/databases.js';
import { createRecordingLogger } from '../helpers/fakes.js';

const NAMES: DatabaseName[] = ['apim_db', 'shared_db'];
const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;

interface NameCase {
  engine: DbEngine;
  name: string;
  admin: (database?: string) => DatabaseTarget;
}

const cases: NameCase[] = [
  // pg_dump would take "a=b" as a connection string; "-x" and the quoting characters check the quoting of one.
  { engine: 'postgresql', name: `-x_${suffix}`, admin: postgresAdminTarget },
  { engine: 'postgresql', name: `a=b_${suffix}`, admin: postgresAdminTarget },
  { engine: 'postgresql', name: `it's a\\db=${suffix}`, admin: postgresAdminTarget },
  // mariadb-dump would take "-x" as --lock-all-tables and dump no database at all.
  { engine: 'mariadb', name: `-x_${suffix}`, admin: mariadbAdminTarget },
  { engine: 'mariadb', name: `a=b_${suffix}`, admin: mariadbAdminTarget },
];

describe.each(cases)('a $engine database named $name', (nameCase) => {
  const quoted = dialectOf(nameCase.engine).quote(nameCase.name);
  const target: DatabaseTarget = nameCase.admin(nameCase.name);
  let baseDir: string;

  beforeAll(async () => {
    await withSession(nameCase.admin(), (session) => session.query(`CREATE DATABASE ${quoted}`));
    await seedBackupFixture(target);
    baseDir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-names-'));
  });

  afterAll(async () => {
    const force = nameCase.engine === 'postgresql' ? ' WITH (FORCE)' : '';
    await withSession(nameCase.admin(), (session) => session.query(`DROP DATABASE IF EXISTS ${quoted}${force}`));
    if (baseDir) await rm(baseDir, { recursive: true, force: true });
  });

  it('is backed up and restored by the real tools, exactly', { timeout: 120_000 }, async () => {
    const before = await databaseChecksums(target);
    const store = new LocalFolderStore(path.join(baseDir, 'store'), 'run-1');
    const secrets = new SecretMasker();
    const backup = await createBackup({
      stage: 'registry-scripts',
      artifactName: 'apim-migrate-registry-scripts-backup-a1',
      databases: [{ names: NAMES, target }],
      store,
      run: { runId: 'run-1', attempt: 1 },
      encryption: { kind: 'none' },
      logger: createRecordingLogger(),
      secrets,
      workDir: path.join(baseDir, 'work'),
      retentionDays: 1,
      toolVersion: TOOL_VERSION,
    });
    expect(backup.manifest.databases[0]?.database).toBe(nameCase.name);
    const tables = Object.keys(backup.manifest.databases[0]?.rowCounts ?? {});
    expect(tables.some((table) => /am_api$/i.test(table))).toBe(true);

    await changeFixture(target);
    expect(await databaseChecksums(target)).not.toEqual(before);
    await restoreBackup({
      artifactName: backup.artifact.name,
      store,
      decryption: { kind: 'none' },
      databases: [{ names: NAMES, target }],
      logger: createRecordingLogger(),
      secrets,
      workDir: path.join(baseDir, 'work'),
      expectedEncryption: { mode: 'none', allowPlaintext: false },
    });
    expect(await databaseChecksums(target)).toEqual(before);
  });
});
