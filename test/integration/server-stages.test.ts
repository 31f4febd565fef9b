/**
 * The server stages end to end through the CLI: identity, apim-validate, apim and verify against the stand-in
 * API-M server (src/demo/stand-in-apim) and a seeded PostgreSQL or MariaDB database.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMigratedSchema,
  createMigrationSetup,
  prepareServerStages,
  ledgerStates,
  rewriteConfig,
  runCliIn,
  type MigrationSetup,
  type SetupEngine,
} from '../helpers/migration-setup.js';
import { readStandInArgs, writeStandInConf, type StandInBehaviour } from '../helpers/stand-in.js';

let setup: MigrationSetup | undefined;
afterEach(async () => {
  await setup?.cleanup();
  setup = undefined;
});

function cli(current: MigrationSetup, argv: string[]) {
  return runCliIn(current, argv, { runIdPrefix: 'server-test' });
}

/** A seeded setup whose 4.2.0 home runs the stand-in server and whose identity kit holds an unedited config. */
async function serverSetup(engine: SetupEngine, behaviour: StandInBehaviour = {}): Promise<MigrationSetup> {
  const current = await createMigrationSetup({
    engine,
    flags: { tags: true },
    config: { server: { timeoutMinutes: 1, stopGraceSeconds: 5 } },
  });
  await prepareServerStages(current, { seed: 3, tenants: 1, behaviour: { slowMs: 5, ...behaviour } });
  return current;
}

/** The arguments of every server start, without the `--stop` calls that ended them. */
async function serverRuns(current: MigrationSetup): Promise<string[][]> {
  return (await readStandInArgs(current.apimHome)).filter((args) => args[0] !== '--stop');
}

async function dropins(current: MigrationSetup): Promise<string[]> {
  return readdir(path.join(current.apimHome, 'repository', 'components', 'dropins'));
}

async function homeEntries(current: MigrationSetup): Promise<string[]> {
  return readdir(current.apimHome);
}

async function storedFiles(current: MigrationSetup, artifact: string): Promise<string[]> {
  return readdir(await artifactDir(current, artifact));
}

/** The artifact's folder in the latest run that stored it: a refused run stores its logs and its report too. */
async function artifactDir(current: MigrationSetup, artifact: string): Promise<string> {
  const counter = (run: string) => Number(/-(\d+)$/.exec(run)?.[1] ?? 0);
  const runs = (await readdir(path.join(current.storeDir, 'runs'))).sort((a, b) => counter(b) - counter(a));
  for (const run of runs) {
    const dir = path.join(current.storeDir, 'runs', run, artifact);
    if (
      await readdir(dir).then(
        () => true,
        () => false,
      )
    )
      return dir;
  }
  throw new Error(`no artifact ${artifact} in ${current.storeDir}`);
}

