/**
 * startServer against the stand-in API-M server's normal start (src/demo/stand-in-apim), one real process group per
 * test, its console on a real file. No timing assertions: only what happened.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildNormalStartCommand, type ServerCommand } from '../../src/server/server-command.js';
import { groupAlive } from '../../src/server/server-runner.js';
import {
  startServer,
  type ProblemText,
  type StartServerOptions,
  type StartServerResult,
} from '../../src/server/server-start.js';
import { createRecordingLogger, type RecordingLogger } from '../helpers/fakes.js';
import { fakeJavaHome } from '../helpers/java.js';
import type { StandInBehaviour, StandInHome } from '../helpers/stand-in.js';
import { makeStartupHome } from '../helpers/startup-home.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-server-start-');
const groups: number[] = [];

afterEach(async () => {
  // A failed assertion, or a server left running on purpose, must not outlive the test.
  for (const pid of groups.splice(0)) {
    if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
  }
  await temp.cleanup();
});

interface Setup {
  behaviour?: StandInBehaviour;
  command?: (standIn: StandInHome) => Promise<ServerCommand>;
  options?: Partial<StartServerOptions>;
  /** Written to the console file before the start, as an earlier start would have left it. */
  earlierConsole?: string;
}

interface Start {
  result: StartServerResult;
  standIn: StandInHome;
  logger: RecordingLogger;
  consoleFile: string;
  onStartedPids: number[];
}

async function normalStart(standIn: StandInHome, passEnv?: string[]): Promise<ServerCommand> {
  return buildNormalStartCommand({
    apimHome: standIn.home,
    javaHome: await fakeJavaHome(),
    platform: 'linux',
    ...(passEnv ? { passEnv } : {}),
  });
}

async function start(setup: Setup = {}): Promise<Start> {
  const { standIn } = await makeStartupHome(await temp.make(), {
    engine: 'none',
    ...(setup.behaviour ? { behaviour: setup.behaviour } : {}),
  });
  const logger = createRecordingLogger();
  const consoleFile = join(await temp.make(), 'private', 'server-console.log');
  if (setup.earlierConsole !== undefined) {
    await mkdir(dirname(consoleFile), { recursive: true });
    await writeFile(consoleFile, setup.earlierConsole);
  }
  const onStartedPids: number[] = [];
  const result = await startServer({
    command: await (setup.command ?? normalStart)(standIn),
    home: standIn.home,
    consoleFile,
    // Generous: on a loaded machine the stand-in's shell prints slowly.
    timeoutMs: 40_000,
    stopGraceMs: 10_000,
    logger,
    progressIntervalMs: 60_000,
    onStarted: (pid) => {
      groups.push(pid);
      onStartedPids.push(pid);
    },
    ...setup.options,
  });
  return { result, standIn, logger, consoleFile, onStartedPids };
}

function started(result: StartServerResult): Extract<StartServerResult, { verdict: 'started' }>['server'] {
  if (result.verdict !== 'started') throw new Error(`the server did not start: ${result.reason}`);
  return result.server;
}

function failed(result: StartServerResult): Extract<StartServerResult, { verdict: 'failed' }> {
  if (result.verdict !== 'failed') throw new Error('the server started');
  return result;
}

