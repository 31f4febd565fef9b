/**
 * `run verify` proves the data came through: the business tables' row counts against the manifest of a real backup
 * (taken by the backup module and recorded in the ledger as the identity stage records it), and the warnings about
 * revisions and resident Key Managers, on the machine's real PostgreSQL and MariaDB.
 * Needs `bash scripts/ensure-services.sh` first.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/artifacts/local-store.js';
import { artifactName } from '../../src/artifacts/store.js';
import { createBackup } from '../../src/backup/create-backup.js';
import { MANIFEST_FILE } from '../../src/backup/manifest.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { TOOL_VERSION } from '../../src/core/version.js';
import { recordStageFinished, recordStageStarted } from '../../src/db/ledger.js';
import { identityFactsToCheck } from '../../src/db/verify-probes.js';
import type { DbSession } from '../../src/db/session.js';
import { addIdentitySchemaChanges } from '../../src/demo/demo.js';
import { createRegistrySchema, seedRegistry } from '../../src/demo/registry-seed.js';
import type { StageResult } from '../../src/core/results.js';
import { renderStageMarkdown } from '../../src/report/stage-summary.js';
import { createRecordingLogger } from '../helpers/fakes.js';
import {
  createApimTables,
  createMigrationSetup,
  PASSPHRASE_ENV,
  runCliIn,
  type MigrationSetup,
  type SetupEngine,
} from '../helpers/migration-setup.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function onSetup<T>(setup: MigrationSetup, work: (session: DbSession) => Promise<T>): Promise<T> {
  const session = await setup.adminSession();
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

/**
 * A migrated-looking database (registry-scripts ran, the identity and API-M 4.2.0 tables are there) with business
 * rows in WSO2's tables: 2 published APIs and a created one, 2 applications, 2 subscriptions, 3 users, a tenant,
 * 2 OAuth apps, a product mapping and 3 scopes. Revisions and key managers are empty.
 */
async function migratedSetup(engine: SetupEngine): Promise<MigrationSetup> {
  const setup = await createMigrationSetup({ engine, login: 'admin' });
  cleanups.push(() => setup.cleanup());
  await onSetup(setup, async (session) => {
    await createRegistrySchema(session);
    await seedRegistry(session, {
      seed: 21,
      resources: 5,
      versionsPerResource: 1,
      tenants: 1,
      versioningOffRows: 0,
      orphanEntities: 0,
    });
  });
  const toml = await readFile(setup.deploymentToml, 'utf8');
  await writeFile(
    setup.deploymentToml,
    toml.replace(/(url = "jdbc:postgresql:[^"?]*)"/g, '$1?preparedStatementCacheQueries=0"'),
  );
  await createApimTables(setup);
  await onSetup(setup, async (session) => {
    // The shapes of WSO2's 3.2.0 -> 4.0.0 and 3.1.0 -> 3.2.0 scripts, in the columns verify reads.
    for (const table of ['AM_DEPLOYMENT_REVISION_MAPPING', 'AM_REVISION', 'AM_KEY_MANAGER'])
      await session.query(`DROP TABLE ${table}`);
    const statements = [
      'CREATE TABLE AM_API (API_ID INTEGER, API_PROVIDER VARCHAR(200), API_NAME VARCHAR(200), API_VERSION VARCHAR(30), API_UUID VARCHAR(255), STATUS VARCHAR(30))',
      "INSERT INTO AM_API VALUES (1, 'admin', 'Pizza', '1.0.0', 'uuid-pizza', 'PUBLISHED'), (2, 'admin', 'Weather|*bold*', '2.0', 'uuid-weather', 'published'), (3, 'admin', 'Draft', '0.1', 'uuid-draft', 'CREATED')",
      'CREATE TABLE AM_APPLICATION (APPLICATION_ID INTEGER, NAME VARCHAR(100))',
      "INSERT INTO AM_APPLICATION VALUES (1, 'DefaultApplication'), (2, 'mobile')",
      'CREATE TABLE AM_SUBSCRIPTION (SUBSCRIPTION_ID INTEGER, API_ID INTEGER, APPLICATION_ID INTEGER)',
      'INSERT INTO AM_SUBSCRIPTION VALUES (1, 1, 1), (2, 2, 2)',
      'CREATE TABLE UM_USER (UM_ID INTEGER, UM_USER_NAME VARCHAR(255))',
      "INSERT INTO UM_USER VALUES (1, 'admin'), (2, 'alice'), (3, 'bob')",
      'CREATE TABLE UM_TENANT (UM_ID INTEGER, UM_DOMAIN_NAME VARCHAR(255))',
      "INSERT INTO UM_TENANT VALUES (1, 'wso2.test')",
      'CREATE TABLE IDN_OAUTH_CONSUMER_APPS (ID INTEGER, CONSUMER_KEY VARCHAR(255))',
      "INSERT INTO IDN_OAUTH_CONSUMER_APPS VALUES (1, 'key-1'), (2, 'key-2')",
      'CREATE TABLE AM_API_PRODUCT_MAPPING (API_PRODUCT_MAPPING_ID INTEGER, API_ID INTEGER, URL_MAPPING_ID INTEGER)',
      'INSERT INTO AM_API_PRODUCT_MAPPING VALUES (1, 1, 1)',
      'CREATE TABLE IDN_OAUTH2_SCOPE (SCOPE_ID INTEGER, NAME VARCHAR(255))',
      "INSERT INTO IDN_OAUTH2_SCOPE VALUES (1, 'read'), (2, 'write'), (3, 'read')",
      'CREATE TABLE AM_REVISION (ID INTEGER, API_UUID VARCHAR(256), REVISION_UUID VARCHAR(255))',
      'CREATE TABLE AM_DEPLOYMENT_REVISION_MAPPING (NAME VARCHAR(255), VHOST VARCHAR(255), REVISION_UUID VARCHAR(255))',
      'CREATE TABLE AM_KEY_MANAGER (UUID VARCHAR(50), NAME VARCHAR(100), TYPE VARCHAR(45), ORGANIZATION VARCHAR(100))',
    ];
    for (const statement of statements) await session.query(statement);
    await addIdentitySchemaChanges(session, identityFactsToCheck('6.0.0'));
  });
  const registry = await runCliIn(setup, ['run', 'registry-scripts'], { runIdPrefix: 'verify-data' });
  expect(registry.code, registry.output).toBe(0);
  return setup;
}

