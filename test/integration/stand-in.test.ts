/**
 * The stand-in API-M server (src/demo/stand-in-apim/bin/api-manager.sh and its "JVM" stand-in-jvm.sh) as real
 * processes: the launcher rules of WSO2's api-manager.sh, the log layouts, the migration clients' lines and the
 * behaviour switches. Every server runs in its own process group, killed after each test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeJavaHome, makeFakeJdk } from '../helpers/java.js';
import {
  installStandIn,
  makeIdentityMigrationConfig,
  readStandInArgs,
  type StandInBehaviour,
  type StandInHome,
} from '../helpers/stand-in.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

type Shell = 'dash' | 'sh';

const temp = createTempDirs('apim-migrate-stand-in-');
const groups: number[] = [];

afterEach(async () => {
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await temp.cleanup();
});

const IDENTITY_ARGS = ['-Dmigrate', '-Dcomponent=identity'];
const APIM_ARGS = ['-Dmigrate', '-DmigrateFromVersion=3.1.0', '-DmigratedVersion=4.2.0'];
const VALIDATE_ARGS = [...APIM_ARGS, '-DrunPreMigration'];

const STARTED = /WSO2 Carbon started in \d+ sec$/m;
const IDENTITY_SUCCESS = 'Execution was done through all the requested version list without having unexpected issues';
const APIM_SUCCESS = 'WSO2 API-M Migration Task : Successfully completed API-M migration from 3.1.0 to 4.2.0';
/** A console record: `[yyyy-MM-dd HH:mm:ss,SSS] LEVEL - ShortName message`. */
const CONSOLE_RECORD = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] (TRACE|DEBUG| INFO| WARN|ERROR|FATAL) - (\S+) (.*)$/;
/** A record of wso2carbon.log: `TID: [-1234] [] [date] LEVEL {full.Name} - message`. */
const FILE_RECORD =
  /^TID: \[-1234\] \[\] \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] (TRACE|DEBUG| INFO| WARN|ERROR|FATAL) \{([^}]+)\} - (.*)$/;

/** The environment of a launcher run: the test's own, without the variables the launcher reads, plus `extra`. */
function launcherEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['CARBON_HOME', 'JAVA_HOME', 'JAVACMD', 'JAVA_OPTS', 'JVM_MEM_OPTS', 'JAVA_VERSION']) {
    delete env[name];
  }
  return { ...env, ...extra };
}

interface Server {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `<shell> <launcher> <args>` in a process group of its own (killed after the test). */
function start(shell: Shell, launcher: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Server {
  const child = spawn(shell, [launcher, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
    ...(cwd ? { cwd } : {}),
  });
  const pid = child.pid ?? 0;
  groups.push(pid);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, pid, stdout: () => out, stderr: () => err, exited };
}

/** Runs a launcher command to its end (at most 10 s). */
async function run(
  shell: Shell,
  launcher: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const server = start(shell, launcher, args, env, cwd);
  const timer = setTimeout(() => process.kill(-server.pid, 'SIGKILL'), 10_000);
  const { code } = await server.exited;
  clearTimeout(timer);
  return { code, stdout: server.stdout(), stderr: server.stderr() };
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function settle(ms = 400): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The console records, parsed. */
function records(stdout: string): { level: string; logger: string; message: string; line: string }[] {
  return stdout.split('\n').flatMap((line) => {
    const match = CONSOLE_RECORD.exec(line);
    return match ? [{ level: (match[1] ?? '').trim(), logger: match[2] ?? '', message: match[3] ?? '', line }] : [];
  });
}

function errors(stdout: string): string[] {
  return records(stdout)
    .filter((record) => record.level === 'ERROR')
    .map((record) => record.message.trim());
}

/** The index of the first console line that contains `text` (fails when there is none). */
function indexOf(stdout: string, text: string | RegExp): number {
  const index = stdout
    .split('\n')
    .findIndex((line) => (typeof text === 'string' ? line.includes(text) : text.test(line)));
  expect(index, `a line with ${String(text)}`).toBeGreaterThanOrEqual(0);
  return index;
}

interface Setup {
  kit?: 'identity' | 'apim' | 'none';
  identityConfig?: string;
  behaviour?: StandInBehaviour;
}

async function home(setup: Setup = {}): Promise<StandInHome> {
  return installStandIn(await temp.make(), {
    kit: setup.kit ?? 'none',
    ...(setup.identityConfig ? { identityConfig: setup.identityConfig } : {}),
    ...(setup.behaviour ? { behaviour: setup.behaviour } : {}),
  });
}

/** Starts the stand-in from `standIn` with a fake JDK and waits for `until` (default: Carbon started). */
async function serve(
  standIn: StandInHome,
  args: string[],
  options: { shell?: Shell; until?: RegExp | string; env?: Record<string, string> } = {},
): Promise<Server> {
  const env = launcherEnv({ JAVA_HOME: await fakeJavaHome(), ...options.env });
  const server = start(options.shell ?? 'dash', standIn.launcher, args, env);
  const until = options.until ?? STARTED;
  await waitFor(
    () => (typeof until === 'string' ? server.stdout().includes(until) : until.test(server.stdout())),
    `${String(until)} in the console`,
  );
  return server;
}

/** Stops a stand-in through `--stop` and waits for its launcher to end. */
async function stop(standIn: StandInHome, server: Server): Promise<{ code: number | null }> {
  const result = await run('dash', standIn.launcher, ['--stop'], launcherEnv({ JAVA_HOME: await fakeJavaHome() }));
  expect(result.code).toBe(0);
  return server.exited;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/\) [ZX] /.test(readProcStat(pid));
}

function readProcStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}

async function pidOf(standIn: StandInHome): Promise<number> {
  return Number.parseInt((await readFile(standIn.pidFile, 'utf8')).trim(), 10);
}

// ---------------------------------------------------------------------------------------------------------------