/** Nothing of the group runs any more and `process.kill(-pgid, 0)` says ESRCH (PID 1 may reap zombies late). */
async function expectGroupGone(pid: number): Promise<void> {
  expect(groupAlive(pid)).toBe(false);
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      process.kill(-pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
    }
    if (Date.now() > until) throw new Error(`process group ${pid} is still there`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const START_LINE = /^WSO2 Carbon started in \d+ sec$/;

describe('startServer: a start that succeeds', () => {
  it('returns at the start line with the group running; stop() ends it with --stop and leaves no wso2carbon.pid', async () => {
    const { result, standIn, logger, consoleFile, onStartedPids } = await start();
    const server = started(result);

    expect(server.startLine).toMatch(START_LINE);
    expect(onStartedPids).toEqual([server.pid]);
    expect(groupAlive(server.pid)).toBe(true);
    expect(existsSync(standIn.pidFile)).toBe(true);
    expect(server.lastLines()).toContainEqual(
      expect.stringMatching(/ INFO - StartupFinalizerServiceComponent WSO2 Carbon started in \d+ sec$/),
    );
    expect(server.lastLines().some((line) => line.includes('Starting WSO2 Carbon...'))).toBe(true);
    expect(server.serverErrors()).toEqual([]);
    expect(logger.lines).toContainEqual(
      expect.stringMatching(/^info: The server has finished starting after .*: WSO2 Carbon started in \d+ sec$/),
    );
    // The server writes its console itself: the file holds what it printed, and it is private.
    expect(await readFile(consoleFile, 'utf8')).toMatch(/WSO2 Carbon started in \d+ sec/);
    expect(statSync(consoleFile).mode & 0o777).toBe(0o600);

    const stop = await server.stop();
    expect(stop.outcome).toBe('stopped');
    await expectGroupGone(server.pid);
    expect(existsSync(standIn.pidFile)).toBe(false);
    // The shutdown lines were read after the stop.
    expect(server.lastLines().join('\n')).toContain('Shutdown complete');
    // A second stop is the first one.
    expect(await server.stop()).toBe(stop);
  });

  it('follows only what this start appends: an earlier start line in the console file is no start', async () => {
    const earlier = '[2026-01-01 10:00:00,000]  INFO - StartupFinalizerServiceComponent WSO2 Carbon started in 9 sec\n';
    const { result, consoleFile } = await start({ behaviour: { startFails: true }, earlierConsole: earlier });

    expect(failed(result).reason).toMatch(/could not apply its configuration/);
    const text = await readFile(consoleFile, 'utf8');
    expect(text.startsWith(earlier)).toBe(true);
    expect(text).toContain('SEVERE: Error while performing configuration changes');
  });

  it('detach() leaves the server running after the follow ends', async () => {
    const { result, logger } = await start();
    const server = started(result);
    await server.detach();

    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(groupAlive(server.pid)).toBe(true);
    expect(logger.lines).toContainEqual(
      expect.stringMatching(new RegExp(`^info: Leaving the server running: process group ${server.pid}`)),
    );
    // afterEach kills it.
  });

  it('masks what the server prints in every kept and logged line; the console file keeps the raw text', async () => {
    const secret = 'srv-secret-4711';
    const { result, logger, consoleFile } = await start({
      behaviour: { printEnv: 'APIM_TEST_DB_PASSWORD' },
      command: (standIn) => normalStart(standIn, ['APIM_TEST_DB_PASSWORD']),
      options: {
        env: { ...process.env, APIM_TEST_DB_PASSWORD: secret },
        mask: (line) => line.replaceAll(secret, '***'),
        progressIntervalMs: 50,
      },
    });
    const server = started(result);
    const kept = server.lastLines().join('\n');
    expect(kept).toContain('Datasource WSO2_SHARED_DB: password=***');
    expect(kept).not.toContain(secret);
    expect(logger.lines.join('\n')).not.toContain(secret);
    expect(await readFile(consoleFile, 'utf8')).toContain(`password=${secret}`);
    await server.stop();
    expect(server.lastLines().join('\n')).not.toContain(secret);
  });
});

describe('startServer: a start that fails', () => {
  it('start-fails: the SEVERE configuration line and its exception are the reason; nothing is left running', async () => {
    const { result, standIn, onStartedPids } = await start({ behaviour: { startFails: true } });
    const failure = failed(result);

    expect(failure.reason).toMatch(
      /^the server could not apply its configuration and exited: "SEVERE: Error while performing configuration changes" \(org\.wso2\.config\.mapper\.ConfigParserException: Error while parsing the deployment\.toml \(stand-in: start-fails\)\)\. Check .*deployment\.toml/,
    );
    expect(failure.lastLines).toContain('SEVERE: Error while performing configuration changes');
    expect(failure.lastLines.join('\n')).toContain('org.wso2.carbon.server.Main handleConfiguration');
    expect(failure.problemTexts.map((text) => text.head)).toEqual([]);
    expect(failure.stop?.outcome).toBe('not-running');
    await expectGroupGone(onStartedPids[0] ?? 0);
    expect(existsSync(standIn.pidFile)).toBe(false);
  });

  it('init-fatal: a FATAL record fails the start with its trace, and the server, still up, is stopped', async () => {
    const seen: ProblemText[] = [];
    const { result, standIn, onStartedPids } = await start({
      behaviour: { initFatal: true },
      options: { onProblemText: (text) => seen.push(text) },
    });
    const failure = failed(result);

    expect(failure.reason).toBe(
      'the server logged FATAL "WSO2 Carbon initialization Failed" (CarbonServerManager) before it printed "WSO2 Carbon started"; its last lines say why',
    );
    // The trace arrived before the stop.
    expect(failure.lastLines.join('\n')).toContain('CarbonException: Error while initializing the registry');
    const fatal = failure.problemTexts.find((text) => text.head === 'WSO2 Carbon initialization Failed');
    expect(fatal?.text).toContain('at org.wso2.carbon.core.init.CarbonServerManager.initializeCarbon');
    expect(seen.map((text) => text.head)).toContain('WSO2 Carbon initialization Failed');
    expect(failure.stop?.outcome).toBe('stopped');
    await expectGroupGone(onStartedPids[0] ?? 0);
    expect(existsSync(standIn.pidFile)).toBe(false);
  });

  it('a launcher that exits at once (no JDK at JAVA_HOME) fails with its exit code and its lines', async () => {
    const { result } = await start({
      command: async (standIn) =>
        buildNormalStartCommand({ apimHome: standIn.home, javaHome: join(standIn.home, 'no-jdk'), platform: 'linux' }),
    });
    const failure = failed(result);

    expect(failure.reason).toBe(
      'the server exited (exit code 1) before it printed "WSO2 Carbon started"; its last lines say why',
    );
    expect(failure.lastLines).toContain('Error: JAVA_HOME is not defined correctly.');
    expect(failure.stop?.outcome).toBe('not-running');
  });

  it('a launcher that cannot be started at all fails without a pid', async () => {
    const { result, onStartedPids } = await start({
      command: async (standIn) => ({
        command: join(standIn.home, 'no-such-launcher'),
        args: [],
        display: 'no-such-launcher',
      }),
    });
    const failure = failed(result);

    expect(failure.reason).toMatch(/^could not start the server \(no-such-launcher\): .*ENOENT/);
    expect(failure.stop).toBeUndefined();
    expect(onStartedPids).toEqual([]);
  });

  it('no start line within timeoutMs: failed with the last record, and the server is stopped', async () => {
    const { result, standIn, logger, onStartedPids } = await start({
      behaviour: { slowMs: 400 },
      options: { timeoutMs: 1_500, progressIntervalMs: 300 },
    });
    const failure = failed(result);

    expect(failure.reason).toMatch(
      /^the server did not print "WSO2 Carbon started" within 1\.5 s \(its last record: ".+"\)\. Raise server\.timeoutMinutes if it needs longer$/,
    );
    expect(['stopped', 'terminated']).toContain(failure.stop?.outcome);
    await expectGroupGone(onStartedPids[0] ?? 0);
    expect(existsSync(standIn.pidFile)).toBe(false);
    expect(logger.lines).toContainEqual(
      expect.stringMatching(
        /^info: The server has run for .*; it has not printed "WSO2 Carbon started" yet; its last record: /,
      ),
    );
  });
});
