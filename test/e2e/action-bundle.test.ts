/**
 * The BUILT action bundles (dist/main/index.js, dist/post/index.js) run as the runner runs them (test/helpers/runner.ts):
 * the inputs and their checks, the outputs and state a step writes, the artifact service credentials it needs, and
 * the post step's verdict on a job that left nothing behind. The tests never build: run `npm run build` first.
 */
import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGE_NAMES } from '../../src/core/results.js';
import { PG_PASSWORD_TEST_ROLE } from '../helpers/databases.js';
import { createRegistrySchema } from '../../src/demo/registry-seed.js';
import { connectForeign, type ForeignClient } from '../helpers/foreign-client.js';
import {
  baseEnv,
  BUNDLES,
  createMigrationSetup,
  requireBundles,
  rewriteConfig,
  runNodeScript,
  type MigrationSetup,
  type ScriptRun,
} from '../helpers/migration-setup.js';
import { startFakeArtifactService, type FakeArtifactService } from '../helpers/fake-artifact-service.js';
import {
  errorCommands,
  expectOnlyMasked,
  warningCommands,
  GITHUB_TOKEN,
  inputEnv,
  readFileCommands,
  runnerEnv,
  runnerFiles,
  STATE_NAME,
  type RunnerFiles,
  type RunnerJob,
} from '../helpers/runner.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

let setup: MigrationSetup;
let artifactService: FakeArtifactService;
const RUN_ID = '9876543210';
const temp = createTempDirs('apim-migrate-runner-');

beforeAll(async () => {
  requireBundles('main', 'post');
  setup = await createMigrationSetup({ engine: 'postgresql' });
  artifactService = await startFakeArtifactService();
});

afterAll(async () => {
  await setup?.cleanup();
  await artifactService?.close();
  await temp.cleanup();
});

function job(): RunnerJob {
  return { setup, service: artifactService, runId: RUN_ID, temp };
}

function runMain(files: RunnerFiles, inputs: Record<string, string>): Promise<ScriptRun> {
  return runNodeScript(BUNDLES.main, [], { cwd: setup.dir, env: runnerEnv(job(), files, inputEnv(inputs)) });
}

