/**
 * The preflight stage end to end against the machine's real PostgreSQL and MariaDB: through
 * runStageOperation (the code path both entries share) and through runCli with a fake io.
 * Needs `bash scripts/ensure-services.sh` first.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/entry/cli.js';
import { createConsoleLogger } from '../../src/log/logger.js';
import { runStageOperation } from '../../src/stages/operations.js';
import type { Check } from '../../src/core/check.js';
import type { StageResult } from '../../src/core/results.js';
import { PG_PASSWORD_TEST_ROLE, uniqueName } from '../helpers/databases.js';
import {
  baseEnv,
  createMigrationSetup,
  withGlobalSqlSafeUpdates,
  withMariadbGlobalsLock,
  type MigrationSetup,
  type MigrationSetupOptions,
  type SetupEngine,
} from '../helpers/migration-setup.js';

const REPORT_ARTIFACT = 'apim-migrate-preflight-report-a1';
const LOGS_ARTIFACT = 'apim-migrate-preflight-logs-a1';
const WRONG_PASSWORD = 'Wr0ng-Secret-preflight-5d1e';
const UNTESTED_DBMS = /is not among the DBMSs WSO2 tested API-M 4\.2\.0 with/;

const setups: MigrationSetup[] = [];
afterEach(async () => {
  // Every scratch database and login goes, even when a test failed.
  for (const setup of setups.splice(0)) await setup.cleanup();
});

async function setUp(options: MigrationSetupOptions): Promise<MigrationSetup> {
  const setup = await createMigrationSetup(options);
  setups.push(setup);
  return setup;
}

/**
 * MariaDB runs hold the lock of the tests that change GLOBAL settings, so that a parallel test file's
 * sql_safe_updates = 1 never leaks into a run that expects the default.
 */
function guarded<T>(engine: SetupEngine, work: () => Promise<T>): Promise<T> {
  return engine === 'mariadb' ? withMariadbGlobalsLock(work) : work();
}

interface CliRun {
  code: number;
  /** Everything the CLI printed, stdout and stderr in order. */
  output: string;
  stdout: string;
  stderr: string;
  runId: string;
}

/** Preflight through runStageOperation, as both entries run it, with everything it logged. */
async function preflightIn(
  setup: MigrationSetup,
  env: Record<string, string | undefined>,
): Promise<{ result: StageResult; lines: string[] }> {
  const lines: string[] = [];
  const result = await runStageOperation({
    stage: 'preflight',
    dryRun: false,
    force: false,
    cwd: setup.dir,
    env,
    logger: createConsoleLogger({ out: (line) => lines.push(line), err: (line) => lines.push(line) }),
  });
  return { result, lines };
}

let runCounter = 0;

