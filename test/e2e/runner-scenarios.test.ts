/**
 * The workflows of workflows-examples/ as the runner runs them: every job is the BUILT main step
 * (dist/main/index.js) and then the BUILT post step (dist/post/index.js) given the state the main step saved, with
 * the runner's variables (test/helpers/runner.ts), against a seeded PostgreSQL or MariaDB database, the stand-in
 * API-M server in the setup's 4.2.0 home, and the local fake of GitHub's artifact service driven by the real
 * @actions/artifact client inside the bundle. Runs, attempts, resumes, rollbacks and a cancelled job.
 *
 * The stand-in server changes no rows, so the data of a database is exactly what the stages (backups, registry
 * scripts, restores, the ledger) and the tests themselves did to it. The tests never build: run `npm run build`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import type { BackupManifest } from '../../src/backup/manifest.js';
import { LEDGER_TABLE, readLedger, type LedgerEntry } from '../../src/db/ledger.js';
import type { ActionState } from '../../src/entry/action-state.js';
import { groupAlive } from '../../src/server/server-runner.js';
import { startFakeArtifactService, type FakeArtifactService } from '../helpers/fake-artifact-service.js';
import {
  createMigratedSchema,
  createMigrationSetup,
  prepareServerStages,
  ledgerStates,
  PASSPHRASE_ENV,
  PASSWORD_ENV,
  requireBundles,
  rewriteConfig,
  type MigrationSetup,
  type SetupEngine,
} from '../helpers/migration-setup.js';
import { expectedAfterRemoval, REGISTRY_TABLES, type SeededRegistry } from '../../src/demo/registry-seed.js';
import {
  artifactFiles,
  errorCommands,
  expectOnlyMasked,
  GITHUB_TOKEN,
  REPOSITORY,
  runJob,
  runPostStep,
  startMainStep,
  STATE_NAME,
  storedArtifactNames,
  waitFor,
  warningCommands,
  type JobRun,
  type RunnerJob,
  type StepRun,
} from '../helpers/runner.js';
import { readStandInArgs, writeStandInConf } from '../helpers/stand-in.js';
import { tableChecksums, type TableChecksums } from '../../src/db/table-checksums.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

/** Versioning was on for tags and properties in the old registry.xml: registry-scripts deletes rows there. */
const FLAGS: RegistryVersioningFlags = { properties: true, comments: false, tags: true, ratings: false };
const SERVER = { timeoutMinutes: 1, stopGraceSeconds: 5 };
const NORMAL = { slowMs: 5 };
const TIMEOUT = { timeout: 240_000 };

const temp = createTempDirs('apim-migrate-scenarios-');
let service: FakeArtifactService;
/** Server process groups a test saw; killed at the end in case a test failed before they were stopped. */
const serverGroups: number[] = [];
let lastRunId = 31_000_000_000;

beforeAll(async () => {
  requireBundles('main', 'post');
  // REST calls (findBy) must carry the github-token and name the workflow's repository, as on GitHub.
  service = await startFakeArtifactService({ readToken: GITHUB_TOKEN, repository: REPOSITORY });
});

afterAll(async () => {
  for (const pid of serverGroups) if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
  await service?.close();
  await temp.cleanup();
});

/** A new GITHUB_RUN_ID: the fake holds the artifacts of every run of the file. */
function newRunId(): string {
  lastRunId += 1;
  return String(lastRunId);
}

interface Scenario {
  setup: MigrationSetup;
  seeded: SeededRegistry;
}

/**
 * A setup whose shared_db holds a seeded 3.1.0 registry with versioning details, whose identity kit holds an
 * unedited migration-config.yaml, and whose 4.2.0 home runs the stand-in server.
 */
async function scenarioSetup(engine: SetupEngine): Promise<Scenario> {
  const setup = await createMigrationSetup({ engine, flags: FLAGS, config: { server: SERVER } });
  try {
    const seeded = await prepareServerStages(setup, { seed: 11, tenants: 2, behaviour: NORMAL });
    return { setup, seeded };
  } catch (error) {
    await setup.cleanup();
    throw error;
  }
}

function jobOf(setup: MigrationSetup, runId: string, attempt = 1): RunnerJob {
  return { setup, service, runId, attempt, temp };
}

/**
 * Runs one job and checks what every job must keep: no secret (database password, backup passphrase, github-token)
 * anywhere but in an `::add-mask::` line, nor in the summary or the outputs, and a post step that exits 0.
 */