describe('the launcher', () => {
  it('without JAVA_HOME exits 1 with the real message before looking at its arguments, --stop and --version too', async () => {
    const standIn = await home();
    const cwd = await temp.make(); // no file named java in it
    for (const args of [IDENTITY_ARGS, ['--stop'], ['--version'], ['--start']]) {
      const result = await run('dash', standIn.launcher, args, launcherEnv({}), cwd);
      expect(result).toEqual({
        code: 1,
        stdout: 'Error: JAVA_HOME is not defined correctly.\n CARBON cannot execute java\n',
        stderr: '',
      });
    }
    expect(existsSync(standIn.pidFile)).toBe(false);
  });

  it('with a working JAVACMD but no JAVA_HOME says JAVA_HOME must be set', async () => {
    const standIn = await home();
    const result = await run(
      'dash',
      standIn.launcher,
      ['--stop'],
      launcherEnv({ JAVACMD: join(await fakeJavaHome(), 'bin', 'java') }),
    );
    expect(result).toEqual({
      code: 1,
      stdout: 'You must set the JAVA_HOME variable before running CARBON.\n',
      stderr: '',
    });
  });

  it('with a JAVA_HOME that has no bin/java says JAVA_HOME is not defined correctly', async () => {
    const standIn = await home();
    const notAJdk = await temp.make();
    const result = await run('sh', standIn.launcher, IDENTITY_ARGS, launcherEnv({ JAVA_HOME: notAJdk }));
    expect(result).toEqual({
      code: 1,
      stdout: `Error: JAVA_HOME is not defined correctly.\n CARBON cannot execute ${notAJdk}/bin/java\n`,
      stderr: '',
    });
  });

  it.each(['dash', 'sh'] as const)(
    'through %s: runs the JVM as its child, whose pid is in wso2carbon.pid, and --stop ends both',
    async (shell) => {
      const standIn = await home();
      const server = await serve(standIn, ['-Dmigrate'], { shell });
      const jvm = await pidOf(standIn);
      expect(jvm).not.toBe(server.pid);
      // /proc/<pid>/stat: "pid (comm) state ppid ..."
      const ppid = Number(readProcStat(jvm).split(') ')[1]?.split(' ')[1]);
      expect(ppid).toBe(server.pid);
      const commandLine = (await readFile(`/proc/${jvm}/cmdline`, 'utf8')).split('\0');
      expect(commandLine).toEqual(
        expect.arrayContaining([
          join(standIn.home, 'bin', 'stand-in-jvm.sh'),
          `-Dcarbon.home=${standIn.home}`,
          'org.wso2.carbon.bootstrap.Bootstrap',
          '-Dmigrate',
        ]),
      );
      expect(commandLine.indexOf('org.wso2.carbon.bootstrap.Bootstrap')).toBe(commandLine.indexOf('-Dmigrate') - 1);

      const exit = await stop(standIn, server);
      // The loop ends on the JVM's 143; the launcher's own status is the loop's: 0.
      expect(exit.code).toBe(0);
      expect(alive(jvm)).toBe(false);
      expect(server.stdout().trimEnd().split('\n').at(-1)).toMatch(/ INFO - CarbonServerManager Halting JVM$/);
      expect(server.stdout()).toContain('Shutdown complete');
      // Nothing removes the pid file: it names the ended JVM.
      expect(await pidOf(standIn)).toBe(jvm);
      expect(await readStandInArgs(standIn.home)).toEqual([['-Dmigrate'], ['--stop']]);
    },
  );

  it('prints the real lines before the JVM starts', async () => {
    const standIn = await home();
    const jdk = await fakeJavaHome();
    const server = await serve(standIn, []);
    expect(server.stdout().split('\n').slice(0, 3)).toEqual([
      `JAVA_HOME environment variable is set to ${jdk}`,
      `CARBON_HOME environment variable is set to ${standIn.home}`,
      'Using Java memory options: -Xms256m -Xmx1024m',
    ]);
  });

  it('keeps an inherited CARBON_HOME of another home: that home runs, and --stop stops that one', async () => {
    const mine = await home();
    const other = await home();
    const env = { CARBON_HOME: other.home };
    const server = await serve(mine, ['-Dprofile=control-plane'], { env });
    expect(server.stdout()).toContain(`CARBON_HOME environment variable is set to ${other.home}`);
    expect(server.stdout()).toContain(`Carbon Home      : ${other.home}`);
    expect(existsSync(mine.pidFile)).toBe(false);
    expect(existsSync(mine.argsFile)).toBe(false);
    expect(await readStandInArgs(other.home)).toEqual([['-Dprofile=control-plane']]);
    await waitFor(async () => STARTED.test(await readFile(other.carbonLog, 'utf8')), "the other home's log file");

    const result = await run(
      'dash',
      mine.launcher,
      ['--stop'],
      launcherEnv({ JAVA_HOME: await fakeJavaHome(), ...env }),
    );
    expect(result.code).toBe(0);
    expect((await server.exited).code).toBe(0);
    expect(await readStandInArgs(other.home)).toEqual([['-Dprofile=control-plane'], ['--stop']]);
  });

  it('word-splits its arguments as the real `for c in $*` does', async () => {
    const standIn = await home();
    const server = await serve(standIn, ['-Dprofile=control plane']);
    expect(server.stdout()).toContain('Starting the server with the profile: control\n');
    // The test hook records the arguments as given.
    expect(await readStandInArgs(standIn.home)).toEqual([['-Dprofile=control plane']]);
  });

  it('--version prints bin/version.txt and bin/wso2carbon-version.txt', async () => {
    const standIn = await home();
    const env = launcherEnv({ JAVA_HOME: await fakeJavaHome() });
    const without = await run('dash', standIn.launcher, ['--version'], env);
    expect(without.code).toBe(0);
    expect(without.stdout).toBe('WSO2 API Manager v4.2.0\n');
    expect(without.stderr).toContain('wso2carbon-version.txt');

    await writeFile(join(standIn.home, 'bin', 'wso2carbon-version.txt'), 'WSO2 Carbon Framework v4.8.1\n');
    expect(await run('sh', standIn.launcher, ['-version'], env)).toEqual({
      code: 0,
      stdout: 'WSO2 API Manager v4.2.0\nWSO2 Carbon Framework v4.8.1\n',
      stderr: '',
    });
  });

  it('--start runs the server in the background with the other arguments; a second --start finds it running', async () => {
    const standIn = await home();
    const env = launcherEnv({ JAVA_HOME: await fakeJavaHome() });
    const first = start('dash', standIn.launcher, ['--start', '-Dprofile=control-plane'], env);
    expect((await first.exited).code).toBe(0);
    await waitFor(async () => STARTED.test(await readFile(standIn.carbonLog, 'utf8').catch(() => '')), 'the start');
    const jvm = await pidOf(standIn);
    expect(alive(jvm)).toBe(true);

    expect(await run('dash', standIn.launcher, ['start'], env)).toMatchObject({
      code: 0,
      stdout: 'Process is already running\n',
    });
    expect(await run('dash', standIn.launcher, ['-stop'], env)).toMatchObject({ code: 0 });
    await waitFor(() => !alive(jvm), 'the JVM to end');
    expect(await readStandInArgs(standIn.home)).toEqual([
      ['--start', '-Dprofile=control-plane'],
      ['-Dprofile=control-plane'],
      ['start'],
      ['-stop'],
    ]);
  });

  it('--test execs the JVM, so the launcher ends with its status (143 after --stop)', async () => {
    const standIn = await home();
    const server = await serve(standIn, ['--test']);
    expect(await pidOf(standIn)).toBe(server.pid);
    expect((await stop(standIn, server)).code).toBe(143);
  });

  it('warns about a JDK outside 11 to 17 and still starts', async () => {
    const standIn = await home();
    const jdk = await makeFakeJdk(join(await temp.make(), 'jdk-21'), '21.0.2');
    const server = await serve(standIn, [], { env: { JAVA_HOME: jdk } });
    expect(server.stdout()).toContain(
      ' Starting WSO2 Carbon (in unsupported JDK)\n [ERROR] CARBON is supported only between JDK 11 and JDK 17\n',
    );
  });

  it('empties <HOME>/tmp before it starts the JVM', async () => {
    const standIn = await home();
    await mkdir(join(standIn.home, 'tmp', 'work'), { recursive: true });
    await writeFile(join(standIn.home, 'tmp', 'left-over.txt'), 'x');
    await serve(standIn, []);
    expect(await readdir(join(standIn.home, 'tmp'))).toEqual([]);
  });

  it('a SIGTERM to the JVM gives the shutdown lines; a SIGINT too', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const standIn = await home();
      const server = await serve(standIn, []);
      process.kill(await pidOf(standIn), signal);
      expect((await server.exited).code).toBe(0);
      expect(server.stdout()).toContain('Shutdown hook triggered....');
    }
  });
});

