/**
 * The run monitor against the real PostgreSQL and MariaDB: the stand-in server's database session runs a long
 * statement (db-sleep-seconds) or its log goes silent while a session of the test waits for a lock another holds;
 * the progress lines name what the sessions run and wait for, the stall warning names the longest of them, and the
 * server is not stopped for it (the run goes on to its success line).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigWithSecrets } from '../../src/stages/operations.js';
import { serverSessionsProbe } from '../../src/stages/server-monitor.js';
import { buildServerCommand } from '../../src/server/server-command.js';
import { groupAlive, runServer, type RunServerResult } from '../../src/server/server-runner.js';
import { createRecordingLogger, type RecordingLogger } from '../helpers/fakes.js';
import { connectForeign, endConnection, type ForeignClient } from '../helpers/foreign-client.js';
import { fakeJavaHome } from '../helpers/java.js';
import {
  baseEnv,
  createMigrationSetup,
  PASSWORD_ENV,
  type MigrationSetup,
  type SetupEngine,
} from '../helpers/migration-setup.js';
import { installStandIn, type StandInBehaviour } from '../helpers/stand-in.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function newSetup(engine: SetupEngine, login?: 'admin'): Promise<MigrationSetup> {
  const setup = await createMigrationSetup({ engine, ...(login ? { login } : {}) });
  cleanups.push(() => setup.cleanup());
  return setup;
}

async function foreign(setup: MigrationSetup): Promise<ForeignClient> {
  const client = await connectForeign(setup.engine, setup.database, setup);
  cleanups.push(async () => {
    await endConnection(setup, client.id).catch(() => undefined);
    await client.close().catch(() => undefined);
  });
  return client;
}

/** Runs the stand-in's API-M migration with the stage's probe, a 1 s progress interval and `stallWarnMs`. */
async function monitoredRun(
  setup: MigrationSetup,
  behaviour: StandInBehaviour,
  stallWarnMs: number,
): Promise<{ result: RunServerResult; logger: RecordingLogger }> {
  await installStandIn(setup.apimHome, { kit: 'apim', behaviour });
  const logger = createRecordingLogger();
  const env = baseEnv(setup.env);
  const { config, secrets } = await loadConfigWithSecrets({
    configFile: setup.configFile,
    cwd: setup.dir,
    env,
    logger,
  });
  const command = buildServerCommand({
    apimHome: setup.apimHome,
    javaHome: await fakeJavaHome(),
    stage: 'apim',
    platform: 'linux',
    // The server resolves $env{APIM_DB_PASSWORD} of deployment.toml, as the stage lets it.
    passEnv: [PASSWORD_ENV.apim_db],
  });
  let pid: number | undefined;
  cleanups.push(async () => {
    if (pid !== undefined && groupAlive(pid)) process.kill(-pid, 'SIGKILL');
  });
  const result = await runServer({
    command,
    home: setup.apimHome,
    kind: 'apim',
    logFile: join(setup.dir, 'logs', 'server-console.log'),
    env,
    mask: (line) => secrets.mask(line),
    timeoutMs: 120_000,
    stopGraceMs: 10_000,
    logger,
    progressIntervalMs: 1_000,
    stallWarnMs,
    activityProbe: serverSessionsProbe(config, secrets),
    onStarted: (started) => {
      pid = started;
    },
  });
  return { result, logger };
}

describe.each<[string, SetupEngine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('the run monitor on %s', (_label, engine) => {
  const sleep = engine === 'postgresql' ? 'SELECT pg_sleep(8)' : 'SELECT SLEEP(8)';

  it("names the long statement of the server's session, warns once about the silence, and leaves the server running", async () => {
    const setup = await newSetup(engine);
    const { result, logger } = await monitoredRun(setup, { dbSleepSeconds: 8 }, 3_000);

    expect(result.verdict, logger.lines.join('\n')).toBe('succeeded');
    // The success line came after the silence: the warning did not stop the server.
    expect(result.reason).toMatch(/Successfully completed API-M migration/);
    const progress = logger.lines.filter((line) => line.startsWith('info: The server has run for'));
    const named = progress.filter((line) => line.includes(sleep));
    expect(named.length, progress.join('\n')).toBeGreaterThan(0);
    expect(named.at(-1)).toMatch(
      new RegExp(`apim_db = shared_db: (backend pid|connection) \\d+ \\(user ${setup.username}`),
    );
    expect(named.at(-1)).toMatch(/ runs for \d/);
    const warnings = logger.lines.filter((line) => line.startsWith("warning: The server's log has been silent"));
    expect(warnings, logger.lines.join('\n')).toHaveLength(1);
    expect(warnings[0]).toContain(`The longest-running of its database sessions: `);
    expect(warnings[0]).toContain(sleep);
    expect(warnings[0]).toContain('The server is left running');
    expect(result.stallWarnings).toEqual([warnings[0]!.slice('warning: '.length)]);
  }, 90_000);

  it('shows a lock wait and names it in the stall warning', async () => {
    // InnoDB's lock tables need the PROCESS privilege on MariaDB: the login here has it (README, "The run monitor").
    const setup = await newSetup(engine, 'admin');
    const holder = await foreign(setup);
    const waiter = await foreign(setup);
    await holder.query('CREATE TABLE monitor_probe (id INT PRIMARY KEY, n INT)');
    await holder.query('INSERT INTO monitor_probe VALUES (1, 0)');
    await holder.query(engine === 'postgresql' ? 'BEGIN' : 'START TRANSACTION');
    await holder.query('UPDATE monitor_probe SET n = 1 WHERE id = 1');
    // MariaDB's innodb_lock_wait_timeout is 50 s by default: long enough for the run.
    void waiter.start('UPDATE monitor_probe SET n = 2 WHERE id = 1');

    const { result, logger } = await monitoredRun(setup, { silentMs: 6_000 }, 3_000);
    expect(result.verdict, logger.lines.join('\n')).toBe('succeeded');
    const label = engine === 'postgresql' ? 'backend pid' : 'connection';
    const wait = engine === 'postgresql' ? 'waits for a transactionid lock' : 'waits for an InnoDB row lock';
    const progress = logger.lines.filter((line) => line.startsWith('info: The server has run for')).join('\n');
    expect(progress).toContain(`${label} ${waiter.id} `);
    expect(progress).toContain(`${wait} held by ${label} ${holder.id}`);
    const warnings = logger.lines.filter((line) => line.startsWith("warning: The server's log has been silent"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${label} ${waiter.id} `);
    expect(warnings[0]).toContain(`${wait} held by ${label} ${holder.id}`);
  }, 90_000);
});
