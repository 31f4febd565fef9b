/**
 * runServer and stopServerGroup against the stand-in API-M server (src/demo/stand-in-apim), one real process group
 * per test. No timing assertions: only what happened.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildServerCommand, type ServerStage } from '../../src/server/server-command.js';
import {
  groupAlive,
  runServer,
  ServerRunError,
  stopServerGroup,
  type ProblemText,
  type RunServerOptions,
  type RunServerResult,
} from '../../src/server/server-runner.js';
import { createRecordingLogger, type RecordingLogger } from '../helpers/fakes.js';
import { fakeJavaHome } from '../helpers/java.js';
import {
  installStandIn,
  makeIdentityMigrationConfig,
  readStandInArgs,
  recordLauncherEnv,
  type StandInBehaviour,
  type StandInHome,
} from '../helpers/stand-in.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-server-');
const started: number[] = [];

afterEach(async () => {
  // A failed assertion must not leave a server behind.
  for (const pid of started.splice(0)) {
    if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
  }
  await temp.cleanup();
});

interface Setup {
  stage: ServerStage;
  behaviour?: StandInBehaviour;
  kit?: 'identity' | 'apim' | 'none';
  /** The identity kit's migration-config.yaml; default the edited one. */
  identityConfig?: string;
  profile?: 'control-plane';
  saveInvalidDefinitions?: boolean;
  options?: Partial<RunServerOptions>;
}

interface Run {
  result: RunServerResult;
  standIn: StandInHome;
  logger: RecordingLogger;
  logFile: string;
  onStartedPids: number[];
}

async function run(setup: Setup): Promise<Run> {
  const home = await temp.make();
  const kit = setup.kit ?? (setup.stage === 'identity' ? 'identity' : 'apim');
  const standIn = await installStandIn(home, {
    kit,
    ...(setup.behaviour ? { behaviour: setup.behaviour } : {}),
    ...(setup.identityConfig ? { identityConfig: setup.identityConfig } : {}),
  });
  const command = buildServerCommand({
    apimHome: home,
    javaHome: await fakeJavaHome(),
    stage: setup.stage,
    platform: 'linux',
    ...(setup.profile ? { profile: setup.profile } : {}),
    ...(setup.saveInvalidDefinitions ? { saveInvalidDefinitions: true } : {}),
  });
  const logger = createRecordingLogger();
  const logFile = join(await temp.make(), 'logs', 'server-console.log');
  const onStartedPids: number[] = [];
  const result = await runServer({
    command,
    home,
    kind: setup.stage,
    logFile,
    // Generous too: on a loaded machine (the whole suite at once) the stand-in's shell prints slowly, and a run cut
    // off by this timeout fails for the wrong reason.
    timeoutMs: 40_000,
    // Generous: a stop that works takes a fraction of it, and a loaded machine must not turn --stop into SIGTERM.
    stopGraceMs: 10_000,
    logger,
    progressIntervalMs: 60_000,
    onStarted: (pid) => {
      started.push(pid);
      onStartedPids.push(pid);
    },
    ...setup.options,
  });
  return { result, standIn, logger, logFile, onStartedPids };
}

/**
 * No process of the group runs any more, and `process.kill(-pgid, 0)` fails with ESRCH. The latter may take a
 * moment where PID 1 reaps zombies late (a shell killed mid-way leaves its finished children to it).
 */