describe('the log layouts', () => {
  it('console: short class names; wso2carbon.log: TID prefix and full class names; stack traces raw in both', async () => {
    const standIn = await home({ kit: 'identity', behaviour: { fail: true } });
    // The last record of the start, in both (the file gets each record just after the console).
    const server = await serve(standIn, IDENTITY_ARGS, { until: 'Mgt Console URL' });
    await waitFor(async () => (await readFile(standIn.carbonLog, 'utf8')).includes('Mgt Console URL'), 'the log file');
    const consoleLines = server.stdout().split('\n');
    expect(consoleLines.find((line) => line.includes('WSO2 Carbon started'))).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]  INFO - StartupFinalizerServiceComponent WSO2 Carbon started in \d+ sec$/,
    );
    expect(consoleLines.find((line) => line.includes('Migration process was stopped.'))).toMatch(
      /^\[[^\]]+\] ERROR - MigrationClientImpl Migration process was stopped\.$/,
    );

    const fileLines = (await readFile(standIn.carbonLog, 'utf8')).split('\n');
    expect(fileLines.find((line) => line.includes('WSO2 Carbon started'))).toMatch(
      /^TID: \[-1234\] \[\] \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\]  INFO \{org\.wso2\.carbon\.core\.internal\.StartupFinalizerServiceComponent\} - WSO2 Carbon started in \d+ sec$/,
    );
    expect(fileLines.find((line) => line.includes('Migration process was stopped.'))).toMatch(
      /^TID: \[-1234\] \[\] \[[^\]]+\] ERROR \{org\.wso2\.carbon\.is\.migration\.MigrationClientImpl\} - Migration process was stopped\.$/,
    );
    const trace = 'org.wso2.carbon.identity.core.migrate.MigrationClientException: Error occurred while executing : ';
    expect(consoleLines.some((line) => line.startsWith(trace))).toBe(true);
    expect(fileLines.some((line) => line.startsWith(trace))).toBe(true);
    expect(consoleLines.some((line) => line.startsWith('\tat org.wso2.carbon.is.migration.'))).toBe(true);

    // Every record is in both, in the same order.
    const consoleRecords = consoleLines.flatMap((line) => {
      const match = CONSOLE_RECORD.exec(line);
      return match ? [`${match[1]} ${match[3]}`] : [];
    });
    const fileRecords = fileLines.flatMap((line) => {
      const match = FILE_RECORD.exec(line);
      return match ? [`${match[1]} ${match[3]}`] : [];
    });
    expect(fileRecords).toEqual(consoleRecords);
    // The short name is the last part of the full one.
    const fullNames = fileLines.flatMap((line) => FILE_RECORD.exec(line)?.[2] ?? []);
    expect(records(server.stdout()).map((record) => record.logger)).toEqual(
      fullNames.map((name) => name.split('.').at(-1)),
    );
  });
});

