/**
 * The API-M server gets only what it needs: a server stage run as the action would run it (the runner's tokens, the
 * backup passphrase and store credentials in the environment) gives the launcher the base set, the variables
 * deployment.toml's `$env{}` placeholders name and `server.env`, and nothing else. A config that names one of the
 * forbidden variables for the server is refused with exit code 2 before the lock and the backup: nothing changes.
 *
 * In-process through the CLI's code (runCliIn); a launcher in front of the stand-in's writes down its environment.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMigrationSetup,
  ledgerStates,
  PASSPHRASE_ENV,
  prepareServerStages,
  rewriteConfig,
  runCliIn,
  type MigrationSetup,
} from '../helpers/migration-setup.js';
import { expectUnchanged, takeSnapshot, type Snapshot } from '../helpers/snapshots.js';
import { recordLauncherEnv, type LauncherCall } from '../helpers/stand-in.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-server-env-');
let setup: MigrationSetup;
let runnerTemp: string;
let launcherCalls: () => Promise<LauncherCall[]>;

/** What the runner gives an action, and what the workflow puts beside it. */
const RUNNER_SECRETS = {
  ACTIONS_RUNTIME_TOKEN: 'runtime-token-5f1c',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-token-9a2e',
  GITHUB_TOKEN: 'ghs_workflow-token-77d0',
  'INPUT_GITHUB-TOKEN': 'ghs_input-token-c3b1',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-0b8f',
};

beforeAll(async () => {
  setup = await createMigrationSetup({ engine: 'postgresql', flags: { tags: true } });
  await prepareServerStages(setup, { seed: 7, tenants: 1, behaviour: {} });
  launcherCalls = await recordLauncherEnv(setup.apimHome);
  runnerTemp = await temp.make();
}, 120_000);

afterAll(async () => {
  await setup?.cleanup();
  await temp.cleanup();
});

function cli(argv: string[], env: Record<string, string> = {}) {
  return runCliIn(setup, argv, { env: { RUNNER_TEMP: runnerTemp, ...env }, runIdPrefix: 'server-env' });
}

describe('the environment of a server stage', () => {
  it('gives the server its placeholders and server.env, never the tokens, the passphrase or store credentials', async () => {
    await rewriteConfig(setup, { server: { env: ['MY_EXTRA'], timeoutMinutes: 1, stopGraceSeconds: 5 } });
    const run = await cli(['run', 'apim-validate'], { ...RUNNER_SECRETS, MY_EXTRA: 'extra-value', UNNAMED: 'x' });
    expect(run.code, run.output).toBe(0);

    const calls = await launcherCalls();
    const server = calls.find((call) => call.args.startsWith('-Dmigrate'));
    const stop = calls.find((call) => call.args === '--stop');
    expect(server && stop, JSON.stringify(calls)).toBeTruthy();
    const names = (call: LauncherCall | undefined) => (call?.env ?? []).map((line) => line.split('=')[0]);
    // deployment.toml's $env{} placeholders (the database passwords) and server.env: the server's start needs them.
    expect(server?.env).toEqual(
      expect.arrayContaining([
        `APIM_DB_PASSWORD=${setup.env['APIM_DB_PASSWORD']}`,
        `SHARED_DB_PASSWORD=${setup.env['SHARED_DB_PASSWORD']}`,
        'MY_EXTRA=extra-value',
        `CARBON_HOME=${setup.apimHome}`,
      ]),
    );
    expect(names(stop)).not.toContain('SHARED_DB_PASSWORD');
    for (const call of [server, stop]) {
      const text = call?.env.join('\n') ?? '';
      for (const secret of [...Object.values(RUNNER_SECRETS), setup.env[PASSPHRASE_ENV] ?? 'no passphrase']) {
        expect(text).not.toContain(secret);
      }
      expect(names(call)).not.toContain('UNNAMED');
      expect(names(call)).toContain('PATH');
    }
  });
});

describe('a config that gives the server a forbidden variable', () => {
  let baseline: Snapshot;
  beforeAll(async () => {
    await rewriteConfig(setup, { server: { timeoutMinutes: 1, stopGraceSeconds: 5 } });
    baseline = await takeSnapshot(setup, runnerTemp);
  });

  it.each([
    {
      title: 'server.env lists the backup passphrase',
      config: { server: { env: [PASSPHRASE_ENV] } },
      toml: undefined,
      names:
        /apim-migration\.yml: server\.env: the API-M server never gets APIM_MIGRATE_BACKUP_PASSPHRASE, because it is backup\.passphraseEnv/,
    },
    {
      title: "deployment.toml names the runner's runtime token",
      config: {},
      toml: '\n[apim.throttling]\nusername = "$env{ACTIONS_RUNTIME_TOKEN}"\n',
      names:
        /deployment\.toml:\d+: \$env\{ACTIONS_RUNTIME_TOKEN\}: the API-M server never gets ACTIONS_RUNTIME_TOKEN, because it belongs to the GitHub Actions runner/,
    },
    {
      title: 'server.env lists GITHUB_TOKEN',
      config: { server: { env: ['GITHUB_TOKEN'] } },
      toml: undefined,
      names: /server\.env: the API-M server never gets GITHUB_TOKEN, because it is a GitHub token/,
    },
  ])('is refused before the lock and the backup: $title', async ({ config, toml, names }) => {
    const original = await readFile(setup.deploymentToml, 'utf8');
    const configBefore = { ...setup.configObject };
    try {
      await rewriteConfig(setup, config);
      if (toml !== undefined) await writeFile(setup.deploymentToml, original + toml);
      const run = await cli(['run', 'apim'], RUNNER_SECRETS);
      expect(run.code, run.output).toBe(2);
      expect(run.output).toMatch(names);
      expect(run.output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    } finally {
      await writeFile(setup.deploymentToml, original);
      for (const key of Object.keys(setup.configObject)) delete setup.configObject[key];
      await rewriteConfig(setup, configBefore);
    }
    expect(await ledgerStates(setup)).toEqual([]);
    expectUnchanged(baseline, await takeSnapshot(setup, runnerTemp));
  });
});