let backups = 0;

/**
 * A real backup of the setup's database, stored in its local store as the stage stores it, and recorded in the
 * ledger as the stage records it (name, id, run and the manifest's sha256). Returns the manifest's path.
 */
async function takeFullBackup(setup: MigrationSetup, stage: 'identity' | 'apim' = 'identity'): Promise<string> {
  backups += 1;
  const runId = `verify-data-backup-${process.pid}-${backups}`;
  const store = new LocalFolderStore(setup.storeDir, runId);
  const name = artifactName(stage, 'backup', 1);
  const work = createTempDirs('apim-migrate-verify-data-');
  cleanups.push(work.cleanup);
  const target = setup.scratch?.target;
  if (!target) throw new Error('the setup has no scratch database');
  const secrets = new SecretMasker();
  secrets.add(target.password);
  const backup = await createBackup({
    stage,
    artifactName: name,
    databases: [{ names: ['apim_db', 'shared_db'], target }],
    store,
    run: { runId, attempt: 1 },
    encryption: { kind: 'passphrase', passphrase: setup.env[PASSPHRASE_ENV] ?? '' },
    logger: createRecordingLogger(),
    secrets,
    workDir: await work.make(),
    retentionDays: 1,
    toolVersion: TOOL_VERSION,
  });
  const sha256 = backup.artifact.files.find((file) => file.name === MANIFEST_FILE)?.sha256 ?? '';
  await onSetup(setup, async (session) => {
    const id = await recordStageStarted(session, {
      stage,
      runId,
      attempt: 1,
      backup: { name, id: backup.artifact.id, runId, sha256 },
    });
    await recordStageFinished(session, id, { state: 'succeeded' });
  });
  return join(setup.storeDir, 'runs', runId, name, MANIFEST_FILE);
}

async function verify(setup: MigrationSetup): Promise<{ code: number; output: string; lines: string[] }> {
  const run = await runCliIn(setup, ['run', 'verify'], { runIdPrefix: 'verify-data' });
  return { ...run, lines: run.output.split('\n') };
}

/** The verdict line that starts with `text` after its mark, e.g. `[WARN] AM_SUBSCRIPTION (...`. */
function line(lines: readonly string[], text: string): string | undefined {
  return lines.find((candidate) => /\[(pass|WARN|FAIL)\] /.test(candidate) && candidate.includes(`] ${text}`));
}

const TABLES = [
  'AM_API',
  'AM_APPLICATION',
  'AM_SUBSCRIPTION',
  'UM_USER',
  'UM_TENANT',
  'IDN_OAUTH_CONSUMER_APPS',
  'AM_API_PRODUCT_MAPPING',
  'IDN_OAUTH2_SCOPE',
];