describe('the identity migration client', () => {
  it('runs during IdentityCoreServiceComponent activation, before the server finishes starting; no ERROR', async () => {
    const standIn = await home({ kit: 'identity' });
    const server = await serve(standIn, IDENTITY_ARGS);
    const out = server.stdout();
    expect(errors(out)).toEqual([]);
    const executing = indexOf(
      out,
      ' INFO - IdentityCoreServiceComponent Executing Migration client : org.wso2.carbon.is.migration.MigrationClientImpl',
    );
    const loading = indexOf(
      out,
      `INFO - Config  WSO2 Product Migration Service Task : Loading Migration Configs, PATH:${standIn.home}/migration-resources/migration-config.yaml`,
    );
    const loaded = indexOf(
      out,
      'INFO - Config  WSO2 Product Migration Service Task : Successfully loaded the config file.',
    );
    const list = indexOf(out, 'INFO - MigrationClientImpl Migration Versions List.........................');
    const step = indexOf(
      out,
      'INFO - VersionMigration  WSO2 Product Migration Service Task : Version : 5.11.0, Migration Step : SchemaMigrator of order : 3 is starting........................... ',
    );
    const success = indexOf(
      out,
      `INFO - MigrationClientImpl  WSO2 Product Migration Service Task : ${IDENTITY_SUCCESS}`,
    );
    const server42 = indexOf(out, 'INFO - StartupFinalizerServiceComponent Server           :  WSO2 API Manager-4.2.0');
    const started = indexOf(out, STARTED);
    expect([executing, loading, loaded, list, step, success, server42, started]).toEqual(
      [executing, loading, loaded, list, step, success, server42, started].sort((a, b) => a - b),
    );
    const lines = out.split('\n');
    // 12 dot lines before the run, 9 after it.
    expect(lines.slice(loaded + 1, list).every((line) => line.endsWith(`MigrationClientImpl ${'.'.repeat(92)}`))).toBe(
      true,
    );
    expect(list - loaded - 1).toBe(12);
    expect(lines.slice(success + 1, success + 10).every((line) => line.endsWith('.'.repeat(92)))).toBe(true);
    // The walk: every version of the list is announced up to migrateVersion; only 5.11.0 and 6.0.0 run.
    expect(out).toContain(' WSO2 Product Migration Service Task : Start Version : 5.0.0 to 5.0.0-SP1');
    expect(out).toContain('Start Version : 5.11.0 to 6.0.0');
    expect(out).not.toContain('Version : 5.10.0, Migration Step');
    expect(out).toContain('Version : 6.0.0, Migration Step : RecoveryDataMigrator of order : 13 is starting');
    expect(out).toContain(
      `DB script: ${standIn.home}/migration-resources/5.11.0/dbscripts/step1/um/h2.sql is not available for this migration`,
    );
  });

  it('without the jar: only WARN "Waiting for migration client." and the start stalls there', async () => {
    const standIn = await home();
    const server = await serve(standIn, IDENTITY_ARGS, { until: 'Waiting for migration client.' });
    await settle();
    const out = server.stdout();
    expect(out).toMatch(/^\[[^\]]+\]  WARN - IdentityCoreServiceComponent Waiting for migration client\.$/m);
    expect(out).not.toMatch(STARTED);
    expect(out).not.toContain('Executing Migration client');
    expect(errors(out)).toEqual([]);
    expect(alive(await pidOf(standIn))).toBe(true);
  });

  it('bundle-inactive: the jar is there but the start stalls as without it', async () => {
    const standIn = await home({ kit: 'identity', behaviour: { bundleInactive: true } });
    const server = await serve(standIn, IDENTITY_ARGS, { until: 'Waiting for migration client.' });
    await settle();
    const out = server.stdout();
    expect(out).not.toMatch(STARTED);
    expect(out).not.toContain('Executing Migration client');
    expect(errors(out)).toEqual([]);
  });

  it('does not run without -Dmigrate or without identity in -Dcomponent', async () => {
    for (const args of [['-Dcomponent=identity'], ['-Dmigrate'], ['-Dmigrate=false', '-Dcomponent=identity']]) {
      const standIn = await home({ kit: 'identity' });
      const server = await serve(standIn, args);
      expect(server.stdout()).not.toContain('Executing Migration client');
      expect(server.stdout()).not.toContain('Waiting for migration client');
    }
  });

  it('migrationEnable "false": the Config lines, then nothing of the client; the server starts', async () => {
    const config = makeIdentityMigrationConfig().replace('migrationEnable: "true"', 'migrationEnable: "false"');
    const standIn = await home({ kit: 'identity', identityConfig: config });
    const server = await serve(standIn, IDENTITY_ARGS);
    const out = server.stdout();
    expect(out).toContain('Successfully loaded the config file.');
    expect(records(out).filter((record) => record.logger === 'MigrationClientImpl')).toEqual([]);
    expect(out).not.toContain('Migration Step');
    expect(errors(out)).toEqual([]);
  });

  it('reads migrationEnable as SnakeYAML does: "True" and "yes" are true', async () => {
    for (const value of ['"True"', 'yes']) {
      const config = makeIdentityMigrationConfig().replace('migrationEnable: "true"', `migrationEnable: ${value}`);
      const standIn = await home({ kit: 'identity', identityConfig: config });
      const server = await serve(standIn, IDENTITY_ARGS);
      expect(server.stdout()).toContain(IDENTITY_SUCCESS);
    }
  });

  it('an unknown top-level key (isSeparateRegistryDB before 1.0.227) stops the client; 1.0.227 knows it', async () => {
    const config = makeIdentityMigrationConfig({ extraTopLevel: ['isSeparateRegistryDB: "false"'] });
    const standIn = await home({ kit: 'identity', identityConfig: config });
    const server = await serve(standIn, IDENTITY_ARGS);
    const out = server.stdout();
    expect(errors(out)).toEqual(['Migration process was stopped.']);
    expect(out).toContain(
      'org.yaml.snakeyaml.constructor.ConstructorException: Cannot create property=isSeparateRegistryDB for JavaBean=org.wso2.carbon.is.migration.config.Config@',
    );
    expect(out).toContain(
      "Unable to find property 'isSeparateRegistryDB' on class: org.wso2.carbon.is.migration.config.Config",
    );
    expect(out).not.toContain('Successfully loaded the config file.');
    expect(out).toMatch(STARTED);

    const newer = await home({ kit: 'identity', identityConfig: config });
    await rm(join(newer.home, 'repository', 'components', 'dropins', 'org.wso2.carbon.is.migration-1.0.225.jar'));
    await writeFile(
      join(newer.home, 'repository', 'components', 'dropins', 'org.wso2.carbon.is.migration-1.0.227.jar'),
      'PK',
    );
    expect((await serve(newer, IDENTITY_ARGS)).stdout()).toContain(IDENTITY_SUCCESS);
  });

  it('without migration-config.yaml: the Config ERROR, then "Migration process was stopped."', async () => {
    const standIn = await home({ kit: 'identity' });
    await rm(join(standIn.home, 'migration-resources', 'migration-config.yaml'));
    const out = (await serve(standIn, IDENTITY_ARGS)).stdout();
    expect(errors(out)).toEqual(['Error while loading migration configs.', 'Migration process was stopped.']);
    expect(out).toContain(
      `migration-config.yaml file does not exist at: ${standIn.home}/migration-resources/migration-config.yaml`,
    );
    expect(out).toContain('java.lang.NullPointerException');
  });

  it('the version walk: migrateVersion "6.1.0" without a 6.1.0 entry runs to the end of the list and succeeds', async () => {
    const standIn = await home({
      kit: 'identity',
      identityConfig: makeIdentityMigrationConfig({ migrateVersion: '6.1.0' }),
    });
    const out = (await serve(standIn, IDENTITY_ARGS)).stdout();
    expect(out).toContain('Version : 6.0.0, Migration Step : RecoveryDataMigrator of order : 13 is starting');
    expect(out).not.toContain('6.0.0 to 6.1.0');
    expect(out).toContain(IDENTITY_SUCCESS);
    expect(errors(out)).toEqual([]);
  });

  it('the version walk: a client that knows 6.1.0 (1.0.226-1.0.229) fails on a yaml without that entry', async () => {
    const standIn = await home({
      kit: 'identity',
      identityConfig: makeIdentityMigrationConfig({ migrateVersion: '6.1.0' }),
    });
    await rm(join(standIn.home, 'repository', 'components', 'dropins', 'org.wso2.carbon.is.migration-1.0.225.jar'));
    await writeFile(
      join(standIn.home, 'repository', 'components', 'dropins', 'org.wso2.carbon.is.migration-1.0.228.jar'),
      'PK',
    );
    const out = (await serve(standIn, IDENTITY_ARGS)).stdout();
    expect(out).toContain('MigrationClientImpl 6.0.0 to 6.1.0');
    expect(out).toContain('Start Version : 6.0.0 to 6.1.0');
    expect(errors(out)).toEqual(['Migration process was stopped.']);
    expect(out).toContain('java.lang.NullPointerException');
    expect(out).not.toContain(IDENTITY_SUCCESS);
  });

  it('the version walk stops after the entry that equals migrateVersion', async () => {
    const standIn = await home({
      kit: 'identity',
      identityConfig: makeIdentityMigrationConfig({ migrateVersion: '5.11.0' }),
    });
    const out = (await serve(standIn, IDENTITY_ARGS)).stdout();
    expect(out).toContain('Version : 5.11.0, Migration Step : GroupsAndRolesMigrator of order : 4 is starting');
    expect(out).not.toContain('Start Version : 5.11.0 to 6.0.0');
    expect(out).not.toContain('Version : 6.0.0, Migration Step');
    expect(out).toContain(IDENTITY_SUCCESS);
  });

  it('the stand-in checks of the required edits fail with "Migration process was stopped."', async () => {
    const kept = await home({
      kit: 'identity',
      identityConfig: makeIdentityMigrationConfig({ keepRemovedMigrators: true }),
    });
    const out = (await serve(kept, IDENTITY_ARGS)).stdout();
    expect(out).toContain('Version : 5.11.0, Migration Step : EncryptionAdminFlowMigrator of order : 1 is starting');
    expect(errors(out)).toEqual(['Migration process was stopped.']);
    expect(out).toContain('EncryptionAdminFlowMigrator must be removed for API-M (stand-in check)');

    const wrong = await home({
      kit: 'identity',
      identityConfig: makeIdentityMigrationConfig({ currentVersion: '5.9.0' }),
    });
    const wrongOut = (await serve(wrong, IDENTITY_ARGS)).stdout();
    expect(errors(wrongOut)).toEqual(['Migration process was stopped.']);
    expect(wrongOut).toContain('currentVersion must be "5.10.0"');
  });

  it('fail: the SchemaMigrator ERROR, then "Migration process was stopped.", then the server starts', async () => {
    const standIn = await home({ kit: 'identity', behaviour: { fail: true } });
    const out = (await serve(standIn, IDENTITY_ARGS)).stdout();
    expect(errors(out)).toEqual([
      'An error occurred while rolling back transactions.',
      'Migration process was stopped.',
    ]);
    expect(out).not.toContain(IDENTITY_SUCCESS);
    expect(out).toMatch(STARTED);
  });

  it('error-before-success: one ERROR, then the success line', async () => {
    const standIn = await home({ kit: 'identity', behaviour: { errorBeforeSuccess: true } });
    const out = (await serve(standIn, IDENTITY_ARGS)).stdout();
    expect(errors(out)).toEqual(['An error occurred while rolling back transactions.']);
    expect(indexOf(out, 'ERROR - SchemaMigrator')).toBeLessThan(indexOf(out, IDENTITY_SUCCESS));
  });
});