async function allFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe.each<[string, SetupEngine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('the server stages on %s', (_label, engine) => {
  it('run in order: identity, apim-validate, apim, verify', { timeout: 180_000 }, async () => {
    setup = await serverSetup(engine);

    const plan = await cli(setup, ['plan']);
    expect(plan.code, plan.output).toBe(0);
    expect(plan.output).toContain('-currentVersion: "5.9.0"');
    expect(plan.output).toContain('+currentVersion: "5.10.0"');
    expect(plan.output).toContain('-     name: "EncryptionAdminFlowMigrator"');
    if (engine === 'postgresql') expect(plan.output).toMatch(/\+url = ".*preparedStatementCacheQueries=0"/);

    const tooEarly = await cli(setup, ['run', 'identity']);
    expect(tooEarly.code).toBe(1);
    expect(tooEarly.output).toContain('identity needs registry-scripts to have succeeded');

    expect((await cli(setup, ['run', 'registry-scripts'])).code).toBe(0);

    const identity = await cli(setup, ['run', 'identity']);
    expect(identity.code, identity.output).toBe(0);
    expect(identity.output).toContain('apim-migrate-identity-backup-a1 stored and verified');
    expect((await serverRuns(setup)).at(-1)).toEqual(['-Dmigrate', '-Dcomponent=identity']);
    expect((await dropins(setup)).filter((name) => name.endsWith('.jar'))).toEqual([]);
    expect(await homeEntries(setup)).not.toContain('migration-resources');
    expect(await homeEntries(setup)).not.toContain('wso2carbon.pid');
    const identityLogs = await storedFiles(setup, 'apim-migrate-identity-logs-a1');
    expect(identityLogs).toEqual(
      expect.arrayContaining([
        'stage-output.log',
        'server-console.log',
        'wso2carbon.log',
        'migration-config.yaml.orig',
        'migration-config.yaml.diff',
      ]),
    );

    const validate = await cli(setup, ['run', 'apim-validate']);
    expect(validate.code, validate.output).toBe(0);
    expect(validate.output).toContain('every API definition is valid');
    expect((await serverRuns(setup)).at(-1)).toEqual([
      '-Dmigrate',
      '-DmigrateFromVersion=3.1.0',
      '-DmigratedVersion=4.2.0',
      '-DrunPreMigration',
      '-DsaveInvalidDefinition',
    ]);

    const apim = await cli(setup, ['run', 'apim']);
    expect(apim.code, apim.output).toBe(0);
    expect((await serverRuns(setup)).at(-1)).toEqual([
      '-Dmigrate',
      '-DmigrateFromVersion=3.1.0',
      '-DmigratedVersion=4.2.0',
    ]);
    const toml = await readFile(setup.deploymentToml, 'utf8');
    if (engine === 'postgresql') expect(toml).toContain('preparedStatementCacheQueries=0');
    else expect(toml).not.toContain('preparedStatementCacheQueries');
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:succeeded']);

    // The stand-in does not create API-M 4.2.0's tables: verify must say so, then pass once they exist.
    const missing = await cli(setup, ['run', 'verify']);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('apim_db lacks tables that API-M 4.2.0 has: AM_');
    await createMigratedSchema(setup);
    const verified = await cli(setup, ['run', 'verify']);
    expect(verified.code, verified.output).toBe(0);

    // No secret in any artifact: reports, logs (config originals and diffs included), manifests, backups.
    for (const file of await allFiles(setup.storeDir)) {
      const content = await readFile(file, 'latin1');
      for (const secret of setup.secrets) expect(content.includes(secret), `${secret} in ${file}`).toBe(false);
    }
  });
});

describe('server stage failures', () => {
  it(
    'a failing apim run: server stopped, kit removed, logs kept, ledger failed; the re-run restores and succeeds',
    { timeout: 180_000 },
    async () => {
      setup = await serverSetup('postgresql');
      expect((await cli(setup, ['run', 'registry-scripts'])).code).toBe(0);
      expect((await cli(setup, ['run', 'identity'])).code).toBe(0);
      await writeStandInConf(setup.apimHome, { slowMs: 5, fail: true });

      const failed = await cli(setup, ['run', 'apim']);
      expect(failed.code).toBe(1);
      expect(failed.output).toContain('API Migration exception occurred while migrating');
      expect(await homeEntries(setup)).not.toContain('wso2carbon.pid');
      expect(await homeEntries(setup)).not.toContain('migration-resources');
      expect((await dropins(setup)).filter((name) => name.endsWith('.jar'))).toEqual([]);
      expect(await storedFiles(setup, 'apim-migrate-apim-logs-a1')).toEqual(
        expect.arrayContaining(['server-console.log', 'deployment.toml.orig', 'deployment.toml.diff']),
      );
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:failed']);

      await writeStandInConf(setup.apimHome, { slowMs: 5 });
      const rerun = await cli(setup, ['run', 'apim']);
      expect(rerun.code, rerun.output).toBe(0);
      expect(rerun.output).toContain('restoring apim-migrate-apim-backup-a1');
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:succeeded']);
    },
  );

  it(
    'apim-validate fails on invalid definitions unless they are allowed, and keeps them in the logs',
    { timeout: 120_000 },
    async () => {
      setup = await serverSetup('mariadb', { invalidDefinitions: 2 });
      const result = await cli(setup, ['run', 'apim-validate']);
      expect(result.code).toBe(1);
      expect(result.output).toContain('2 invalid API definitions');
      const files = await storedFiles(setup, 'apim-migrate-apim-validate-logs-a1');
      expect(files).toContain('invalid-definitions.json');
      expect(files.some((file) => file.startsWith('invalid-swagger-definitions-'))).toBe(true);
      expect((await dropins(setup)).filter((name) => name.endsWith('.jar'))).toEqual([]);
      // The saved definitions went into the logs artifact and out of the home.
      expect((await homeEntries(setup)).filter((name) => name.startsWith('invalid-swagger-definitions'))).toEqual([]);
    },
  );

  it(
    'apim-validate sets aside the saved definitions of earlier runs, stores them, and takes only them out of the home',
    { timeout: 120_000 },
    async () => {
      setup = await serverSetup('postgresql', { invalidDefinitions: 1 });
      const earlier = path.join(setup.apimHome, 'invalid-swagger-definitions');
      await mkdir(earlier, { recursive: true });
      await writeFile(path.join(earlier, '11111111-2222-4333-8444-555555555555.json'), '{"swagger":"2.0"}\n');
      // Left by a run that was killed before it stored the logs.
      const stranded = path.join(setup.apimHome, 'invalid-swagger-definitions-before-killed-a1');
      await mkdir(stranded);
      await writeFile(path.join(stranded, '99999999-2222-4333-8444-555555555555.json'), '{"swagger":"2.0"}\n');
      // Not the validator's: stays where it is.
      await mkdir(path.join(earlier, 'notes'));
      await writeFile(path.join(earlier, 'notes', 'mine.txt'), 'an operator note\n');
      await rewriteConfig(setup, {
        apim: { ...(setup.configObject['apim'] as object), allowInvalidDefinitions: true },
      });

      const result = await cli(setup, ['run', 'apim-validate']);
      expect(result.code, result.output).toBe(0);
      expect(result.output).toContain('held 1 files of an earlier run');
      expect(result.output).toContain('1 invalid API definition, allowed by apim.allowInvalidDefinitions');
      const files = await storedFiles(setup, 'apim-migrate-apim-validate-logs-a1');
      const before = files.filter((file) => file.startsWith('invalid-swagger-definitions-before-'));
      expect(before.sort()).toEqual([
        'invalid-swagger-definitions-before-killed-a1-99999999-2222-4333-8444-555555555555.json',
        expect.stringMatching(
          /^invalid-swagger-definitions-before-server-test-\d+-a1-11111111-2222-4333-8444-555555555555\.json$/,
        ),
      ]);
      const saved = files.filter(
        (file) =>
          file.startsWith('invalid-swagger-definitions-') && !file.startsWith('invalid-swagger-definitions-before-'),
      );
      expect(saved).toHaveLength(1);
      // What was stored left the home; the folder with the operator's note stays, with only the note.
      const left = (await homeEntries(setup)).filter((name) => name.startsWith('invalid-swagger-definitions'));
      expect(left).toEqual([expect.stringMatching(/^invalid-swagger-definitions-before-server-test-\d+-a1$/)]);
      expect(await readdir(path.join(setup.apimHome, left[0] ?? ''), { recursive: true })).toEqual([
        'notes',
        'notes/mine.txt',
      ]);
    },
  );

  it(
    'ERRORs outside the client run are warnings in the report, and fail the stage with server.failOnAnyError',
    { timeout: 180_000 },
    async () => {
      setup = await serverSetup('postgresql', { errorOutsideWindow: true });
      expect((await cli(setup, ['run', 'registry-scripts'])).code).toBe(0);
      const warned = await cli(setup, ['run', 'identity']);
      expect(warned.code, warned.output).toBe(0);
      const report = JSON.parse(
        await readFile(path.join(await artifactDir(setup, 'apim-migrate-identity-report-a1'), 'report.json'), 'utf8'),
      ) as { steps: Array<{ id: string; checks?: Array<{ verdict: string; message: string }> }> };
      const server = report.steps.find((step) => step.id === 'server');
      expect(server?.checks).toEqual([
        {
          verdict: 'warn',
          message: expect.stringMatching(
            /^ERROR of the server outside the migration client's run: .*error-outside-window/,
          ),
        },
        {
          verdict: 'warn',
          message: expect.stringMatching(
            /^ERROR of the server outside the migration client's run: .*error-outside-window/,
          ),
        },
      ]);

      await cli(setup, ['restore', '--stage', 'identity']);
      await rewriteConfig(setup, { server: { timeoutMinutes: 1, stopGraceSeconds: 5, failOnAnyError: true } });
      const failed = await cli(setup, ['run', 'identity']);
      expect(failed.code).toBe(1);
      expect(failed.output).toMatch(
        /server logged 2 ERROR lines outside the identity migration client's run, which server\.failOnAnyError does not allow/,
      );
    },
  );

  it(
    'a client ERROR fails a run even with the success line, unless server.harmlessErrors names it',
    { timeout: 180_000 },
    async () => {
      setup = await serverSetup('postgresql', { errorBeforeSuccess: true });
      expect((await cli(setup, ['run', 'registry-scripts'])).code).toBe(0);
      const failed = await cli(setup, ['run', 'identity']);
      expect(failed.code).toBe(1);
      // SchemaMigrator's ERROR before its rollback (identity-migration-resources 1.0.225).
      expect(failed.output).toContain('An error occurred while rolling back transactions.');
      const { rewriteConfig } = await import('../helpers/migration-setup.js');
      await rewriteConfig(setup, {
        server: {
          timeoutMinutes: 1,
          stopGraceSeconds: 5,
          harmlessErrors: ['^An error occurred while rolling back transactions\\.'],
        },
      });
      const rerun = await cli(setup, ['run', 'identity']);
      expect(rerun.code, rerun.output).toBe(0);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded']);
    },
  );

  it(
    'a silent log during apim gets one warning naming the long statement, and the server is left to finish',
    { timeout: 180_000 },
    async () => {
      setup = await serverSetup('postgresql', { dbSleepSeconds: 6 });
      expect((await cli(setup, ['run', 'registry-scripts'])).code).toBe(0);
      expect((await cli(setup, ['run', 'identity'])).code).toBe(0);
      await rewriteConfig(setup, { server: { timeoutMinutes: 1, stopGraceSeconds: 5, stallWarnMinutes: 0.05 } });
      const apim = await cli(setup, ['run', 'apim']);
      expect(apim.code, apim.output).toBe(0);
      const warnings = apim.output.split('\n').filter((line) => line.includes("The server's log has been silent for"));
      expect(warnings, apim.output).toHaveLength(1);
      expect(warnings[0]).toMatch(/warning: /);
      expect(warnings[0]).toContain('SELECT pg_sleep(6)');
      expect(warnings[0]).toContain('The server is left running');
      expect(apim.output).toContain('Success line:');
      const report = JSON.parse(
        await readFile(path.join(await artifactDir(setup, 'apim-migrate-apim-report-a1'), 'report.json'), 'utf8'),
      ) as { steps: Array<{ id: string; outcome: string; checks?: Array<{ verdict: string; message: string }> }> };
      const server = report.steps.find((step) => step.id === 'server');
      expect(server?.outcome).toBe('succeeded');
      expect(server?.checks).toEqual([
        { verdict: 'warn', message: expect.stringContaining("The server's log has been silent for") },
      ]);
    },
  );

  it('a hanging server times out, is stopped, and the kit is removed', { timeout: 180_000 }, async () => {
    setup = await serverSetup('postgresql', { hang: true });
    await writeFileConfigTimeout(setup, 0.05);
    const result = await cli(setup, ['run', 'apim-validate']);
    expect(result.code).toBe(1);
    expect(result.output.toLowerCase()).toContain('timed out');
    expect(await homeEntries(setup)).not.toContain('wso2carbon.pid');
    expect(await homeEntries(setup)).not.toContain('migration-resources');
  });
});

async function writeFileConfigTimeout(current: MigrationSetup, minutes: number): Promise<void> {
  const { rewriteConfig } = await import('../helpers/migration-setup.js');
  await rewriteConfig(current, { server: { timeoutMinutes: minutes, stopGraceSeconds: 5 } });
}
