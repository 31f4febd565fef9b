/**
 * A cancelled job: the main step is gone, the API-M server it started still runs and the migration kit is still in
 * the home. The built post step, given the state the main step saved, stops the server and removes the kit.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProcessIdentity } from '../../src/server/process-identity.js';
import { buildServerCommand } from '../../src/server/server-command.js';
import { groupAlive } from '../../src/server/server-runner.js';
import { BUNDLES, baseEnv, requireBundles, runNodeScript } from '../helpers/migration-setup.js';
import { runnerFiles } from '../helpers/runner.js';
import { fakeJavaHome } from '../helpers/java.js';
import { installStandIn, readStandInArgs } from '../helpers/stand-in.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('post-step-');
let home: string;
let pid: number;

beforeAll(async () => {
  requireBundles('post');
  home = path.join(await temp.make(), 'wso2am-4.2.0');
  await installStandIn(home, { kit: 'apim', behaviour: { slowMs: 5, hang: true } });
  const server = spawn('sh', [path.join(home, 'bin', 'api-manager.sh'), '-Dmigrate', '-DmigrateFromVersion=3.1.0'], {
    detached: true,
    stdio: 'ignore',
    // The launcher exits 1 without JAVA_HOME, as api-manager.sh does.
    env: { ...process.env, JAVA_HOME: await fakeJavaHome() },
  });
  server.unref();
  pid = server.pid ?? 0;
  const deadline = Date.now() + 10_000;
  while (!existsSync(path.join(home, 'wso2carbon.pid'))) {
    if (Date.now() > deadline) throw new Error('the stand-in server did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  if (pid && groupAlive(pid)) process.kill(-pid, 'SIGKILL');
  await temp.cleanup();
});

describe('the post step after a cancelled job', () => {
  it('stops the server the stage left running and removes the migration kit', async () => {
    expect(groupAlive(pid)).toBe(true);
    const dir = path.dirname(home);
    const files = {
      output: path.join(dir, 'output'),
      state: path.join(dir, 'state'),
      summary: path.join(dir, 'summary'),
    };
    for (const file of Object.values(files)) await writeFile(file, '');
    // As the main step saves it (action-state.ts): the server's home and launcher command come with its pid. The
    // runner's environment has a CARBON_HOME of another home: the command's own decides which server --stop stops.
    const serverCommand = buildServerCommand({
      apimHome: home,
      javaHome: await fakeJavaHome(),
      stage: 'apim',
      platform: 'linux',
    });
    const state = {
      stage: 'apim',
      config: 'apim-migration.yml',
      serverPid: pid,
      serverHome: home,
      serverCommand,
      // Who the pid was at the start: the post step stops it only while it still is.
      serverIdentity: await readProcessIdentity(pid),
      kitInstalledIn: home,
    };
    const post = await runNodeScript(BUNDLES.post, [], {
      cwd: dir,
      env: baseEnv({
        GITHUB_ACTIONS: 'true',
        GITHUB_OUTPUT: files.output,
        GITHUB_STATE: files.state,
        GITHUB_STEP_SUMMARY: files.summary,
        'STATE_apim-migrate': JSON.stringify(state),
        CARBON_HOME: path.join(dir, 'wso2am-3.1.0'),
      }),
      timeoutMs: 60_000,
    });
    expect(post.code, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).toContain(`stopping the API-M server (pid ${pid})`);
    expect(groupAlive(pid)).toBe(false);
    // Stopped through the launcher of this home, not by signals alone.
    expect((await readStandInArgs(home)).at(-1)).toEqual(['--stop']);
    expect(existsSync(path.join(home, 'wso2carbon.pid'))).toBe(false);
    expect(existsSync(path.join(home, 'migration-resources'))).toBe(false);
    const dropins = await readdir(path.join(home, 'repository', 'components', 'dropins'));
    expect(dropins.filter((name) => name.endsWith('.jar'))).toEqual([]);
  });
});

describe('the post step storing the logs of a stage that ended before it could', () => {
  it('masks wso2carbon.log and the gathered files with the secrets of the variables the state names', async () => {
    const dir = await temp.make();
    const apimHome = path.join(dir, 'wso2am-4.2.0');
    const logsDir = path.join(dir, 'work', 'logs');
    const storeDir = path.join(dir, 'store');
    await mkdir(path.join(apimHome, 'repository', 'logs'), { recursive: true });
    await mkdir(logsDir, { recursive: true });
    const passphrase = `post-step-passphrase-${process.pid}-a41f`;
    const token = `ghs_post-step-token-${process.pid}`;
    await writeFile(
      path.join(apimHome, 'repository', 'logs', 'wso2carbon.log'),
      `INFO {x.Y} - Datasource: password=${passphrase}\nclient_secret: plain-client-secret\n`,
    );
    await writeFile(path.join(logsDir, 'server-console.log'), `a line with ${passphrase} and ${token}\n`);
    const files = await runnerFiles(temp);
    // As the main step saves it: the names of the variables that hold secrets, never their values.
    const state = {
      stage: 'apim',
      config: 'apim-migration.yml',
      pendingLogs: {
        dir: logsDir,
        artifact: 'apim-migrate-apim-logs-a1',
        retentionDays: 1,
        apimHome,
        store: { kind: 'folder', dir: storeDir, groupAccess: false },
        secretEnv: ['APIM_MIGRATE_BACKUP_PASSPHRASE'],
      },
    };
    const post = await runNodeScript(BUNDLES.post, [], {
      cwd: dir,
      env: baseEnv({
        GITHUB_OUTPUT: files.output,
        GITHUB_STATE: files.state,
        GITHUB_STEP_SUMMARY: files.summary,
        'STATE_apim-migrate': JSON.stringify(state),
        APIM_MIGRATE_BACKUP_PASSPHRASE: passphrase,
        'INPUT_GITHUB-TOKEN': token,
        APIM_MIGRATE_RUN_ID: 'post-step-logs',
      }),
      timeoutMs: 60_000,
    });
    expect(post.code, post.stdout + post.stderr).toBe(0);
    expect(post.stdout).toContain('stored the logs of stage apim');
    const stored = path.join(storeDir, 'runs', 'post-step-logs', 'apim-migrate-apim-logs-a1');
    expect((await readdir(stored)).filter((name) => !name.startsWith('.')).sort()).toEqual([
      'server-console.log',
      'wso2carbon.log',
    ]);
    const carbonLog = await readFile(path.join(stored, 'wso2carbon.log'), 'utf8');
    expect(carbonLog).toBe('INFO {x.Y} - Datasource: password=***\nclient_secret: ***\n');
    expect(await readFile(path.join(stored, 'server-console.log'), 'utf8')).toBe('a line with *** and ***\n');
    // Printed only to register them with the runner.
    const printed = post.stdout
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n');
    for (const secret of [passphrase, token]) {
      expect(printed + post.stderr).not.toContain(secret);
      expect(post.stdout).toContain(`::add-mask::${secret}`);
    }
  });
});