async function expectGroupGone(pid: number | undefined): Promise<void> {
  expect(pid).toBeTypeOf('number');
  const pgid = pid ?? 0;
  expect(groupAlive(pgid)).toBe(false);
  await waitFor(() => {
    try {
      process.kill(-pgid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  });
}

const IDENTITY_ARGS = ['-Dmigrate', '-Dcomponent=identity'];
const APIM_ARGS = ['-Dmigrate', '-DmigrateFromVersion=3.1.0', '-DmigratedVersion=4.2.0'];

describe('runServer: success', () => {
  it('identity: waits for the success line and the end of startup, then stops the server with --stop', async () => {
    const { result, standIn, logFile, onStartedPids } = await run({ stage: 'identity' });

    expect(result.verdict).toBe('succeeded');
    expect(result.reason).toMatch(/identity migration client finished/);
    expect(result.stop?.outcome).toBe('stopped');
    expect(onStartedPids).toEqual([result.pid]);
    await expectGroupGone(result.pid);
    expect(existsSync(standIn.pidFile)).toBe(false);
    // The stand-in was started with exactly the guide's flags, then stopped through the launcher.
    expect(await readStandInArgs(standIn.home)).toEqual([IDENTITY_ARGS, ['--stop']]);

    const console = await readFile(logFile, 'utf8');
    expect(console).toContain('Executing Migration client : org.wso2.carbon.is.migration.MigrationClientImpl');
    expect(console).toContain('Migration Step : GroupsAndRolesMigrator of order : 4 is starting');
    expect(console).toMatch(/Execution was done through all the requested version list without having unexpected/);
    expect(console).toMatch(/WSO2 Carbon started in \d+ sec/);
    expect(console).toContain('Shutdown complete');
    // The console output was written line by line, and the stand-in kept its own wso2carbon.log.
    expect(console.split('\n').slice(-2)).toEqual([expect.stringContaining('Halting JVM'), '']);
    expect(await readFile(standIn.carbonLog, 'utf8')).toContain('Executing Migration client');
  });

  it('apim: passes -Dprofile=control-plane and reports the server run with its exit', async () => {
    const { result, standIn } = await run({ stage: 'apim', profile: 'control-plane' });

    expect(result.verdict).toBe('succeeded');
    expect(result.reason).toContain('Successfully completed API-M migration from 3.1.0 to 4.2.0');
    expect(await readStandInArgs(standIn.home)).toEqual([[...APIM_ARGS, '-Dprofile=control-plane'], ['--stop']]);
    // api-manager.sh keeps the JVM's status (143 after --stop) in its loop variable and itself ends with 0.
    expect(result.exitCode).toBe(0);
    expect(result.clientErrors).toEqual([]);
    await expectGroupGone(result.pid);
  });

  it('apim: the harmless SQL-script ERROR does not fail the run', async () => {
    const { result } = await run({ stage: 'apim', behaviour: { harmlessError: true } });

    expect(result.verdict).toBe('succeeded');
    expect(result.harmlessErrors).toEqual([
      expect.stringMatching(/^SQL script not found at .*migration-4\.1\.0_to_4\.2\.0/),
    ]);
    expect(result.reason).toMatch(/1 harmless ERROR line ignored/);
  });

  it('apim-validate: collects the invalid definitions and the saved swagger files', async () => {
    const { result, standIn } = await run({
      stage: 'apim-validate',
      saveInvalidDefinitions: true,
      profile: 'control-plane',
      behaviour: { invalidDefinitions: 5 },
    });

    expect(result.verdict).toBe('succeeded');
    expect(result.invalidDefinitions.map((definition) => [definition.kind, definition.name])).toEqual([
      ['missing', 'InvalidmissingAPI4'],
      ['OpenAPI', 'InvalidOpenAPIAPI1'],
      ['GraphQL', 'InvalidGraphQLAPI2'],
      ['WSDL', 'InvalidWSDLAPI3'],
      ['OpenAPI', 'InvalidUnhandledAPI5'],
    ]);
    expect(result.invalidDefinitions.find((definition) => definition.kind === 'GraphQL')).toEqual({
      name: 'InvalidGraphQLAPI2',
      version: '1.0.2',
      provider: 'admin',
      kind: 'GraphQL',
      message: "Invalid schema: Unknown type 'Querry'",
    });
    // The invalid OpenAPI definition, and the one whose validation ended in an unhandled exception.
    expect(await readdir(join(standIn.home, 'invalid-swagger-definitions'))).toEqual([
      '7a1c0de0-0000-4000-8000-000000000001.json',
      '7a1c0de0-0000-4000-8000-000000000005.json',
    ]);
    expect(await readStandInArgs(standIn.home)).toEqual([
      [...APIM_ARGS, '-DrunPreMigration', '-DsaveInvalidDefinition', '-Dprofile=control-plane'],
      ['--stop'],
    ]);
  });

  it('prints the elapsed time and the last migration line while the server runs', async () => {
    const { result, logger } = await run({
      stage: 'apim',
      behaviour: { slowMs: 20 },
      options: { progressIntervalMs: 100 },
    });

    expect(result.verdict).toBe('succeeded');
    const progress = logger.lines.filter((text) => text.includes('The server has run for'));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.some((text) => /last migration line: WSO2 API-M Migration Task : /.test(text))).toBe(true);
  });
});

describe('runServer: failure', () => {
  it('identity: "Migration process was stopped." fails the run; the server is still stopped', async () => {
    const { result, standIn } = await run({ stage: 'identity', behaviour: { fail: true } });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toMatch(/identity migration client failed: "Migration process was stopped\."/);
    expect(result.lastLines.some((text) => text.includes('Migration process was stopped.'))).toBe(true);
    await expectGroupGone(result.pid);
    expect(existsSync(standIn.pidFile)).toBe(false);

    const error = new ServerRunError(result);
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain(result.reason);
    expect(error.message).toContain(`all of it is in ${result.logFile}`);
    expect(error.message).toContain('Migration process was stopped.');
  });

  it('identity: a kit whose migration-config.yaml still has the migrators API-M must not run fails', async () => {
    const { result } = await run({
      stage: 'identity',
      identityConfig: makeIdentityMigrationConfig({ keepRemovedMigrators: true }),
    });

    expect(result.verdict).toBe('failed');
    expect(result.lastLines.join('\n')).toContain('EncryptionAdminFlowMigrator must be removed');
  });

  it.each([
    {
      stage: 'identity' as const,
      reason: /identity migration client logged 1 ERROR line, although it printed its success line/,
    },
    {
      stage: 'apim' as const,
      reason: /API-M migration client logged 1 ERROR line, although it printed its success line/,
    },
  ])('$stage: an ERROR of the client before the success line fails the run', async ({ stage, reason }) => {
    const { result } = await run({ stage, behaviour: { errorBeforeSuccess: true } });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toMatch(reason);
    expect(result.clientErrors).toHaveLength(1);
    expect(result.lastLines.join('\n')).toMatch(/Successfully completed API-M migration|Execution was done/);
    await expectGroupGone(result.pid);
  });

  it('apim: "API Migration exception occurred while migrating" fails it even though the success line follows', async () => {
    const { result } = await run({ stage: 'apim', behaviour: { fail: true } });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toContain('API Migration exception occurred while migrating');
    expect(result.lastLines.join('\n')).toContain('Successfully completed API-M migration from 3.1.0 to 4.2.0');
  });

  it('apim-validate: the failed validation fails the run', async () => {
    const { result } = await run({ stage: 'apim-validate', behaviour: { fail: true } });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toContain('Error while running the pre-migration validation');
  });

  it('apim: without the client jar the server starts but nothing migrates', async () => {
    const { result } = await run({ stage: 'apim', kit: 'none' });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toMatch(/never ran: check that org\.wso2\.carbon\.apimgt\.migrate\.client-4\.2\.0\*\.jar/);
  });

  it('a server that hangs fails on the timeout and is stopped', async () => {
    const { result, standIn } = await run({ stage: 'apim', behaviour: { hang: true }, options: { timeoutMs: 2_000 } });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toMatch(/^timed out after 2\.0 s waiting for the API-M migration client: it printed neither/);
    expect(result.reason).toContain('the last migration line: "WSO2 API-M Migration Task : ');
    expect(result.stop?.outcome).toBe('stopped');
    await expectGroupGone(result.pid);
    expect(existsSync(standIn.pidFile)).toBe(false);
  });

  it('a server that dies before the verdict fails the run with its exit code', async () => {
    const { result, standIn } = await run({ stage: 'identity', behaviour: { dieEarly: true } });

    expect(result.verdict).toBe('failed');
    // The JVM died with status 1; the launcher's loop ends and the script exits 0, as api-manager.sh does.
    expect(result.reason).toMatch(/^the server exited \(exit code 0\) before the identity migration client finished/);
    expect(result.exitCode).toBe(0);
    expect(result.stop?.outcome).toBe('not-running');
    expect(result.lastLines.at(-2)).toContain('A fatal error has been detected');
    // The crashed server left its pid file; it names no live process, so it goes.
    expect(existsSync(standIn.pidFile)).toBe(false);
  });

  it('a server that ignores SIGTERM is killed after stopGraceMs', async () => {
    const { result, standIn, logger } = await run({
      stage: 'apim',
      behaviour: { ignoreTerm: true },
      options: { stopGraceMs: 1_000 },
    });

    expect(result.verdict).toBe('succeeded');
    expect(result.stop?.outcome).toBe('killed');
    // The launcher shell ends on the group's SIGTERM; the JVM that ignores it needs the SIGKILL.
    expect(result.signal).toBe('SIGTERM');
    await expectGroupGone(result.pid);
    expect(existsSync(standIn.pidFile)).toBe(false);
    expect(result.lastLines.join('\n')).toContain('Shutdown hook triggered, but the server is busy');
    expect(logger.lines.some((text) => /^warning: The server did not stop within 1\.0 s.*SIGKILL/.test(text))).toBe(
      true,
    );
  });

  it('keeps the last 50 lines of a long failed run, the same as the end of the log file', async () => {
    const { result, logFile } = await run({
      stage: 'apim-validate',
      behaviour: { invalidDefinitions: 40, errorBeforeSuccess: true },
    });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toContain('Error while getting the database connection');
    const logged = (await readFile(logFile, 'utf8')).split('\n').slice(0, -1);
    expect(logged.length).toBeGreaterThan(100);
    expect(result.lastLines).toHaveLength(50);
    expect(result.lastLines).toEqual(logged.slice(-50));
    expect(result.invalidDefinitions).toHaveLength(40);
  });

  it('a known failure stops the server after failureSettleMs when the client does not finish', async () => {
    const { result } = await run({
      stage: 'apim-validate',
      behaviour: { errorBeforeSuccess: true, hang: true },
      options: { failureSettleMs: 300 },
    });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toContain('Error while getting the database connection');
    expect(result.reason).not.toMatch(/timed out/);
    expect(result.stop?.outcome).toBe('stopped');
    await expectGroupGone(result.pid);
  });

  it('a launcher that cannot be started fails the run', async () => {
    const home = await temp.make();
    const result = await runServer({
      command: { command: join(home, 'no-such-launcher'), args: [], display: 'no-such-launcher' },
      home,
      kind: 'apim',
      logFile: join(home, 'console.log'),
      timeoutMs: 5_000,
      stopGraceMs: 1_000,
      logger: createRecordingLogger(),
    });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toMatch(/^could not start the server \(no-such-launcher\): .*ENOENT/);
    expect(result.pid).toBeUndefined();
  });
});

describe('runServer: the environment the server gets', () => {
  it('gets the base set and the named variables only, and its --stop the base set', async () => {
    const home = await temp.make();
    await installStandIn(home, { kit: 'apim' });
    const launcherCalls = await recordLauncherEnv(home);
    const command = buildServerCommand({
      apimHome: home,
      javaHome: await fakeJavaHome(),
      stage: 'apim',
      platform: 'linux',
      passEnv: ['SHARED_DB_PASSWORD', 'MY_EXTRA'],
    });
    const result = await runServer({
      command,
      home,
      kind: 'apim',
      logFile: join(await temp.make(), 'console.log'),
      timeoutMs: 40_000,
      stopGraceMs: 10_000,
      logger: createRecordingLogger(),
      onStarted: (pid) => void started.push(pid),
      env: {
        ...process.env,
        LC_ALL: 'C',
        ACTIONS_RUNTIME_TOKEN: 'runtime-token-value',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-token-value',
        GITHUB_TOKEN: 'ghs_value',
        APIM_MIGRATE_BACKUP_PASSPHRASE: 'passphrase-value',
        AWS_SECRET_ACCESS_KEY: 'aws-value',
        SHARED_DB_PASSWORD: 'db-password-value',
        MY_EXTRA: 'extra-value',
        JAVACMD: '/nonexistent/java',
      },
    });

    expect(result.verdict).toBe('succeeded');
    const calls = await launcherCalls();
    expect(calls.map((call) => call.args).sort()).toEqual(['--stop', APIM_ARGS.join(' ')]);
    for (const { args, env } of calls) {
      const names = env.map((line) => line.split('=')[0]);
      expect(names).toEqual(expect.arrayContaining(['PATH', 'LC_ALL', 'CARBON_HOME', 'JAVA_HOME']));
      expect(env).toContain(`CARBON_HOME=${home}`);
      for (const secret of ['runtime-token', 'oidc-token', 'ghs_value', 'passphrase-value', 'aws-value']) {
        expect(env.join('\n')).not.toContain(secret);
      }
      expect(names).not.toContain('JAVACMD');
      if (args === '--stop') {
        // It starts no server: none of deployment.toml's variables.
        expect(names).not.toContain('SHARED_DB_PASSWORD');
      } else {
        expect(env).toEqual(expect.arrayContaining(['SHARED_DB_PASSWORD=db-password-value', 'MY_EXTRA=extra-value']));
      }
    }
    await expectGroupGone(result.pid);
  });
});

describe('runServer: the faithful launcher and the client window', () => {
  it('runs the home and the JDK it is given, whatever CARBON_HOME, JAVA_HOME and JAVACMD the environment holds', async () => {
    const other = await temp.make();
    const otherStandIn = await installStandIn(other, { kit: 'apim' });
    const { result, standIn } = await run({
      stage: 'apim',
      // api-manager.sh would run an inherited JAVACMD instead of $JAVA_HOME/bin/java.
      options: { env: { ...process.env, CARBON_HOME: other, JAVA_HOME: '/nonexistent', JAVACMD: '/nonexistent/java' } },
    });

    expect(result.verdict).toBe('succeeded');
    expect(await readStandInArgs(standIn.home)).toEqual([APIM_ARGS, ['--stop']]);
    expect(existsSync(otherStandIn.argsFile)).toBe(false);
    expect(result.stop?.outcome).toBe('stopped');
    await expectGroupGone(result.pid);
  });

  it.each([
    { stage: 'identity' as const, logger: 'DataSourceManager', line: 'Error while initializing datasource manager.' },
    {
      stage: 'apim' as const,
      logger: 'RegistryServiceImpl',
      line: 'Error occurred when getting GenericArtifacts from registry',
    },
  ])('$stage: an ERROR of $logger, no migrator, fails the run', async ({ stage, line }) => {
    const { result } = await run({ stage, behaviour: { clientError: true } });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toMatch(/logged 1 ERROR line, although it printed its success line/);
    expect(result.reason).toContain(line);
    await expectGroupGone(result.pid);
  });

  it('ERRORs outside the client window are warnings, and fail the run with failOnAnyError', async () => {
    const warned = await run({ stage: 'identity', behaviour: { errorOutsideWindow: true } });
    expect(warned.result.verdict).toBe('succeeded');
    expect(warned.result.serverErrors).toEqual([
      expect.stringContaining('(stand-in: error-outside-window)'),
      expect.stringContaining('(stand-in: error-outside-window)'),
    ]);
    expect(
      warned.logger.lines.filter((text) => text.includes("outside the identity migration client's run")),
    ).toHaveLength(2);

    const failed = await run({
      stage: 'identity',
      behaviour: { errorOutsideWindow: true },
      options: { failOnAnyError: true },
    });
    expect(failed.result.verdict).toBe('failed');
    expect(failed.result.reason).toMatch(
      /server logged 2 ERROR lines outside the identity migration client's run, which server\.failOnAnyError does not allow/,
    );
  });

  it.each(['identity', 'apim', 'apim-validate'] as const)(
    '%s: no verdict by "WSO2 Carbon started" fails at once, not on the timeout',
    async (stage) => {
      const { result } = await run({ stage, behaviour: { noVerdict: true }, options: { timeoutMs: 60_000 } });

      expect(result.verdict).toBe('failed');
      expect(result.reason).toMatch(/the server finished starting but the .* (gave no verdict|did not finish)/);
      expect(result.reason).not.toMatch(/timed out/);
      expect(result.durationMs).toBeLessThan(60_000);
      await expectGroupGone(result.pid);
    },
  );

  it('identity: migrationEnable "false" makes the client return silently: the run fails at the server start', async () => {
    const { result } = await run({
      stage: 'identity',
      identityConfig: makeIdentityMigrationConfig().replace('migrationEnable: "true"', 'migrationEnable: "false"'),
    });

    expect(result.verdict).toBe('failed');
    expect(result.reason).toMatch(/gave no verdict .*migrationEnable is not "true"/);
  });

  it.each([
    { title: 'the jar is missing', kit: 'none' as const, behaviour: {} },
    { title: 'the bundle stays INSTALLED', kit: 'identity' as const, behaviour: { bundleInactive: true } },
  ])(
    'identity: "Waiting for migration client." with no client after it fails once clientStartMs passed ($title)',
    async ({ kit, behaviour }) => {
      const { result, logger } = await run({
        stage: 'identity',
        kit,
        behaviour,
        options: { clientStartMs: 500, timeoutMs: 60_000 },
      });

      expect(result.verdict).toBe('failed');
      expect(result.reason).toMatch(
        /^the identity core logged "Waiting for migration client\." and no client line followed within 500 ms \(server\.clientStartSeconds\)/,
      );
      expect(result.reason).toContain('org.wso2.carbon.is.migration-*.jar');
      expect(result.reason).toContain('ACTIVE');
      expect(logger.lines.some((text) => text.includes('waiting for the migration client'))).toBe(true);
      await expectGroupGone(result.pid);
    },
  );

  it('a JVM that exits 121 is started again by the launcher, and the run goes on', async () => {
    const { result, logFile } = await run({ stage: 'apim', behaviour: { restartOnce: true } });

    expect(result.verdict).toBe('succeeded');
    const console = await readFile(logFile, 'utf8');
    expect(console).toContain('Starting a new Carbon instance. Current instance will be shutdown');
    expect(console.match(/WSO2 Carbon started in/g)).toHaveLength(1);
    await expectGroupGone(result.pid);
  });
});

describe('stopServerGroup', () => {
  it('stops a server it only knows by its process-group id, as the post step does', async () => {
    const home = await temp.make();
    const standIn = await installStandIn(home, { kit: 'apim' });
    const child = spawn('sh', [standIn.launcher, ...APIM_ARGS], {
      cwd: home,
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, CARBON_HOME: home, JAVA_HOME: await fakeJavaHome() },
    });
    const pid = child.pid ?? 0;
    started.push(pid);
    child.unref();
    await waitFor(() => existsSync(standIn.pidFile));

    const result = await stopServerGroup(pid, { graceMs: 3_000, home });

    expect(result.outcome).toBe('terminated');
    await expectGroupGone(pid);
    expect(existsSync(standIn.pidFile)).toBe(false);
    expect(await stopServerGroup(pid, { graceMs: 1_000 })).toMatchObject({ outcome: 'not-running' });
  });

  it('removes a wso2carbon.pid that names a zombie: a server that ended but was not reaped yet', async () => {
    // A cancelled main step leaves its server to PID 1, which may reap it late (it does not at all in some
    // containers). Here a parent that never waits keeps its ended child a zombie for as long as the test needs.
    // The child ends only after the shell has become `sleep`, which never reaps: the shell itself would.
    const holder = spawn('sh', ['-c', 'sh -c "sleep 0.3; exit 0" & echo $!; exec sleep 60'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    started.push(holder.pid ?? 0);
    const [line] = (await once(holder.stdout, 'data')) as [Buffer];
    const zombie = Number(line.toString().trim());
    await waitFor(async () => (await readFile(`/proc/${zombie}/stat`, 'utf8')).includes(') Z '));
    const home = await temp.make();
    const pidFile = join(home, 'wso2carbon.pid');
    await writeFile(pidFile, `${zombie}\n`);
    const server = spawn('sh', ['-c', 'exit 0'], { detached: true, stdio: 'ignore' });
    await once(server, 'exit');

    expect(await stopServerGroup(server.pid ?? 0, { graceMs: 1_000, home })).toMatchObject({ outcome: 'not-running' });
    expect(existsSync(pidFile)).toBe(false);
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the texts handed to the known-problem catalogue', () => {
  it('every WARN/ERROR record once, masked, with its trace; a failing callback costs the run nothing', async () => {
    const seen: ProblemText[] = [];
    const { result } = await run({
      stage: 'identity',
      behaviour: { errorOutsideWindow: true },
      options: { mask: (line) => line.replaceAll('WSO2_MB_STORE_DB', '***'), onProblemText: (text) => seen.push(text) },
    });
    expect(result.verdict).toBe('succeeded');
    const heads = seen.map((text) => text.head).filter((head) => head.includes('(stand-in: error-outside-window)'));
    expect(heads).toHaveLength(2);
    expect(heads[0]).toContain('Error in updating data source [***]');
    expect(seen.every((text) => !text.text.includes('WSO2_MB_STORE_DB'))).toBe(true);

    const throwing = await run({
      stage: 'identity',
      behaviour: { errorOutsideWindow: true },
      options: {
        onProblemText: () => {
          throw new Error('catalogue broke');
        },
      },
    });
    expect(throwing.result.verdict).toBe('succeeded');
    expect(throwing.logger.lines).toContain(
      'warning: Could not match a server line against the known problems: catalogue broke',
    );
  });

  it('a run that stalls at "Waiting for migration client." returns it as the last words after the client', async () => {
    const { result } = await run({
      stage: 'identity',
      behaviour: { bundleInactive: true },
      options: { clientStartMs: 500 },
    });
    expect(result.verdict).toBe('failed');
    expect(result.problemTextsAfterLastClientLine.map((text) => text.head)).toContain('Waiting for migration client.');

    const ran = await run({ stage: 'identity', behaviour: { errorOutsideWindow: true } });
    // The client's lines came after the first ERROR; only the one after its verdict is left.
    expect(ran.result.problemTextsAfterLastClientLine.map((text) => text.head)).toEqual([
      expect.stringContaining('Error while reading the throttling configuration'),
    ]);
  });
});