describe('the action main step (built dist/main/index.js)', () => {
  it("runs preflight and stores its report in GitHub's artifact store", async () => {
    const files = await runnerFiles(temp);
    const run = await runMain(files, { stage: 'preflight' });

    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(errorCommands(run.stdout)).toEqual([]);
    const outputs = await readFileCommands(files.output);
    expect(outputs['status']).toBe('succeeded');
    expect(outputs['report']).toMatch(/report\.json$/);
    const report = JSON.parse(await readFile(outputs['report'] ?? '', 'utf8')) as { stage: string; status: string };
    expect(report).toMatchObject({ stage: 'preflight', status: 'succeeded' });
    const stored = artifactService.artifacts().filter((artifact) => artifact.runId === RUN_ID);
    expect(stored.map((artifact) => [artifact.name, artifact.finalized])).toContainEqual([
      'apim-migrate-preflight-report-a1',
      true,
    ]);

    const summary = await readFile(files.summary, 'utf8');
    expect(summary).toContain('Preflight succeeded');
    expect(summary).toContain('apim-migrate-preflight-report-a1');

    // The state for the post step.
    const state = await readFileCommands(files.state);
    expect(JSON.parse(state[STATE_NAME] ?? '')).toEqual({ stage: 'preflight', config: 'apim-migration.yml' });

    // Nothing went to a local store in the workspace.
    await expect(stat(setup.storeDir)).rejects.toMatchObject({ code: 'ENOENT' });

    // The token and the database password are masked before anything could print them, and never printed.
    expect(run.stdout).toContain(`::add-mask::${GITHUB_TOKEN}`);
    expectOnlyMasked(GITHUB_TOKEN, run);
    for (const secret of setup.secrets) expectOnlyMasked(secret, run);
    expect(summary).not.toContain(GITHUB_TOKEN);
  });

  it('prints no deprecation warning of a bundled dependency, in the main step and the post step', async () => {
    const files = await runnerFiles(temp);
    const run = await runNodeScript(BUNDLES.main, [], {
      cwd: setup.dir,
      env: runnerEnv({ ...job(), runId: '9876543211' }, files, inputEnv({ stage: 'preflight' })),
    });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).not.toContain('DeprecationWarning');
    const state = await readFileCommands(files.state);
    const post = await runNodeScript(BUNDLES.post, [], {
      cwd: setup.dir,
      env: runnerEnv({ ...job(), runId: '9876543211' }, await runnerFiles(temp), {
        ...inputEnv({ stage: 'preflight' }),
        [`STATE_${STATE_NAME}`]: state[STATE_NAME] ?? '',
      }),
    });
    expect(post.code, post.stdout + post.stderr).toBe(0);
    expect(post.stderr).not.toContain('DeprecationWarning');
  });

  // A stage that changes data reads its backup back from the artifact store. @actions/artifact would unpack the
  // download with unzip-stream, whose newest version still calls `new Buffer()` (DEP0005); the store takes the zip
  // as is and unpacks it itself (src/core/zip.ts).
  it('prints no deprecation warning when it reads a backup back from the artifact store', async () => {
    const backedUp = await createMigrationSetup({ engine: 'postgresql' });
    try {
      const session = await backedUp.adminSession();
      try {
        await createRegistrySchema(session);
      } finally {
        await session.close();
      }
      const files = await runnerFiles(temp);
      const run = await runNodeScript(BUNDLES.main, [], {
        cwd: backedUp.dir,
        env: runnerEnv(
          { setup: backedUp, service: artifactService, runId: '9876543212', temp },
          files,
          inputEnv({ stage: 'registry-scripts' }),
        ),
      });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stderr).not.toContain('DeprecationWarning');
    } finally {
      await backedUp.cleanup();
    }
  });

  it('exits 2 as the CLI does when the database refuses the configured password, and 1 when it does not answer', async () => {
    const refused = await createMigrationSetup({
      engine: 'postgresql',
      username: PG_PASSWORD_TEST_ROLE.username,
      password: 'Wr0ng-Secret-action-7c2f',
    });
    try {
      const refusedJob: RunnerJob = { setup: refused, service: artifactService, runId: RUN_ID, temp };
      const files = await runnerFiles(temp);
      const action = await runNodeScript(BUNDLES.main, [], {
        cwd: refused.dir,
        env: runnerEnv(refusedJob, files, inputEnv({ stage: 'registry-scripts' })),
      });
      const cli = await runNodeScript(BUNDLES.cli, ['run', 'registry-scripts'], {
        cwd: refused.dir,
        env: baseEnv(refused.env),
      });
      expect(cli.code, cli.stdout + cli.stderr).toBe(2);
      expect(action.code, action.stdout + action.stderr).toBe(2);
      expect(errorCommands(action.stdout).join('\n')).toMatch(/authentication failed for user apim_migrate_pwtest/);
      // The first step that connects (the ledger's first reading, before the checks and the lock) is a step of the
      // stage: its failure still gives a summary, the outputs and a stored report.
      const summary = await readFile(files.summary, 'utf8');
      expect(summary).toContain('## ❌ apim-migrate: Registry scripts failed in Read the ledger');
      expect(summary).toMatch(
        /\| Read the ledger \| FAILED \|[^\n]*authentication failed for user apim\\_migrate\\_pwtest/,
      );
      const outputs = await readFileCommands(files.output);
      expect(outputs).toMatchObject({ status: 'failed', 'backup-artifact': '' });
      expect(outputs['report']).toMatch(/report\.json$/);

      // A database that does not answer fails the stage (1) in both.
      await rewriteConfig(refused, {
        databases: {
          apim_db: { url: 'jdbc:postgresql://127.0.0.1:1/none' },
          shared_db: { url: 'jdbc:postgresql://127.0.0.1:1/none' },
        },
      });
      const unanswered = await runNodeScript(BUNDLES.main, [], {
        cwd: refused.dir,
        env: runnerEnv(refusedJob, await runnerFiles(temp), inputEnv({ stage: 'registry-scripts' })),
      });
      const unansweredCli = await runNodeScript(BUNDLES.cli, ['run', 'registry-scripts'], {
        cwd: refused.dir,
        env: baseEnv(refused.env),
      });
      expect(unanswered.code, unanswered.stdout).toBe(1);
      expect(unansweredCli.code, unansweredCli.stdout + unansweredCli.stderr).toBe(1);
    } finally {
      await refused.cleanup();
    }
  });

  it('refuses registry-scripts while another client is connected, and with allow-connected-clients goes on, warning', async () => {
    const connected = await createMigrationSetup({ engine: 'postgresql' });
    let foreign: ForeignClient | undefined;
    try {
      const session = await connected.adminSession();
      try {
        await createRegistrySchema(session);
      } finally {
        await session.close();
      }
      foreign = await connectForeign('postgresql', connected.database, connected);
      await foreign.query("SELECT 'still-running 3.1.0 node'");
      let runs = 0;
      const run = async (inputs: Record<string, string>) => {
        // A run of its own each time: a report's name is never reused within a run's attempt.
        runs += 1;
        const connectedJob: RunnerJob = {
          setup: connected,
          service: artifactService,
          runId: `55501${runs}`,
          temp,
        };
        const files = await runnerFiles(temp);
        const result = await runNodeScript(BUNDLES.main, [], {
          cwd: connected.dir,
          env: runnerEnv(connectedJob, files, inputEnv(inputs)),
        });
        return { result, files };
      };

      const refused = await run({ stage: 'registry-scripts' });
      expect(refused.result.code, refused.result.stdout).toBe(1);
      expect(errorCommands(refused.result.stdout).join('\n')).toContain(
        'Registry scripts failed in Check for other connected clients',
      );
      const summary = await readFile(refused.files.summary, 'utf8');
      expect(summary).toContain('1 other client session is connected, so registry-scripts does not start');
      expect(await readFileCommands(refused.files.output)).toMatchObject({ status: 'failed', 'backup-artifact': '' });

      const wrong = await run({ stage: 'registry-scripts', 'allow-connected-clients': 'perhaps' });
      expect(wrong.result.code).toBe(2);
      expect(errorCommands(wrong.result.stdout)).toEqual([
        'input "allow-connected-clients" must be true or false, not "perhaps"',
      ]);

      const allowed = await run({ stage: 'registry-scripts', 'allow-connected-clients': 'true' });
      expect(allowed.result.code, allowed.result.stdout).toBe(0);
      const warnings = warningCommands(allowed.result.stdout).join('\n');
      expect(warnings).toContain('1 other client session is connected, and registry-scripts goes on');
      expect(warnings).toContain("SELECT 'still-running 3.1.0 node'");
      for (const secret of connected.secrets) expectOnlyMasked(secret, allowed.result);
    } finally {
      await foreign?.close();
      await connected.cleanup();
    }
  });

  it('fails clearly in a run: step, where the runner gives no artifact service token', async () => {
    const files = await runnerFiles(temp);
    const env = { ...runnerEnv(job(), files, inputEnv({ stage: 'preflight' })), ACTIONS_RUNTIME_TOKEN: undefined };
    const run = await runNodeScript(BUNDLES.main, [], { cwd: setup.dir, env });
    expect(run.code).toBe(2);
    expect(errorCommands(run.stdout)).toEqual([
      'ACTIONS_RUNTIME_TOKEN is not set: the runner gives it to actions (uses: ...), not to run: steps; run apim-migrate as the action, or keep the artifacts elsewhere with store.kind: folder (store.dir) or s3 (store.bucket)',
    ]);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
  });

  it('the post step, given the state the main step wrote, exits 0 with nothing to clean up', async () => {
    const files = await runnerFiles(temp);
    const main = await runMain(files, { stage: 'preflight' });
    expect(main.code).toBe(1);
    const state = await readFileCommands(files.state);
    expect(JSON.parse(state[STATE_NAME] ?? 'null')).toEqual({ stage: 'preflight', config: 'apim-migration.yml' });

    const postFiles = await runnerFiles(temp);
    const post = await runNodeScript(BUNDLES.post, [], {
      cwd: setup.dir,
      env: runnerEnv(job(), postFiles, {
        ...inputEnv({ stage: 'preflight' }),
        [`STATE_${STATE_NAME}`]: state[STATE_NAME] ?? '',
      }),
    });
    expect(post.code, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).toMatch(/stage preflight .*nothing to clean up/);
    expect(post.stdout).not.toContain('::error');
    expect(post.stdout).not.toContain('::warning');
    expectOnlyMasked(GITHUB_TOKEN, post);
  });

  it('an invalid stage input fails naming the allowed stages, and leaves the post step nothing to do', async () => {
    const files = await runnerFiles(temp);
    const run = await runMain(files, { stage: 'migrate-everything' });
    expect(run.code).toBe(2);
    const errors = errorCommands(run.stdout);
    expect(errors).toEqual([
      `input "stage" is "migrate-everything"; it must be one of ${[...STAGE_NAMES, 'restore'].join(', ')}`,
    ]);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
    expect(await readFile(files.summary, 'utf8')).toContain('migrate-everything');
    expect(await readFileCommands(files.state)).toEqual({});
    expectOnlyMasked(GITHUB_TOKEN, run);

    const post = await runNodeScript(BUNDLES.post, [], {
      cwd: setup.dir,
      env: runnerEnv(job(), await runnerFiles(temp), inputEnv({ stage: 'migrate-everything' })),
    });
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('the main step saved no state; nothing to clean up');
  });

  it('an invalid dry-run input fails clearly', async () => {
    const files = await runnerFiles(temp);
    const run = await runMain(files, { stage: 'preflight', 'dry-run': 'yes please' });
    expect(run.code).toBe(2);
    expect(errorCommands(run.stdout)).toEqual(['input "dry-run" must be true or false, not "yes please"']);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
    expect(await readFile(files.summary, 'utf8')).toContain('yes please');
    expectOnlyMasked(GITHUB_TOKEN, run);
  });

  it('stage restore without restore-stage fails naming the input', async () => {
    const files = await runnerFiles(temp);
    const run = await runMain(files, { stage: 'restore' });
    expect(run.code).toBe(2);
    expect(errorCommands(run.stdout)).toEqual([
      'stage "restore" needs the input restore-stage: one of preflight, registry-scripts, identity, apim-validate, apim, verify, startup',
    ]);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
  });

  it('a missing stage input fails naming the input', async () => {
    const files = await runnerFiles(temp);
    const run = await runMain(files, { stage: '' });
    expect(run.code).toBe(2);
    expect(errorCommands(run.stdout)).toEqual([
      'input "stage" is required: set it to one of preflight, registry-scripts, identity, apim-validate, apim, verify, startup, restore (with: stage: preflight)',
    ]);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
  });
});
