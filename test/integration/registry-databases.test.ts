/**
 * Step 1 on every registry database: a `[database.config]` that is another database with the REG_ tables gets the
 * indices and the versioning removal too, its backup is part of the stage's, and a restore puts both back. One that
 * holds no registry tables is backed up and left alone. Against the real PostgreSQL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '../../src/config/types.js';
import { createRegistrySchema, seedRegistry } from '../../src/demo/registry-seed.js';
import { withSession } from '../../src/db/session.js';
import { tableChecksums, type TableChecksums } from '../../src/db/table-checksums.js';
import { findMissingRegistryIndices } from '../../src/db/verify-probes.js';
import { createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';
import { createMigrationSetup, rewriteConfig, runCliIn, type MigrationSetup } from '../helpers/migration-setup.js';

let setup: MigrationSetup | undefined;
let configDb: ScratchDatabase | undefined;
afterEach(async () => {
  await setup?.cleanup();
  await configDb?.drop();
  setup = undefined;
  configDb = undefined;
});

const cli = (current: MigrationSetup, argv: string[]) => runCliIn(current, argv, { runIdPrefix: 'registry-dbs' });

async function seed(target: DatabaseTarget, seedNumber: number): Promise<void> {
  await withSession(target, async (session) => {
    await createRegistrySchema(session);
    await seedRegistry(session, {
      seed: seedNumber,
      resources: 30,
      versionsPerResource: 3,
      tenants: 1,
      versioningOffRows: 2,
      orphanEntities: 2,
    });
  });
}

/** The registry tables only: the ledger is apim-migrate's own, and lives in shared_db. */
async function registryChecksums(target: DatabaseTarget): Promise<TableChecksums> {
  const all = await withSession(target, (session) => tableChecksums(session));
  return Object.fromEntries(Object.entries(all).filter(([table]) => table.toUpperCase().startsWith('REG_')));
}

/** The setup with `databases.config` pointing at a second scratch database. */
async function withConfigDatabase(): Promise<{
  current: MigrationSetup;
  shared: DatabaseTarget;
  config: DatabaseTarget;
}> {
  const current = await createMigrationSetup({ engine: 'postgresql', flags: { tags: true, properties: true } });
  setup = current;
  configDb = await createScratchPostgres('apim_cfg');
  const config = configDb.target;
  await rewriteConfig(current, {
    databases: {
      config: {
        url: `jdbc:postgresql://${config.host}:${config.port}/${config.database}`,
        username: config.username,
        password: '',
      },
    },
  });
  const scratch = current.scratch;
  if (!scratch) throw new Error('the setup has no scratch database');
  return { current, shared: scratch.target, config };
}

describe('registry-scripts on a separate [database.config]', () => {
  it('adds the indices and removes the versioning details in both, backs both up, and restores both', async () => {
    const { current, shared, config } = await withConfigDatabase();
    await seed(shared, 11);
    await seed(config, 12);
    const before = { shared: await registryChecksums(shared), config: await registryChecksums(config) };

    const plan = await cli(current, ['plan']);
    expect(plan.code, plan.output).toBe(0);
    expect(plan.output).toContain(
      `back up config (postgresql, ${config.host}:${config.port}/${config.database}) first`,
    );
    expect(plan.output).toContain(
      `and config (postgresql, ${config.host}:${config.port}/${config.database}) when it holds the registry tables`,
    );
    expect(plan.output).toMatch(
      new RegExp(
        `in config \\(${config.host}:${config.port}/${config.database}\\): would delete [1-9]\\d* rows of REG_RESOURCE_TAG`,
      ),
    );

    const run = await cli(current, ['run', 'registry-scripts']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(
      'removed versioning details of tags, properties in apim_db = shared_db; tags, properties in config',
    );
    for (const target of [shared, config]) {
      expect(await withSession(target, (session) => findMissingRegistryIndices(session))).toEqual([]);
    }
    const after = { shared: await registryChecksums(shared), config: await registryChecksums(config) };
    expect(after.config).not.toEqual(before.config);
    expect(after.shared).not.toEqual(before.shared);

    const restore = await cli(current, ['restore', '--stage', 'registry-scripts']);
    expect(restore.code, restore.output).toBe(0);
    expect(await registryChecksums(shared)).toEqual(before.shared);
    expect(await registryChecksums(config)).toEqual(before.config);

    // Run again from the restored state, then forced: never twice, on either database.
    expect((await cli(current, ['run', 'registry-scripts'])).code).toBe(0);
    const forced = await cli(current, ['run', 'registry-scripts', '--force']);
    expect(forced.code, forced.output).toBe(0);
    expect(forced.output).toContain(
      'REG_RESOURCE_TAG in config: versioning details were removed by an earlier run; not again',
    );
    expect(await registryChecksums(config)).toEqual(after.config);
  });

  it('backs up a config database without registry tables and leaves it alone', async () => {
    const { current, shared, config } = await withConfigDatabase();
    await seed(shared, 13);
    await withSession(config, (session) => session.query('CREATE TABLE UNRELATED (ID INTEGER)'));
    const run = await cli(current, ['run', 'registry-scripts']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(
      `config (${config.host}:${config.port}/${config.database}) has no registry tables (no REG_RESOURCE): Step 1 does not apply there`,
    );
    expect(run.output).toMatch(/apim-migrate-registry-scripts-backup-a1 stored and verified/);
    expect(run.output).toContain(`config.pgdump`);
    expect(run.output).toContain('removed versioning details of tags, properties');
  });
});
