import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../../src/entry/cli.js';
import type { Plan } from '../../src/plan/build-plan.js';
import { MINIMAL_CONFIG, PG_TOML_DATABASES, writeSetup } from '../helpers/config-fixtures.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-cli-');
afterEach(() => temp.cleanup());

interface FakeIo extends CliIo {
  outLines: string[];
  errLines: string[];
}

function fakeIo(cwd: string, env: Record<string, string | undefined> = {}): FakeIo {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return {
    outLines,
    errLines,
    out: (text) => outLines.push(text),
    err: (text) => errLines.push(text),
    env,
    cwd,
    platform: 'linux',
  };
}

async function cli(argv: string[], cwd?: string, env?: Record<string, string | undefined>) {
  const io = fakeIo(cwd ?? (await temp.make()), env);
  const code = await runCli(argv, io);
  return { code, out: io.outLines.join('\n'), err: io.errLines.join('\n'), io };
}

const STACK_LINE = /^\s{4}at /m;

describe('runCli: help and version', () => {
  it.each([['--help'], ['-h'], ['help'], ['plan', '--help']])('%s prints the usage and exits 0', async (...argv) => {
    const { code, out, err } = await cli(argv);
    expect(code).toBe(0);
    expect(out).toContain('Usage:');
    expect(out).toContain('apim-migrate run STAGE');
    expect(err).toBe('');
  });

  it('prints the usage on stderr and exits 2 without a command', async () => {
    const { code, out, err } = await cli([]);
    expect(code).toBe(2);
    expect(err).toContain('Usage:');
    expect(out).toBe('');
  });

  it('--version prints the version of package.json', async () => {
    const packageJson = JSON.parse(
      await readFile(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8'),
    ) as { version: string };
    const { code, io } = await cli(['--version']);
    expect(code).toBe(0);
    expect(io.outLines).toEqual([packageJson.version]);
    expect(io.errLines).toEqual([]);
  });
});

describe('runCli: wrong input exits 2 with one message and no stack trace', () => {
  it.each([
    { argv: ['frobnicate'], text: 'unknown command "frobnicate"' },
    { argv: ['plan', '--frob'], text: "'--frob'" },
    { argv: ['--frob'], text: "'--frob'" },
    { argv: ['plan', '--force'], text: 'apim-migrate plan does not take --force; it takes --config, --json' },
    { argv: ['status', '--dry-run'], text: 'apim-migrate status does not take --dry-run' },
    { argv: ['demo', '--config', 'x.yml'], text: 'apim-migrate demo does not take --config' },
    {
      argv: ['backup', '--allow-connected-clients'],
      text: 'apim-migrate backup does not take --allow-connected-clients',
    },
    { argv: ['plan', '--config'], text: "'--config" },
    {
      argv: ['run', 'frob'],
      text: 'unknown stage "frob"; the stages are preflight, registry-scripts, identity, apim-validate, apim, verify',
    },
    { argv: ['run'], text: 'name the stage to run' },
    { argv: ['plan', 'extra'], text: 'unexpected argument "extra" after "apim-migrate plan"' },
    { argv: ['status', 'extra'], text: 'unexpected argument "extra" after "apim-migrate status"' },
    { argv: ['run', 'preflight', 'extra'], text: 'unexpected argument "extra" after "apim-migrate run"' },
    { argv: ['restore'], text: 'name the stage to roll back: apim-migrate restore --stage S' },
    { argv: ['restore', '--stage', 'nope'], text: 'unknown stage "nope"' },
    { argv: ['backup', '--label', 'Bad Label'], text: '--label "Bad Label" must be 1 to 40 lower-case letters' },
    { argv: ['demo', 'extra'], text: 'unexpected argument "extra" after "apim-migrate demo"' },
    { argv: ['plan'], text: 'config file not found' },
    { argv: ['plan', '--config', 'nowhere.yml'], text: 'check the path given with --config' },
  ])('$argv', async ({ argv, text }) => {
    const { code, io } = await cli(argv);
    expect(code).toBe(2);
    expect(io.outLines).toEqual([]);
    expect(io.errLines).toHaveLength(1);
    const message = io.errLines[0] ?? '';
    expect(message.startsWith('apim-migrate: ')).toBe(true);
    expect(message).toContain(text);
    expect(message).not.toMatch(STACK_LINE);
  });

  it('prints the stack only with --debug', async () => {
    const { code, err } = await cli(['plan', 'extra', '--debug']);
    expect(code).toBe(2);
    expect(err).toMatch(STACK_LINE);
  });
});

describe('runCli: plan', () => {
  async function setup(config = MINIMAL_CONFIG) {
    const root = await temp.make();
    return writeSetup(root, {
      config,
      registryFlags: { properties: true, comments: false, tags: true, ratings: false },
    });
  }

  it('prints the plan and exits 0', async () => {
    const { root, newHome, oldHome } = await setup();
    const { code, io, out } = await cli(['plan'], root);
    expect(io.errLines).toEqual([]);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe(`apim-migrate plan: API-M 3.1.0 (${oldHome}) to 4.2.0 (${newHome})`);
    expect(out).toContain(
      '   - remove versioning details of REG_RESOURCE_TAG / REG_TAG: versioningTags was true in the old registry.xml',
    );
    expect(out).toContain('   - keep versioning details of REG_RESOURCE_COMMENT / REG_COMMENT');
    expect(out).toContain(
      `   - run the server: sh ${newHome}/bin/api-manager.sh -Dmigrate -Dcomponent=identity; watch its log; stop it`,
    );
    expect(out).toContain('Nothing was changed.');
    for (const db of PG_TOML_DATABASES) expect(out).not.toContain(db.password);
  });

  it('reads the config named by --config, relative to the cwd', async () => {
    const root = await temp.make();
    await writeSetup(root, {
      configName: 'conf/migration.yml',
      config: MINIMAL_CONFIG.replace(/new-home/, '../new-home').replace(/old-home/, '../old-home'),
    });
    const { code, out } = await cli(['plan', '--config', 'conf/migration.yml'], root);
    expect(code).toBe(0);
    expect(out).toContain(`to 4.2.0 (${path.join(root, 'new-home')})`);
  });

  it('--json prints only parseable JSON on stdout', async () => {
    const { root, newHome } = await setup();
    const { code, io } = await cli(['plan', '--json'], root);
    expect(code).toBe(0);
    expect(io.outLines).toHaveLength(1);
    const plan = JSON.parse(io.outLines[0] ?? '') as Plan;
    expect(plan.apimHome).toBe(newHome);
    expect(plan.stages.map((stage) => stage.stage)).toEqual([
      'preflight',
      'registry-scripts',
      'identity',
      'apim-validate',
      'apim',
      'verify',
      'startup',
    ]);
    const registry = plan.stages.find((stage) => stage.stage === 'registry-scripts');
    expect(registry?.versioningRemoval.filter((action) => action.runs).map((action) => action.mappingTable)).toEqual([
      'REG_RESOURCE_TAG',
      'REG_RESOURCE_PROPERTY',
    ]);
    for (const db of PG_TOML_DATABASES) expect(io.outLines[0]).not.toContain(db.password);
  });

  it.each([
    { title: 'an unknown key', extra: 'bogus: 1', line: 8, text: 'unknown key "bogus"' },
    {
      title: 'a wrong type',
      extra: 'server:\n  timeoutMinutes: soon',
      line: 9,
      text: 'server.timeoutMinutes: must be a number',
    },
    { title: 'a YAML syntax error', extra: 'apim: [', line: 9, text: 'YAML syntax' },
  ])('exits 2 on a config with $title, naming the file and line', async ({ extra, line, text }) => {
    const { root, configFile } = await setup(`${MINIMAL_CONFIG}${extra}\n`);
    const { code, io } = await cli(['plan'], root);
    expect(code).toBe(2);
    expect(io.outLines).toEqual([]);
    expect(io.errLines).toHaveLength(1);
    const message = io.errLines[0] ?? '';
    expect(message).toContain(`${configFile}:${line}:`);
    expect(message).toContain(text);
    expect(message).not.toMatch(STACK_LINE);
  });

  it('exits 2 when the old registry.xml is missing, naming it', async () => {
    const root = await temp.make();
    const { oldHome } = await writeSetup(root, { registryFlags: { properties: false } });
    await rm(path.join(oldHome, 'repository', 'conf', 'registry.xml'));
    const { code, err } = await cli(['plan'], root);
    expect(code).toBe(2);
    expect(err).toContain('the plan needs the versioning flags of the old registry.xml');
    expect(err).toContain(path.join(oldHome, 'repository', 'conf', 'registry.xml'));
    expect(err).not.toMatch(STACK_LINE);
  });
});
