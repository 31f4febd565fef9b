/**
 * Runs the API-M server for one migration run: starts it in its own process group, streams its console output
 * to a log file and through the log matcher, reports progress, and stops it once the verdict is known (the
 * server never exits by itself after a migration). Stopping is graceful first (`api-manager.sh --stop`), then
 * SIGTERM to the group, then SIGKILL once `stopGraceMs` has passed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/format.js';
import { makePrivateDir, openPrivateWriteStream } from '../core/private-files.js';
import type { Logger } from '../log/logger.js';
import {
  createLogMatcher,
  parseLogRecord,
  stopDecision,
  type InvalidDefinition,
  type LogEvent,
  type ServerRunKind,
} from './log-matcher.js';
import { createConsoleTail } from './console-tail.js';
import type { ProblemText } from './problem-lines.js';
import { procStatFields, readCommandLine, readProcessIdentity, type ProcessIdentity } from './process-identity.js';
import type { ServerCommand } from './server-command.js';
import { createRunMonitor, type ActivityProbe } from './run-monitor.js';
import { scrubbedServerEnv } from './server-env.js';

export type { InvalidDefinition, InvalidDefinitionKind, ServerRunKind } from './log-matcher.js';
export type { ProblemText } from './problem-lines.js';
export type { ActivityProbe, SessionActivity } from './run-monitor.js';

/** How long a failure's stack trace may take to arrive before the server is stopped. */
export const TRACE_GRACE_MS = 1_000;

export interface RunServerOptions {
  command: ServerCommand;
  /** The API-M home: the working folder of the server, where `wso2carbon.pid` lies. */
  home: string;
  kind: ServerRunKind;
  /** Where the console output goes (appended); its folder is created. */
  logFile: string;
  /** Hides secrets in every line before it is written, kept or logged (a server may log a password). */
  mask?: (line: string) => string;
  /** The run fails when no verdict is known by then. */
  timeoutMs: number;
  /** From the graceful stop to SIGKILL. */
  stopGraceMs: number;
  /** ERROR lines of the migration client that do not fail the run; default WSO2's own list. */
  harmlessErrors?: ReadonlyArray<RegExp | string>;
  /** ERROR lines of the server outside the client's run fail it too (`server.failOnAnyError`). */
  failOnAnyError?: boolean;
  /**
   * After the identity core's "Waiting for migration client.", how long the client may take to start before the run
   * fails (`server.clientStartSeconds`); default 300 s. The server stalls there for good when the client's bundle is
   * missing or not ACTIVE.
   */
  clientStartMs?: number;
  logger: Logger;
  /** How often elapsed time and the last migration line are printed; default 30 s. */
  progressIntervalMs?: number;
  /**
   * Once a failure is known, how long the client may go on before the server is stopped anyway (so that the
   * log holds the rest of its errors); default 60 s. The server is stopped earlier when the client finishes.
   */
  failureSettleMs?: number;
  /** Reads what the server's database sessions are doing, for the progress lines and the stall warning. */
  activityProbe?: ActivityProbe;
  /** How long one read of the probe may take (default 10 s). */
  probeTimeoutMs?: number;
  /** After this long without a line of the server, one warning per silent stretch (`server.stallWarnMinutes`). */
  stallWarnMs?: number;
  /** Called with the process-group id as soon as the server runs, e.g. to hand it to the post step. */
  onStarted?(pid: number): void | Promise<void>;
  /**
   * Called with each WARN/ERROR record of the run and its stack trace (and the JVM's own failure lines), masked, once
   * each is complete: where the stage looks for known problems (see problem-lines.ts).
   */
  onProblemText?(problem: ProblemText): void;
  env?: NodeJS.ProcessEnv;
}

