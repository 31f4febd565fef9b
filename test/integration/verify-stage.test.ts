/**
 * `run verify` end to end through the CLI on the machine's real PostgreSQL and MariaDB: the identity migration's
 * schema changes and what the registry versioning removal leaves, next to the checks verify already made.
 * Needs `bash scripts/ensure-services.sh` first.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { identityFactsToCheck } from '../../src/db/verify-probes.js';
import { addIdentitySchemaChanges } from '../../src/demo/demo.js';
import { createRegistrySchema, seedRegistry, type SeededRegistry } from '../../src/demo/registry-seed.js';
import { makeDeploymentToml } from '../../src/demo/sandbox-files.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';
import {
  createApimTables,
  createMigrationSetup,
  IS_HEALTH_URL,
  PASSWORD_ENV,
  rewriteConfig,
  runCliIn,
  type MigrationSetup,
  type SetupEngine,
} from '../helpers/migration-setup.js';
import { openSession } from '../../src/db/session.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const SEED = { seed: 11, resources: 30, versionsPerResource: 3, tenants: 2, versioningOffRows: 3, orphanEntities: 1 };

/** Versioning on for tags and properties, a seeded 3.1.0 registry in the setup's one database. */
async function verifySetup(engine: SetupEngine): Promise<{ setup: MigrationSetup; seeded: SeededRegistry }> {
  const setup = await createMigrationSetup({ engine, flags: { tags: true, properties: true }, login: 'admin' });
  cleanups.push(() => setup.cleanup());
  const seeded = await onSetup(setup, async (session) => {
    await createRegistrySchema(session);
    return seedRegistry(session, SEED);
  });
  // The apim stage's deployment.toml edit, which verify checks too.
  const toml = await readFile(setup.deploymentToml, 'utf8');
  await writeFile(
    setup.deploymentToml,
    toml.replace(/(url = "jdbc:postgresql:[^"?]*)"/g, '$1?preparedStatementCacheQueries=0"'),
  );
  return { setup, seeded };
}