describe('the API-M migration client', () => {
  it('runs in the startup observers: the real start line, the four hops with their loggers, re-indexing, success', async () => {
    const standIn = await home({ kit: 'apim' });
    const out = (await serve(standIn, APIM_ARGS)).stdout();
    expect(errors(out)).toEqual([]);
    const startLine = indexOf(
      out,
      ' INFO - APIMMigrationClient WSO2 API-M Migration Task : Starting API-M migration from 3.1.0 to 3.1.0',
    );
    const hops = [
      ['V410Migration', '3.1.0', '3.2.0'],
      ['V400Migration', '3.2.0', '4.0.0'],
      ['V410Migration', '4.0.0', '4.1.0'],
      ['V420Migration', '4.1.0', '4.2.0'],
    ].map(([logger, from, to]) => {
      const starting = indexOf(
        out,
        `INFO - ${logger} WSO2 API-M Migration Task : Starting migration from ${from} to ${to}...`,
      );
      const lines = out.split('\n');
      expect(lines[starting - 1]).toMatch(new RegExp(` INFO - ${logger} -{98}$`));
      expect(lines[starting + 1]).toMatch(new RegExp(` INFO - ${logger} -{98}$`));
      return [
        starting,
        indexOf(out, `INFO - ${logger} WSO2 API-M Migration Task : Completed migration from ${from} to ${to}...`),
      ];
    });
    const reindexStarted = indexOf(
      out,
      'INFO - ArtifactReIndexingMigrator WSO2 API-M Migration Task : Artifact re-indexing migrator started',
    );
    const reindexDone = indexOf(
      out,
      'INFO - ArtifactReIndexingMigrator WSO2 API-M Migration Task : Artifact re-indexing migrator completed',
    );
    const success = indexOf(out, ` INFO - APIMMigrationClient ${APIM_SUCCESS}`);
    const serverLine = indexOf(out, 'Server           :  WSO2 API Manager-4.2.0');
    const started = indexOf(out, STARTED);
    const order = [startLine, ...hops.flat(), reindexStarted, reindexDone, success, serverLine, started];
    expect(order).toEqual([...order].sort((a, b) => a - b));

    // V320Migration logs under V410Migration's name, in the file too.
    expect(await readFile(standIn.carbonLog, 'utf8')).toContain(
      '{org.wso2.carbon.apimgt.migration.migrator.client.V410Migration} - WSO2 API-M Migration Task : Starting migration from 3.1.0 to 3.2.0...',
    );
  });

  it('-Dmigrate and -Dcomponent are not read: the jar alone runs it; without -DmigrateFromVersion it migrates from null', async () => {
    const standIn = await home({ kit: 'apim' });
    const out = (await serve(standIn, [])).stdout();
    expect(out).toContain('WSO2 API-M Migration Task : Starting API-M migration from null to null');
    expect(out).not.toContain('Starting migration from');
    expect(out).toContain('Artifact re-indexing migrator started');
    expect(out).toContain('WSO2 API-M Migration Task : Successfully completed API-M migration from null to null');
  });

  it('stops after the hop that reaches -DmigratedVersion', async () => {
    const standIn = await home({ kit: 'apim' });
    const out = (await serve(standIn, ['-DmigrateFromVersion=3.1.0', '-DmigratedVersion=4.1.0'])).stdout();
    expect(out).toContain('Completed migration from 4.0.0 to 4.1.0...');
    expect(out).not.toContain('Starting migration from 4.1.0 to 4.2.0...');
    expect(out).toContain('Successfully completed API-M migration from 3.1.0 to 4.1.0');
  });

  it('without the jar nothing migrates: the server just starts', async () => {
    const standIn = await home();
    const out = (await serve(standIn, APIM_ARGS)).stdout();
    expect(out).not.toContain('WSO2 API-M Migration Task');
    expect(out).not.toContain('APIMMigrationServiceComponent');
  });

  it('fail: "API Migration exception occurred while migrating", then re-indexing and the success line all the same', async () => {
    const standIn = await home({ kit: 'apim', behaviour: { fail: true } });
    const out = (await serve(standIn, APIM_ARGS)).stdout();
    expect(errors(out)).toEqual(['WSO2 API-M Migration Task : API Migration exception occurred while migrating']);
    expect(out).toContain(
      'org.wso2.carbon.apimgt.migration.APIMigrationException: WSO2 API-M Migration Task : Error while executing migration from API-Manager 3.2.0. ',
    );
    expect(out).not.toContain('Starting migration from 4.0.0 to 4.1.0');
    expect(indexOf(out, 'API Migration exception occurred')).toBeLessThan(indexOf(out, APIM_SUCCESS));
  });

  it('harmless-error and error-before-success', async () => {
    const harmless = await home({ kit: 'apim', behaviour: { harmlessError: true } });
    const harmlessOut = (await serve(harmless, APIM_ARGS)).stdout();
    expect(errors(harmlessOut)).toEqual([
      `SQL script not found at ${harmless.home}/migration-resources/migration-scripts/migration-4.1.0_to_4.2.0/h2.sql`,
    ]);
    expect(indexOf(harmlessOut, 'Starting migration from 4.1.0 to 4.2.0')).toBeLessThan(
      indexOf(harmlessOut, 'SQL script not found'),
    );

    const failing = await home({ kit: 'apim', behaviour: { errorBeforeSuccess: true } });
    const failingOut = (await serve(failing, APIM_ARGS)).stdout();
    expect(errors(failingOut)).toEqual(['WSO2 API-M Migration Task : Error occurred while migrating databases']);
    expect(failingOut).toContain(APIM_SUCCESS);
  });

  it('hang: the client never finishes and the server never finishes starting', async () => {
    const standIn = await home({ kit: 'apim', behaviour: { hang: true } });
    const server = await serve(standIn, APIM_ARGS, { until: 'Starting AM_DB data migration from 3.2.0 to 4.0.0' });
    await settle();
    expect(server.stdout()).not.toContain(APIM_SUCCESS);
    expect(server.stdout()).not.toMatch(STARTED);
    expect((await stop(standIn, server)).code).toBe(0);
  });

  it('die-early: the JVM crashes before the success line; the launcher still exits 0', async () => {
    const standIn = await home({ kit: 'apim', behaviour: { dieEarly: true } });
    const server = await serve(standIn, APIM_ARGS, { until: 'A fatal error has been detected' });
    expect((await server.exited).code).toBe(0);
    expect(server.stdout()).not.toContain(APIM_SUCCESS);
  });
});