async function job(setup: MigrationSetup, runId: string, inputs: Record<string, string>, attempt = 1): Promise<JobRun> {
  const result = await runJob(jobOf(setup, runId, attempt), inputs);
  expect(result.main.run.stdout).toContain(`::add-mask::${GITHUB_TOKEN}`);
  expectNoSecrets(setup, result.main);
  expectNoSecrets(setup, result.post);
  expect(result.post.run.code, result.post.run.stdout + result.post.run.stderr).toBe(0);
  expect(errorCommands(result.post.run.stdout)).toEqual([]);
  return result;
}

function expectNoSecrets(setup: MigrationSetup, step: StepRun): void {
  for (const secret of [GITHUB_TOKEN, ...setup.secrets]) {
    expectOnlyMasked(secret, step.run);
    expect(step.summary).not.toContain(secret);
    for (const value of Object.values(step.outputs)) expect(value).not.toContain(secret);
  }
}

/** The main step succeeded (or was skipped) and its post step found nothing to clean up. */
function expectDone(result: JobRun, status: 'succeeded' | 'skipped' = 'succeeded'): void {
  const { main } = result;
  expect(main.run.code, main.run.stdout + main.run.stderr).toBe(0);
  expect(errorCommands(main.run.stdout)).toEqual([]);
  expect(main.outputs['status']).toBe(status);
  expectNothingLeft(result);
}

/**
 * The stage stopped its server, removed its kit and stored its logs itself: its final state says so, and the post
 * step agrees.
 */
function expectNothingLeft({ main, post }: JobRun): void {
  const state = JSON.parse(main.state[STATE_NAME] ?? '') as ActionState;
  expect(state.serverPid).toBeUndefined();
  expect(state.kitInstalledIn).toBeUndefined();
  expect(state.pendingLogs).toBeUndefined();
  expect(post.run.stdout).toContain(`stage ${state.stage} left no server running, no migration kit and no logs`);
  expect(warningCommands(post.run.stdout)).toEqual([]);
}

async function ledgerEntries(setup: MigrationSetup): Promise<LedgerEntry[]> {
  const session = await setup.adminSession();
  try {
    const reading = await readLedger(session);
    return reading.exists ? reading.entries : [];
  } finally {
    await session.close();
  }
}

/** Every table's checksum; without the ledger when `withLedger` is false. */
async function checksums(setup: MigrationSetup, options: { withLedger: boolean }): Promise<TableChecksums> {
  const session = await setup.adminSession();
  try {
    const all = await tableChecksums(session);
    if (!options.withLedger) delete all[LEDGER_TABLE];
    return all;
  } finally {
    await session.close();
  }
}

/** What a migration client that failed half-way leaves behind: a table of 4.2.0, and rows gone. */
async function leaveHalfMigrated(setup: MigrationSetup): Promise<void> {
  const session = await setup.adminSession();
  try {
    await session.query('CREATE TABLE AM_REVISION (ID INTEGER)');
    await session.query('DELETE FROM REG_RESOURCE_COMMENT');
  } finally {
    await session.close();
  }
}

