/**
 * The post step signals a recorded pid only while it is still the server the stage started: the main step records
 * the pid's start time and command line (src/server/process-identity.ts), and the post step compares both first. A
 * pid the system has given to another process is left alone, with a warning.
 *
 * Real processes, and the post step run in-process (src/entry/post.ts) with the state the main step would have saved,
 * as STATE_apim-migrate. A pid cannot be made to be reused on purpose, so "reused" is a live process whose identity is
 * not the recorded one: recorded from an earlier process, or with another command line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ActionState } from '../../src/entry/action-state.js';
import { runPost } from '../../src/entry/post.js';
import { readProcessIdentity, type ProcessIdentity } from '../../src/server/process-identity.js';
import { groupAlive } from '../../src/server/server-runner.js';
import { captureInProcessPostStep, POST_STATE_ENV } from '../helpers/post-step.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-post-pids-');
const groups: number[] = [];
const postOutput = captureInProcessPostStep();

afterEach(() => {
  for (const pid of groups.splice(0)) if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
});

afterAll(() => temp.cleanup());

/** A process-group leader that runs until it is stopped, as the server's launcher does. */
function startGroup(script: string): ChildProcess & { pid: number } {
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('sh did not start');
  groups.push(child.pid);
  return child as ChildProcess & { pid: number };
}

async function identityOf(pid: number): Promise<ProcessIdentity> {
  const identity = await readProcessIdentity(pid);
  if (identity === undefined) throw new Error(`no identity for pid ${pid}`);
  return identity;
}

async function runPostWith(state: Partial<ActionState>): Promise<string> {
  process.env[POST_STATE_ENV] = JSON.stringify({ stage: 'apim', config: 'apim-migration.yml', ...state });
  await runPost();
  expect(process.exitCode ?? 0).toBe(0);
  return postOutput();
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the post step and the recorded pid', () => {
  it('reads a start time and the command line of a process', async () => {
    const server = startGroup('exec sleep 300');
    await pause(100);
    const identity = await identityOf(server.pid);
    expect(identity.commandLine).toBe('sleep 300');
    expect(identity.startTime).toMatch(/^\d+$/);
    // The same for as long as the process runs.
    await pause(50);
    expect(await identityOf(server.pid)).toEqual(identity);
  });

  it('stops the process group when the pid is still the recorded server', async () => {
    const server = startGroup('sleep 300 & wait');
    await pause(100);
    const output = await runPostWith({ serverPid: server.pid, serverIdentity: await identityOf(server.pid) });

    expect(output).toContain(`stopping the API-M server (pid ${server.pid}) that stage apim left running`);
    expect(groupAlive(server.pid)).toBe(false);
  });

  it('leaves alone a pid that names a process started after the recorded one', async () => {
    // What the main step recorded: the server as it was at its start. It ended; the pid is now another process's.
    const earlier = startGroup('exec sleep 300');
    await pause(100);
    const recorded = await identityOf(earlier.pid);
    process.kill(-earlier.pid, 'SIGKILL');
    await once(earlier, 'exit');
    await pause(50);
    const other = startGroup('exec sleep 300');
    await pause(100);
    expect((await identityOf(other.pid)).startTime).not.toBe(recorded.startTime);
    const home = await temp.make();
    await writeFile(path.join(home, 'wso2carbon.pid'), `${other.pid}\n`);

    const output = await runPostWith({ serverPid: other.pid, serverHome: home, serverIdentity: recorded });

    expect(output).toContain(`pid ${other.pid} is no longer the API-M server that stage apim started`);
    expect(output).toContain('which is left alone');
    expect(output).not.toContain('stopping the API-M server');
    expect(groupAlive(other.pid)).toBe(true);
    expect(existsSync(path.join(home, 'wso2carbon.pid'))).toBe(true);
  });

  it('leaves alone a pid whose command line is not the recorded one, and never prints it', async () => {
    const other = startGroup('exec sleep 301');
    await pause(100);
    const { startTime } = await identityOf(other.pid);
    const recorded = { startTime, commandLine: 'sh /opt/wso2am-4.2.0/bin/api-manager.sh -Dmigrate' };

    const output = await runPostWith({ serverPid: other.pid, serverIdentity: recorded });

    expect(output).toContain('is no longer the API-M server');
    expect(output).not.toContain('sleep 301');
    expect(groupAlive(other.pid)).toBe(true);
  });

  it('leaves alone a live pid for which nothing was recorded', async () => {
    const other = startGroup('exec sleep 300');
    await pause(100);

    const output = await runPostWith({ serverPid: other.pid });

    expect(output).toContain(`recorded no start time and command line for pid ${other.pid}`);
    expect(groupAlive(other.pid)).toBe(true);
  });

  it("stops the rest of the group when its leader has ended: the group's id is not reused while it lives", async () => {
    // The leader (sh) ends at once and leaves its child (sleep) running in the group.
    const server = startGroup('sleep 300 & exit 0');
    const exited = once(server, 'exit');
    const recorded = { startTime: '0', commandLine: `sh -c sleep 300 & exit 0` };
    await exited;
    await pause(100);
    expect(await readProcessIdentity(server.pid)).toBeUndefined();
    expect(groupAlive(server.pid)).toBe(true);

    const output = await runPostWith({ serverPid: server.pid, serverIdentity: recorded });

    expect(output).toContain(`stopping the API-M server (pid ${server.pid})`);
    expect(groupAlive(server.pid)).toBe(false);
  });
});
