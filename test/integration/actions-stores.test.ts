/**
 * The folder and S3 stores inside GitHub Actions. A job is emulated as the runner runs one (test/helpers/runner.ts):
 * GITHUB_ACTIONS, GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, the inputs as INPUT_<NAME>, fresh file-command files, a
 * RUNNER_TEMP, and none of the artifact service's credentials (ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL), which a
 * store other than GitHub's does not need. The action's main step (src/entry/action.ts) and post step
 * (src/entry/post.ts) run in-process against the real PostgreSQL, the real folders and s3rver.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import { createRegistrySchema, seedRegistry } from '../../src/demo/registry-seed.js';
import type { ActionState } from '../../src/entry/action-state.js';
import { runAction } from '../../src/entry/action.js';
import { runPost } from '../../src/entry/post.js';
import { tableChecksums, type TableChecksums } from '../../src/db/table-checksums.js';
import {
  baseEnv,
  createMigrationSetup,
  ledgerStates,
  PASSWORD_ENV,
  prepareServerStages,
  type MigrationSetup,
} from '../helpers/migration-setup.js';
import { captureInProcessPostStep, POST_STATE_ENV } from '../helpers/post-step.js';
import { errorCommands, inputEnv, readFileCommands, REPOSITORY, runnerFiles } from '../helpers/runner.js';
import { S3RVER_REGION, startS3Server, useS3rverCredentials } from '../helpers/s3-server.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const FLAGS: RegistryVersioningFlags = { properties: true, comments: false, tags: true, ratings: false };
const temp = createTempDirs('apim-migrate-actions-stores-');
const stepOutput = captureInProcessPostStep();
let setup: MigrationSetup | undefined;

afterEach(async () => {
  await setup?.cleanup();
  setup = undefined;
});
afterAll(() => temp.cleanup());

interface StepResult {
  exitCode: number;
  stdout: string;
  outputs: Record<string, string>;
}

/** The environment of a step of run `runId`, attempt `attempt`, as the runner gives it: no artifact credentials. */
async function jobEnv(
  current: MigrationSetup,
  runId: string,
  attempt: number,
  extra: Record<string, string> = {},
): Promise<{ env: Record<string, string | undefined>; output: string }> {
  const files = await runnerFiles(temp);
  const env = baseEnv({
    ...current.env,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_RUN_ID: runId,
    GITHUB_RUN_ATTEMPT: String(attempt),
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_WORKSPACE: current.dir,
    GITHUB_REPOSITORY: REPOSITORY,
    RUNNER_TEMP: files.runnerTemp,
    ...extra,
  });
  expect(env['ACTIONS_RUNTIME_TOKEN']).toBeUndefined();
  expect(env['ACTIONS_RESULTS_URL']).toBeUndefined();
  return { env, output: files.output };
}