async function migrationJars(setup: MigrationSetup): Promise<string[]> {
  const dropins = await readdir(path.join(setup.apimHome, 'repository', 'components', 'dropins'));
  return dropins.filter((name) => name.endsWith('.jar'));
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The fake's artifact of this run by name. */
function artifactOf(runId: string, name: string) {
  const artifact = service.artifacts().find((entry) => entry.runId === runId && entry.name === name);
  if (!artifact) throw new Error(`no artifact ${name} in run ${runId}`);
  return artifact;
}

const ENGINES: Array<[string, SetupEngine]> = [
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
];

/** One setup per describe, made before its tests and dropped after them. */
function useScenario(engine: SetupEngine): () => Scenario {
  let scenario: Scenario | undefined;
  beforeAll(async () => {
    scenario = await scenarioSetup(engine);
  }, 120_000);
  afterAll(async () => {
    await scenario?.setup.cleanup();
  });
  return () => {
    if (!scenario) throw new Error('the scenario setup failed');
    return scenario;
  };
}

/** Runs registry-scripts and identity in `run`, as the jobs before apim do. */
async function runUpToApim(setup: MigrationSetup, run: string): Promise<void> {
  expectDone(await job(setup, run, { stage: 'registry-scripts' }));
  expectDone(await job(setup, run, { stage: 'identity' }));
}

/** An apim job whose migration client fails: the stage stops the server, removes the kit, records the failure. */
async function failApim(setup: MigrationSetup, run: string): Promise<JobRun> {
  await writeStandInConf(setup.apimHome, { ...NORMAL, fail: true });
  const failed = await job(setup, run, { stage: 'apim' });
  await writeStandInConf(setup.apimHome, NORMAL);
  expect(failed.main.run.code).toBe(1);
  expect(failed.main.outputs).toMatchObject({
    status: 'failed',
    'backup-artifact': 'apim-migrate-apim-backup-a1',
    'log-artifact': 'apim-migrate-apim-logs-a1',
  });
  expect(errorCommands(failed.main.run.stdout).at(-1)).toBe('API-M data migration failed in Run the server');
  expect(failed.main.summary).toContain("The re-run restores the databases from this stage's backup first.");
  expectNothingLeft(failed);
  expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:failed']);
  return failed;
}

describe.each(ENGINES)('migrate.yml on %s, job by job', (_label, engine) => {
  const scenario = useScenario(engine);

  it('runs every stage, stores its artifacts, and a second run skips what succeeded', TIMEOUT, async () => {
    const { setup, seeded } = scenario();
    const run = newRunId();
    const seededRegistry = await checksums(setup, { withLedger: true });

    // preflight: read only.
    const preflight = await job(setup, run, { stage: 'preflight' });
    expectDone(preflight);
    expect(preflight.main.outputs).toMatchObject({
      'backup-artifact': '',
      'log-artifact': 'apim-migrate-preflight-logs-a1',
    });
    const report = JSON.parse(await readFile(preflight.main.outputs['report'] ?? '', 'utf8')) as { status: string };
    expect(report.status).toBe('succeeded');
    expect(preflight.main.summary).toContain('## ✅ apim-migrate: Preflight succeeded');
    expect(await ledgerStates(setup)).toEqual([]);

    // registry-scripts: backs up shared_db, adds the indices, removes the versioning details of tags and properties.
    const registry = await job(setup, run, { stage: 'registry-scripts' });
    expectDone(registry);
    expect(registry.main.outputs['backup-artifact']).toBe('apim-migrate-registry-scripts-backup-a1');
    expect(registry.main.summary).toContain(
      '- Indices added: `REG_RESOURCE_TAG_IND_BY_REG_TAG_ID`, `REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID`',
    );
    expect(registry.main.summary).toContain(
      `- REG\\_RESOURCE\\_TAG: deleted ${seeded.removal.tags.mappingRowsToDelete} rows; REG\\_TAG: deleted ${seeded.removal.tags.entityRowsToDelete} orphans`,
    );
    expect(registry.main.summary).toContain(
      `- REG\\_RESOURCE\\_PROPERTY: deleted ${seeded.removal.properties.mappingRowsToDelete} rows; REG\\_PROPERTY: deleted ${seeded.removal.properties.entityRowsToDelete} orphans`,
    );
    expect(registry.main.summary).toContain(`\`restore-stage: registry-scripts\` and \`restore-from-run: ${run}\``);
    const afterRegistry = await checksums(setup, { withLedger: false });
    const expected = expectedAfterRemoval(seeded, FLAGS);
    for (const table of REGISTRY_TABLES) expect(afterRegistry[table], table).toEqual(expected[table]);
    expect(seeded.removal.tags.mappingRowsToDelete).toBeGreaterThan(0);
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);

    // identity: backs up, edits the kit's migration-config.yaml, runs the server with -Dcomponent=identity.
    const identity = await job(setup, run, { stage: 'identity' });
    expectDone(identity);
    expect(identity.main.outputs).toMatchObject({
      'backup-artifact': 'apim-migrate-identity-backup-a1',
      'log-artifact': 'apim-migrate-identity-logs-a1',
    });
    expect(identity.main.summary).toContain('## ✅ apim-migrate: Identity migration succeeded');

    // apim-validate: read only; two invalid definitions, allowed by the config, reach the output and the summary.
    await writeStandInConf(setup.apimHome, { ...NORMAL, invalidDefinitions: 2 });
    await rewriteConfig(setup, {
      apim: { ...(setup.configObject['apim'] as object), allowInvalidDefinitions: true },
    });
    const validate = await job(setup, run, { stage: 'apim-validate' });
    expectDone(validate);
    expect(validate.main.outputs).toMatchObject({
      'invalid-definitions': '2',
      'backup-artifact': '',
      'log-artifact': 'apim-migrate-apim-validate-logs-a1',
    });
    expect(validate.main.summary).toContain('2 invalid API definitions, allowed by apim.allowInvalidDefinitions');
    expect(validate.main.summary).toContain('| API | Version | Provider | Definition | Message |');
    await writeStandInConf(setup.apimHome, NORMAL);

    // apim: backs up all databases, runs the API-M migration.
    const apim = await job(setup, run, { stage: 'apim' });
    expectDone(apim);
    expect(apim.main.outputs).toMatchObject({
      'backup-artifact': 'apim-migrate-apim-backup-a1',
      'log-artifact': 'apim-migrate-apim-logs-a1',
    });
    expect(apim.main.summary).toContain('## ✅ apim-migrate: API-M data migration succeeded');
    expect(apim.main.summary).toContain('- Backup artifact: `apim-migrate-apim-backup-a1`');
    expect(apim.main.summary).toContain('- Logs artifact: `apim-migrate-apim-logs-a1`');
    expect(apim.main.summary).toContain('- Report artifact: `apim-migrate-apim-report-a1`');
    expect(apim.main.summary).toContain('  class apim succeeded\n```');
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:succeeded']);

    // verify: read only.
    await createMigratedSchema(setup);
    const verify = await job(setup, run, { stage: 'verify' });
    expectDone(verify);
    expect(verify.main.summary).toContain('## ✅ apim-migrate: Verify succeeded');
    expect(await migrationJars(setup)).toEqual([]);
    expect(existsSync(path.join(setup.apimHome, 'migration-resources'))).toBe(false);

    // The artifacts: every name of attempt 1, finalized, and no local store in the workspace.
    expect(storedArtifactNames(service, run)).toEqual(
      [
        'apim-migrate-apim-backup-a1',
        'apim-migrate-apim-logs-a1',
        'apim-migrate-apim-report-a1',
        'apim-migrate-apim-validate-logs-a1',
        'apim-migrate-apim-validate-report-a1',
        'apim-migrate-identity-backup-a1',
        'apim-migrate-identity-logs-a1',
        'apim-migrate-identity-report-a1',
        'apim-migrate-preflight-logs-a1',
        'apim-migrate-preflight-report-a1',
        'apim-migrate-registry-scripts-backup-a1',
        'apim-migrate-registry-scripts-logs-a1',
        'apim-migrate-registry-scripts-report-a1',
        'apim-migrate-verify-logs-a1',
        'apim-migrate-verify-report-a1',
      ].sort(),
    );
    expect(service.artifacts().filter((artifact) => artifact.runId === run && !artifact.finalized)).toEqual([]);
    expect(existsSync(setup.storeDir)).toBe(false);

    // The ledger names each backup as the service stored it: id, run, and the sha256 of its manifest.
    for (const entry of await ledgerEntries(setup)) {
      const backup = artifactOf(run, `apim-migrate-${entry.stage}-backup-a1`);
      const files = await artifactFiles(backup);
      const manifest = JSON.parse(files.get('manifest.json')?.toString('utf8') ?? '{}') as BackupManifest;
      expect(manifest).toMatchObject({ stage: entry.stage, artifact: backup.name, runId: run, attempt: 1 });
      // apim_db and shared_db are one physical database in this setup: one encrypted dump, named by both.
      const [dump] = manifest.databases;
      expect(manifest.databases).toHaveLength(1);
      expect(dump).toMatchObject({ names: ['apim_db', 'shared_db'], encrypted: true });
      expect(dump?.file).toMatch(engine === 'postgresql' ? /\.pgdump\.zst\.age$/ : /\.sql\.zst\.age$/);
      expect([...files.keys()].sort()).toEqual([dump?.file, 'manifest.json'].sort());
      expect(sha256(files.get(dump?.file ?? '') ?? Buffer.alloc(0))).toBe(dump?.sha256);
      expect(entry).toMatchObject({
        runId: run,
        attempt: 1,
        backupName: backup.name,
        backupId: String(backup.id),
        backupRunId: run,
        backupSha256: sha256(files.get('manifest.json') ?? Buffer.alloc(0)),
      });
    }

    // No secret in any artifact, in clear.
    for (const artifact of service.artifacts().filter((entry) => entry.runId === run)) {
      for (const [file, content] of await artifactFiles(artifact)) {
        for (const secret of [GITHUB_TOKEN, ...setup.secrets]) {
          expect(content.toString('latin1').includes(secret), `${secret} in ${artifact.name}/${file}`).toBe(false);
        }
      }
    }

    // A second run of the workflow: the stages that changed data are no-ops, and take no backup.
    const dataBefore = await checksums(setup, { withLedger: true });
    expect(dataBefore).not.toEqual(seededRegistry);
    const second = newRunId();
    for (const stage of ['registry-scripts', 'identity', 'apim']) {
      const again = await job(setup, second, { stage });
      expectDone(again, 'skipped');
      expect(again.main.outputs['backup-artifact']).toBe('');
      expect(again.main.run.stdout).toMatch(
        new RegExp(
          `^::notice::.* already succeeded on these databases \\(run ${run}, attempt 1\\); nothing to do`,
          'm',
        ),
      );
      expect(again.main.summary).toContain(`skipped: already succeeded in run ${run}, attempt 1`);
    }
    // A skipped stage stores its logs and its report.
    expect(storedArtifactNames(service, second)).toEqual([
      'apim-migrate-apim-logs-a1',
      'apim-migrate-apim-report-a1',
      'apim-migrate-identity-logs-a1',
      'apim-migrate-identity-report-a1',
      'apim-migrate-registry-scripts-logs-a1',
      'apim-migrate-registry-scripts-report-a1',
    ]);
    expect(await checksums(setup, { withLedger: true })).toEqual(dataBefore);
  });
});