describe('the pre-migration validation', () => {
  it('runs all steps for all tenants (the super tenant last); the AsyncAPI check does not run from 3.1.0; no ERROR', async () => {
    const standIn = await home({ kit: 'apim' });
    const out = (await serve(standIn, VALIDATE_ARGS)).stdout();
    expect(errors(out)).toEqual([]);
    expect(out).toContain(' INFO - ValidationHandler Running all validator steps.........');
    const steps = [
      'apiAvailabilityValidation',
      'apiDefinitionValidation',
      'apiResourceLevelAuthSchemeValidation',
      'apiDeployedGatewayTypeValidation',
    ];
    const marks = steps.flatMap((step) =>
      ['1(tenant.example)', '-1234(carbon.super)'].flatMap((tenant) => [
        indexOf(out, `INFO - ValidationHandler Starting ${step} for tenant ${tenant}..........`),
        indexOf(out, `INFO - ValidationHandler Successfully completed ${step} for tenant ${tenant}..........`),
      ]),
    );
    expect(marks).toEqual([...marks].sort((a, b) => a - b));
    expect(out).toContain(
      'INFO - APIValidator API ChatRoomAPI version: 1.0.0 type: WS was not validated since the AsyncAPI definitions are supported after API Manager 4.0.0',
    );
    expect(out).toContain(
      'INFO - APIValidator Validating API availability in db for API {name: PizzaShackAPI, version: 1.0.0, provider: admin}',
    );
    expect(out).toContain(
      'INFO - APIValidator Successfully validated graphql schema of StarWarsAPI version: 1.0.0type: GRAPHQL',
    );
    expect(out).toContain(
      'INFO - ApplicationValidator Validating third party key manager usage for application: DefaultApplication, subscriber: 1',
    );
    expect(indexOf(out, 'ApplicationValidator')).toBeLessThan(indexOf(out, STARTED));
    expect(out).not.toContain('WSO2 API-M Migration Task : Starting API-M migration');
  });

  it('-DrunPreMigration=<step> runs that step only', async () => {
    const standIn = await home({ kit: 'apim' });
    const out = (await serve(standIn, [...APIM_ARGS, '-DrunPreMigration=apiDefinitionValidation'])).stdout();
    expect(out).toContain('Running validator step : apiDefinitionValidation for tenants');
    expect(out).not.toContain('apiAvailabilityValidation');
    expect(out).not.toContain('ApplicationValidator');
  });

  it('invalid-definitions=8 gives each of the eight kinds once; -DsaveInvalidDefinition saves the OpenAPI ones', async () => {
    const standIn = await home({ kit: 'apim', behaviour: { invalidDefinitions: 8 } });
    const out = (await serve(standIn, [...VALIDATE_ARGS, '-DsaveInvalidDefinition'])).stdout();
    const saved = (n: number): string =>
      join(standIn.home, 'invalid-swagger-definitions', `7a1c0de0-0000-4000-8000-00000000000${n}.json`);
    expect(errors(out)).toEqual([
      'Unable to find the API {name: InvalidmissingAPI4, version: 1.0.4, provider: admin} in the database',
      'OpenAPI Definition for API {name: InvalidOpenAPIAPI1, version: 1.0.1, provider: admin} is invalid. ErrorMessage: attribute paths is not of type `object` ErrorDescription: attribute paths is not of type `object`',
      " Invalid GraphQL definition found. ErrorMessage: Invalid schema: Unknown type 'Querry'".trim(),
      'Invalid WSDL definition found. Error while reading the WSDL: Element type "wsdl:portType" must be followed by attribute specifications',
      'An unhandled exception has occurred while validating open API definition for InvalidUnhandledAPI5 version: 1.0.5 type: HTTP',
      'Error while validating open API definition for InvalidUnhandledAPI5 version: 1.0.5 type: HTTP Validation response is null.',
      ' Error while validating graphql api definition for API:InvalidGraphQLErrorAPI6 version: 1.0.6 org.wso2.carbon.apimgt.api.APIManagementException: Error while reading the GraphQL schema of InvalidGraphQLErrorAPI6'.trim(),
      'Error while validating wsdl file of API:InvalidWSDLFileAPI7 version: 1.0.7',
      'Error while getting wsdl file',
    ]);
    // The leading spaces of the real messages.
    expect(out).toContain('ERROR - APIValidator  Invalid GraphQL definition found. ErrorMessage: ');
    expect(out).toContain(
      'ERROR - APIValidator  Error while validating graphql api definition for API:InvalidGraphQLErrorAPI6 version: 1.0.6 ',
    );
    // "Error while getting wsdl file" names no API: the line before it does.
    const lines = out.split('\n');
    expect(lines[indexOf(out, 'ERROR - APIValidator Error while getting wsdl file') - 1]).toContain(
      'INFO - APIValidator Validating WSDL of InvalidWSDLGetAPI8 version: 1.0.8 type: SOAP',
    );
    expect(out).toContain(
      `INFO - Utils Invalid definition of API: {name: InvalidOpenAPIAPI1 version: 1.0.1 provider: admin} is saved successfully to ${saved(1)}`,
    );
    expect(out).toContain(
      `INFO - Utils Invalid definition of API: {name: InvalidUnhandledAPI5 version: 1.0.5 provider: admin} is saved successfully to ${saved(5)}`,
    );
    expect((await readdir(join(standIn.home, 'invalid-swagger-definitions'))).sort()).toEqual([
      '7a1c0de0-0000-4000-8000-000000000001.json',
      '7a1c0de0-0000-4000-8000-000000000005.json',
    ]);
    // Each step still completes for each tenant.
    expect(out.match(/Successfully completed \S+ for tenant -1234\(carbon\.super\)/g)).toHaveLength(4);
  });

  it('without -DsaveInvalidDefinition nothing is saved', async () => {
    const standIn = await home({ kit: 'apim', behaviour: { invalidDefinitions: 1 } });
    await serve(standIn, VALIDATE_ARGS);
    expect(existsSync(join(standIn.home, 'invalid-swagger-definitions'))).toBe(false);
  });

  it('fail: "Error while running the pre-migration validation" with the exception; no step completes', async () => {
    const standIn = await home({ kit: 'apim', behaviour: { fail: true } });
    const out = (await serve(standIn, VALIDATE_ARGS)).stdout();
    expect(errors(out)).toEqual(['WSO2 API-M Migration Task : Error while running the pre-migration validation']);
    expect(out).toMatch(
      /\] ERROR - APIMMigrationClient WSO2 API-M Migration Task : Error while running the pre-migration validation\n/,
    );
    expect(out).toContain(
      'org.wso2.carbon.apimgt.migration.APIMigrationException: Error occurred while retrieving API from the registry: artifact path name ',
    );
    expect(out).not.toContain('Successfully completed');
    expect(out).toMatch(STARTED);
  });

  it('error-before-success: the database ERROR, and the validation runs through', async () => {
    const standIn = await home({ kit: 'apim', behaviour: { errorBeforeSuccess: true } });
    const out = (await serve(standIn, VALIDATE_ARGS)).stdout();
    expect(errors(out)).toEqual(['Error while getting the database connection']);
    expect(out).toContain('Successfully completed apiDeployedGatewayTypeValidation for tenant -1234(carbon.super)');
  });
});

