/**
 * The normal start of API-M after the migration (the guide's Server Startup Actions, step 2): starts the server in a
 * process group of its own with its console on a file it writes itself, follows that file until the server has
 * printed `WSO2 Carbon started in N sec`, and hands back the running server, to be stopped or left running. A start
 * that fails (the launcher or the JVM ends first, a FATAL record, java.util.logging's SEVERE configuration line, no
 * start line in time) is stopped before it is returned. The lines and their sources are in
 * docs/wso2-compatibility.md, "Server Startup (Step 5)".
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/format.js';
import { neutraliseText } from '../core/neutralise.js';
import { makePrivateDir, openPrivateFile } from '../core/private-files.js';
import type { Logger } from '../log/logger.js';
import { followFile, type FileFollower } from './console-follower.js';
import { parseLogRecord, SERVER_STARTED, type LogRecord } from './log-matcher.js';
import { createConsoleTail } from './console-tail.js';
import type { ProblemText } from './problem-lines.js';
import type { ServerCommand } from './server-command.js';
import {
  describeExit,
  describeRunTime,
  spawnServerGroup,
  stopServerGroup,
  TRACE_GRACE_MS,
  withTimeout,
  type StopServerResult,
} from './server-runner.js';

export type { ProblemText } from './problem-lines.js';
export type { StopServerResult } from './server-runner.js';

/**
 * kernel-4.8.1 `Main.handleConfiguration`: the config mapper could not apply deployment.toml; java.util.logging
 * prints this on stderr, then the JVM calls `System.exit(1)`, before any log4j record.
 */
const CONFIGURATION_FAILED = /^SEVERE: Error while performing configuration changes\b/;

/** ERROR/FATAL records kept for `serverErrors()`: a server followed for long must not fill the memory. */
const MAX_SERVER_ERRORS = 200;

/** The start line, quoted the same way in every reason. */
const START_LINE = '"WSO2 Carbon started"';

export interface StartServerOptions {
  command: ServerCommand;
  /** The API-M home: the working folder of the server, where `wso2carbon.pid` lies. */
  home: string;
  /**
   * Where the server's console output goes. The server writes it itself (stdout and stderr opened on this file,
   * appended), not through a pipe, so that a server left running outlives this process; it holds raw, unmasked
   * text, so the caller puts it in a private place.
   */
  consoleFile: string;
  /** Hides secrets in every line this module logs or keeps. */
  mask?: (line: string) => string;
  env?: NodeJS.ProcessEnv;
  /** The start fails when `WSO2 Carbon started` has not come by then (`server.timeoutMinutes`). */
  timeoutMs: number;
  /** From the graceful stop to SIGKILL. */
  stopGraceMs: number;
  logger: Logger;
  /** How often the elapsed time and the last record are printed while the server starts; default 30 s. */
  progressIntervalMs?: number;
  /** Called with the process-group id as soon as the server runs, e.g. to hand it to the post step. */
  onStarted?(pid: number): void | Promise<void>;
  /** Called with each WARN/ERROR/FATAL record and its stack trace (and the JVM's own failure lines), masked. */
  onProblemText?(problem: ProblemText): void;
}

export interface StartedServer {
  /** The process-group id. */
  pid: number;
  /** `WSO2 Carbon started in N sec`, masked. */
  startLine: string;
  /** From the spawn to the start line. */
  durationMs: number;
  /** The last 50 masked console lines so far. */
  lastLines(): string[];
  /** ERROR/FATAL records of the server so far (masked). */
  serverErrors(): string[];
  /** Stops following the console and stops the server (graceful, then forced), as the migration runs do. */
  stop(): Promise<StopServerResult>;
  /** Stops following the console and leaves the server running. */
  detach(): Promise<void>;
}

export type StartServerResult =
  | { verdict: 'started'; server: StartedServer }
  | {
      verdict: 'failed';
      /** One sentence for people: why. */
      reason: string;
      lastLines: string[];
      durationMs: number;
      /** How the server was stopped, when it had been spawned. */
      stop?: StopServerResult;
      /** The last WARN/ERROR/FATAL texts of the start (at most 20). */
      problemTexts: ProblemText[];
    };

type Trigger =
  | { type: 'started'; line: string }
  | { type: 'failure' }
  | { type: 'exit'; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'timeout' }
  | { type: 'spawn-error'; error: Error };