describe.each(ENGINES)('re-run of a failed job on %s', (_label, engine) => {
  const scenario = useScenario(engine);

  it(
    'attempt 2 restores the backup of attempt 1, fetched with the github-token after a 404, and takes no new backup',
    TIMEOUT,
    async () => {
      const { setup } = scenario();
      const run = newRunId();
      await runUpToApim(setup, run);
      const beforeAttempt1 = await checksums(setup, { withLedger: false });

      await failApim(setup, run);
      await leaveHalfMigrated(setup);
      expect(await checksums(setup, { withLedger: false })).not.toEqual(beforeAttempt1);

      // "Re-run failed jobs": the same run, attempt 2. Through the runtime token GitHub answers 404 for the artifact
      // of an earlier attempt; the REST API with the github-token reaches it.
      service.configure({ notFoundForEarlierAttempts: true });
      const requestsBefore = service.requests().length;
      let retried: JobRun;
      try {
        retried = await job(setup, run, { stage: 'apim' }, 2);
      } finally {
        service.configure({ notFoundForEarlierAttempts: false });
      }
      expectDone(retried);
      expect(retried.main.outputs).toMatchObject({
        'backup-artifact': 'apim-migrate-apim-backup-a1',
        'log-artifact': 'apim-migrate-apim-logs-a2',
      });
      expect(retried.main.run.stdout).toContain(
        `restoring apim-migrate-apim-backup-a1 of run ${run} before running it again, without a new backup`,
      );
      expect(retried.main.summary).toContain(`restored apim-migrate-apim-backup-a1 of run ${run}`);
      const backup = artifactOf(run, 'apim-migrate-apim-backup-a1');
      const requests = service.requests().slice(requestsBefore);
      expect(requests).toContain('POST /twirp/github.actions.results.api.v1.ArtifactService/GetSignedArtifactURL');
      expect(requests).toContain(`GET /repos/${REPOSITORY}/actions/runs/${run}/artifacts`);
      expect(requests).toContain(`GET /repos/${REPOSITORY}/actions/artifacts/${backup.id}/zip`);
      const stored = storedArtifactNames(service, run);
      expect(stored).not.toContain('apim-migrate-apim-backup-a2');
      expect(stored).toEqual(expect.arrayContaining(['apim-migrate-apim-logs-a2', 'apim-migrate-apim-report-a2']));

      // The stand-in changes no rows: the data attempt 2's migration ran on is the data after it, and it is the
      // data before attempt 1, without what the failed attempt left.
      expect(await checksums(setup, { withLedger: false })).toEqual(beforeAttempt1);
      // The restore took the failed attempt's ledger row back with it; attempt 2 is recorded on the restored data.
      const entries = await ledgerEntries(setup);
      expect(entries.map((entry) => `${entry.stage}:${entry.state}`)).toEqual([
        'registry-scripts:succeeded',
        'identity:succeeded',
        'apim:succeeded',
      ]);
      expect(entries.at(-1)).toMatchObject({
        runId: run,
        attempt: 2,
        backupName: 'apim-migrate-apim-backup-a1',
        backupId: String(backup.id),
        backupRunId: run,
      });
    },
  );
});