export interface RunServerResult {
  verdict: 'succeeded' | 'failed';
  /** One sentence for people: why. */
  reason: string;
  /** The last lines of the console output (at most 50). */
  lastLines: string[];
  invalidDefinitions: InvalidDefinition[];
  /** ERROR lines of the migration client that failed the run, and the harmless ones that did not. */
  clientErrors: string[];
  harmlessErrors: string[];
  /** ERROR lines of the server outside the client's run: warnings, unless failOnAnyError. */
  serverErrors: string[];
  /** The warnings about a silent log (the server was left running). */
  stallWarnings: string[];
  durationMs: number;
  /** How the server process ended: one of the two is set. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The process-group id, when the server started. */
  pid?: number;
  /** How the server was stopped, when it had to be. */
  stop?: StopServerResult;
  logFile: string;
  /**
   * The WARN/ERROR records (with their traces) after which the migration client printed no line of its own: the
   * last words of a run that stalled or died (e.g. "Waiting for migration client."). At most 20, the latest.
   */
  problemTextsAfterLastClientLine: ProblemText[];
}

/** A failed server run as an error: the message carries the reason and the last lines of output. */
export class ServerRunError extends Error {
  readonly exitCode = 1;
  readonly result: RunServerResult;

  constructor(result: RunServerResult) {
    const tail = result.lastLines.map((line) => `  ${line}`).join('\n');
    super(
      `${result.reason}\nThe last ${result.lastLines.length} lines of the server output (all of it is in ${result.logFile}):\n${tail}`,
    );
    this.name = 'ServerRunError';
    this.result = result;
  }
}

type Trigger =
  | { type: 'verdict' }
  | { type: 'settled' }
  | { type: 'timeout' }
  | { type: 'client-stall' }
  | { type: 'exit' }
  | { type: 'spawn-error'; error: Error };

const CLIENTS: Record<ServerRunKind, string> = {
  identity: 'identity migration client',
  'apim-validate': 'API-M pre-migration validation',
  apim: 'API-M migration client',
};