describe.each<SetupEngine>(['postgresql', 'mariadb'])('run verify compares the data on %s', (engine) => {
  it(
    'warns without a full backup, passes on equal counts, warns on growth, fails on lost rows and on a changed manifest',
    { timeout: 180_000 },
    async () => {
      const setup = await migratedSetup(engine);

      // The ledger records registry-scripts' backup only, which holds the registry's database, not every one.
      const none = await verify(setup);
      expect(none.code, none.output).toBe(0);
      expect(line(none.lines, 'the ledger in shared_db records no backup of identity or apim,')).toMatch(
        /^.*\[WARN\] /,
      );

      const manifest = await takeFullBackup(setup);
      const equal = await verify(setup);
      expect(equal.code, equal.output).toBe(0);
      for (const table of TABLES) {
        expect(line(equal.lines, `${table} (`), table).toMatch(
          new RegExp(
            `\\[pass\\] ${table} \\(.+\\) in (apim_db|shared_db) \\([^)]+\\): \\d+ rows?, as in apim-migrate-identity-backup-a1 of run verify-data-backup-`,
          ),
        );
      }
      expect(line(equal.lines, 'AM_API (')).toContain(': 3 rows, as in');
      expect(line(equal.lines, 'UM_USER (users) in shared_db (')).toContain(': 3 rows, as in');

      // Growth is a warning; a lost application fails and is named; a lost scope is one WSO2 deletes (a warning).
      await onSetup(setup, async (session) => {
        await session.query('INSERT INTO AM_SUBSCRIPTION VALUES (3, 1, 2)');
        await session.query('DELETE FROM AM_APPLICATION WHERE APPLICATION_ID = 2');
        await session.query('DELETE FROM IDN_OAUTH2_SCOPE WHERE SCOPE_ID = 3');
      });
      const changed = await verify(setup);
      expect(changed.code, changed.output).toBe(1);
      expect(line(changed.lines, 'AM_SUBSCRIPTION (')).toMatch(
        /\[WARN\] AM_SUBSCRIPTION \(subscriptions\) in apim_db \([^)]+\): 2 rows in apim-migrate-identity-backup-a1 of run \S+, 3 now \(more than before the migration\)$/,
      );
      expect(line(changed.lines, 'AM_APPLICATION (')).toMatch(
        /\[FAIL\] AM_APPLICATION \(applications\) in apim_db \([^)]+\): 2 rows in apim-migrate-identity-backup-a1 of run \S+, 1 now: rows were lost in the migration, and no WSO2 step is known to delete them\. .*`restore --stage identity`/,
      );
      expect(line(changed.lines, 'IDN_OAUTH2_SCOPE (')).toMatch(
        /\[WARN\] IDN_OAUTH2_SCOPE \(scopes\) in apim_db \([^)]+\): 3 rows in \S+ of run \S+, 2 now; fewer rows may be right: the API-M migration 3\.1\.0 -> 3\.2\.0 deletes duplicate scope entries .*MigrateFrom310/,
      );
      expect(changed.lines.filter((entry) => entry.includes('[FAIL] '))).toHaveLength(1);

      // A table that is gone altogether.
      await onSetup(setup, (session) => session.query('DROP TABLE AM_API_PRODUCT_MAPPING'));
      const gone = await verify(setup);
      expect(gone.code).toBe(1);
      expect(line(gone.lines, 'AM_API_PRODUCT_MAPPING (')).toMatch(
        /\[FAIL\] AM_API_PRODUCT_MAPPING \(API products \(their resources\)\) in apim_db \([^)]+\): 1 row in \S+ of run \S+, and the table is gone now: rows were lost/,
      );

      // A manifest changed in the store since the ledger recorded it is refused, as a restore refuses it.
      const text = await readFile(manifest, 'utf8');
      await writeFile(
        manifest,
        text.replace(/"AM_APPLICATION": 2|"public\.am_application": 2/i, (found) => found.replace('2', '1')),
      );
      expect(await readFile(manifest, 'utf8')).not.toBe(text);
      const refused = await verify(setup);
      expect(refused.code).toBe(1);
      expect(line(refused.lines, 'the row counts were not compared: ')).toMatch(
        /\[FAIL\] the row counts were not compared: manifest\.json of backup apim-migrate-identity-backup-a1 of run \S+ is not the one recorded in the ledger when the backup was stored/,
      );
      expect(refused.lines.filter((entry) => entry.includes('] AM_APPLICATION ('))).toHaveLength(0);
    },
  );

  it(
    'takes the backup of apim when identity did not run, and ignores a later full backup',
    { timeout: 120_000 },
    async () => {
      const setup = await migratedSetup(engine);
      await takeFullBackup(setup, 'apim');
      await onSetup(setup, (session) => session.query('DELETE FROM UM_USER WHERE UM_ID = 3'));
      // A later backup (of an apim attempt after a restore) no longer holds the lost row: the first one still decides.
      await takeFullBackup(setup, 'apim');
      const run = await verify(setup);
      expect(run.code).toBe(1);
      expect(line(run.lines, 'UM_USER (')).toMatch(
        /\[FAIL\] UM_USER \(users\) in shared_db \([^)]+\): 3 rows in apim-migrate-apim-backup-a1 of run verify-data-backup-\d+-\d+, 2 now: rows were lost.*`restore --stage apim`/,
      );
    },
  );

  it(
    'warns about published APIs without revisions and tenants without a resident Key Manager, naming the source',
    {
      timeout: 120_000,
    },
    async () => {
      const setup = await migratedSetup(engine);
      const before = await verify(setup);
      expect(before.code, before.output).toBe(0);
      const revisions = line(before.lines, '2 of 2 published APIs have no revision in AM_REVISION: ');
      expect(revisions).toMatch(/\[WARN\] /);
      expect(revisions).toContain(
        'Pizza 1.0.0 (admin), Weather|*bold* 2.0 (admin) (am-client MigrateFrom320.apiRevisionRelatedMigration',
      );
      expect(revisions).not.toContain('Draft');
      const keyManagers = line(before.lines, '2 of 2 tenants have no Resident Key Manager in AM_KEY_MANAGER: ');
      expect(keyManagers).toMatch(
        /\[WARN\] .*: carbon\.super, wso2\.test \(carbon-apimgt APIConstants\.KeyManager\.DEFAULT_KEY_MANAGER/,
      );

      // The findings are checks of the stored report, and rows of the job summary with the API names escaped.
      const runs = await readdir(join(setup.storeDir, 'runs'));
      const reports: StageResult[] = [];
      for (const run of runs) {
        const file = join(setup.storeDir, 'runs', run, 'apim-migrate-verify-report-a1', 'report.json');
        const text = await readFile(file, 'utf8').catch(() => undefined);
        if (text !== undefined) reports.push(JSON.parse(text) as StageResult);
      }
      expect(reports).toHaveLength(1);
      const report = reports[0] as StageResult;
      const messages = report.steps.flatMap((step) => (step.checks ?? []).map((check) => check.message));
      expect(messages).toContain(revisions?.slice(revisions.indexOf('] ') + 2));
      expect(messages).toContain(keyManagers?.slice(keyManagers.indexOf('] ') + 2));
      const summary = renderStageMarkdown(report);
      expect(summary).toContain('Weather\\|\\*bold\\* 2.0 (admin)');
      expect(summary).not.toContain('Weather|*bold*');

      // A revision without a deployment for one API, both for the other; the super tenant's resident Key Manager.
      await onSetup(setup, async (session) => {
        await session.query(
          "INSERT INTO AM_REVISION VALUES (1, 'uuid-pizza', 'rev-pizza-1'), (1, 'uuid-weather', 'rev-weather-1')",
        );
        await session.query(
          "INSERT INTO AM_DEPLOYMENT_REVISION_MAPPING VALUES ('Default', 'localhost', 'rev-pizza-1')",
        );
        await session.query(
          "INSERT INTO AM_KEY_MANAGER VALUES ('km-1', 'Resident Key Manager', 'default', 'carbon.super')",
        );
      });
      const partly = await verify(setup);
      expect(partly.code, partly.output).toBe(0);
      expect(
        line(partly.lines, '1 of 2 published APIs have no deployed revision in AM_DEPLOYMENT_REVISION_MAPPING: '),
      ).toContain(': Weather|*bold* 2.0 (admin) (am-client');
      expect(partly.output).not.toContain('have no revision in AM_REVISION');
      expect(line(partly.lines, '1 of 2 tenants have no Resident Key Manager')).toContain(': wso2.test (');

      await onSetup(setup, async (session) => {
        await session.query(
          "INSERT INTO AM_DEPLOYMENT_REVISION_MAPPING VALUES ('Default', 'localhost', 'rev-weather-1')",
        );
        await session.query(
          "INSERT INTO AM_KEY_MANAGER VALUES ('km-2', 'Resident Key Manager', 'default', 'wso2.test')",
        );
      });
      const done = await verify(setup);
      expect(done.code, done.output).toBe(0);
      expect(line(done.lines, 'each of the 2 published APIs has a revision and a deployed revision')).toMatch(
        /\[pass\] /,
      );
      expect(line(done.lines, 'each of the 2 tenants has its Resident Key Manager in AM_KEY_MANAGER')).toMatch(
        /\[pass\] /,
      );

      // Without the 4.0.0 columns the check cannot be made, and says why.
      await onSetup(setup, (session) => session.query('ALTER TABLE AM_API DROP COLUMN STATUS'));
      const old = await verify(setup);
      expect(line(old.lines, 'the revisions of published APIs are not checked: apim_db lacks AM_API.STATUS (')).toMatch(
        /\[WARN\] /,
      );
    },
  );
});
