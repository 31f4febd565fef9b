/**
 * The run monitor's rules with real (short) timers: a failing probe is said once and never fails anything, a slow
 * one is given up after its timeout, the stall warning comes once per silent stretch and again after a new line,
 * and it names the lock wait before the longest statement.
 */
import { describe, expect, it } from 'vitest';
import { createRunMonitor, longestActivity, type SessionActivity } from '../../src/server/run-monitor.js';
import { createRecordingLogger } from '../helpers/fakes.js';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createRunMonitor', () => {
  it('says a failing probe once and gives no session lines', async () => {
    const logger = createRecordingLogger();
    let calls = 0;
    const monitor = createRunMonitor({
      logger,
      probe: async () => {
        calls += 1;
        throw new Error('connection refused');
      },
    });
    expect(await monitor.progressLines()).toEqual([]);
    expect(await monitor.progressLines()).toEqual([]);
    expect(calls).toBe(2);
    const said = logger.lines.filter((line) => line.includes('could not be read'));
    expect(said).toEqual([
      "info: The server's database sessions could not be read (connection refused); the run goes on without them",
    ]);
  });

  it('gives a slow probe up after its timeout, and shares a read that is still running', async () => {
    const logger = createRecordingLogger();
    let calls = 0;
    const monitor = createRunMonitor({
      logger,
      probeTimeoutMs: 50,
      probe: () => {
        calls += 1;
        return new Promise<SessionActivity[]>(() => undefined);
      },
    });
    const started = Date.now();
    const [first, second] = await Promise.all([monitor.progressLines(), monitor.progressLines()]);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect([first, second]).toEqual([[], []]);
    expect(calls).toBe(1);
    expect(logger.lines.some((line) => line.includes('no answer within'))).toBe(true);
  });

  it('warns once per silent stretch, naming the longest activity, and again after a new line', async () => {
    const logger = createRecordingLogger();
    const sessions: SessionActivity[] = [
      { label: 'apim_db: backend pid 1', statement: 'SELECT 1', runningMs: 5_000 },
      { label: 'apim_db: backend pid 2', statement: 'UPDATE IDN_OAUTH2_ACCESS_TOKEN SET ...', runningMs: 90_000 },
    ];
    const monitor = createRunMonitor({ logger, probe: async () => sessions, stallWarnMs: 40 });
    await monitor.checkStall();
    expect(monitor.stallWarnings).toHaveLength(0);
    await wait(60);
    await monitor.checkStall();
    await monitor.checkStall();
    expect(monitor.stallWarnings).toHaveLength(1);
    expect(monitor.stallWarnings[0]).toContain(
      'The longest-running of its database sessions: apim_db: backend pid 2 runs for 1 min 30 s: UPDATE IDN_OAUTH2_ACCESS_TOKEN',
    );
    expect(monitor.stallWarnings[0]).toContain('The server is left running');
    monitor.lineSeen();
    await monitor.checkStall();
    expect(monitor.stallWarnings).toHaveLength(1);
    await wait(60);
    await monitor.checkStall();
    expect(monitor.stallWarnings).toHaveLength(2);
    expect(logger.lines.filter((line) => line.startsWith('warning: '))).toHaveLength(2);
  });

  it('lists the busy sessions, or says that none is', async () => {
    const logger = createRecordingLogger();
    let sessions: SessionActivity[] = [];
    const monitor = createRunMonitor({ logger, probe: async () => sessions });
    expect(await monitor.progressLines()).toEqual(["  the server's database sessions run no statement now"]);
    sessions = [{ label: 'shared_db: connection 9', statement: 'SELECT SLEEP(8)', runningMs: 3_000 }];
    expect(await monitor.progressLines()).toEqual(['  shared_db: connection 9 runs for 3.0 s: SELECT SLEEP(8)']);
  });
});

describe('longestActivity', () => {
  it('puts a lock wait before a longer statement', () => {
    const statement = { label: 'a', statement: 'SELECT 1', runningMs: 100_000 };
    const waiting = { label: 'b', statement: 'UPDATE t', runningMs: 10_000, lockWait: 'waits for a lock' };
    expect(longestActivity([statement, waiting])).toBe(waiting);
    expect(longestActivity([])).toBeUndefined();
  });
});
