/**
 * The run monitor (README, "The run monitor"): beside the runner's progress line, what the server's database
 * sessions are doing, read by a probe the stage gives (the server layer knows no database), and one warning per
 * stretch of silence in the server's log. A probe that fails or is slow never holds up or fails the run: each read
 * has a timeout, a read still running is shared rather than started again, and the first failure is said once.
 */

import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/format.js';
import type { Logger } from '../log/logger.js';

/** One database session of the server, as the probe reports it: text already neutralised and masked. */
export interface SessionActivity {
  /** Where and who: `apim_db = shared_db: backend pid 4711 (user wso2)`. */
  label: string;
  /** The statement it runs, on one line and cut short. */
  statement?: string;
  /** How long the statement has run. */
  runningMs?: number;
  /** What it waits for: `waits for a relation lock held by backend pid 4700`. */
  lockWait?: string;
}

/** Reads what the server's database sessions are doing now: the busy ones (a statement running, or a lock wait). */
export type ActivityProbe = () => Promise<SessionActivity[]>;

export interface RunMonitorOptions {
  probe?: ActivityProbe;
  /** How long one read may take before it is given up (default 10 s). */
  probeTimeoutMs?: number;
  /** After this long without a log line, one warning (until the next line). */
  stallWarnMs?: number;
  logger: Logger;
}

export interface RunMonitor {
  /** A line came from the server. */
  lineSeen(): void;
  /** The lines that follow the progress line: each busy session, or that none is. Empty without a probe. */
  progressLines(): Promise<string[]>;
  /** Checks for a silent log; warns once per silent stretch. */
  checkStall(): Promise<void>;
  /** The stall warnings given, for the stage's report. */
  readonly stallWarnings: readonly string[];
  /** How often checkStall should run. */
  readonly stallCheckMs: number | undefined;
}

const DEFAULT_PROBE_TIMEOUT_MS = 10_000;

export function createRunMonitor(options: RunMonitorOptions): RunMonitor {
  const { logger, probe } = options;
  const timeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  let lastLineAt = Date.now();
  let warnedThisStretch = false;
  let reading: Promise<SessionActivity[] | undefined> | undefined;
  let failureSaid = false;
  const stallWarnings: string[] = [];

  const sayFailure = (why: string): void => {
    if (failureSaid) return;
    failureSaid = true;
    logger.info(`The server's database sessions could not be read (${why}); the run goes on without them`);
  };

  /** One read of the probe (a read still running is shared), or undefined: no probe, a failure, a timeout. */
  const read = async (): Promise<SessionActivity[] | undefined> => {
    if (!probe) return undefined;
    if (reading) return reading;
    let timer: NodeJS.Timeout | undefined;
    const current = Promise.race([
      probe().catch((error: unknown) => {
        sayFailure(errorMessage(error));
        return undefined;
      }),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => {
          sayFailure(`no answer within ${formatDuration(timeoutMs)}`);
          resolve(undefined);
        }, timeoutMs);
      }),
    ]);
    reading = current;
    try {
      return await current;
    } finally {
      clearTimeout(timer);
      reading = undefined;
    }
  };

  return {
    stallWarnings,
    stallCheckMs: options.stallWarnMs === undefined ? undefined : Math.min(1_000, options.stallWarnMs),
    lineSeen() {
      lastLineAt = Date.now();
      warnedThisStretch = false;
    },
    async progressLines() {
      const sessions = await read();
      if (sessions === undefined) return [];
      if (sessions.length === 0) return ["  the server's database sessions run no statement now"];
      return sessions.map((session) => `  ${describeActivity(session)}`);
    },
    async checkStall() {
      const stallWarnMs = options.stallWarnMs;
      if (stallWarnMs === undefined || warnedThisStretch) return;
      const silentMs = Date.now() - lastLineAt;
      if (silentMs < stallWarnMs) return;
      warnedThisStretch = true;
      const sessions = await read();
      const longest = longestActivity(sessions ?? []);
      const busy = longest
        ? `The longest-running of its database sessions: ${describeActivity(longest)}.`
        : sessions === undefined
          ? ''
          : 'None of its database sessions runs a statement now.';
      const message =
        `The server's log has been silent for ${formatDuration(silentMs)} (server.stallWarnMinutes): the migration may ` +
        `only be slow on large data.${busy ? ` ${busy}` : ''} The server is left running: WSO2's guide says not to stop ` +
        'the server during the migration and to wait until it finishes completely.';
      stallWarnings.push(message);
      logger.warning(message);
    },
  };
}

/** A lock wait first, then the statement that has run longest. */
export function longestActivity(sessions: readonly SessionActivity[]): SessionActivity | undefined {
  return [...sessions].sort(
    (a, b) =>
      Number(b.lockWait !== undefined) - Number(a.lockWait !== undefined) || (b.runningMs ?? 0) - (a.runningMs ?? 0),
  )[0];
}

export function describeActivity(session: SessionActivity): string {
  const running = session.runningMs === undefined ? '' : ` for ${formatDuration(session.runningMs)}`;
  const statement = session.statement ? `: ${session.statement}` : '';
  const wait = session.lockWait ? `; ${session.lockWait}` : '';
  return `${session.label} runs${running}${statement}${wait}`;
}
