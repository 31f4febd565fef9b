/**
 * The BUILT action bundles (dist/main/index.js, dist/post/index.js) run as the runner runs them: inputs as
 * INPUT_<NAME> variables (upper case, hyphens kept), file commands through GITHUB_OUTPUT / GITHUB_STATE /
 * GITHUB_STEP_SUMMARY, the post step given the main step's state as STATE_<name>. The tests never build: run
 * `npm run build` first.
 *
 * In this version GitHub's artifact store is not there yet, so the action must refuse clearly and point at the CLI.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGE_NAMES } from '../../src/stages/types.js';
import {
  baseEnv,
  BUNDLES,
  createMigrationSetup,
  requireBundles,
  runNodeScript,
  type MigrationSetup,
  type ScriptRun,
} from '../helpers/migration-setup.js';
import { startFakeArtifactService, type FakeArtifactService } from '../helpers/fake-artifact-service.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const TOKEN = 'ghs_e2eTokenThatMustNeverBePrinted0123456789';
const STATE_NAME = 'apim-migrate';

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

interface RunnerFiles {
  output: string;
  state: string;
  summary: string;
  runnerTemp: string;
}

/** The files and folders the runner gives every step: empty command files and a RUNNER_TEMP. */
async function runnerFiles(): Promise<RunnerFiles> {
  const dir = await temp.make();
  const files = {
    output: path.join(dir, 'github_output'),
    state: path.join(dir, 'github_state'),
    summary: path.join(dir, 'step_summary.md'),
    runnerTemp: dir,
  };
  for (const file of [files.output, files.state, files.summary]) await writeFile(file, '');
  return files;
}

/** The action's inputs as the runner passes them, the defaults of action.yml filled in. */
function inputEnv(inputs: Record<string, string>): Record<string, string> {
  const withDefaults: Record<string, string> = {
    config: 'apim-migration.yml',
    'dry-run': 'false',
    force: 'false',
    'github-token': TOKEN,
    'restore-stage': '',
    'restore-from-run': '',
    ...inputs,
  };
  // The runner upper-cases the name and keeps hyphens: dry-run -> INPUT_DRY-RUN.
  return Object.fromEntries(
    Object.entries(withDefaults).map(([name, value]) => [`INPUT_${name.replace(/ /g, '_').toUpperCase()}`, value]),
  );
}

function runnerEnv(files: RunnerFiles, extra: Record<string, string>): Record<string, string | undefined> {
  return baseEnv({
    ...setup.env,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_RUN_ID: RUN_ID,
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    ACTIONS_RUNTIME_TOKEN: artifactService.token(RUN_ID),
    ACTIONS_RESULTS_URL: artifactService.url,
    GITHUB_WORKSPACE: setup.dir,
    GITHUB_REPOSITORY: 'example/wso2-migration',
    RUNNER_TEMP: files.runnerTemp,
    ...extra,
  });
}

function runMain(files: RunnerFiles, inputs: Record<string, string>): Promise<ScriptRun> {
  return runNodeScript(BUNDLES.main, [], { cwd: setup.dir, env: runnerEnv(files, inputEnv(inputs)) });
}

/**
 * Reads a file-command file (GITHUB_OUTPUT, GITHUB_STATE): `name<<DELIMITER`, value lines, `DELIMITER`, or the
 * one-line `name=value`.
 */
async function readFileCommands(file: string): Promise<Record<string, string>> {
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/);
  const values: Record<string, string> = {};
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index] ?? '';
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc?.[1] && heredoc[2]) {
      const end = lines.indexOf(heredoc[2], index + 1);
      if (end === -1) throw new Error(`${file}: delimiter ${heredoc[2]} of ${heredoc[1]} is never closed`);
      values[heredoc[1]] = lines.slice(index + 1, end).join('\n');
      index = end;
      continue;
    }
    const simple = /^([^=]+)=(.*)$/.exec(line);
    if (!simple?.[1]) throw new Error(`${file}: not a file command: ${line}`);
    values[simple[1]] = simple[2] ?? '';
  }
  return values;
}

/** The messages of the `::error::` workflow commands on stdout, unescaped as the runner does. */
function errorCommands(stdout: string): string[] {
  return stdout
    .split(/\r?\n/)
    .filter((line) => line.startsWith('::error::') || line.startsWith('::error '))
    .map((line) => unescapeData(line.slice(line.indexOf('::', 2) + 2)));
}