/** Runs `step` with `env` as this process's environment (the action reads its inputs and file commands there). */
async function asStep(env: Record<string, string | undefined>, step: () => Promise<void>): Promise<number> {
  const saved = process.env;
  process.env = { ...env } as NodeJS.ProcessEnv;
  process.exitCode = undefined;
  try {
    await step();
  } finally {
    process.env = saved;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return code;
}

async function mainStep(
  current: MigrationSetup,
  runId: string,
  inputs: Record<string, string>,
  attempt = 1,
): Promise<StepResult> {
  const { env, output } = await jobEnv(current, runId, attempt, inputEnv(inputs));
  const exitCode = await asStep(env, () => runAction(env));
  return { exitCode, stdout: stepOutput(), outputs: await readFileCommands(output) };
}

async function checksums(current: MigrationSetup): Promise<TableChecksums> {
  const session = await current.adminSession();
  try {
    const all = await tableChecksums(session);
    return Object.fromEntries(Object.entries(all).filter(([table]) => table.toUpperCase() !== 'APIM_MIGRATE_LEDGER'));
  } finally {
    await session.close();
  }
}

async function seed(current: MigrationSetup): Promise<void> {
  const session = await current.adminSession();
  try {
    await createRegistrySchema(session);
    await seedRegistry(session, {
      seed: 5,
      resources: 40,
      versionsPerResource: 3,
      tenants: 1,
      versioningOffRows: 2,
      orphanEntities: 2,
    });
  } finally {
    await session.close();
  }
}

describe('an Actions job with store.kind folder', () => {
  it("stores the stage's backup in the folder under GitHub's run id, and a later run's restore finds it there", async () => {
    setup = await createMigrationSetup({
      engine: 'postgresql',
      flags: FLAGS,
      config: { store: { kind: 'folder', dir: './shared-store' } },
    });
    await seed(setup);
    const before = await checksums(setup);
    const store = path.join(setup.dir, 'shared-store');

    const migrate = await mainStep(setup, '9100', { stage: 'registry-scripts' });
    expect(migrate.exitCode, migrate.stdout).toBe(0);
    expect(errorCommands(migrate.stdout)).toEqual([]);
    expect(migrate.outputs['status']).toBe('succeeded');
    expect(migrate.outputs['backup-artifact']).toBe('apim-migrate-registry-scripts-backup-a1');
    expect(migrate.stdout).toContain(
      `Uploading apim-migrate-registry-scripts-backup-a1 (2 files) to local folder ${store}`,
    );
    expect(await readdir(path.join(store, 'runs'))).toEqual(['9100']);
    expect((await readdir(path.join(store, 'runs', '9100'))).sort()).toEqual([
      'apim-migrate-registry-scripts-backup-a1',
      'apim-migrate-registry-scripts-logs-a1',
      'apim-migrate-registry-scripts-report-a1',
    ]);
    const backup = path.join(store, 'runs', '9100', 'apim-migrate-registry-scripts-backup-a1');
    expect((await readdir(backup)).sort()).toEqual(['.artifact.json', 'apim_db.pgdump.zst.age', 'manifest.json']);
    const manifest = JSON.parse(await readFile(path.join(backup, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ runId: '9100', attempt: 1, stage: 'registry-scripts' });
    expect(await checksums(setup)).not.toEqual(before);
    // The report's path is the action's output: the report is in the folder store.
    expect(migrate.outputs['report']).toBe(
      path.join(store, 'runs', '9100', 'apim-migrate-registry-scripts-report-a1', 'report.json'),
    );

    // Another run rolls the stage back: the ledger names the backup and its run, which the folder store holds.
    const rollback = await mainStep(setup, '9200', { stage: 'restore', 'restore-stage': 'registry-scripts' });
    expect(rollback.exitCode, rollback.stdout).toBe(0);
    expect(rollback.outputs['status']).toBe('succeeded');
    expect(rollback.stdout).toContain(
      `Reading backup apim-migrate-registry-scripts-backup-a1 of run 9100 in place from local folder ${store}`,
    );
    expect(await checksums(setup)).toEqual(before);
    expect(await ledgerStates(setup)).toEqual([]);
    expect(await readdir(path.join(store, 'runs'))).toEqual(['9100', '9200']);
  });

  it('hands the post step the folder store with the logs a server stage gathers, as the config set it', async () => {
    setup = await createMigrationSetup({
      engine: 'postgresql',
      flags: FLAGS,
      config: { server: { timeoutMinutes: 1, stopGraceSeconds: 5 }, store: { kind: 'folder', dir: './shared-store' } },
    });
    await prepareServerStages(setup, { seed: 3, tenants: 1, behaviour: { slowMs: 5 } });
    expect((await mainStep(setup, '9600', { stage: 'registry-scripts' })).exitCode).toBe(0);
    const { env, output } = await jobEnv(setup, '9600', 1, inputEnv({ stage: 'identity' }));
    expect(await asStep(env, () => runAction(env)), stepOutput()).toBe(0);
    expect((await readFileCommands(output))['log-artifact']).toBe('apim-migrate-identity-logs-a1');
    // Every state the main step saved, in order: while the server ran, the logs were pending with the store's settings.
    const states = (await readFile(env['GITHUB_STATE'] ?? '', 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as ActionState);
    const pending = states.find((state) => state.pendingLogs !== undefined)?.pendingLogs;
    expect(pending?.store).toEqual({ kind: 'folder', dir: path.join(setup.dir, 'shared-store'), groupAccess: false });
    expect(states.at(-1)?.pendingLogs).toBeUndefined();
    const logs = path.join(setup.dir, 'shared-store', 'runs', '9600', 'apim-migrate-identity-logs-a1');
    expect(existsSync(logs)).toBe(true);
  });

  it('refuses GitHub artifacts in a run: step, saying to use the folder or S3 store', async () => {
    setup = await createMigrationSetup({ engine: 'postgresql', flags: FLAGS });
    const result = await mainStep(setup, '9300', { stage: 'registry-scripts' });
    expect(result.exitCode).toBe(2);
    expect(errorCommands(result.stdout)).toEqual([
      expect.stringContaining(
        'ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL are not set: the runner gives them to actions (uses: ...), not to run: steps; run apim-migrate as the action, or keep the artifacts elsewhere with store.kind: folder (store.dir) or s3 (store.bucket)',
      ),
    ]);
    expect(await ledgerStates(setup)).toEqual([]);
  });
});

describe('the post step stores pending logs in the store the main step used', () => {
  /** Logs a stage gathered and could not store, and the home whose wso2carbon.log joins them. */
  async function pendingLogs(password: string) {
    const dir = await temp.make();
    await writeFile(path.join(dir, 'console.log'), `started\nconnecting with ${password}\n`);
    const apimHome = await temp.make();
    await mkdir(path.join(apimHome, 'repository', 'logs'), { recursive: true });
    await writeFile(path.join(apimHome, 'repository', 'logs', 'wso2carbon.log'), 'INFO carbon started\n');
    return {
      dir,
      artifact: 'apim-migrate-identity-logs-a2',
      retentionDays: 30,
      apimHome,
      secretEnv: [PASSWORD_ENV.shared_db],
    };
  }

  async function postStep(runId: string, state: ActionState, password: string): Promise<string> {
    const env = {
      ...baseEnv(),
      GITHUB_ACTIONS: 'true',
      GITHUB_RUN_ID: runId,
      GITHUB_RUN_ATTEMPT: '2',
      [PASSWORD_ENV.shared_db]: password,
      [POST_STATE_ENV]: JSON.stringify(state),
    };
    const code = await asStep(env, () => runPost());
    const stdout = stepOutput();
    expect(code, stdout).toBe(0);
    expect(stdout).toContain(
      'apim-migrate post: stored the logs of stage identity, which ended before it could, as apim-migrate-identity-logs-a2 (2 files)',
    );
    return stdout;
  }

  it('in the folder store', async () => {
    const password = 'pw-post-folder-0427';
    const store = await temp.make();
    const logs = await pendingLogs(password);
    await postStep(
      '9400',
      {
        stage: 'identity',
        config: 'apim-migration.yml',
        pendingLogs: { ...logs, store: { kind: 'folder', dir: store, groupAccess: false } },
      },
      password,
    );
    const stored = path.join(store, 'runs', '9400', 'apim-migrate-identity-logs-a2');
    expect((await readdir(stored)).sort()).toEqual(['.artifact.json', 'console.log', 'wso2carbon.log']);
    expect(await readFile(path.join(stored, 'console.log'), 'utf8')).not.toContain(password);
  });

  it('in the S3 store, from its settings alone: the credentials come from the environment', async () => {
    const restoreAwsEnv = useS3rverCredentials();
    const s3 = await startS3Server();
    try {
      const password = 'pw-post-s3-8812';
      const logs = await pendingLogs(password);
      const settings = {
        bucket: s3.bucket,
        prefix: 'ci',
        region: S3RVER_REGION,
        endpoint: s3.endpoint,
        forcePathStyle: true,
      };
      const state: ActionState = {
        stage: 'identity',
        config: 'apim-migration.yml',
        pendingLogs: {
          ...logs,
          store: { kind: 's3', dir: path.join(logs.dir, 'unused'), groupAccess: false, s3: settings },
        },
      };
      expect(JSON.stringify(state)).not.toContain('S3RVER');
      const stdout = await postStep('9500', state, password);
      expect(stdout).toContain(
        `Stored apim-migrate-identity-logs-a2 in s3://${s3.bucket}/ci/runs/9500/apim-migrate-identity-logs-a2/`,
      );
      const base = 'ci/runs/9500/apim-migrate-identity-logs-a2/';
      expect(await s3.keys('ci/')).toEqual([
        `${base}.apim-migrate-artifact.json`,
        `${base}console.log`,
        `${base}wso2carbon.log`,
      ]);
      expect((await s3.read(`${base}console.log`)).toString('utf8')).not.toContain(password);
    } finally {
      await s3.close();
      restoreAwsEnv();
    }
  });
});