/** What ended the start before its start line: a FATAL record, or the SEVERE configuration line. */
type StartFailure =
  | { kind: 'fatal'; record: LogRecord }
  | { kind: 'configuration'; line: string; /** The first line below it: the exception. */ detail?: string };

/**
 * Starts the server and waits for `WSO2 Carbon started in N sec`. Never throws for a failed start (only when the
 * console file cannot be opened, or `onStarted` throws, after stopping the server).
 */
export async function startServer(options: StartServerOptions): Promise<StartServerResult> {
  const { command, logger } = options;
  const mask = options.mask ?? ((line: string) => line);
  const startedAt = Date.now();

  const tail = createConsoleTail(options.onProblemText, logger);
  const serverErrors: string[] = [];

  let phase: 'starting' | 'started' | 'done' = 'starting';
  let lastRecord: string | undefined;
  let failure: StartFailure | undefined;
  const timers: NodeJS.Timeout[] = [];

  let fired = false;
  let fire: (trigger: Trigger) => void = () => undefined;
  const triggered = new Promise<Trigger>((resolve) => {
    fire = (trigger) => {
      if (fired) return;
      fired = true;
      resolve(trigger);
    };
  });

  const onLine = (raw: string): void => {
    const line = mask(raw);
    tail.keep(line);
    const record = parseLogRecord(line);
    tail.examine(line, record);
    if (record && (record.level === 'ERROR' || record.level === 'FATAL')) {
      if (serverErrors.length < MAX_SERVER_ERRORS) serverErrors.push(record.message);
      if (phase !== 'done') logger.warning(`${record.level} of the server: ${quotable(record.message)}`);
    }
    if (phase !== 'starting' || fired) return;
    if (record) lastRecord = record.message;
    if (failure !== undefined) {
      // The failing record's stack trace, or the SEVERE line's exception, ends where the next record starts.
      if (record) fire({ type: 'failure' });
      else if (failure.kind === 'configuration' && failure.detail === undefined && line.trim() !== '') {
        failure.detail = line.trim();
      }
      return;
    }
    if (record?.level === 'FATAL') {
      failure = { kind: 'fatal', record };
      timers.push(setTimeout(() => fire({ type: 'failure' }), TRACE_GRACE_MS));
    } else if (record && SERVER_STARTED.test(record.message)) {
      fire({ type: 'started', line: record.message });
    } else if (!record && CONFIGURATION_FAILED.test(line.trim())) {
      failure = { kind: 'configuration', line: line.trim() };
      timers.push(setTimeout(() => fire({ type: 'failure' }), TRACE_GRACE_MS));
    }
  };

  await makePrivateDir(path.dirname(options.consoleFile));
  const output = await openPrivateFile(options.consoleFile, 'a');
  let child: ChildProcess;
  let follower: FileFollower;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  try {
    // Only what this start appends is followed: the file may hold earlier starts.
    const from = (await output.stat()).size;
    follower = await followFile({
      file: options.consoleFile,
      from,
      onLine,
      onError: (error) => logger.warning(`Cannot read ${options.consoleFile}: ${errorMessage(error)}`),
    });
    logger.info(`Starting the server: ${command.display}`);
    logger.info(`Its console output goes to ${options.consoleFile}`);
    child = spawnServerGroup(command, {
      home: options.home,
      stdio: output.fd,
      ...(options.env ? { env: options.env } : {}),
    });
    // Before anything is awaited: a launcher that cannot be spawned says so on the next tick.
    const spawned = child;
    exited = new Promise((resolve) => {
      spawned.once('exit', (code, signal) => resolve({ code, signal }));
      spawned.once('error', () => resolve({ code: null, signal: null }));
    });
    spawned.once('error', (error) => fire({ type: 'spawn-error', error }));
  } finally {
    // The server has its own copy of the descriptor.
    await output.close();
  }

  void exited.then(async ({ code, signal }) => {
    // Its last lines are in the file by now: read them before judging the exit.
    await follower.readNow();
    if (phase === 'started') {
      logger.warning(`The server exited by itself (${describeExit(code, signal)}) after it had started`);
    }
    fire({ type: 'exit', code, signal });
  });
  timers.push(setTimeout(() => fire({ type: 'timeout' }), options.timeoutMs));
  const progress = setInterval(() => {
    if (fired) return;
    logger.info(
      `${describeRunTime(Date.now() - startedAt)}; it has not printed ${START_LINE} yet; its last record: ${lastRecord === undefined ? '(none yet)' : quotable(lastRecord)}`,
    );
  }, options.progressIntervalMs ?? 30_000);

  const pid = child.pid;
  const stopGroup = async (): Promise<StopServerResult | undefined> => {
    if (pid === undefined) return undefined;
    return stopServerGroup(pid, {
      command,
      home: options.home,
      graceMs: options.stopGraceMs,
      logger,
      ...(options.env ? { env: options.env } : {}),
    });
  };
  const finishFollowing = async (): Promise<void> => {
    await follower.close();
    tail.flush();
  };

  let trigger: Trigger;
  try {
    if (pid !== undefined) await options.onStarted?.(pid);
    trigger = await triggered;
  } catch (error) {
    phase = 'done';
    await stopGroup();
    await finishFollowing();
    throw error;
  } finally {
    fired = true;
    for (const timer of timers) clearTimeout(timer);
    clearInterval(progress);
  }

  const durationMs = Date.now() - startedAt;
  if (trigger.type === 'started' && pid !== undefined) {
    phase = 'started';
    logger.info(`The server has finished starting after ${formatDuration(durationMs)}: ${quotable(trigger.line)}`);
    return { verdict: 'started', server: startedServer(pid, trigger.line, durationMs) };
  }

  phase = 'done';
  const stop = await stopGroup();
  await finishFollowing();
  const reason = failureReason(trigger, failure, lastRecord, options);
  logger.info(`The server did not start (${formatDuration(durationMs)}): ${reason}`);
  return {
    verdict: 'failed',
    reason,
    lastLines: tail.lastLines(),
    durationMs,
    ...(stop === undefined ? {} : { stop }),
    problemTexts: tail.problemTexts(),
  };

  function startedServer(groupId: number, startLine: string, startDurationMs: number): StartedServer {
    let stopping: Promise<StopServerResult> | undefined;
    let detaching: Promise<void> | undefined;
    return {
      pid: groupId,
      startLine,
      durationMs: startDurationMs,
      lastLines: () => tail.lastLines(),
      serverErrors: () => [...serverErrors],
      stop() {
        stopping ??= (async () => {
          phase = 'done';
          // The shutdown lines go to the console file too: read after the stop, so lastLines() holds them.
          const result = (await stopGroup()) ?? { outcome: 'not-running' as const, durationMs: 0 };
          await withTimeout(exited, 5_000);
          await finishFollowing();
          return result;
        })();
        return stopping;
      },
      detach() {
        detaching ??= (async () => {
          phase = 'done';
          await finishFollowing();
          // Nothing of this process waits for the server any more: it may end while the server runs on.
          child.unref();
          logger.info(`Leaving the server running: process group ${groupId}, its console in ${options.consoleFile}`);
        })();
        return detaching;
      },
    };
  }
}

