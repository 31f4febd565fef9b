/**
 * The BUILT CLI (dist/cli/index.js) as an operator runs it: `node dist/cli/index.js ...` in the folder that holds
 * apim-migration.yml, against the machine's real PostgreSQL and MariaDB. The tests never build: run
 * `npm run build` (and `bash scripts/ensure-services.sh`) first.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/build-plan.js';
import { STAGE_NAMES, type StageResult } from '../../src/core/results.js';
import {
  baseEnv,
  BUNDLES,
  createMigrationSetup,
  requireBundles,
  rewriteConfig,
  runNodeScript,
  withMariadbGlobalsLock,
  type MigrationSetup,
  type ScriptRun,
} from '../helpers/migration-setup.js';

const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

let postgres: MigrationSetup;
let mariadb: MigrationSetup;
const extra: MigrationSetup[] = [];

beforeAll(async () => {
  requireBundles('cli');
  postgres = await createMigrationSetup({ engine: 'postgresql', flags: { tags: true, properties: true } });
  mariadb = await createMigrationSetup({
    engine: 'mariadb',
    userStore: { adminInUmRole: true, adminInHybridRole: false },
  });
});

afterAll(async () => {
  for (const setup of [postgres, mariadb, ...extra]) await setup?.cleanup();
});

function cli(setup: MigrationSetup, args: string[], env: Record<string, string> = {}): Promise<ScriptRun> {
  return runNodeScript(BUNDLES.cli, args, { cwd: setup.dir, env: baseEnv({ ...setup.env, ...env }) });
}

function expectNoSecrets(setup: MigrationSetup, run: ScriptRun): void {
  for (const secret of setup.secrets) {
    expect(run.stdout.includes(secret), 'a secret on stdout').toBe(false);
    expect(run.stderr.includes(secret), 'a secret on stderr').toBe(false);
  }
}

describe('apim-migrate plan (built CLI)', () => {
  it('exits 0 and names every stage in order', async () => {
    const run = await cli(postgres, ['plan']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    STAGE_NAMES.forEach((stage, index) => expect(run.stdout).toMatch(new RegExp(`^${index + 1}\\. ${stage}: `, 'm')));
    const positions = STAGE_NAMES.map((stage) => run.stdout.search(new RegExp(`^\\d+\\. ${stage}: `, 'm')));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // The flags of the old registry.xml decide, table by table.
    expect(run.stdout).toContain('remove versioning details of REG_RESOURCE_TAG / REG_TAG');
    expect(run.stdout).toContain('remove versioning details of REG_RESOURCE_PROPERTY / REG_PROPERTY');
    expect(run.stdout).toContain('keep versioning details of REG_RESOURCE_COMMENT / REG_COMMENT');
    expect(run.stdout).toContain('Nothing was changed.');
    expectNoSecrets(postgres, run);
  });

  it('--json prints one JSON document that parses', async () => {
    const run = await cli(postgres, ['plan', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as Plan;
    expect(plan.stages.map((stage) => stage.stage)).toEqual([...STAGE_NAMES]);
    expect(plan.apimHome).toBe(postgres.apimHome);
    expect(plan.oldApimHome).toBe(postgres.oldApimHome);
    expectNoSecrets(postgres, run);
  });
});

describe('apim-migrate run preflight (built CLI)', () => {
  it('exits 0 against PostgreSQL', async () => {
    const run = await cli(postgres, ['run', 'preflight'], { APIM_MIGRATE_RUN_ID: 'e2e-pg' });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Preflight succeeded \(/m);
    expect(run.stdout).toMatch(/\[WARN\] .*PostgreSQL [\d.]+ is not among the DBMSs WSO2 tested/);
    const report = path.join(postgres.storeDir, 'runs', 'e2e-pg', 'apim-migrate-preflight-report-a1', 'report.json');
    expect(run.stdout).toContain(`Report: ${report}`);
    expect((JSON.parse(await readFile(report, 'utf8')) as StageResult).status).toBe('succeeded');
    expectNoSecrets(postgres, run);
  });

  it('exits 0 against MariaDB, and --json prints the result', async () => {
    const run = await withMariadbGlobalsLock(() => cli(mariadb, ['run', 'preflight', '--json']));
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as StageResult;
    expect(result.status).toBe('succeeded');
    expect(result.steps.every((step) => step.outcome === 'succeeded')).toBe(true);
    // With --json the log goes to stderr, the verdict lines included.
    expect(run.stderr).toMatch(/MariaDB [\d.]+ is not among the DBMSs WSO2 tested/);
    expectNoSecrets(mariadb, run);
  });

  it('exits 1 when the preflight fails, listing what failed', async () => {
    const setup = await createMigrationSetup({ engine: 'postgresql', login: 'scoped', strictDbmsCheck: true });
    extra.push(setup);
    const run = await cli(setup, ['run', 'preflight']);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain('Failed checks (2):');
    expect(run.stdout).toMatch(/^ {2}- .*is not among the DBMSs WSO2 tested/m);
    expect(run.stdout).toMatch(/^ {2}- .*user \S+ is not SUPERUSER/m);
    expect(run.stdout).toMatch(/^Preflight failed in Databases \(/m);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(STACK_LINE);
    expectNoSecrets(setup, run);
  });
});

describe('input errors (built CLI)', () => {
  it('a config error exits 2 with one message and no stack trace', async () => {
    const setup = await createMigrationSetup({ engine: 'postgresql', database: 'never_connected' });
    extra.push(setup);
    await rewriteConfig(setup, { stroe: { dir: './elsewhere' } });
    const run = await cli(setup, ['run', 'preflight']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    // One message: a headline, the problem under it, nothing else.
    expect(run.stderr.match(/^apim-migrate: /gm)).toHaveLength(1);
    expect(run.stderr).toMatch(/^apim-migrate: the configuration \(.*apim-migration\.yml\) has a problem/);
    expect(run.stderr).toMatch(/apim-migration\.yml:\d+:\d+: unknown key "stroe"/);
    expect(run.stderr.trim().split('\n')).toHaveLength(2);
    expect(run.stderr).not.toMatch(STACK_LINE);
    // Nothing ran: no store, no report.
    expect(run.stderr).not.toContain('Preflight');
  });

  it('an unknown stage exits 2 naming the stages', async () => {
    const run = await cli(postgres, ['run', 'everything']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `apim-migrate: unknown stage "everything"; the stages are ${STAGE_NAMES.join(', ')}`,
    );
  });

  it('a missing config file exits 2 with what to do', async () => {
    const run = await cli(postgres, ['plan', '--config', 'nowhere.yml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(path.join(postgres.dir, 'nowhere.yml'));
    expect(run.stderr).toContain('config file not found');
    expect(run.stderr).not.toMatch(STACK_LINE);
  });
});