describe.each(ENGINES)('a new run that resumes on %s', (_label, engine) => {
  const scenario = useScenario(engine);

  it(
    'skips the stages the ledger records as succeeded, and restores the one an earlier run left failed',
    TIMEOUT,
    async () => {
      const { setup } = scenario();
      const first = newRunId();
      await runUpToApim(setup, first);
      const beforeApim = await checksums(setup, { withLedger: false });
      await failApim(setup, first);
      await leaveHalfMigrated(setup);

      // The whole workflow again, as a new run.
      const second = newRunId();
      const requestsBefore = service.requests().length;
      expectDone(await job(setup, second, { stage: 'preflight' }));
      for (const stage of ['registry-scripts', 'identity']) {
        const skipped = await job(setup, second, { stage });
        expectDone(skipped, 'skipped');
        expect(skipped.main.summary).toContain(`skipped: already succeeded in run ${first}, attempt 1`);
      }
      expectDone(await job(setup, second, { stage: 'apim-validate' }));
      const apim = await job(setup, second, { stage: 'apim' });
      expectDone(apim);
      expect(apim.main.outputs['backup-artifact']).toBe('apim-migrate-apim-backup-a1');
      expect(apim.main.run.stdout).toContain(
        `apim failed earlier (run ${first}, attempt 1): restoring apim-migrate-apim-backup-a1 of run ${first}`,
      );
      // The backup of another run is found and fetched through the REST API with the github-token.
      const backup = artifactOf(first, 'apim-migrate-apim-backup-a1');
      const requests = service.requests().slice(requestsBefore);
      expect(requests).toContain(`GET /repos/${REPOSITORY}/actions/runs/${first}/artifacts`);
      expect(requests).toContain(`GET /repos/${REPOSITORY}/actions/artifacts/${backup.id}/zip`);
      expect(await checksums(setup, { withLedger: false })).toEqual(beforeApim);

      await createMigratedSchema(setup);
      expectDone(await job(setup, second, { stage: 'verify' }));

      expect(storedArtifactNames(service, second)).toEqual([
        'apim-migrate-apim-logs-a1',
        'apim-migrate-apim-report-a1',
        'apim-migrate-apim-validate-logs-a1',
        'apim-migrate-apim-validate-report-a1',
        'apim-migrate-identity-logs-a1',
        'apim-migrate-identity-report-a1',
        'apim-migrate-preflight-logs-a1',
        'apim-migrate-preflight-report-a1',
        'apim-migrate-registry-scripts-logs-a1',
        'apim-migrate-registry-scripts-report-a1',
        'apim-migrate-verify-logs-a1',
        'apim-migrate-verify-report-a1',
      ]);
      const entries = await ledgerEntries(setup);
      expect(entries.map((entry) => `${entry.stage}:${entry.state}:${entry.runId}`)).toEqual([
        `registry-scripts:succeeded:${first}`,
        `identity:succeeded:${first}`,
        `apim:succeeded:${second}`,
      ]);
      expect(entries.at(-1)).toMatchObject({ backupName: backup.name, backupRunId: first });
    },
  );
});