function failureReason(
  trigger: Trigger,
  failure: StartFailure | undefined,
  lastRecord: string | undefined,
  options: StartServerOptions,
): string {
  if (trigger.type === 'spawn-error') {
    return `could not start the server (${options.command.display}): ${errorMessage(trigger.error)}`;
  }
  if (failure?.kind === 'configuration') {
    const detail = failure.detail === undefined ? '' : ` (${quotable(failure.detail)})`;
    return (
      `the server could not apply its configuration and exited: "${quotable(failure.line)}"${detail}. ` +
      `Check ${path.join(options.home, 'repository', 'conf', 'deployment.toml')}; its last lines say more`
    );
  }
  if (failure?.kind === 'fatal') {
    const from = failure.record.logger ? ` (${quotable(failure.record.logger)})` : '';
    return `the server logged FATAL "${quotable(failure.record.message)}"${from} before it printed ${START_LINE}; its last lines say why`;
  }
  if (trigger.type === 'exit') {
    return `the server exited (${describeExit(trigger.code, trigger.signal)}) before it printed ${START_LINE}; its last lines say why`;
  }
  const last = lastRecord === undefined ? 'it printed no log record' : `its last record: "${quotable(lastRecord)}"`;
  return `the server did not print ${START_LINE} within ${formatDuration(options.timeoutMs)} (${last}). Raise server.timeoutMinutes if it needs longer`;
}

/** Text of the server, on one line and neutralised, to quote in a reason or a log line. */
function quotable(text: string): string {
  return neutraliseText(text).replace(/\n/g, ' ');
}