describe('the new switches', () => {
  it('client-error: an ERROR from a class without "Migrat" in its name, then the client carries on', async () => {
    const identity = await home({ kit: 'identity', behaviour: { clientError: true } });
    const identityOut = (await serve(identity, IDENTITY_ARGS)).stdout();
    expect(errors(identityOut)).toEqual(['Error while initializing datasource manager.']);
    expect(identityOut).toMatch(/ERROR - DataSourceManager Error while initializing datasource manager\.\n/);
    expect(identityOut).toContain(IDENTITY_SUCCESS);

    const apim = await home({ kit: 'apim', behaviour: { clientError: true } });
    const apimOut = (await serve(apim, APIM_ARGS)).stdout();
    expect(errors(apimOut)).toEqual([
      'WSO2 API-M Migration Task : Error occurred when getting GenericArtifacts from registry',
    ]);
    expect(apimOut).toContain(
      'ERROR - RegistryServiceImpl WSO2 API-M Migration Task : Error occurred when getting GenericArtifacts from registry',
    );
    expect(apimOut).toContain(APIM_SUCCESS);

    const validation = await home({ kit: 'apim', behaviour: { clientError: true } });
    const validationOut = (await serve(validation, VALIDATE_ARGS)).stdout();
    expect(errors(validationOut)[0]).toBe('Exception occurred when getting the definition');
    expect(validationOut).toContain('ERROR - Utils Exception occurred when getting the definition');
    // As the real validator: the definition it could not read counts as missing.
    expect(errors(validationOut)[1]).toBe(
      'Error while validating open API definition for PizzaShackAPI version: 1.0.0 type: HTTP. Swagger definition of the API is missing...',
    );
    expect(validationOut).toContain(
      'Successfully completed apiDeployedGatewayTypeValidation for tenant -1234(carbon.super)',
    );
    for (const logger of records(identityOut + apimOut + validationOut)
      .filter((r) => r.level === 'ERROR')
      .map((r) => r.logger)) {
      expect(logger).not.toMatch(/Migrat/);
    }
  });

  it('error-outside-window: one ERROR before the client starts, one after its verdict, before Carbon started', async () => {
    const identity = await home({ kit: 'identity', behaviour: { errorOutsideWindow: true } });
    const out = (await serve(identity, IDENTITY_ARGS)).stdout();
    const outside = errors(out);
    expect(outside).toHaveLength(2);
    expect(outside.every((message) => message.endsWith('(stand-in: error-outside-window)'))).toBe(true);
    const [first, second] = out.split('\n').flatMap((line, index) => (/ ERROR - /.test(line) ? [index] : []));
    expect(first).toBeLessThan(indexOf(out, 'Executing Migration client'));
    expect(second).toBeGreaterThan(indexOf(out, IDENTITY_SUCCESS));
    expect(second).toBeLessThan(indexOf(out, STARTED));

    const apim = await home({ kit: 'apim', behaviour: { errorOutsideWindow: true } });
    const apimOut = (await serve(apim, APIM_ARGS)).stdout();
    const [apimFirst, apimSecond] = apimOut
      .split('\n')
      .flatMap((line, index) => (/ ERROR - /.test(line) ? [index] : []));
    expect(apimFirst).toBeLessThan(indexOf(apimOut, /APIMMigrationServiceComponent|WSO2 API-M Migration Task/));
    expect(apimSecond).toBeGreaterThan(indexOf(apimOut, APIM_SUCCESS));
    expect(apimSecond).toBeLessThan(indexOf(apimOut, STARTED));
    for (const logger of records(out + apimOut)
      .filter((r) => r.level === 'ERROR')
      .map((r) => r.logger)) {
      expect(logger).not.toMatch(/Migrat|Validat/);
    }
  });

  it('no-verdict: the client starts a step, goes quiet, and the server starts', async () => {
    const identity = await home({ kit: 'identity', behaviour: { noVerdict: true } });
    const identityOut = (await serve(identity, IDENTITY_ARGS)).stdout();
    expect(identityOut).toContain('Migration Step : SchemaMigrator of order : 3 is starting');
    expect(identityOut).not.toContain(IDENTITY_SUCCESS);
    expect(identityOut).not.toContain('Migration process was stopped.');
    expect(errors(identityOut)).toEqual([]);

    const apim = await home({ kit: 'apim', behaviour: { noVerdict: true } });
    const apimOut = (await serve(apim, APIM_ARGS)).stdout();
    expect(apimOut).toContain('Starting migration from 3.1.0 to 3.2.0...');
    expect(apimOut).not.toContain('Successfully completed API-M migration');
    expect(apimOut).not.toContain('API Migration exception');
    expect(errors(apimOut)).toEqual([]);

    const validation = await home({ kit: 'apim', behaviour: { noVerdict: true } });
    const validationOut = (await serve(validation, VALIDATE_ARGS)).stdout();
    expect(validationOut).toContain('Starting apiDefinitionValidation for tenant -1234(carbon.super)..........');
    expect(validationOut).not.toContain(
      'Successfully completed apiDefinitionValidation for tenant -1234(carbon.super)',
    );
    expect(validationOut).not.toContain('apiDeployedGatewayTypeValidation');
    expect(errors(validationOut)).toEqual([]);
  });

  it('restart-once: the JVM exits 121 before any client line, the launcher runs it again, once per home', async () => {
    const standIn = await home({ kit: 'identity', behaviour: { restartOnce: true } });
    const server = await serve(standIn, IDENTITY_ARGS);
    const out = server.stdout();
    const restart = indexOf(
      out,
      ' INFO - CarbonServerManager Starting a new Carbon instance. Current instance will be shutdown',
    );
    expect(out.split('\n')[restart + 1]).toMatch(/ INFO - CarbonServerManager Halting JVM$/);
    expect(restart).toBeLessThan(indexOf(out, 'Executing Migration client'));
    expect(out.match(/Starting WSO2 Carbon\.\.\./g)).toHaveLength(2);
    expect(out.match(/Executing Migration client/g)).toHaveLength(1);
    expect(out).toContain(IDENTITY_SUCCESS);
    // The launcher ran once; the second JVM wrote the pid file again.
    expect(await readStandInArgs(standIn.home)).toEqual([IDENTITY_ARGS]);
    const jvm = await pidOf(standIn);
    expect(Number(readProcStat(jvm).split(') ')[1]?.split(' ')[1])).toBe(server.pid);
    expect((await stop(standIn, server)).code).toBe(0);

    const again = (await serve(standIn, IDENTITY_ARGS)).stdout();
    expect(again).not.toContain('Starting a new Carbon instance');
  });

  it('ignore-term: --stop does not stop the server', async () => {
    const standIn = await home({ behaviour: { ignoreTerm: true } });
    const server = await serve(standIn, []);
    await run('dash', standIn.launcher, ['--stop'], launcherEnv({ JAVA_HOME: await fakeJavaHome() }));
    await waitFor(() => server.stdout().includes('Shutdown hook triggered, but the server is busy'), 'the warning');
    await settle(200);
    expect(alive(await pidOf(standIn))).toBe(true);
  });

  it('print-env logs the variable; slow-ms slows the records down', async () => {
    const standIn = await home({ behaviour: { printEnv: 'STAND_IN_SECRET', slowMs: 5 } });
    const out = (await serve(standIn, [], { env: { STAND_IN_SECRET: 's3cret' } })).stdout();
    expect(out).toContain('Datasource WSO2_SHARED_DB: password=s3cret');
  });

  it('an unknown switch: the message on stderr, and the JVM ends with status 2', async () => {
    const standIn = await home();
    await writeFile(join(standIn.home, 'stand-in.conf'), 'fail\nexplode\n');
    const env = launcherEnv({ JAVA_HOME: await fakeJavaHome() });
    const result = await run('dash', standIn.launcher, ['--test', '-Dmigrate'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`stand-in: unknown switch 'explode' in ${standIn.home}/stand-in.conf`);
    // Through the normal loop the launcher's own status is 0.
    expect((await run('sh', standIn.launcher, ['-Dmigrate'], env)).code).toBe(0);
  });
});