describe.each(ENGINES)('a rollback from another run on %s', (_label, engine) => {
  const scenario = useScenario(engine);

  it('stage restore puts every table back as it was before registry-scripts ran', TIMEOUT, async () => {
    const { setup, seeded } = scenario();
    const seededState = await checksums(setup, { withLedger: true });
    const first = newRunId();
    await runUpToApim(setup, first);
    expect(await checksums(setup, { withLedger: true })).not.toEqual(seededState);

    const second = newRunId();
    const migrated = await checksums(setup, { withLedger: true });
    // Had a pull request started that run, its artifacts would be anyone's: refused, nothing changed.
    service.configure({ runs: { [first]: { event: 'pull_request', path: '.github/workflows/ci.yml' } } });
    const refused = await job(setup, newRunId(), {
      stage: 'restore',
      'restore-stage': 'registry-scripts',
      'restore-from-run': first,
    }).finally(() => service.configure({ runs: {} }));
    expect(refused.main.run.code, refused.main.run.stdout).toBe(1);
    expect(refused.main.run.stdout).toMatch(/a pull_request event started it/);
    expect(refused.main.run.stdout).toMatch(/\.github\/workflows\/ci\.yml, which is not among the trusted workflows/);
    expect(await checksums(setup, { withLedger: true })).toEqual(migrated);

    const rollback = await job(setup, second, {
      stage: 'restore',
      'restore-stage': 'registry-scripts',
      'restore-from-run': first,
    });
    expectDone(rollback);
    expect(rollback.main.outputs['backup-artifact']).toBe('apim-migrate-registry-scripts-backup-a1');
    expect(rollback.main.summary).toContain('## ✅ apim-migrate: Restore of registry-scripts succeeded');
    expect(rollback.main.summary).toContain('the databases are back as they were before the stage');
    expect(rollback.main.outputs['log-artifact']).toBe('apim-migrate-restore-registry-scripts-logs-a1');
    expect(storedArtifactNames(service, second)).toEqual([
      'apim-migrate-restore-registry-scripts-logs-a1',
      'apim-migrate-restore-registry-scripts-report-a1',
    ]);

    // Every table, the ledger included (there was none before registry-scripts): as seeded.
    expect(await checksums(setup, { withLedger: true })).toEqual(seededState);
    expect(await ledgerStates(setup)).toEqual([]);

    // The ledger says nothing was done, so registry-scripts runs again as a first run.
    const again = await job(setup, second, { stage: 'registry-scripts' });
    expectDone(again);
    expect(again.main.outputs['backup-artifact']).toBe('apim-migrate-registry-scripts-backup-a1');
    const expected = expectedAfterRemoval(seeded, FLAGS);
    const after = await checksums(setup, { withLedger: false });
    for (const table of REGISTRY_TABLES) expect(after[table], table).toEqual(expected[table]);
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
  });
});