/** `apim-migrate run preflight` in the setup's folder with a fake io and a run id of its own. */
async function cliPreflight(setup: MigrationSetup, extraArgs: string[] = []): Promise<CliRun> {
  runCounter += 1;
  const runId = `preflight-test-${runCounter}`;
  const all: string[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(['run', 'preflight', ...extraArgs], {
    out: (text) => {
      all.push(text);
      stdout.push(text);
    },
    err: (text) => {
      all.push(text);
      stderr.push(text);
    },
    env: baseEnv({ ...setup.env, APIM_MIGRATE_RUN_ID: runId }),
    cwd: setup.dir,
    platform: process.platform,
  });
  return { code, output: all.join('\n'), stdout: stdout.join('\n'), stderr: stderr.join('\n'), runId };
}

function reportFile(setup: MigrationSetup, runId: string): string {
  return path.join(setup.storeDir, 'runs', runId, REPORT_ARTIFACT, 'report.json');
}

async function readReport(setup: MigrationSetup, runId: string): Promise<{ text: string; report: StageResult }> {
  const text = await readFile(reportFile(setup, runId), 'utf8');
  return { text, report: JSON.parse(text) as StageResult };
}

function checksOf(result: StageResult, verdict: Check['verdict']): string[] {
  return result.steps
    .flatMap((step) => step.checks ?? [])
    .filter((check) => check.verdict === verdict)
    .map((check) => check.message);
}

/** Exactly these failed checks, in any order: one pattern per failed check. */
function expectFailedChecks(result: StageResult, patterns: RegExp[]): void {
  const failed = checksOf(result, 'fail');
  expect(failed, `failed checks:\n${failed.join('\n')}`).toHaveLength(patterns.length);
  for (const pattern of patterns)
    expect(
      failed.filter((message) => pattern.test(message)),
      `${String(pattern)} in\n${failed.join('\n')}`,
    ).toHaveLength(1);
}

function expectNoSecrets(setup: MigrationSetup, texts: string[], more: string[] = []): void {
  for (const secret of [...setup.secrets, ...more]) {
    for (const text of texts) expect(text.includes(secret), `a secret appears in:\n${text}`).toBe(false);
  }
}

/**
 * A failed preflight: status failed in the stored report, exit code 1, exactly the expected failed checks in the
 * report, every one of them in the CLI's list of failed checks, and no secret anywhere.
 */
async function expectFailingPreflight(
  setup: MigrationSetup,
  patterns: RegExp[],
  moreSecrets: string[] = [],
): Promise<StageResult> {
  const run = await guarded(setup.engine, () => cliPreflight(setup));
  expect(run.code, run.output).toBe(1);
  const { text, report } = await readReport(setup, run.runId);
  expect(report.status).toBe('failed');
  expect(report.summary).toMatch(/^Preflight failed in /);
  expectFailedChecks(report, patterns);
  const failed = checksOf(report, 'fail');
  expect(run.output).toContain(`Failed checks (${failed.length}):`);
  for (const message of failed) expect(run.output).toContain(`  - ${message}`);
  expect(run.output).toMatch(/Preflight failed in .*\(\d/);
  // Every step ran, even after the first failure.
  expect(report.steps.map((step) => step.outcome)).not.toContain('not-run');
  expect(run.output).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
  expectNoSecrets(setup, [run.output, text], moreSecrets);
  return report;
}

const ENGINES: Array<{ engine: SetupEngine; product: string }> = [
  { engine: 'postgresql', product: 'PostgreSQL' },
  { engine: 'mariadb', product: 'MariaDB' },
];

/** The primary keystore (wso2carbon.jks, the default) of both homes, and the old home's deployment.toml. */
async function writeKeystores(setup: MigrationSetup, keys: { newKey: string; oldKey: string }): Promise<void> {
  for (const [home, key] of [
    [setup.apimHome, keys.newKey],
    [setup.oldApimHome, keys.oldKey],
  ] as const) {
    const security = path.join(home, 'repository', 'resources', 'security');
    await mkdir(security, { recursive: true });
    await writeFile(path.join(security, 'wso2carbon.jks'), key);
  }
  await writeFile(
    path.join(setup.oldApimHome, 'repository', 'conf', 'deployment.toml'),
    '[server]\nhostname = "localhost"\n',
  );
}

describe.each(ENGINES)('preflight on $product', ({ engine, product }) => {
  it('passes, every step succeeded, with a warning for the DBMS WSO2 did not test, and stores its report', async () => {
    const setup = await setUp({ engine, userStore: { adminInUmRole: true, adminInHybridRole: false } });
    await writeKeystores(setup, { newKey: 'the old primary key', oldKey: 'the old primary key' });
    const lines: string[] = [];
    const logger = createConsoleLogger({ out: (line) => lines.push(line), err: (line) => lines.push(line) });
    const result = await guarded(engine, () =>
      runStageOperation({
        stage: 'preflight',
        dryRun: false,
        force: false,
        cwd: setup.dir,
        env: baseEnv(setup.env),
        logger,
      }),
    );

    expect(result.status, lines.join('\n')).toBe('succeeded');
    expect(result.summary).toBe('Preflight succeeded');
    expect(result.steps.map((step) => [step.id, step.outcome])).toEqual([
      ['homes', 'succeeded'],
      ['kits', 'succeeded'],
      ['databases', 'succeeded'],
      ['connected-clients', 'succeeded'],
      ['client-tools', 'succeeded'],
      ['java', 'succeeded'],
      ['jdbc-drivers', 'succeeded'],
      ['store-space', 'succeeded'],
      ['data-profile', 'succeeded'],
      ['character-sets', 'succeeded'],
      ['keystores', 'succeeded'],
      ['heap', 'succeeded'],
    ]);
    expect(checksOf(result, 'fail')).toEqual([]);
    // This machine's MariaDB makes databases in utf8mb4: the character-set check says so.
    const warnings = checksOf(result, 'warn').filter(
      (message) => !(engine === 'mariadb' && message.includes('known problem mysql-key-too-long')),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(UNTESTED_DBMS);
    expect(warnings[0]).toContain(product);
    expect(lines.join('\n')).toMatch(new RegExp(`\\[WARN\\] .*${product} [\\d.]+ is not among the DBMSs`));
    const passed = checksOf(result, 'pass').join('\n');
    expect(passed).toContain(`${product} `);
    expect(passed).toContain(engine === 'postgresql' ? 'is SUPERUSER' : 'sql_safe_updates is off');
    expect(passed).toContain('no "admin" role exists both in UM_ROLE and UM_HYBRID_ROLE');

    // The report artifact: <store.dir>/runs/<runId>/apim-migrate-preflight-report-a1/report.json, holding the result.
    expect(result.runId).toMatch(/^\d{8}T\d{6}Z(-\d+)?$/);
    expect(result.attempt).toBe(1);
    expect(result.reportArtifact).toBe(REPORT_ARTIFACT);
    const stored = reportFile(setup, result.runId);
    expect(result.reportPath).toBe(stored);
    const text = await readFile(stored, 'utf8');
    const { reportPath: _where, ...content } = result;
    expect(JSON.parse(text)).toEqual(content);
    expect(await readdir(path.join(setup.storeDir, 'runs', result.runId))).toEqual([LOGS_ARTIFACT, REPORT_ARTIFACT]);
    // The logs artifact holds what the stage printed, as it printed it.
    expect(result.logArtifact).toBe(LOGS_ARTIFACT);
    const output = await readFile(
      path.join(setup.storeDir, 'runs', result.runId, LOGS_ARTIFACT, 'stage-output.log'),
      'utf8',
    );
    expect(output).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z == /);
    expect(output).toMatch(new RegExp(`\\[WARN\\] .*${product} [\\d.]+ is not among the DBMSs`));

    expectNoSecrets(setup, [lines.join('\n'), text, output]);
  });

  it('profiles the data into its report, and warns about other keystores, without failing', async () => {
    const setup = await setUp({ engine, userStore: { adminInUmRole: true, adminInHybridRole: false } });
    await writeKeystores(setup, { newKey: 'a fresh 4.2.0 key', oldKey: 'the old primary key' });
    await setup.adminSession().then(async (session) => {
      try {
        await session.query('CREATE TABLE IDN_OAUTH2_ACCESS_TOKEN (TOKEN_ID VARCHAR(255), TOKEN_STATE VARCHAR(25))');
        await session.query("INSERT INTO IDN_OAUTH2_ACCESS_TOKEN VALUES ('t1', 'ACTIVE'), ('t2', 'REVOKED')");
      } finally {
        await session.close();
      }
    });
    const output: string[] = [];
    const code = await guarded(engine, () =>
      runCli(['run', 'preflight'], {
        out: (text) => output.push(text),
        err: (text) => output.push(text),
        env: baseEnv({ ...setup.env, APIM_MIGRATE_RUN_ID: 'preflight-profile', JVM_MEM_OPTS: '-Xms1g -Xmx3g' }),
        cwd: setup.dir,
        platform: process.platform,
      }),
    );
    const text = output.join('\n');
    expect(code, text).toBe(0);
    const { report } = await readReport(setup, 'preflight-profile');
    expect(report.status).toBe('succeeded');
    const [profile, ...others] = report.profile ?? [];
    expect(others).toEqual([]);
    expect(profile?.label).toBe('apim_db = shared_db');
    const tables = (profile?.tables ?? []).map((table) => (table.table.split('.').pop() ?? '').toUpperCase());
    expect(tables).toEqual(expect.arrayContaining(['UM_ROLE', 'UM_HYBRID_ROLE', 'IDN_OAUTH2_ACCESS_TOKEN']));
    const tokens = profile?.figures.find((figure) => figure.id === 'access-tokens');
    expect(tokens).toMatchObject({ count: { rows: 2, estimate: false }, byValue: { ACTIVE: 1, REVOKED: 1 } });
    const warnings = checksOf(report, 'warn');
    expect(warnings.filter((message) => message.includes('known problem keystore-mismatch'))).toHaveLength(2);
    expect(checksOf(report, 'pass').join('\n')).toContain('heap (-Xmx3g, from JVM_MEM_OPTS)');
    expect(text).toMatch(/OAuth access tokens \(IDN_OAUTH2_ACCESS_TOKEN\): 2; by state: ACTIVE 1, REVOKED 1/);
    expect(text).toMatch(/largest tables \(rows, bytes with indices\)/);
  });

  it('fails on the untested DBMS when strictDbmsCheck is true', async () => {
    const setup = await setUp({ engine, strictDbmsCheck: true });
    const report = await expectFailingPreflight(setup, [UNTESTED_DBMS]);
    expect(report.steps.find((step) => step.id === 'databases')?.outcome).toBe('failed');
    expect(report.steps.filter((step) => step.outcome === 'failed')).toHaveLength(1);
  });

  it('fails on a wrong password, naming the user and not the password', async () => {
    const setup =
      engine === 'postgresql'
        ? // The only password-checked login of the local PostgreSQL (see scripts/ensure-services.sh).
          await setUp({ engine, username: PG_PASSWORD_TEST_ROLE.username, password: WRONG_PASSWORD })
        : // A MariaDB user that exists, with another password than its own.
          await setUp({ engine, login: 'scoped', password: WRONG_PASSWORD });
    const report = await expectFailingPreflight(
      setup,
      [
        new RegExp(
          `cannot connect to apim_db \\(127\\.0\\.0\\.1:\\d+/${setup.database}\\): authentication failed for user ${setup.username}`,
        ),
      ],
      [WRONG_PASSWORD, ...(setup.login ? [setup.login.password] : [])],
    );
    // Nothing to judge the tools and the space by: said as warnings, not hidden.
    expect(checksOf(report, 'warn').join('\n')).toMatch(/the server's version is unknown/);
    expect(checksOf(report, 'warn').join('\n')).toMatch(/size of apim_db = shared_db is unknown/);
  });

  it('fails when the database does not exist', async () => {
    const database = uniqueName('no_such_db');
    const setup = await setUp({ engine, login: 'admin', database });
    await expectFailingPreflight(setup, [new RegExp(`database ${database} does not exist`)]);
  });

  it('fails when the admin role is both a PRIMARY and an INTERNAL role', async () => {
    const setup = await setUp({ engine, userStore: { adminInUmRole: true, adminInHybridRole: true } });
    await expectFailingPreflight(setup, [
      /a role named "admin" exists both as a PRIMARY role \(UM_ROLE\) and an INTERNAL role \(UM_HYBRID_ROLE\) in tenant -1234/,
    ]);
  });

  it('lists a missing kit and a wrong 3.1.0 home together', async () => {
    const setup = await setUp({ engine, omitKits: ['apim'], oldHomeVersion: '3.2.0' });
    await expectFailingPreflight(setup, [
      new RegExp(
        `${escape(setup.oldApimHome)} is API-M 3\\.2\\.0 \\(from bin/version\\.txt\\), not 3\\.1\\.0; set oldApimHome`,
      ),
      new RegExp(`API-M migration kit ${escape(setup.apimKit)}: .*not found.*set apim\\.migrationKit`),
    ]);
  });
});

describe('preflight on PostgreSQL only', () => {
  it('fails when the user is not SUPERUSER', async () => {
    const setup = await setUp({ engine: 'postgresql', login: 'scoped' });
    await expectFailingPreflight(setup, [
      new RegExp(`user ${setup.username} is not SUPERUSER.*ALTER ROLE "${setup.username}" SUPERUSER`),
    ]);
  });

  it('lists every failed database check at once', async () => {
    const setup = await setUp({
      engine: 'postgresql',
      login: 'scoped',
      strictDbmsCheck: true,
      userStore: { adminInUmRole: true, adminInHybridRole: true },
    });
    await expectFailingPreflight(setup, [UNTESTED_DBMS, /is not SUPERUSER/, /a role named "admin" exists both/]);
  });
  it.each([
    ['wso2carbon', "is one of WSO2's well-known default passwords"],
    ['Admin', "is one of WSO2's well-known default passwords"],
    ['Sh0rt-7', 'is shorter than 8 characters'],
  ])('warns, without failing, when a database password is %j, and never prints it', async (password, why) => {
    const setup = await setUp({ engine: 'postgresql', password });
    const { result, lines } = await preflightIn(setup, baseEnv(setup.env));
    expect(result.status, lines.join('\n')).toBe('succeeded');
    const warnings = checksOf(result, 'warn').filter((message) => message.includes('the database password'));
    expect(warnings).toEqual(
      ['apim_db', 'shared_db'].map(
        (name) =>
          `${name}: the database password ${why}: change it before migrating production data. apim-migrate masks it in every log, so wherever that text appears in a log it reads *** instead`,
      ),
    );
    expect(lines.join('\n')).not.toContain(password);
  });

  it('warns about a versioning flag that is not exactly true, naming the file and line', async () => {
    const setup = await setUp({ engine: 'postgresql', flags: { tags: ' true ' } });
    const { result, lines } = await preflightIn(setup, baseEnv(setup.env));
    const warning = checksOf(result, 'warn').find((message) => message.includes('<versioningTags>'));
    expect(warning, lines.join('\n')).toMatch(/registry\.xml:\d+: <versioningTags> is " true ", not exactly true/);
    expect(checksOf(result, 'pass').join('\n')).toContain('off for every kind');
  });

  it('fails without the PostgreSQL JDBC driver in repository/components/lib, naming the folder and the jar', async () => {
    const setup = await setUp({ engine: 'postgresql' });
    const lib = path.join(setup.apimHome, 'repository', 'components', 'lib');
    await rm(path.join(lib, 'postgresql-42.6.0.jar'));
    await expectFailingPreflight(setup, [
      new RegExp(
        `${escape(lib)} has no JDBC driver for jdbc:postgresql: URLs \\(PostgreSQL's, postgresql-\\*\\.jar\\): copy the driver jar there`,
      ),
    ]);
  });

  it('fails without a JDK, naming JAVA_HOME and server.javaHome', async () => {
    const setup = await setUp({ engine: 'postgresql' });
    const env = baseEnv({ ...setup.env, JAVA_HOME: undefined, PATH: path.join(setup.dir, 'no-java-here') });
    const { result } = await preflightIn(setup, env);
    expect(result.status).toBe('failed');
    expect(checksOf(result, 'fail')).toEqual([
      expect.stringMatching(/JAVA_HOME is not set and there is no java on PATH: set server\.javaHome/),
    ]);
  });

  it('says that a login cannot read the user-store tables instead of calling them absent', async () => {
    const setup = await setUp({
      engine: 'postgresql',
      login: 'scoped',
      userStore: { adminInUmRole: true, adminInHybridRole: false },
      userStoreReadable: false,
    });
    await expectFailingPreflight(setup, [/is not SUPERUSER/, /permission denied for table um_(hybrid_)?role/]);
  });
});

describe('preflight on MariaDB only', () => {
  it('fails when sql_safe_updates is on globally', async () => {
    const setup = await setUp({ engine: 'mariadb' });
    const run = await withGlobalSqlSafeUpdates(() => cliPreflight(setup));
    expect(run.code, run.output).toBe(1);
    const { text, report } = await readReport(setup, run.runId);
    expect(report.status).toBe('failed');
    expectFailedChecks(report, [/sql_safe_updates is ON globally.*SET GLOBAL sql_safe_updates = 0/]);
    expect(run.output).toContain('Failed checks (1):');
    expectNoSecrets(setup, [run.output, text]);
  });

  it('lists every failed database check at once', async () => {
    const setup = await setUp({
      engine: 'mariadb',
      strictDbmsCheck: true,
      userStore: { adminInUmRole: true, adminInHybridRole: true },
    });
    const run = await withGlobalSqlSafeUpdates(() => cliPreflight(setup));
    expect(run.code, run.output).toBe(1);
    const { report } = await readReport(setup, run.runId);
    expectFailedChecks(report, [UNTESTED_DBMS, /sql_safe_updates is ON globally/, /a role named "admin" exists both/]);
    expect(run.output).toContain('Failed checks (3):');
  });

  it.each([
    { scheme: 'mysql' as const, jar: 'mysql-connector-j-8.0.33.jar', product: 'MySQL', wanted: 'mysql-connector-' },
    {
      scheme: 'mariadb' as const,
      jar: 'mariadb-java-client-3.1.4.jar',
      product: 'MariaDB',
      wanted: 'mariadb-java-client-',
    },
  ])('fails without the driver that takes jdbc:$scheme: URLs', async ({ scheme, jar, product, wanted }) => {
    const setup = await setUp({ engine: 'mariadb', mariadbScheme: scheme });
    const lib = path.join(setup.apimHome, 'repository', 'components', 'lib');
    await rm(path.join(lib, jar));
    await expectFailingPreflight(setup, [
      new RegExp(
        `${escape(lib)} has no JDBC driver for jdbc:${scheme}: URLs \\(${product}'s, ${wanted}\\*\\.jar\\): copy the driver jar there`,
      ),
    ]);
  });

  it('passes with a jdbc:mariadb URL as well', async () => {
    const setup = await setUp({ engine: 'mariadb', mariadbScheme: 'mariadb' });
    const run = await withMariadbGlobalsLock(() => cliPreflight(setup, ['--json']));
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout) as StageResult).toMatchObject({ status: 'succeeded', stage: 'preflight' });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