async function onSetup<T>(
  setup: MigrationSetup,
  work: (session: Awaited<ReturnType<MigrationSetup['adminSession']>>) => Promise<T>,
): Promise<T> {
  const session = await setup.adminSession();
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

async function verify(setup: MigrationSetup): Promise<{ code: number; output: string; failures: string[] }> {
  const run = await runCliIn(setup, ['run', 'verify'], { runIdPrefix: 'verify-stage' });
  const failures = run.output
    .split('\n')
    .filter((line) => line.includes('[FAIL] '))
    .map((line) => line.slice(line.indexOf('[FAIL] ') + 7));
  return { ...run, failures };
}

/** Mapping rows of older versions the seed wrote for a kind: its deletions minus the rows without a version. */
function oldRows(seeded: SeededRegistry, kind: 'tags' | 'properties'): number {
  return seeded.removal[kind].mappingRowsToDelete - SEED.versioningOffRows;
}

describe.each<SetupEngine>(['postgresql', 'mariadb'])('run verify on %s', (engine) => {
  it(
    'fails on every missing identity change and every old-version row, and passes once the migration left them right',
    { timeout: 120_000 },
    async () => {
      const { setup, seeded } = await verifySetup(engine);
      await createApimTables(setup);

      // Before registry-scripts and without the identity migration's changes.
      const before = await verify(setup);
      expect(before.code).toBe(1);
      expect(before.output).toMatch(
        new RegExp(
          `REG_RESOURCE_TAG: ${oldRows(seeded, 'tags')} rows in [^(]+ \\([^)]+\\) refer to an older version of their resource, though versioningTags was true in \\S+registry\\.xml: the registry versioning removal did not run there or did not finish; run the registry-scripts stage`,
        ),
      );
      expect(before.output).toContain(`REG_RESOURCE_PROPERTY: ${oldRows(seeded, 'properties')} rows in `);
      expect(before.output).toContain('[pass] REG_RESOURCE_COMMENT, REG_RESOURCE_RATING: versioning was off in ');
      expect(before.failures).toContain(
        `IDN_CORS_ORIGIN (added by the identity migration 5.10.0 -> 5.11.0) is missing from apim_db (127.0.0.1:${setup.scratch?.target.port}/${setup.database}): ` +
          'the identity migration did not run or did not finish: run the identity stage again (after a failed attempt it restores its backup first; ' +
          'after a succeeded one, run `restore --stage identity` first, then identity and the stages after it)',
      );
      expect(before.output).toContain(
        `UM_TENANT.UM_ORG_UUID (added by the identity migration 5.11.0 -> 6.0.0) is missing from shared_db (127.0.0.1:${setup.scratch?.target.port}/${setup.database}) (the table UM_TENANT itself is not there)`,
      );
      expect(before.output).toContain(
        '[pass] SP_SHARED_APP.SHARE_WITH_ALL_CHILDREN (added by 6.0.0 -> 6.1.0) not checked: identity.targetVersion is 6.0.0',
      );
      // The registry indices are missing as well: 15 identity changes, 2 tables with old rows, 2 indices.
      expect(before.failures.filter((line) => line.includes('added by the identity migration'))).toHaveLength(15);
      expect(before.failures).toHaveLength(15 + 2 + 2);

      // What the migration leaves: registry-scripts ran, the identity changes are there.
      const registry = await runCliIn(setup, ['run', 'registry-scripts'], { runIdPrefix: 'verify-stage' });
      expect(registry.code, registry.output).toBe(0);
      await onSetup(setup, (session) => addIdentitySchemaChanges(session, identityFactsToCheck('6.0.0')));
      const after = await verify(setup);
      expect(after.code, after.output).toBe(0);
      expect(after.output).toMatch(
        /\[pass\] apim_db \([^)]+\) has the 9 tables and columns checked that the identity migration 5\.10\.0 -> 5\.11\.0 -> 6\.0\.0 adds/,
      );
      expect(after.output).toMatch(/\[pass\] shared_db \([^)]+\) has the 6 tables and columns checked/);
      expect(after.output).toMatch(
        /\[pass\] REG_RESOURCE_TAG in [^(]+ \([^)]+\): no row refers to an older version of its resource \(versioningTags was true\)/,
      );
      expect(after.output).toMatch(
        /\[pass\] REG_RESOURCE_PROPERTY in [^(]+ \([^)]+\): no row refers to an older version/,
      );

      // One table and one column gone: exactly those two findings.
      await onSetup(setup, async (session) => {
        await session.query('DROP TABLE IDN_CORS_ORIGIN');
        await session.query('ALTER TABLE UM_TENANT DROP COLUMN UM_TENANT_UUID');
      });
      const two = await verify(setup);
      expect(two.code).toBe(1);
      expect(two.failures.map((line) => line.slice(0, line.indexOf(' ('))).sort()).toEqual([
        'IDN_CORS_ORIGIN',
        'UM_TENANT.UM_TENANT_UUID',
      ]);
      expect(two.failures.find((line) => line.startsWith('UM_TENANT.'))).toContain(
        '(added by the identity migration 5.10.0 -> 5.11.0) is missing from shared_db (',
      );

      // WSO2 IS as the Key Manager: the identity stage does not run, so its changes are not asked for.
      delete setup.configObject['identity'];
      await rewriteConfig(setup, { keyManager: 'is', isHealthUrl: IS_HEALTH_URL });
      const withIs = await verify(setup);
      expect(withIs.code, withIs.output).toBe(0);
      expect(withIs.output).toContain(
        '[pass] WSO2 Identity Server is the Key Manager: the identity stage does not run here (IS migrates its own side), so its schema changes are not checked',
      );
    },
  );

  it('asks for the 6.1.0 column only with identity.targetVersion 6.1.0', { timeout: 60_000 }, async () => {
    const { setup } = await verifySetup(engine);
    await createApimTables(setup);
    expect((await runCliIn(setup, ['run', 'registry-scripts'], { runIdPrefix: 'verify-stage' })).code).toBe(0);
    await onSetup(setup, (session) => addIdentitySchemaChanges(session, identityFactsToCheck('6.0.0')));
    expect((await verify(setup)).code).toBe(0);

    await rewriteConfig(setup, { identity: { ...(setup.configObject['identity'] as object), targetVersion: '6.1.0' } });
    const for610 = await verify(setup);
    expect(for610.code).toBe(1);
    expect(for610.failures).toHaveLength(1);
    expect(for610.failures[0]).toMatch(
      /^SP_SHARED_APP\.SHARE_WITH_ALL_CHILDREN \(added by the identity migration 6\.0\.0 -> 6\.1\.0\) is missing from apim_db \(/,
    );
    await onSetup(setup, (session) => addIdentitySchemaChanges(session, identityFactsToCheck('6.1.0')));
    const done = await verify(setup);
    expect(done.code, done.output).toBe(0);
    expect(done.output).toContain(
      'tables and columns checked that the identity migration 5.10.0 -> 5.11.0 -> 6.0.0 -> 6.1.0 adds',
    );
  });

  it(
    'checks a separate [database.config] when it holds the registry, and says so when it does not',
    { timeout: 90_000 },
    async () => {
      const { setup } = await verifySetup(engine);
      await createApimTables(setup);
      expect((await runCliIn(setup, ['run', 'registry-scripts'], { runIdPrefix: 'verify-stage' })).code).toBe(0);
      await onSetup(setup, (session) => addIdentitySchemaChanges(session, identityFactsToCheck('6.0.0')));

      const configDb: ScratchDatabase =
        engine === 'postgresql'
          ? await createScratchPostgres('verify_config')
          : await createScratchMariadb('verify_config');
      cleanups.push(() => configDb.drop());
      await addConfigDatabase(setup, configDb);
      const empty = await verify(setup);
      expect(empty.code, empty.output).toBe(0);
      expect(empty.output).toContain(
        `[pass] config (127.0.0.1:${configDb.target.port}/${configDb.target.database}) has no registry tables (no REG_RESOURCE): not checked`,
      );

      // A config registry with old versions that nothing removed.
      const session = await openSession(configDb.target);
      let seeded: SeededRegistry;
      try {
        await createRegistrySchema(session);
        seeded = await seedRegistry(session, { ...SEED, seed: 12 });
      } finally {
        await session.close();
      }
      const old = await verify(setup);
      expect(old.code).toBe(1);
      // Nothing ran Step 1 there: neither index, and the old versions.
      expect(old.failures).toEqual([
        expect.stringMatching(/^registry index REG_RESOURCE_TAG_IND_BY_REG_TAG_ID on .* is missing in config \(/),
        expect.stringMatching(/^registry index REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID on .* is missing in config \(/),
        expect.stringMatching(
          new RegExp(
            `^REG_RESOURCE_TAG: ${oldRows(seeded, 'tags')} rows in config \\(127\\.0\\.0\\.1:\\d+/${configDb.target.database}\\) refer to an older version`,
          ),
        ),
        expect.stringMatching(
          new RegExp(`^REG_RESOURCE_PROPERTY: ${oldRows(seeded, 'properties')} rows in config \\(`),
        ),
      ]);
    },
  );
});

/** Adds `[database.config]` on another database to the setup's deployment.toml, with the setup's login. */
async function addConfigDatabase(setup: MigrationSetup, configDb: ScratchDatabase): Promise<void> {
  const { target } = configDb;
  const url =
    target.engine === 'postgresql'
      ? `jdbc:postgresql://${target.host}:${target.port}/${target.database}?preparedStatementCacheQueries=0`
      : `jdbc:mysql://${target.host}:${target.port}/${target.database}?useSSL=false`;
  const entry = makeDeploymentToml('config', [
    {
      name: 'config',
      type: target.engine === 'postgresql' ? 'postgre' : 'mysql',
      url,
      username: setup.username,
      passwordEnv: PASSWORD_ENV.shared_db,
      driver: target.engine === 'postgresql' ? 'org.postgresql.Driver' : 'com.mysql.cj.jdbc.Driver',
    },
  ]);
  const section = entry.slice(entry.indexOf('[database.config]'));
  await writeFile(setup.deploymentToml, `${await readFile(setup.deploymentToml, 'utf8')}\n${section}`);
}
