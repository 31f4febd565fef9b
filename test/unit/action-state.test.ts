/**
 * What the main step hands to the post step (src/entry/action-state.ts), and what the post step (src/entry/post.ts)
 * does with it, in-process: the state goes through a real GITHUB_STATE file and comes back as STATE_apim-migrate.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { actionStateSink, type ActionState } from '../../src/entry/action-state.js';
import { runPost } from '../../src/entry/post.js';
import { captureInProcessPostStep, POST_STATE_ENV } from '../helpers/post-step.js';
import { readFileCommands, STATE_NAME } from '../helpers/runner.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('action-state-');
const STATE_ENV = POST_STATE_ENV;
const postOutput = captureInProcessPostStep();

afterAll(() => temp.cleanup());

/** The state the sink saved last, as the runner hands it to the post step. */
async function lastState(file: string): Promise<ActionState> {
  return JSON.parse((await readFileCommands(file))[STATE_NAME] ?? '') as ActionState;
}

describe('the state the main step saves for the post step', () => {
  it('names the server, its home, its logs and the kit while they are there, and none of them afterwards', async () => {
    const file = path.join(await temp.make(), 'github_state');
    await writeFile(file, '');
    process.env['GITHUB_STATE'] = file;
    const sink = actionStateSink({ stage: 'apim', config: 'apim-migration.yml' });

    const logs = {
      dir: '/tmp/apim-migrate-apim-x/logs',
      artifact: 'apim-migrate-apim-logs-a1',
      retentionDays: 30,
      apimHome: '/opt/wso2am-4.2.0',
      store: { kind: 'folder' as const, dir: '/work/.apim-migrate', groupAccess: false },
      secretEnv: ['APIM_MIGRATE_BACKUP_PASSPHRASE'],
    };
    const command = { command: 'sh', args: ['/opt/wso2am-4.2.0/bin/api-manager.sh', '-Dmigrate'], display: 'sh ...' };
    sink.logsPending(logs);
    sink.kitInstalled('/opt/wso2am-4.2.0');
    sink.serverStarted(4242, '/opt/wso2am-4.2.0', command);
    expect(await lastState(file)).toEqual({
      stage: 'apim',
      config: 'apim-migration.yml',
      pendingLogs: logs,
      kitInstalledIn: '/opt/wso2am-4.2.0',
      serverPid: 4242,
      serverHome: '/opt/wso2am-4.2.0',
      serverCommand: command,
    });

    sink.serverStopped();
    sink.kitRemoved();
    expect(await lastState(file)).toEqual({ stage: 'apim', config: 'apim-migration.yml', pendingLogs: logs });
    sink.logsStored();
    expect(await lastState(file)).toEqual({ stage: 'apim', config: 'apim-migration.yml' });
  });

  it("keeps who the server's pid was at the start while it runs, and forgets it with the pid", async () => {
    const file = path.join(await temp.make(), 'github_state');
    await writeFile(file, '');
    process.env['GITHUB_STATE'] = file;
    const sink = actionStateSink({ stage: 'identity', config: 'apim-migration.yml' });
    const command = { command: 'sh', args: ['/opt/wso2am-4.2.0/bin/api-manager.sh', '-Dmigrate'], display: 'sh ...' };
    const identity = { startTime: '123456', commandLine: 'sh /opt/wso2am-4.2.0/bin/api-manager.sh -Dmigrate' };

    sink.serverStarted(4242, '/opt/wso2am-4.2.0', command, identity);
    expect((await lastState(file)).serverIdentity).toEqual(identity);
    // A later start without one (the platform tells none) does not keep the earlier server's.
    sink.serverStarted(4343, '/opt/wso2am-4.2.0', command);
    expect((await lastState(file)).serverIdentity).toBeUndefined();
    sink.serverStarted(4444, '/opt/wso2am-4.2.0', command, identity);
    sink.serverStopped();
    expect(await lastState(file)).toEqual({ stage: 'identity', config: 'apim-migration.yml' });
  });
});

describe('a server left running on purpose (startup.leaveRunning)', () => {
  it('is no longer the server the post step stops, and the post step says it leaves it alone', async () => {
    const file = path.join(await temp.make(), 'github_state');
    await writeFile(file, '');
    process.env['GITHUB_STATE'] = file;
    const sink = actionStateSink({ stage: 'startup', config: 'apim-migration.yml' });
    const command = { command: 'sh', args: ['/opt/wso2am-4.2.0/bin/api-manager.sh'], display: 'sh ...' };
    // A live process group stands for the server: the post step must not signal it.
    const server = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const pid = server.pid ?? 0;
    try {
      sink.serverStarted(pid, '/opt/wso2am-4.2.0', command);
      sink.serverLeftRunning();
      const state = await lastState(file);
      expect(state).toEqual({
        stage: 'startup',
        config: 'apim-migration.yml',
        serverLeftRunning: { pid, home: '/opt/wso2am-4.2.0' },
      });

      process.env[STATE_ENV] = JSON.stringify(state);
      await runPost();
      expect(process.exitCode ?? 0).toBe(0);
      expect(postOutput()).toContain(`the API-M server (pid ${pid}) in /opt/wso2am-4.2.0 was left running on purpose`);
      expect(() => process.kill(pid, 0)).not.toThrow();
    } finally {
      server.kill('SIGKILL');
    }
  });
});

describe('the post step', () => {
  it('removes the wso2carbon.pid that a server gone since the job was cancelled left in its home', async () => {
    const home = await temp.make();
    // A process group that has ended, as a server does that was killed (or died) after its main step.
    const server = spawn('sh', ['-c', 'exit 0'], { detached: true, stdio: 'ignore' });
    const pid = server.pid ?? 0;
    await once(server, 'exit');
    const pidFile = path.join(home, 'wso2carbon.pid');
    await writeFile(pidFile, `${pid}\n`);
    process.env[STATE_ENV] = JSON.stringify({
      stage: 'apim',
      config: 'apim-migration.yml',
      serverPid: pid,
      serverHome: home,
    } satisfies ActionState);

    await runPost();

    expect(process.exitCode ?? 0).toBe(0);
    expect(postOutput()).toContain(`stopping the API-M server (pid ${pid}) that stage apim left running`);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('leaves a wso2carbon.pid alone whose process still runs', async () => {
    const home = await temp.make();
    const gone = spawn('sh', ['-c', 'exit 0'], { detached: true, stdio: 'ignore' });
    await once(gone, 'exit');
    const pidFile = path.join(home, 'wso2carbon.pid');
    // Not the stage's server: another process (this one) that the file names now.
    await writeFile(pidFile, `${process.pid}\n`);
    process.env[STATE_ENV] = JSON.stringify({
      stage: 'apim',
      config: 'apim-migration.yml',
      serverPid: gone.pid ?? 0,
      serverHome: home,
    } satisfies ActionState);

    await runPost();

    expect(process.exitCode ?? 0).toBe(0);
    expect(existsSync(pidFile)).toBe(true);
  });
});