/** Runs the server until the verdict is known, stops it, and returns what happened. Never throws for a failed run. */
export async function runServer(options: RunServerOptions): Promise<RunServerResult> {
  const { command, logger, kind } = options;
  const startedAt = Date.now();
  const matcher = createLogMatcher(kind, {
    ...(options.harmlessErrors ? { harmlessErrors: options.harmlessErrors } : {}),
    ...(options.failOnAnyError ? { failOnAnyError: true } : {}),
  });
  const clientStartMs = options.clientStartMs ?? 300_000;
  // Its problem texts are those after the client's last line: forgotten at each progress line.
  const tail = createConsoleTail(options.onProblemText, logger);
  let stallTimer: NodeJS.Timeout | undefined;

  const monitor = createRunMonitor({
    logger,
    ...(options.activityProbe ? { probe: options.activityProbe } : {}),
    ...(options.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: options.probeTimeoutMs }),
    ...(options.stallWarnMs === undefined ? {} : { stallWarnMs: options.stallWarnMs }),
  });
  await makePrivateDir(path.dirname(options.logFile));
  const logStream = await openPrivateWriteStream(options.logFile, 'a');
  logStream.on('error', (error) => logger.warning(`Cannot write ${options.logFile}: ${errorMessage(error)}`));
  const timers: NodeJS.Timeout[] = [];
  let settleTimer: NodeJS.Timeout | undefined;
  // A failure decided by a record whose stack trace follows it: stopped at the next record, or TRACE_GRACE_MS later.
  let traceTimer: NodeJS.Timeout | undefined;

  let fired = false;
  let fire: (trigger: Trigger) => void = () => undefined;
  const triggered = new Promise<Trigger>((resolve) => {
    fire = (trigger) => {
      if (fired) return;
      fired = true;
      resolve(trigger);
    };
  });

  logger.info(`Starting the server: ${command.display}`);
  logger.info(`Its console output goes to ${options.logFile}`);
  const child = spawnServerGroup(command, {
    home: options.home,
    stdio: 'pipe',
    ...(options.env ? { env: options.env } : {}),
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  child.once('error', (error) => fire({ type: 'spawn-error', error }));

  // The lines of one read from the pipe go to the log file in one write: one queued chunk per line made the
  // runner spend more time on the file than on matching (bench/log-watching.ts).
  let pendingLog = '';
  const flushLog = (): void => {
    if (pendingLog !== '' && !logStream.writableEnded) logStream.write(pendingLog);
    pendingLog = '';
  };
  const onLine = (raw: string): void => {
    monitor.lineSeen();
    const line = options.mask ? options.mask(raw) : raw;
    if (pendingLog === '') setImmediate(flushLog);
    pendingLog += `${line}\n`;
    tail.keep(line);
    // Once the run is decided, what follows is the stop's doing (shutdown lines): logged, never judged.
    if (fired) return;
    const record = parseLogRecord(line);
    if (traceTimer !== undefined) {
      // The failing record's trace ends where the next record starts.
      if (record) fire({ type: 'verdict' });
      else tail.examine(line, record);
      return;
    }
    tail.examine(line, record);
    for (const event of matcher.pushParsed(record)) {
      if (event.type === 'progress' || event.type === 'client-started') tail.forgetProblemTexts();
      reportEvent(event, kind, logger);
      if (event.type === 'waiting-for-client' && stallTimer === undefined && !fired) {
        stallTimer = setTimeout(() => {
          if (matcher.state().waitingForClient) fire({ type: 'client-stall' });
        }, clientStartMs);
        timers.push(stallTimer);
      }
    }
    if (fired) return;
    const status = matcher.status();
    const decision = stopDecision(status);
    if (decision === 'stop' && status.verdict === 'failed') {
      // The client logs the failure with its exception (WSO2's log.error(message, e)): the trace lines follow.
      traceTimer = setTimeout(() => fire({ type: 'verdict' }), TRACE_GRACE_MS);
      timers.push(traceTimer);
    } else if (decision === 'stop') fire({ type: 'verdict' });
    else if (decision === 'settle' && settleTimer === undefined) {
      settleTimer = setTimeout(() => fire({ type: 'settled' }), options.failureSettleMs ?? 60_000);
      timers.push(settleTimer);
    }
  };
  const streamsClosed = Promise.all(
    [child.stdout, child.stderr].map(async (stream) => {
      if (!stream) return;
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', onLine);
      await once(lines, 'close');
    }),
  );

  void exited.then(async () => {
    // Let the last lines arrive before judging an exit.
    await withTimeout(streamsClosed, 2_000);
    fire({ type: 'exit' });
  });
  timers.push(setTimeout(() => fire({ type: 'timeout' }), options.timeoutMs));
  const progress = setInterval(() => {
    const last = matcher.state().lastProgress;
    const elapsed = describeRunTime(Date.now() - startedAt);
    void monitor.progressLines().then((sessions) => {
      if (fired) return;
      logger.info([`${elapsed}; last migration line: ${last ?? '(none yet)'}`, ...sessions].join('\n'));
    });
  }, options.progressIntervalMs ?? 30_000);
  const stallCheck =
    monitor.stallCheckMs === undefined ? undefined : setInterval(() => void monitor.checkStall(), monitor.stallCheckMs);

  const pid = child.pid;
  let stop: StopServerResult | undefined;
  let trigger: Trigger;
  try {
    if (pid !== undefined) await options.onStarted?.(pid);
    trigger = await triggered;
  } finally {
    fired = true;
    for (const timer of timers) clearTimeout(timer);
    clearInterval(progress);
    clearInterval(stallCheck);
    if (pid !== undefined) {
      stop = await stopServerGroup(pid, {
        command,
        home: options.home,
        graceMs: options.stopGraceMs,
        logger,
        ...(options.env ? { env: options.env } : {}),
      });
    }
    await withTimeout(streamsClosed, 5_000);
    // A process that outlived SIGKILL may still hold the pipes: let go of them.
    child.stdout?.destroy();
    child.stderr?.destroy();
    flushLog();
    await new Promise<void>((resolve) => logStream.end(resolve));
  }
  tail.flush();
  const exit = pid === undefined ? undefined : await withTimeout(exited, 5_000);
  const code = exit?.code ?? null;
  const signal = exit?.signal ?? null;

  const state = matcher.state();
  const lastMigrationLine = state.lastProgress ? `; the last migration line: "${state.lastProgress}"` : '';
  let verdict: RunServerResult['verdict'];
  let reason: string;
  if (trigger.type === 'spawn-error') {
    verdict = 'failed';
    reason = `could not start the server (${command.display}): ${errorMessage(trigger.error)}`;
  } else if (trigger.type === 'client-stall' && state.verdict === 'pending') {
    verdict = 'failed';
    reason =
      `the identity core logged "Waiting for migration client." and no client line followed within ${formatDuration(clientStartMs)} ` +
      '(server.clientStartSeconds): the server stalls there and never finishes starting. Check that ' +
      'repository/components/dropins holds org.wso2.carbon.is.migration-*.jar and that its OSGi bundle is ACTIVE, not ' +
      'INSTALLED or RESOLVED (start the server with -DosgiConsole and run "ss migration")';
  } else if (state.verdict !== 'pending') {
    verdict = state.verdict;
    reason = state.reason;
    if (trigger.type === 'exit' && verdict === 'succeeded') {
      logger.warning(`The server exited by itself (${describeExit(code, signal)}) after the migration had finished`);
    } else if (trigger.type === 'timeout' && verdict === 'succeeded') {
      logger.warning(
        `The migration finished, but the server had not finished starting after ${formatDuration(options.timeoutMs)}`,
      );
    }
  } else if (trigger.type === 'exit') {
    verdict = 'failed';
    reason = `the server exited (${describeExit(code, signal)}) before the ${CLIENTS[kind]} finished${lastMigrationLine}`;
  } else {
    verdict = 'failed';
    const started = state.clientStarted ? 'it printed neither its success nor its failure line' : 'it never started';
    reason = `timed out after ${formatDuration(options.timeoutMs)} waiting for the ${CLIENTS[kind]}: ${started}${lastMigrationLine}. Raise server.timeoutMinutes if the migration needs longer`;
  }
  const durationMs = Date.now() - startedAt;
  logger.info(`Server run ${verdict} after ${formatDuration(durationMs)}: ${reason}`);
  return {
    verdict,
    reason,
    lastLines: tail.lastLines(),
    invalidDefinitions: state.invalidDefinitions,
    clientErrors: state.clientErrors,
    harmlessErrors: state.harmlessErrors,
    serverErrors: state.serverErrors,
    stallWarnings: [...monitor.stallWarnings],
    durationMs,
    exitCode: code,
    signal,
    ...(pid === undefined ? {} : { pid }),
    ...(stop === undefined ? {} : { stop }),
    logFile: options.logFile,
    problemTextsAfterLastClientLine: tail.problemTexts(),
  };
}

function reportEvent(event: LogEvent, kind: ServerRunKind, logger: Logger): void {
  switch (event.type) {
    case 'client-started':
      logger.info(`The ${CLIENTS[kind]} is running: ${event.line}`);
      return;
    case 'success':
      logger.info(`Success line: ${event.line}`);
      return;
    case 'failure':
      logger.warning(`Failure line: ${event.line}`);
      return;
    case 'client-error':
      if (event.harmless) logger.info(`Harmless ERROR of the migration client (ignored): ${event.line}`);
      else logger.warning(`ERROR of the migration client: ${event.line}`);
      return;
    case 'server-error':
      logger.warning(`ERROR of the server, outside the ${CLIENTS[kind]}'s run: ${event.line}`);
      return;
    case 'waiting-for-client':
      logger.info(`The identity core is waiting for the migration client: ${event.line}`);
      return;
    case 'invalid-definition': {
      const { definition } = event;
      const api = `${definition.name} ${definition.version}${definition.provider ? ` (${definition.provider})` : ''}`;
      logger.warning(`Invalid ${definition.kind} definition: ${api}: ${definition.message}`);
      return;
    }
    case 'server-started':
      logger.info(`The server has finished starting: ${event.line}`);
      return;
    case 'progress':
      return;
  }
}

/** `exit code N`, `signal S` or `no exit code`: how a server process ended, for reasons and log lines. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal ${signal}`;
  return code === null ? 'no exit code' : `exit code ${code}`;
}

/** The opening of a progress line: `The server has run for 2 min 5 s`. */
export function describeRunTime(elapsedMs: number): string {
  return `The server has run for ${formatDuration(elapsedMs)}`;
}

export interface SpawnServerOptions {
  /** The API-M home: the server's working folder. */
  home: string;
  /** Its console: pipes for the caller to read, or a file descriptor both stdout and stderr are opened on. */
  stdio: 'pipe' | number;
  /** The base environment launcherEnv reduces; default this process's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Spawns the launcher `command` in a process group of its own (its pid is the group's id), so that the server and
 * everything it starts can be stopped together, in the environment launcherEnv gives it.
 */
export function spawnServerGroup(command: ServerCommand, options: SpawnServerOptions): ChildProcess {
  const output = options.stdio;
  return spawn(command.command, command.args, {
    cwd: options.home,
    detached: true,
    stdio: ['ignore', output, output],
    env: launcherEnv(command, options.env ?? process.env),
  });
}

/** The promise's value, or undefined when it takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Stopping

export interface StopServerOptions {
  /** From the graceful stop to SIGKILL. */
  graceMs: number;
  /** The launcher command of the run: when given, `<launcher> --stop` is tried first. */
  command?: ServerCommand;
  /** The API-M home: where `--stop` runs, and where a stale `wso2carbon.pid` is removed afterwards. */
  home?: string;
  logger?: Logger;
  /** How often the group is checked; default 100 ms. */
  pollMs?: number;
  /** What the launcher's `--stop` gets of the environment (see launcherEnv); default this process's. */
  env?: NodeJS.ProcessEnv;
}

export interface StopServerResult {
  /**
   * `not-running`: nothing was left; `stopped`: the launcher's `--stop` did it; `terminated`: SIGTERM to the
   * group did; `killed`: SIGKILL was needed; `survived`: something outlived even SIGKILL (e.g. not ours).
   */
  outcome: 'not-running' | 'stopped' | 'terminated' | 'killed' | 'survived';
  durationMs: number;
}

/**
 * Stops the process group `pid` (the id `runServer` reports, e.g. kept in the action's state for the post step):
 * `<launcher> --stop` when the command is known, then SIGTERM to the group, then SIGKILL once `graceMs` has
 * passed.
 */
export async function stopServerGroup(pid: number, options: StopServerOptions): Promise<StopServerResult> {
  const startedAt = Date.now();
  const pollMs = options.pollMs ?? 100;
  const logger = options.logger;
  const finish = async (outcome: StopServerResult['outcome']): Promise<StopServerResult> => {
    if (options.home !== undefined && outcome !== 'survived') await removeStalePidFile(options.home);
    return { outcome, durationMs: Date.now() - startedAt };
  };
  if (!groupAlive(pid)) return finish('not-running');

  const deadline = startedAt + options.graceMs;
  const stopCommand = options.command ? launcherStopCommand(options.command) : undefined;
  if (stopCommand) {
    logger?.info(`Stopping the server: ${stopCommand.display}`);
    await runQuietly(stopCommand, options.home, Math.min(options.graceMs / 2, 30_000), logger, options.env);
    if (await waitForGroupEnd(pid, startedAt + options.graceMs / 2, pollMs)) return finish('stopped');
  }
  logger?.info(`Sending SIGTERM to the server's process group ${pid}`);
  signalGroup(pid, 'SIGTERM');
  if (await waitForGroupEnd(pid, deadline, pollMs)) return finish('terminated');

  logger?.warning(
    `The server did not stop within ${formatDuration(options.graceMs)} (server.stopGraceSeconds): sending SIGKILL to its process group ${pid}`,
  );
  signalGroup(pid, 'SIGKILL');
  if (await waitForGroupEnd(pid, Date.now() + 5_000, pollMs)) return finish('killed');
  logger?.warning(`Process group ${pid} is still there after SIGKILL`);
  return finish('survived');
}

/**
 * Whether the process group `pid`, recorded with the identity of its leader when it started, is still that server:
 * - `not-running`: nothing of the group is left; stopping it signals nothing and only tidies up;
 * - `same`: the leader still has the start time and command line recorded;
 * - `leader-gone`: the leader has ended and the rest of the group runs: POSIX gives no new process the id of a
 *   process group that exists, so it is still the server's group;
 * - `other`: the pid now names another process (the system reused it): it must be left alone;
 * - `unchecked`: nothing to compare: no identity was recorded, or the platform (Windows) is not checked.
 */
export type RecordedServerCheck = 'not-running' | 'same' | 'leader-gone' | 'other' | 'unchecked';

export async function checkRecordedServer(
  pid: number,
  recorded: ProcessIdentity | undefined,
  platform: NodeJS.Platform = process.platform,
): Promise<{ verdict: RecordedServerCheck; current?: ProcessIdentity }> {
  if (!groupAlive(pid)) return { verdict: 'not-running' };
  if (recorded === undefined || platform === 'win32') return { verdict: 'unchecked' };
  const current = await readProcessIdentity(pid, platform);
  if (current === undefined) return { verdict: processAlive(pid) ? 'unchecked' : 'leader-gone' };
  const same = current.startTime === recorded.startTime && current.commandLine === recorded.commandLine;
  return { verdict: same ? 'same' : 'other', current };
}

/**
 * Whether any process of the group is left (one owned by someone else counts). Zombies do not count: where
 * PID 1 reaps late (some containers), a shell killed mid-way leaves its finished children as zombies for a while.
 */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return process.platform === 'linux' ? hasLiveMember(pid) : true;
}

function hasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(entry);
    if (stat?.pgrp === pgid && !hasEnded(stat.state)) return true;
  }
  return false;
}

/** The state and process group of a process from /proc/<pid>/stat; undefined when it cannot be read. */
function procStat(pid: string): { state: string; pgrp: number } | undefined {
  const fields = procStatFields(pid);
  if (fields === undefined) return undefined;
  // "state ppid pgrp ...", fields 3 to 5.
  const [state, , pgrp] = fields;
  return { state: state ?? '', pgrp: Number(pgrp) };
}

/** A zombie (or a dying process) has ended; only its parent has not collected it yet. */
function hasEnded(state: string): boolean {
  return state === 'Z' || state === 'X';
}

function signalGroup(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
  if (process.platform === 'win32') {
    // No process groups: taskkill ends the tree.
    spawn('taskkill', ['/PID', String(pid), '/T', ...(signal === 'SIGKILL' ? ['/F'] : [])], { stdio: 'ignore' }).on(
      'error',
      () => undefined,
    );
    return;
  }
  try {
    process.kill(-pid, signal);
  } catch {
    // Gone in the meantime.
  }
}

async function waitForGroupEnd(pid: number, until: number, pollMs: number): Promise<boolean> {
  while (groupAlive(pid)) {
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return true;
}

/**
 * `sh <home>/bin/api-manager.sh --stop`: the run's command without its `-D` flags, in the run's CARBON_HOME and
 * JAVA_HOME (the launcher kills the pid in `$CARBON_HOME/wso2carbon.pid`) and the base environment only: it starts
 * no server, so it needs none of the variables deployment.toml names. None for cmd.exe.
 */
function launcherStopCommand(command: ServerCommand): ServerCommand | undefined {
  if (/(^|[\\/])cmd(\.exe)?$/i.test(command.command)) return undefined;
  const args = [...command.args.filter((arg) => !arg.startsWith('-D')), '--stop'];
  return {
    command: command.command,
    args,
    display: [command.command, ...args].join(' '),
    ...(command.env ? { env: command.env } : {}),
  };
}

/**
 * The environment a launcher command runs in: what server-env.ts lets through of `base` (never JAVACMD, which
 * api-manager.sh would run instead of `$JAVA_HOME/bin/java`), with the command's CARBON_HOME and JAVA_HOME over it.
 */
function launcherEnv(command: ServerCommand, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...scrubbedServerEnv(base, command.passEnv ?? []), ...command.env };
}

