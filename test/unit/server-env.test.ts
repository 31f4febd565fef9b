import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { deploymentEnvNames, forbiddenServerVariable, readServerEnvNames } from '../../src/server/server-env-names.js';
import { scrubbedServerEnv } from '../../src/server/server-env.js';
import { makeResolvedConfig } from '../helpers/config-fixtures.js';

const RUNNER_ENV = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/runner',
  USER: 'runner',
  LANG: 'C.UTF-8',
  LC_ALL: 'C',
  LC_TIME: 'en_GB.UTF-8',
  TZ: 'UTC',
  TMPDIR: '/tmp/runner',
  JAVA_OPTS: '-Dfoo=bar',
  JVM_MEM_OPTS: '-Xmx4g',
  JAVA_HOME: '/usr/lib/jvm/17',
  CARBON_HOME: '/opt/other-home',
  JAVACMD: '/opt/evil/java',
  ACTIONS_RUNTIME_TOKEN: 'runtime-token',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-token',
  ACTIONS_RESULTS_URL: 'https://results.example',
  GITHUB_TOKEN: 'ghs_token',
  'INPUT_GITHUB-TOKEN': 'ghs_input',
  APIM_MIGRATE_BACKUP_PASSPHRASE: 'passphrase',
  AWS_SECRET_ACCESS_KEY: 'aws',
  SHARED_DB_PASSWORD: 'db-password',
  MY_EXTRA: 'extra',
  UNSET: undefined,
};

describe('scrubbedServerEnv', () => {
  it('keeps the base set and the named variables, and nothing else', () => {
    expect(scrubbedServerEnv(RUNNER_ENV, ['SHARED_DB_PASSWORD', 'MY_EXTRA', 'UNSET'], 'linux')).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/runner',
      USER: 'runner',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      LC_TIME: 'en_GB.UTF-8',
      TZ: 'UTC',
      TMPDIR: '/tmp/runner',
      JAVA_OPTS: '-Dfoo=bar',
      JVM_MEM_OPTS: '-Xmx4g',
      JAVA_HOME: '/usr/lib/jvm/17',
      CARBON_HOME: '/opt/other-home',
      SHARED_DB_PASSWORD: 'db-password',
      MY_EXTRA: 'extra',
    });
  });

  it('compares names as Unix does: exactly', () => {
    expect(scrubbedServerEnv({ Path: '/bin', path: '/bin', PATH: '/usr/bin' }, [], 'linux')).toEqual({
      PATH: '/usr/bin',
    });
  });

  it('on Windows keeps what cmd.exe and a Windows process need, in any case, and still nothing else', () => {
    const windows = {
      Path: 'C:\\Windows\\system32',
      SystemRoot: 'C:\\Windows',
      SystemDrive: 'C:',
      windir: 'C:\\Windows',
      ComSpec: 'C:\\Windows\\system32\\cmd.exe',
      PATHEXT: '.COM;.EXE;.BAT;.CMD',
      TEMP: 'C:\\Temp',
      TMP: 'C:\\Temp',
      USERPROFILE: 'C:\\Users\\runner',
      USERNAME: 'runner',
      USERDOMAIN: 'RUNNER',
      HOMEDRIVE: 'C:',
      HOMEPATH: '\\Users\\runner',
      LOGONSERVER: '\\\\RUNNER',
      OS: 'Windows_NT',
      Shared_Db_Password: 'db-password',
      ACTIONS_RUNTIME_TOKEN: 'runtime-token',
      GITHUB_TOKEN: 'ghs_token',
      PROMPT: '$P$G',
    };
    const { ACTIONS_RUNTIME_TOKEN: _token, GITHUB_TOKEN: _github, PROMPT: _prompt, ...kept } = windows;
    expect(scrubbedServerEnv(windows, ['SHARED_DB_PASSWORD'], 'win32')).toEqual(kept);
    expect(scrubbedServerEnv(windows, [], 'linux')).toEqual({});
  });
});

