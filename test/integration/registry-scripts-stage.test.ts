import { readLedger } from '../../src/db/ledger.js';
/**
 * The registry-scripts stage end to end through the CLI, against the real servers: lock, ledger, verified backup,
 * indices, versioning removal, then `restore --stage registry-scripts`, which must give back every table exactly.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import { acquireStageLock } from '../../src/db/lock.js';
import { createRegistrySchema, seedRegistry, type SeededRegistry } from '../../src/demo/registry-seed.js';
import {
  createMigrationSetup,
  ledgerStates,
  runCliIn,
  type MigrationSetup,
  type SetupEngine,
} from '../helpers/migration-setup.js';
import { tableChecksums, type TableChecksums } from '../../src/db/table-checksums.js';
import { S3RVER_REGION, startS3Server, useS3rverCredentials, type S3TestServer } from '../helpers/s3-server.js';

let setup: MigrationSetup | undefined;
afterEach(async () => {
  await setup?.cleanup();
  setup = undefined;
});

function cli(current: MigrationSetup, argv: string[], env: Record<string, string> = {}) {
  return runCliIn(current, argv, { env, runIdPrefix: 'stage-test' });
}

async function checksums(current: MigrationSetup): Promise<TableChecksums> {
  const session = await current.adminSession();
  try {
    const all = await tableChecksums(session);
    // The ledger is apim-migrate's own table: compared on its own where it matters.
    return Object.fromEntries(Object.entries(all).filter(([table]) => table.toUpperCase() !== 'APIM_MIGRATE_LEDGER'));
  } finally {
    await session.close();
  }
}

async function seed(current: MigrationSetup): Promise<SeededRegistry> {
  const session = await current.adminSession();
  try {
    await createRegistrySchema(session);
    return await seedRegistry(session, {
      seed: 7,
      resources: 120,
      versionsPerResource: 4,
      tenants: 2,
      versioningOffRows: 5,
      orphanEntities: 3,
    });
  } finally {
    await session.close();
  }
}

const FLAGS: RegistryVersioningFlags = { tags: true, comments: false, properties: true, ratings: false };

describe.each<[string, SetupEngine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('registry-scripts on %s', (_label, engine) => {
  it('runs after a verified backup, records it, is a no-op the second time, and restores exactly', async () => {
    setup = await createMigrationSetup({ engine, flags: FLAGS });
    const seeded = await seed(setup);
    const before = await checksums(setup);

    const plan = await cli(setup, ['plan']);
    expect(plan.code).toBe(0);
    expect(plan.output).toContain('Data profile:');
    expect(plan.output).toMatch(
      /backup of .* of data: about .* \(rough estimate: no backup of these databases is measured/,
    );
    expect(plan.output).toContain(
      `(would delete ${seeded.removal.properties.mappingRowsToDelete} rows of REG_RESOURCE_PROPERTY and ${seeded.removal.properties.entityRowsToDelete} of REG_PROPERTY)`,
    );

    const dryRun = await cli(setup, ['run', 'registry-scripts', '--dry-run']);
    expect(dryRun.code).toBe(0);
    expect(dryRun.output).toContain(
      `would delete ${seeded.removal.tags.mappingRowsToDelete} rows of REG_RESOURCE_TAG and ${seeded.removal.tags.entityRowsToDelete} orphan rows of REG_TAG`,
    );
    expect(dryRun.output).toContain('would add REG_RESOURCE_TAG_IND_BY_REG_TAG_ID');
    expect(await checksums(setup)).toEqual(before);
    expect(await ledgerStates(setup)).toEqual([]);

    const first = await cli(setup, ['run', 'registry-scripts']);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain('apim-migrate-registry-scripts-backup-a1 stored and verified');
    expect(first.output).toContain('removed versioning details of tags, properties');
    const after = await checksums(setup);
    expect(after).not.toEqual(before);
    for (const table of ['REG_RESOURCE_COMMENT', 'REG_COMMENT', 'REG_RESOURCE_RATING', 'REG_RATING', 'REG_RESOURCE']) {
      expect(findTable(after, table), table).toEqual(findTable(before, table));
    }
    expect(findTable(after, 'REG_RESOURCE_TAG')).toEqual(seeded.afterRemoval.tags.mapping);
    expect(findTable(after, 'REG_PROPERTY')).toEqual(seeded.afterRemoval.properties.entity);
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
    // The backup's measures are in the ledger, and the next plan estimates from them.
    const session = await setup.adminSession();
    const reading = await readLedger(session).finally(() => session.close());
    const [recorded] = reading.exists ? reading.entries : [];
    expect(recorded?.backupBytes).toBeGreaterThan(0);
    expect(recorded?.backupSeconds).toBeGreaterThan(0);
    expect(recorded?.dataBytes).toBeGreaterThan(0);
    const replan = await cli(setup, ['plan']);
    expect(replan.output).toContain('estimated from the last backup the ledger measured on these databases');

    const second = await cli(setup, ['run', 'registry-scripts']);
    expect(second.code).toBe(0);
    expect(second.output).toContain('already succeeded');
    expect(await checksums(setup)).toEqual(after);

    const restore = await cli(setup, ['restore', '--stage', 'registry-scripts']);
    expect(restore.code, restore.output).toBe(0);
    expect(restore.output).toContain("every table's row count matches the manifest");
    const restored = await checksums(setup);
    // The indices are not rows: the tables' content is back exactly as before the stage.
    expect(restored).toEqual(before);
    // The ledger is back as it was when the backup was taken: nothing recorded yet.
    expect(await ledgerStates(setup)).toEqual([]);

    // So the stage runs again, and a forced run after it never removes the versioning details twice.
    expect((await cli(setup, ['run', 'registry-scripts'])).code).toBe(0);
    expect(await checksums(setup)).toEqual(after);
    const forced = await cli(setup, ['run', 'registry-scripts', '--force']);
    expect(forced.code, forced.output).toBe(0);
    expect(forced.output).toContain('versioning details were removed by an earlier run; not again');
    expect(await checksums(setup)).toEqual(after);
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'registry-scripts:succeeded']);

    const runs = await readdir(path.join(setup.storeDir, 'runs'));
    expect(runs.length).toBeGreaterThanOrEqual(4);
  });

  it('keeps the rows of a table whose flag is " true " (off for carbon-kernel), and warns in the plan', async () => {
    setup = await createMigrationSetup({
      engine,
      flags: { tags: ' true ', comments: 'TRUE', properties: true, ratings: false },
    });
    await seed(setup);
    const before = await checksums(setup);

    const plan = await cli(setup, ['plan']);
    expect(plan.code, plan.output).toBe(0);
    expect(plan.output).toMatch(/WARNING: .*registry\.xml:\d+: <versioningTags> is " true ", not exactly true/);
    expect(plan.output).toMatch(/WARNING: .*<versioningComments> is "TRUE", not exactly true/);
    expect(plan.output).toContain('keep versioning details of REG_RESOURCE_TAG / REG_TAG');

    const run = await cli(setup, ['run', 'registry-scripts']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('removed versioning details of properties');
    const after = await checksums(setup);
    for (const table of ['REG_RESOURCE_TAG', 'REG_TAG', 'REG_RESOURCE_COMMENT', 'REG_COMMENT']) {
      expect(findTable(after, table), table).toEqual(findTable(before, table));
    }
    expect(findTable(after, 'REG_RESOURCE_PROPERTY')).not.toEqual(findTable(before, 'REG_RESOURCE_PROPERTY'));
  });
});

describe('ad-hoc backups', () => {
  it('backs up every database under its label, and restores a stage from a named run', async () => {
    setup = await createMigrationSetup({ engine: 'postgresql', flags: FLAGS });
    await seed(setup);
    const before = await checksums(setup);
    const adhoc = await cli(setup, ['backup', '--label', 'pre-upgrade']);
    expect(adhoc.code, adhoc.output).toBe(0);
    expect(adhoc.output).toContain('apim-migrate-adhoc-pre-upgrade-backup-a1 stored and verified');

    const run = await cli(setup, ['run', 'registry-scripts'], { APIM_MIGRATE_RUN_ID: 'named-run' });
    expect(run.code, run.output).toBe(0);
    const restore = await cli(setup, ['restore', '--stage', 'registry-scripts', '--from-run', 'named-run']);
    expect(restore.code, restore.output).toBe(0);
    expect(restore.output).toContain('apim-migrate-registry-scripts-backup-a1 of run named-run');
    expect(await checksums(setup)).toEqual(before);

    const missing = await cli(setup, ['restore', '--stage', 'registry-scripts', '--from-run', 'no-such-run']);
    expect(missing.code).toBe(2);
    expect(missing.output).toContain('run no-such-run has no backup of registry-scripts');
  });
});

describe('registry-scripts with the S3 store', () => {
  let s3: S3TestServer | undefined;
  let restoreAwsEnv: (() => void) | undefined;
  afterEach(async () => {
    await s3?.close();
    s3 = undefined;
    restoreAwsEnv?.();
    restoreAwsEnv = undefined;
  });

  it('keeps its backup in the bucket, and restore --stage registry-scripts puts the data back from there', async () => {
    // The AWS SDK's default chain reads this process's environment: s3rver's key pair, nothing else of AWS's.
    restoreAwsEnv = useS3rverCredentials();
    s3 = await startS3Server();
    const prefix = 'migrations/stage-test';
    setup = await createMigrationSetup({
      engine: 'postgresql',
      flags: FLAGS,
      config: {
        store: {
          kind: 's3',
          bucket: s3.bucket,
          prefix,
          region: S3RVER_REGION,
          endpoint: s3.endpoint,
          forcePathStyle: true,
        },
      },
    });
    await seed(setup);
    const before = await checksums(setup);

    const run = await cli(setup, ['run', 'registry-scripts'], { APIM_MIGRATE_RUN_ID: 's3-run' });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(
      `Uploading apim-migrate-registry-scripts-backup-a1 (2 files) to S3 bucket ${s3.bucket} at ${s3.endpoint}`,
    );
    expect(run.output).toContain(
      `Stored apim-migrate-registry-scripts-backup-a1 in s3://${s3.bucket}/${prefix}/runs/s3-run/`,
    );
    expect(run.output).toContain('apim-migrate-registry-scripts-backup-a1 stored and verified');
    const after = await checksums(setup);
    expect(after).not.toEqual(before);
    const backup = `${prefix}/runs/s3-run/apim-migrate-registry-scripts-backup-a1/`;
    expect(await s3.keys(backup)).toEqual([
      `${backup}.apim-migrate-artifact.json`,
      `${backup}apim_db.pgdump.zst.age`,
      `${backup}manifest.json`,
    ]);
    expect((await s3.keys(`${prefix}/runs/s3-run/`)).some((key) => key.includes('registry-scripts-report-a1/'))).toBe(
      true,
    );
    // Nothing went to a folder store, and of the work folder only the report (which the output names) and the
    // stage's logs are left.
    expect(existsSync(setup.storeDir)).toBe(false);
    const reportPath = /^Report: (.*)$/m.exec(run.output)?.[1] ?? '';
    expect((await readdir(path.dirname(path.dirname(reportPath)))).sort()).toEqual(['logs', 'report']);

    // The ledger names the backup and its run: the restore finds it in the bucket without --from-run.
    const restore = await cli(setup, ['restore', '--stage', 'registry-scripts']);
    expect(restore.code, restore.output).toBe(0);
    expect(restore.output).toContain(
      `Downloading backup apim-migrate-registry-scripts-backup-a1 of run s3-run from S3 bucket ${s3.bucket}`,
    );
    expect(restore.output).toContain("every table's row count matches the manifest");
    expect(await checksums(setup)).toEqual(before);
    expect(await ledgerStates(setup)).toEqual([]);
    for (const secret of setup.secrets) expect(`${run.output}\n${restore.output}`).not.toContain(secret);
  });
});

describe('registry-scripts refusals', () => {
  it('waits for another run that holds the lock, then fails clearly and changes nothing', async () => {
    setup = await createMigrationSetup({ engine: 'mariadb', flags: FLAGS });
    await seed(setup);
    const before = await checksums(setup);
    const holder = await setup.adminSession();
    try {
      const lock = await acquireStageLock(holder, { waitMs: 1000, holder: 'registry-scripts run other attempt 1' });
      const started = Date.now();
      const result = await cli(setup, ['run', 'registry-scripts'], { APIM_MIGRATE_LOCK_WAIT_SECONDS: '2' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      expect(result.code).toBe(1);
      expect(result.output, result.output).toMatch(
        /another apim-migrate run holds the stage lock on apim_db \(127\.0\.0\.1:3306\/.*\): held by connection \d+/,
      );
      expect(await checksums(setup)).toEqual(before);
      expect(await ledgerStates(setup)).toEqual([]);
      await lock.release();
      const after = await cli(setup, ['run', 'registry-scripts']);
      expect(after.code, after.output).toBe(0);
    } finally {
      await holder.close();
    }
  });

  it('fails clearly and changes nothing when the backup passphrase variable is not set', async () => {
    setup = await createMigrationSetup({ engine: 'postgresql', flags: FLAGS });
    await seed(setup);
    const before = await checksums(setup);
    const result = await cli(setup, ['run', 'registry-scripts'], { APIM_MIGRATE_BACKUP_PASSPHRASE: '' });
    expect(result.code).toBe(2);
    expect(result.output).toContain('APIM_MIGRATE_BACKUP_PASSPHRASE, which is not set');
    expect(await checksums(setup)).toEqual(before);
    expect(await ledgerStates(setup)).toEqual([]);
  });

  it('never prints the passwords or the passphrase', async () => {
    setup = await createMigrationSetup({ engine: 'mariadb', flags: FLAGS });
    await seed(setup);
    const result = await cli(setup, ['run', 'registry-scripts']);
    expect(result.code, result.output).toBe(0);
    for (const secret of setup.secrets) expect(result.output).not.toContain(secret);
  });
});

function findTable(all: TableChecksums, name: string) {
  const key = Object.keys(all).find((table) => table.toUpperCase() === name);
  if (key === undefined) throw new Error(`no table ${name} in ${Object.keys(all).join(', ')}`);
  return all[key];
}