async function runQuietly(
  command: ServerCommand,
  cwd: string | undefined,
  timeoutMs: number,
  logger: Logger | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const child = spawn(command.command, command.args, {
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: launcherEnv(command, env),
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    // `once` rejects when the launcher cannot be started.
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0 || output.trim()) logger?.debug(`${command.display}: exit ${code}; ${output.trim()}`);
  } catch (error) {
    logger?.debug(`${command.display} failed: ${errorMessage(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A server that still runs from this home, as `<home>/wso2carbon.pid` names it, is in the way of a migration run
 * (same ports, same files). One in migration mode (`-Dmigrate` on its command line) was left by an apim-migrate run
 * that was killed before it could stop it: it is stopped, like the post step would have. Any other is the
 * operator's, and the run is refused. True when a server was stopped.
 */
export async function clearLeftoverServer(
  home: string,
  options: { graceMs: number; logger: Logger; command?: ServerCommand },
): Promise<boolean> {
  const text = await readFile(path.join(home, 'wso2carbon.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return false;
  const args = process.platform === 'linux' ? readCommandLine(pid) : undefined;
  if (args === undefined || !args.includes('-Dmigrate')) {
    throw new Error(
      `API-M is running from ${home} (pid ${pid}, in ${path.join(home, 'wso2carbon.pid')}): stop it first ` +
        `(${path.join(home, 'bin', 'api-manager.sh')} --stop); a migration run needs the home and its ports to itself`,
    );
  }
  const group = procStat(String(pid))?.pgrp ?? pid;
  options.logger.warning(
    `An API-M server in migration mode is still running from ${home} (pid ${pid}), left by an apim-migrate run that ` +
      'was killed; stopping it before this run',
  );
  const result = await stopServerGroup(group, {
    graceMs: options.graceMs,
    home,
    logger: options.logger,
    ...(options.command ? { command: options.command } : {}),
  });
  if (result.outcome === 'survived') {
    throw new Error(`the API-M server left running from ${home} (pid ${pid}) could not be stopped; stop it by hand`);
  }
  return true;
}

/** Removes `<home>/wso2carbon.pid` when the process it names is gone (a killed server leaves it behind). */
async function removeStalePidFile(home: string): Promise<void> {
  const file = path.join(home, 'wso2carbon.pid');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return;
  }
  const recorded = Number.parseInt(text.trim(), 10);
  if (Number.isInteger(recorded) && recorded > 0 && processAlive(recorded)) return;
  await rm(file, { force: true });
}

/** Whether a process runs (also as another user); a zombie does not count on Linux. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A server whose parent (the main step) was killed is reparented to PID 1, which may reap it late: as in
  // groupAlive, a zombie does not count.
  if (process.platform !== 'linux') return true;
  const stat = procStat(String(pid));
  return stat === undefined || !hasEnded(stat.state);
}