function unescapeData(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

/** A secret may reach stdout only inside the `::add-mask::` command that tells the runner to hide it. */
function expectOnlyMasked(secret: string, run: ScriptRun): void {
  const lines = `${run.stdout}\n${run.stderr}`.split(/\r?\n/).filter((line) => line.includes(secret));
  for (const line of lines) expect(line).toBe(`::add-mask::${secret}`);
}

describe('the action main step (built dist/main/index.js)', () => {
  it("runs preflight and stores its report in GitHub's artifact store", async () => {
    const files = await runnerFiles();
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
    expect(run.stdout).toContain(`::add-mask::${TOKEN}`);
    expectOnlyMasked(TOKEN, run);
    for (const secret of setup.secrets) expectOnlyMasked(secret, run);
    expect(summary).not.toContain(TOKEN);
  });

  it('fails clearly in a run: step, where the runner gives no artifact service token', async () => {
    const files = await runnerFiles();
    const env = { ...runnerEnv(files, inputEnv({ stage: 'preflight' })), ACTIONS_RUNTIME_TOKEN: undefined };
    const run = await runNodeScript(BUNDLES.main, [], { cwd: setup.dir, env });
    expect(run.code).toBe(1);
    expect(errorCommands(run.stdout)).toEqual([
      'ACTIONS_RUNTIME_TOKEN is not set: the runner gives it to actions (uses: ...), not to run: steps; run apim-migrate as the action, or use the CLI with the local folder store (store.dir)',
    ]);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
  });

  it('the post step, given the state the main step wrote, exits 0 with nothing to clean up', async () => {
    const files = await runnerFiles();
    const main = await runMain(files, { stage: 'preflight' });
    expect(main.code).toBe(1);
    const state = await readFileCommands(files.state);
    expect(state[STATE_NAME]).toBeDefined();

    const postFiles = await runnerFiles();
    const post = await runNodeScript(BUNDLES.post, [], {
      cwd: setup.dir,
      env: runnerEnv(postFiles, {
        ...inputEnv({ stage: 'preflight' }),
        [`STATE_${STATE_NAME}`]: state[STATE_NAME] ?? '',
      }),
    });
    expect(post.code, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).toMatch(/stage preflight .*nothing to clean up/);
    expect(post.stdout).not.toContain('::error');
    expect(post.stdout).not.toContain('::warning');
    expectOnlyMasked(TOKEN, post);
  });

  it('an invalid stage input fails naming the allowed stages, and leaves the post step nothing to do', async () => {
    const files = await runnerFiles();
    const run = await runMain(files, { stage: 'migrate-everything' });
    expect(run.code).toBe(1);
    const errors = errorCommands(run.stdout);
    expect(errors).toEqual([
      `input "stage" is "migrate-everything"; it must be one of ${[...STAGE_NAMES, 'restore'].join(', ')}`,
    ]);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
    expect(await readFile(files.summary, 'utf8')).toContain('migrate-everything');
    expect(await readFileCommands(files.state)).toEqual({});
    expectOnlyMasked(TOKEN, run);

    const post = await runNodeScript(BUNDLES.post, [], {
      cwd: setup.dir,
      env: runnerEnv(await runnerFiles(), inputEnv({ stage: 'migrate-everything' })),
    });
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('the main step saved no state; nothing to clean up');
  });

  it('an invalid dry-run input fails clearly', async () => {
    const files = await runnerFiles();
    const run = await runMain(files, { stage: 'preflight', 'dry-run': 'yes please' });
    expect(run.code).toBe(1);
    expect(errorCommands(run.stdout)).toEqual(['input "dry-run" must be true or false, not "yes please"']);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
    expect(await readFile(files.summary, 'utf8')).toContain('yes please');
    expectOnlyMasked(TOKEN, run);
  });

  it('stage restore without restore-stage fails naming the input', async () => {
    const files = await runnerFiles();
    const run = await runMain(files, { stage: 'restore' });
    expect(run.code).toBe(1);
    expect(errorCommands(run.stdout)).toEqual([
      'stage "restore" needs the input restore-stage: one of preflight, registry-scripts, identity, apim-validate, apim, verify',
    ]);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
  });

  it('a missing stage input fails naming the input', async () => {
    const files = await runnerFiles();
    const run = await runMain(files, { stage: '' });
    expect(run.code).toBe(1);
    expect(errorCommands(run.stdout)).toEqual(['Input required and not supplied: stage']);
    expect(await readFileCommands(files.output)).toEqual({ status: 'failed' });
  });
});
