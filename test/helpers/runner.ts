/**
 * The GitHub runner, as far as the built action bundles (dist/main/index.js, dist/post/index.js) can tell: a job's
 * steps run as their own `node` processes with the inputs as INPUT_<NAME> variables (upper case, hyphens kept), the
 * file commands through fresh GITHUB_OUTPUT / GITHUB_STATE / GITHUB_STEP_SUMMARY files per step, one RUNNER_TEMP per
 * job, the artifact service's credentials (ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL) and the REST API
 * (GITHUB_API_URL) pointed at the local fake artifact service, and the post step given every value the main step
 * saved as STATE_<name>. The tests never build: run `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import yauzl from 'yauzl';
import type { FakeArtifact, FakeArtifactService } from './fake-artifact-service.js';
import { baseEnv, BUNDLES, runNodeScript, type MigrationSetup, type ScriptRun } from './migration-setup.js';
import type { createTempDirs } from './wso2-fixtures.js';

/** The `github-token` input of every step: it must never be printed. */
export const GITHUB_TOKEN = 'ghs_e2eTokenThatMustNeverBePrinted0123456789';
/** The name the action saves its state under (STATE_apim-migrate in the post step). */
export const STATE_NAME = 'apim-migrate';
export const REPOSITORY = 'example/wso2-migration';

type TempDirs = ReturnType<typeof createTempDirs>;

/** Who runs a job: the migration setup (workspace and secrets), the artifact service, the run and its attempt. */
export interface RunnerJob {
  setup: MigrationSetup;
  service: FakeArtifactService;
  /** GITHUB_RUN_ID. */
  runId: string;
  /** GITHUB_RUN_ATTEMPT; default 1. */
  attempt?: number;
  temp: TempDirs;
}

export interface RunnerFiles {
  output: string;
  state: string;
  summary: string;
  runnerTemp: string;
}

/** The files the runner gives one step: empty command files, and the job's RUNNER_TEMP (a new one by default). */
export async function runnerFiles(temp: TempDirs, runnerTemp?: string): Promise<RunnerFiles> {
  const dir = await temp.make();
  const files = {
    output: path.join(dir, 'github_output'),
    state: path.join(dir, 'github_state'),
    summary: path.join(dir, 'step_summary.md'),
    runnerTemp: runnerTemp ?? dir,
  };
  for (const file of [files.output, files.state, files.summary]) await writeFile(file, '');
  return files;
}

/** The action's inputs as the runner passes them, the defaults of action.yml filled in. */
export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  const withDefaults: Record<string, string> = {
    config: 'apim-migration.yml',
    'dry-run': 'false',
    force: 'false',
    'github-token': GITHUB_TOKEN,
    'restore-stage': '',
    'restore-from-run': '',
    ...inputs,
  };
  // The runner upper-cases the name and keeps hyphens: dry-run -> INPUT_DRY-RUN.
  return Object.fromEntries(
    Object.entries(withDefaults).map(([name, value]) => [`INPUT_${name.replace(/ /g, '_').toUpperCase()}`, value]),
  );
}

/** The environment of a step of `job`: the setup's secrets, the runner's variables, then `extra`. */
export function runnerEnv(
  job: RunnerJob,
  files: RunnerFiles,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  const attempt = job.attempt ?? 1;
  return baseEnv({
    ...job.setup.env,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_RUN_ID: job.runId,
    GITHUB_RUN_ATTEMPT: String(attempt),
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: job.service.url,
    ACTIONS_RUNTIME_TOKEN: job.service.token(job.runId, attempt),
    ACTIONS_RESULTS_URL: job.service.url,
    GITHUB_WORKSPACE: job.setup.dir,
    GITHUB_REPOSITORY: REPOSITORY,
    RUNNER_TEMP: files.runnerTemp,
    ...extra,
  });
}

/**
 * Reads a file-command file (GITHUB_OUTPUT, GITHUB_STATE): `name<<DELIMITER`, value lines, `DELIMITER`, or the
 * one-line `name=value`. A name written again replaces the earlier value, as the runner does.
 */
export async function readFileCommands(file: string): Promise<Record<string, string>> {
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
export function errorCommands(stdout: string): string[] {
  return workflowCommands(stdout, 'error');
}

/** The messages of the `::warning::` workflow commands on stdout, unescaped as the runner does. */
export function warningCommands(stdout: string): string[] {
  return workflowCommands(stdout, 'warning');
}

/**
 * The lines the runner would take for workflow commands (actions/runner src/Runner.Common/ActionCommand.cs): `##[`
 * anywhere (TryParse), `::` at the start once leading whitespace is trimmed (TryParseV2); lines end at CR, LF or CRLF
 * (.NET ReadLine).
 */
export function commandLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((line) => line.includes('##[') || line.trimStart().startsWith('::'));
}

function workflowCommands(stdout: string, command: string): string[] {
  return stdout
    .split(/\r?\n/)
    .filter((line) => line.startsWith(`::${command}::`) || line.startsWith(`::${command} `))
    .map((line) => unescapeData(line.slice(line.indexOf('::', 2) + 2)));
}