describe.each(ENGINES)('a cancelled job on %s', (_label, engine) => {
  const scenario = useScenario(engine);

  it(
    'the post step stops the server the main step left running and removes the kit; the re-run restores',
    TIMEOUT,
    async () => {
      const { setup } = scenario();
      const run = newRunId();
      await runUpToApim(setup, run);
      const beforeApim = await checksums(setup, { withLedger: false });

      // The migration client never finishes, and the job is cancelled while the server runs.
      await writeStandInConf(setup.apimHome, { ...NORMAL, hang: true });
      const runnerTemp = await temp.make();
      const main = await startMainStep(jobOf(setup, run), { stage: 'apim' }, { runnerTemp });
      const pidFile = path.join(setup.apimHome, 'wso2carbon.pid');
      const carbonLog = path.join(setup.apimHome, 'repository', 'logs', 'wso2carbon.log');
      const running = await waitFor(
        'the apim migration to hang',
        async () => {
          const saved = (await main.state())[STATE_NAME];
          const state = saved === undefined ? undefined : (JSON.parse(saved) as ActionState);
          // The stand-in hangs after this line and prints nothing more. Unlike the JVM, a shell that writes to the
          // pipe of a killed main step dies of SIGPIPE, so cancel only once it is silent.
          const log = await readFile(carbonLog, 'utf8').catch(() => '');
          const hop = log.slice(log.lastIndexOf('Starting migration from 3.2.0 to 4.0.0'));
          return state?.serverPid !== undefined && hop.includes('Starting AM_DB data migration from 3.2.0 to 4.0.0')
            ? state
            : undefined;
        },
        60_000,
      );
      const serverPid = running.serverPid ?? 0;
      serverGroups.push(serverPid);
      const cancelled = await main.cancel();
      expect(cancelled.run.code).not.toBe(0);
      expectNoSecrets(setup, cancelled);
      expect(cancelled.outputs['status']).toBeUndefined();

      // What the main step saved last is what the runner hands to the post step.
      const state = JSON.parse(cancelled.state[STATE_NAME] ?? '') as ActionState;
      expect(state).toEqual({
        stage: 'apim',
        config: 'apim-migration.yml',
        serverPid,
        serverHome: setup.apimHome,
        serverCommand: expect.objectContaining({ args: expect.arrayContaining(['-Dmigrate']) }),
        // Who the pid was when it started, so that the post step signals only that process.
        serverIdentity: {
          startTime: expect.stringMatching(/^\d+$/),
          commandLine: expect.stringContaining('-Dmigrate'),
        },
        kitInstalledIn: setup.apimHome,
        pendingLogs: expect.objectContaining({ artifact: 'apim-migrate-apim-logs-a1', apimHome: setup.apimHome }),
      });
      // The post step gets the names of the variables that hold secrets, never their values.
      expect(state.pendingLogs?.secretEnv).toEqual(expect.arrayContaining([PASSPHRASE_ENV, PASSWORD_ENV.shared_db]));
      for (const secret of [GITHUB_TOKEN, ...setup.secrets]) expect(cancelled.state[STATE_NAME]).not.toContain(secret);
      expect(storedArtifactNames(service, run)).not.toContain('apim-migrate-apim-logs-a1');
      // The server runs in its own process group: it outlived the main step, with the kit still installed.
      expect(groupAlive(serverPid)).toBe(true);
      expect(await migrationJars(setup)).toHaveLength(1);
      expect(existsSync(path.join(setup.apimHome, 'migration-resources'))).toBe(true);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:started']);

      const post = await runPostStep(jobOf(setup, run), { stage: 'apim' }, cancelled.state, { runnerTemp });
      expectNoSecrets(setup, post);
      expect(post.run.code, post.run.stdout + post.run.stderr).toBe(0);
      expect(errorCommands(post.run.stdout)).toEqual([]);
      const warnings = warningCommands(post.run.stdout);
      expect(warnings[0]).toBe(
        `apim-migrate post: stopping the API-M server (pid ${serverPid}) that stage apim left running`,
      );
      expect(warnings[1]).toMatch(
        new RegExp(
          `^apim-migrate post: removed .*org\\.wso2\\.carbon\\.apimgt\\.migrate\\.client.*\\.jar.*migration-resources.* from ${setup.apimHome}$`,
        ),
      );
      expect(warnings[2]).toMatch(
        /^apim-migrate post: stored the logs of stage apim, which ended before it could, as apim-migrate-apim-logs-a1 \(\d+ files\)$/,
      );
      expect(warnings).toHaveLength(3);
      expect(groupAlive(serverPid)).toBe(false);
      // Stopped as the stage stops it: the launcher's --stop first.
      expect((await readStandInArgs(setup.apimHome)).at(-1)).toEqual(['--stop']);
      // The logs the cancelled stage gathered are stored under the name it would have used.
      const logs = service
        .artifacts()
        .find((artifact) => artifact.runId === run && artifact.name === 'apim-migrate-apim-logs-a1');
      if (!logs) throw new Error('the post step stored no apim-migrate-apim-logs-a1');
      expect(logs.finalized).toBe(true);
      const logFiles = await artifactFiles(logs);
      expect([...logFiles.keys()]).toEqual(
        expect.arrayContaining(['server-console.log', 'wso2carbon.log', 'stage-output.log']),
      );
      // What the stage printed up to the cancel, as it printed it.
      expect(logFiles.get('stage-output.log')?.toString()).toMatch(/Z {3}Starting the server: /);
      expect(logFiles.get('server-console.log')?.toString()).toContain(
        'Starting AM_DB data migration from 3.2.0 to 4.0.0',
      );
      // The stand-in does not get to remove its pid file (its shutdown hook writes to the pipe of the killed main
      // step), and its shell stays a zombie where PID 1 reaps late: the post step removes the stale file.
      expect(existsSync(pidFile)).toBe(false);
      expect(await migrationJars(setup)).toEqual([]);
      expect(existsSync(path.join(setup.apimHome, 'migration-resources'))).toBe(false);

      // "Re-run all jobs" of the cancelled run: attempt 2 restores the backup taken before the cut-off migration.
      await writeStandInConf(setup.apimHome, NORMAL);
      const rerun = await job(setup, run, { stage: 'apim' }, 2);
      expectDone(rerun);
      expect(rerun.main.run.stdout).toContain(
        `apim failed earlier (run ${run}, attempt 1): restoring apim-migrate-apim-backup-a1 of run ${run}`,
      );
      expect(storedArtifactNames(service, run)).not.toContain('apim-migrate-apim-backup-a2');
      expect(await checksums(setup, { withLedger: false })).toEqual(beforeApim);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:succeeded']);
    },
  );
});