describe('forbiddenServerVariable', () => {
  const config = makeResolvedConfig({
    backup: {
      passphraseEnv: 'BACKUP_PASS',
      identityEnv: 'BACKUP_IDENTITY',
      signingKeyEnv: 'BACKUP_SIGNING',
      retentionDays: 30,
      allowPlaintextBackups: false,
    },
  });

  it.each([
    ['ACTIONS_RUNTIME_TOKEN', /GitHub Actions runner/],
    ['ACTIONS_ID_TOKEN_REQUEST_TOKEN', /GitHub Actions runner/],
    ['actions_cache_url', /GitHub Actions runner/],
    ['GITHUB_TOKEN', /GitHub token/],
    ['INPUT_GITHUB-TOKEN', /input of the action/],
    ['AWS_SECRET_ACCESS_KEY', /artifact store/],
    ['BACKUP_PASS', /backup\.passphraseEnv/],
    ['BACKUP_IDENTITY', /backup\.identityEnv/],
    ['BACKUP_SIGNING', /backup\.signingKeyEnv/],
  ])('refuses %s', (name, why) => {
    expect(forbiddenServerVariable(name, config)).toMatch(why);
  });

  it.each(['SHARED_DB_PASSWORD', 'GITHUB_WORKSPACE', 'KEYSTORE_PASSWORD', 'JAVA_OPTS'])('lets %s through', (name) => {
    expect(forbiddenServerVariable(name, config)).toBeUndefined();
  });
});

describe('deploymentEnvNames', () => {
  it('finds the placeholders of every string value, in tables, arrays and inline tables, and none in comments', () => {
    const toml = [
      '# $env{IN_A_COMMENT}',
      '[server]',
      'hostname = "$env{HOST_NAME}"',
      '[database.shared_db]',
      'url = "jdbc:postgresql://$env{DB_HOST}:5432/shared"',
      'password = "$env{SHARED_DB_PASSWORD}"',
      'pool_options = { maxActive = 50, validation = "$env{VALIDATION}" }',
      '[[apim.gateway.environment]]',
      'ws_endpoint = "ws://$env{GW_HOST}:9099"',
      'service_url = ["https://$env{GW_HOST}:9443", "https://$env{GW_BACKUP}"]',
      'port = 9443 # $env{AFTER_A_VALUE}',
      '',
    ].join('\n');
    expect(deploymentEnvNames(toml, 'deployment.toml')).toEqual([
      'HOST_NAME',
      'DB_HOST',
      'SHARED_DB_PASSWORD',
      'VALIDATION',
      'GW_HOST',
      'GW_BACKUP',
    ]);
  });
});

describe('readServerEnvNames', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'server-env-'));
    await mkdir(path.join(home, 'repository', 'conf'), { recursive: true });
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  async function namesFor(toml: string, env: string[] = [], passphraseEnv = 'APIM_MIGRATE_BACKUP_PASSPHRASE') {
    await writeFile(path.join(home, 'repository', 'conf', 'deployment.toml'), toml);
    const config = makeResolvedConfig({ apimHome: home, configFile: '/cfg/apim-migration.yml' });
    return readServerEnvNames({
      ...config,
      backup: { ...config.backup, passphraseEnv },
      server: { ...config.server, env },
    });
  }

  it("gives deployment.toml's names and server.env's, each once", async () => {
    const toml = '[database.apim_db]\npassword = "$env{APIM_DB_PASSWORD}"\n[a]\nb = "$env{MY_EXTRA}"\n';
    expect(await namesFor(toml, ['MY_EXTRA', 'OTHER'])).toEqual(['APIM_DB_PASSWORD', 'MY_EXTRA', 'OTHER']);
  });

  it('refuses a placeholder of a runner token, at its line, and a server.env entry of the backup passphrase', async () => {
    const toml = '[a]\nx = 1\n[b]\ntoken = "$env{ACTIONS_RUNTIME_TOKEN}"\n';
    const error = await namesFor(toml, ['APIM_MIGRATE_BACKUP_PASSPHRASE']).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    const problems = (error as InputError).problems;
    expect(problems).toEqual([
      {
        file: path.join(home, 'repository', 'conf', 'deployment.toml'),
        line: 4,
        message: expect.stringMatching(
          /^\$env\{ACTIONS_RUNTIME_TOKEN\}: the API-M server never gets ACTIONS_RUNTIME_TOKEN, because it belongs to the GitHub Actions runner/,
        ),
      },
      {
        file: '/cfg/apim-migration.yml',
        message: expect.stringMatching(
          /^server\.env: the API-M server never gets APIM_MIGRATE_BACKUP_PASSPHRASE, because it is backup\.passphraseEnv: it holds the backup passphrase; remove it/,
        ),
      },
    ]);
  });

  it('goes by server.env alone when the home has no deployment.toml', async () => {
    await rm(path.join(home, 'repository'), { recursive: true });
    const config = makeResolvedConfig({ apimHome: home });
    expect(await readServerEnvNames({ ...config, server: { ...config.server, env: ['A'] } })).toEqual(['A']);
  });
});