function unescapeData(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

/** A secret may reach stdout or stderr only inside the `::add-mask::` command that tells the runner to hide it. */
export function expectOnlyMasked(secret: string, run: ScriptRun): void {
  const lines = `${run.stdout}\n${run.stderr}`.split(/\r?\n/).filter((line) => line.includes(secret));
  for (const line of lines) expect(line).toBe(`::add-mask::${secret}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Steps and jobs

/** What one step left: its process, and the file commands it wrote. */
export interface StepRun {
  run: ScriptRun;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  files: RunnerFiles;
}

/** One job: the main step, then the post step given the main step's state (`post-if: always()`). */
export interface JobRun {
  main: StepRun;
  post: StepRun;
}

export interface StepOptions {
  /** The job's RUNNER_TEMP; default a new folder. */
  runnerTemp?: string;
  /** Kills the step after this long (default 120 s). */
  timeoutMs?: number;
}

async function stepRun(run: ScriptRun, files: RunnerFiles): Promise<StepRun> {
  return {
    run,
    outputs: await readFileCommands(files.output),
    state: await readFileCommands(files.state),
    summary: await readFile(files.summary, 'utf8'),
    files,
  };
}

/** Runs the action's main step with these inputs. */
export async function runMainStep(
  job: RunnerJob,
  inputs: Record<string, string>,
  options: StepOptions = {},
): Promise<StepRun> {
  const files = await runnerFiles(job.temp, options.runnerTemp);
  const run = await runNodeScript(BUNDLES.main, [], {
    cwd: job.setup.dir,
    env: runnerEnv(job, files, inputEnv(inputs)),
    timeoutMs: options.timeoutMs ?? 120_000,
  });
  return stepRun(run, files);
}

/** Runs the action's post step with the same inputs and, as STATE_<name>, every value the main step saved. */
export async function runPostStep(
  job: RunnerJob,
  inputs: Record<string, string>,
  mainState: Record<string, string>,
  options: StepOptions = {},
): Promise<StepRun> {
  const files = await runnerFiles(job.temp, options.runnerTemp);
  const state = Object.fromEntries(Object.entries(mainState).map(([name, value]) => [`STATE_${name}`, value]));
  const run = await runNodeScript(BUNDLES.post, [], {
    cwd: job.setup.dir,
    env: runnerEnv(job, files, { ...inputEnv(inputs), ...state }),
    timeoutMs: options.timeoutMs ?? 120_000,
  });
  return stepRun(run, files);
}

/** Runs a job of the action: the main step, then the post step with its state, sharing one RUNNER_TEMP. */
export async function runJob(job: RunnerJob, inputs: Record<string, string>): Promise<JobRun> {
  const runnerTemp = await job.temp.make();
  const main = await runMainStep(job, inputs, { runnerTemp });
  const post = await runPostStep(job, inputs, main.state, { runnerTemp });
  return { main, post };
}

/** A main step that is still running, for tests that cancel it. */
export interface RunningStep {
  pid: number;
  files: RunnerFiles;
  /** The values the step has saved so far. */
  state(): Promise<Record<string, string>>;
  /** Cancels the step as the runner cancels a job (see {@link cancelStep}) and returns what it left. */
  cancel(options?: CancelOptions): Promise<StepRun>;
  /** Resolves when the process has ended. */
  ended: Promise<ScriptRun>;
}

export interface CancelOptions {
  /** From SIGINT to SIGTERM; the runner waits 7.5 s. */
  termAfterMs?: number;
  /** From SIGTERM to SIGKILL; the runner waits 2.5 s. */
  killAfterMs?: number;
}

/** Starts the action's main step and returns at once. */
export async function startMainStep(
  job: RunnerJob,
  inputs: Record<string, string>,
  options: StepOptions = {},
): Promise<RunningStep> {
  const files = await runnerFiles(job.temp, options.runnerTemp);
  const child = spawn(process.execPath, [BUNDLES.main], {
    cwd: job.setup.dir,
    env: runnerEnv(job, files, inputEnv(inputs)) as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  let exited = false;
  const ended = new Promise<ScriptRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
  const endedWithin = (ms: number) =>
    Promise.race([ended.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(exited), ms))]);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  void ended.finally(() => clearTimeout(timer)).catch(() => undefined);
  if (child.pid === undefined) throw new Error(`could not start ${BUNDLES.main}`);
  return {
    pid: child.pid,
    files,
    state: () => readFileCommands(files.state),
    ended,
    async cancel(cancel: CancelOptions = {}) {
      // The runner's cancellation: SIGINT, then SIGTERM, then SIGKILL, each only if the step is still there.
      child.kill('SIGINT');
      if (!(await endedWithin(cancel.termAfterMs ?? 7_500))) {
        child.kill('SIGTERM');
        if (!(await endedWithin(cancel.killAfterMs ?? 2_500))) child.kill('SIGKILL');
      }
      return stepRun(await ended, files);
    },
  };
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Artifacts

/** The finalized artifacts of a run in the fake service, as `name` sorted. */
export function storedArtifactNames(service: FakeArtifactService, runId: string): string[] {
  return service
    .artifacts()
    .filter((artifact) => artifact.runId === runId && artifact.finalized)
    .map((artifact) => artifact.name)
    .sort();
}

/** The files inside an artifact's zip, by name. */
export function artifactFiles(artifact: FakeArtifact): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(artifact.content, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      const files = new Map<string, Buffer>();
      zip.on('error', reject);
      zip.on('end', () => resolve(files));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError) return reject(streamError);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('error', reject);
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}
