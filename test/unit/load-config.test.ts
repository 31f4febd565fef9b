import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { DatabaseTarget } from '../../src/config/types.js';
import type { Problem } from '../../src/core/errors.js';
import {
  MINIMAL_CONFIG,
  PG_TOML_DATABASES,
  catchInputError,
  lines,
  makeDeploymentToml,
  writeSetup,
  type SetupOptions,
} from '../helpers/config-fixtures.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-config-');
afterEach(() => temp.cleanup());

/** Writes a setup in a fresh temp folder and loads its config with that folder as cwd. */
async function load(options: SetupOptions = {}, env: Record<string, string | undefined> = {}) {
  const root = await temp.make();
  const setup = await writeSetup(root, options);
  return { setup, config: await loadConfig({ cwd: root, env }) };
}

async function loadError(options: SetupOptions = {}, env: Record<string, string | undefined> = {}) {
  const root = await temp.make();
  const setup = await writeSetup(root, options);
  const error = await catchInputError(() => loadConfig({ cwd: root, env }));
  return { setup, error };
}

/** A config with identity.uniqueIdUserStore: true (on line 6) and `identity` lines after it. */
function uniqueIdConfig(identityLines: string[]): string {
  return lines(
    'apimHome: new-home',
    'oldApimHome: old-home',
    'identity:',
    '  migrationKit: is.zip',
    '  targetVersion: "6.0.0"',
    '  uniqueIdUserStore: true',
    ...identityLines,
    'apim:',
    '  migrationKit: am.zip',
  );
}

function findProblem(problems: readonly Problem[], text: string): Problem {
  const found = problems.find((problem) => problem.message.includes(text));
  if (!found)
    throw new Error(`no problem mentions ${JSON.stringify(text)}; got:\n${problems.map((p) => p.message).join('\n')}`);
  return found;
}

const IDENTITY_AND_APIM = [
  'identity:',
  '  migrationKit: kits/is.zip',
  '  targetVersion: "6.0.0"',
  'apim:',
  '  migrationKit: kits/am.zip',
];

describe('loadConfig: databases discovered from deployment.toml', () => {
  it.each<{
    title: string;
    url: string;
    expected: Pick<DatabaseTarget, 'engine' | 'host' | 'port' | 'database' | 'params'>;
  }>([
    {
      title: 'PostgreSQL',
      url: 'jdbc:postgresql://pg.example:5433/shared_db?ssl=true',
      expected: {
        engine: 'postgresql',
        host: 'pg.example',
        port: 5433,
        database: 'shared_db',
        params: { ssl: 'true' },
      },
    },
    {
      title: 'PostgreSQL without a port',
      url: 'jdbc:postgresql://pg.example/shared_db',
      expected: { engine: 'postgresql', host: 'pg.example', port: 5432, database: 'shared_db', params: {} },
    },
    {
      title: 'MySQL with &amp; between parameters',
      url: 'jdbc:mysql://mysql.example:3306/shared_db?useSSL=false&amp;allowPublicKeyRetrieval=true',
      expected: {
        engine: 'mysql',
        host: 'mysql.example',
        port: 3306,
        database: 'shared_db',
        params: { useSSL: 'false', allowPublicKeyRetrieval: 'true' },
      },
    },
    {
      title: 'MariaDB',
      url: 'jdbc:mariadb://maria.example/shared_db',
      expected: { engine: 'mariadb', host: 'maria.example', port: 3306, database: 'shared_db', params: {} },
    },
  ])('reads a $title shared_db', async ({ url, expected }) => {
    const type = expected.engine === 'postgresql' ? 'postgre' : 'mysql';
    const { config } = await load({
      deploymentToml: makeDeploymentToml([
        { name: 'apim_db', type, url: url.replace('shared_db', 'apim_db'), username: 'apimuser', password: 'apim-pw' },
        { name: 'shared_db', type, url, username: 'shareduser', password: 'shared-pw' },
      ]),
    });
    expect(config.databases.map((db) => db.name)).toEqual(['apim_db', 'shared_db']);
    expect(config.databases[1]).toEqual<DatabaseTarget>({
      name: 'shared_db',
      url,
      username: 'shareduser',
      password: 'shared-pw',
      source: 'deployment.toml',
      ...expected,
    });
  });

  it('takes config and user as well when the deployment has them', async () => {
    const { config } = await load({
      deploymentToml: makeDeploymentToml([
        ...PG_TOML_DATABASES,
        { name: 'config', url: 'jdbc:postgresql://pg.example:5432/shared_db', username: 'c', password: 'c-pw' },
        { name: 'user', url: 'jdbc:mysql://um.example/userdb', username: 'u', password: '' },
      ]),
    });
    expect(config.databases.map((db) => [db.name, db.engine, db.database, db.password])).toEqual([
      ['apim_db', 'postgresql', 'apim_db', 'apim-pw'],
      ['shared_db', 'postgresql', 'shared_db', 'shared-pw'],
      ['config', 'postgresql', 'shared_db', 'c-pw'],
      ['user', 'mysql', 'userdb', ''],
    ]);
  });
});

describe('loadConfig: defaults and paths', () => {
  it('applies the defaults to a minimal config', async () => {
    const { setup, config } = await load();
    expect(config).toMatchObject({
      configFile: setup.configFile,
      apimHome: setup.newHome,
      oldApimHome: setup.oldHome,
      keyManager: 'resident',
      strictDbmsCheck: false,
      identity: {
        migrationKit: path.join(setup.root, 'kits', 'wso2is-migration-1.0.225.zip'),
        targetVersion: '6.0.0',
        uniqueIdUserStore: false,
      },
      apim: {
        migrationKit: path.join(setup.root, 'kits', 'wso2am-migration-4.2.0.67.zip'),
        saveInvalidDefinitions: true,
        allowInvalidDefinitions: false,
      },
      backup: { retentionDays: 30, allowPlaintextBackups: false },
      server: { timeoutMinutes: 180, stopGraceSeconds: 60 },
      store: { dir: path.join(setup.root, '.apim-migrate') },
    });
    expect(config.profile).toBeUndefined();
    expect(config.isHealthUrl).toBeUndefined();
  });

  it('resolves relative paths against the config file, not the cwd', async () => {
    const root = await temp.make();
    const cwd = await temp.make();
    const setup = await writeSetup(root, {
      configName: 'conf/sub/migration.yml',
      config: lines(
        'apimHome: ../../new-home',
        `oldApimHome: ${path.join(root, 'old-home')}`,
        'identity:',
        '  migrationKit: ./kits/is.zip',
        '  targetVersion: "6.1.0"',
        'apim:',
        '  migrationKit: ../am.zip',
        'store:',
        '  dir: state',
      ),
    });
    const config = await loadConfig({ cwd, file: path.relative(cwd, setup.configFile), env: {} });
    const folder = path.join(root, 'conf', 'sub');
    expect(config.configFile).toBe(setup.configFile);
    expect(config.apimHome).toBe(setup.newHome);
    expect(config.oldApimHome).toBe(setup.oldHome);
    expect(config.identity?.migrationKit).toBe(path.join(folder, 'kits', 'is.zip'));
    expect(config.apim.migrationKit).toBe(path.join(root, 'conf', 'am.zip'));
    expect(config.store.dir).toBe(path.join(folder, 'state'));
  });

  it.each([
    { title: 'an integer', value: '5', expected: 5 },
    { title: 'a decimal', value: '0.5', expected: 0.5 },
  ])('accepts $title for server.timeoutMinutes', async ({ value, expected }) => {
    const { config } = await load({ config: `${MINIMAL_CONFIG}server:\n  timeoutMinutes: ${value}\n` });
    expect(config.server).toEqual({
      timeoutMinutes: expected,
      stopGraceSeconds: 60,
      harmlessErrors: [],
      failOnAnyError: false,
      clientStartSeconds: 300,
      stallWarnMinutes: 15,
      env: [],
    });
  });

  it('resolves server.javaHome against the config file and reads failOnAnyError and clientStartSeconds', async () => {
    const { setup, config } = await load({
      config: `${MINIMAL_CONFIG}server:\n  javaHome: jdk-17\n  failOnAnyError: true\n  clientStartSeconds: 45\n`,
    });
    expect(config.server).toMatchObject({
      javaHome: path.join(path.dirname(setup.configFile), 'jdk-17'),
      failOnAnyError: true,
      clientStartSeconds: 45,
    });
  });

  it.each([
    { title: 'without the acknowledgement', acknowledged: undefined },
    { title: 'with the acknowledgement false', acknowledged: false },
  ])('refuses identity.uniqueIdUserStore $title, naming both keys', async ({ acknowledged }) => {
    const acknowledgement = acknowledged === undefined ? [] : [`  userStoreManagersMigrated: ${acknowledged}`];
    const { error } = await loadError({ config: uniqueIdConfig(acknowledgement) });
    const problem = findProblem(error.problems, 'identity.userStoreManagersMigrated: true');
    expect(problem.line).toBe(6);
    expect(problem.message).toContain('identity.uniqueIdUserStore: true');
    expect(problem.message).toContain("WSO2 Support's guidelines");
  });

  it('takes identity.uniqueIdUserStore with the acknowledgement', async () => {
    const { config } = await load({ config: uniqueIdConfig(['  userStoreManagersMigrated: true']) });
    expect(config.identity).toMatchObject({ uniqueIdUserStore: true, userStoreManagersMigrated: true });
  });

  it('takes keyManager: is with isHealthUrl and no identity section', async () => {
    const { config } = await load({
      config: lines(
        'apimHome: new-home',
        'oldApimHome: old-home',
        'keyManager: is',
        'isHealthUrl: https://is.example:9443/api/health-check/v1.0/health',
        'apim:',
        '  migrationKit: am.zip',
      ),
    });
    expect(config.keyManager).toBe('is');
    expect(config.isHealthUrl).toBe('https://is.example:9443/api/health-check/v1.0/health');
    expect(config.identity).toBeUndefined();
  });
});

describe('loadConfig: $env{} placeholders', () => {
  it('resolves them in paths and in database fields', async () => {
    const root = await temp.make();
    await writeSetup(root, {
      config: lines(
        'apimHome: $env{HOMES}/new-home',
        'oldApimHome: $env{HOMES}/old-home',
        'identity:',
        '  migrationKit: $env{KITS}/is.zip',
        '  targetVersion: "6.0.0"',
        'apim:',
        '  migrationKit: $env{KITS}/am.zip',
        'databases:',
        '  shared_db:',
        '    username: $env{SHARED_USER}',
        '    password: $env{SHARED_DB_PASSWORD}',
        '  apim_db:',
        '    url: jdbc:mysql://$env{DB_HOST}:3306/apim_db',
        '    username: apim',
        '    password: "$env{APIM_DB_PASSWORD}"',
      ),
      deploymentToml: makeDeploymentToml([
        {
          name: 'shared_db',
          url: 'jdbc:postgresql://pg.example/shared_db',
          username: 'ignored',
          password: '$env{NOT_USED}',
        },
      ]),
    });
    const env = {
      HOMES: root,
      KITS: '/srv/kits',
      SHARED_USER: 'shared_admin',
      SHARED_DB_PASSWORD: 's3cret',
      DB_HOST: 'mysql.example',
      APIM_DB_PASSWORD: 'a$env{X}b',
    };
    const config = await loadConfig({ cwd: root, env });
    expect(config.apimHome).toBe(path.join(root, 'new-home'));
    expect(config.oldApimHome).toBe(path.join(root, 'old-home'));
    expect(config.identity?.migrationKit).toBe('/srv/kits/is.zip');
    expect(config.apim.migrationKit).toBe('/srv/kits/am.zip');
    const byName = Object.fromEntries(config.databases.map((db) => [db.name, db]));
    expect(byName['apim_db']).toMatchObject({
      engine: 'mysql',
      host: 'mysql.example',
      username: 'apim',
      password: 'a$env{X}b',
      source: 'config',
    });
    expect(byName['shared_db']).toMatchObject({
      engine: 'postgresql',
      username: 'shared_admin',
      password: 's3cret',
      source: 'deployment.toml',
    });
  });

  it('resolves them in deployment.toml as WSO2 does', async () => {
    const { config } = await load(
      {
        deploymentToml: makeDeploymentToml([
          {
            name: 'apim_db',
            url: 'jdbc:postgresql://$env{PGHOST_X}/apim_db',
            username: 'u',
            password: '$env{APIM_DB_PASSWORD}',
          },
          { name: 'shared_db', url: 'jdbc:postgresql://pg/shared_db', username: '$env{SHARED_USER}', password: 'p' },
        ]),
      },
      { PGHOST_X: 'pg.internal', APIM_DB_PASSWORD: 'apw', SHARED_USER: 'su' },
    );
    expect(config.databases.map((db) => [db.name, db.host, db.username, db.password])).toEqual([
      ['apim_db', 'pg.internal', 'u', 'apw'],
      ['shared_db', 'pg', 'su', 'p'],
    ]);
  });

  it.each([
    {
      title: 'apimHome',
      config: lines('apimHome: $env{HOME_UNSET}/new-home', 'oldApimHome: old-home', ...IDENTITY_AND_APIM),
      variable: 'HOME_UNSET',
      line: 1,
    },
    {
      title: 'a nested path',
      config: lines(
        'apimHome: new-home',
        'oldApimHome: old-home',
        ...IDENTITY_AND_APIM.slice(0, 4),
        '  migrationKit: $env{KIT_UNSET}/am.zip',
      ),
      variable: 'KIT_UNSET',
      line: 7,
    },
    {
      title: 'a database password in the config (reported at its entry)',
      config: lines(
        'apimHome: new-home',
        'oldApimHome: old-home',
        ...IDENTITY_AND_APIM,
        'databases:',
        '  shared_db:',
        '    password: $env{SHARED_PW_UNSET}',
      ),
      variable: 'SHARED_PW_UNSET',
      line: 9,
    },
  ])('reports an unset variable in $title with the file and line', async ({ config, variable, line }) => {
    const { setup, error } = await loadError({ config });
    expect(error.problems).toHaveLength(1);
    const problem = findProblem(error.problems, variable);
    expect(problem).toMatchObject({ file: setup.configFile, line });
    expect(problem.message).toContain(`$env{${variable}}`);
    expect(problem.message).toMatch(/not set/);
    expect(error.message).toContain(`${setup.configFile}:${line}`);
  });

  it('reports an unset variable in deployment.toml at its table', async () => {
    const { setup, error } = await loadError({
      deploymentToml: makeDeploymentToml([
        PG_TOML_DATABASES[0]!,
        {
          name: 'shared_db',
          url: 'jdbc:postgresql://pg/shared_db',
          username: 'u',
          password: '$env{SHARED_TOML_UNSET}',
        },
      ]),
    });
    expect(error.problems).toHaveLength(1);
    expect(findProblem(error.problems, 'SHARED_TOML_UNSET')).toMatchObject({
      file: path.join(setup.newHome, 'repository', 'conf', 'deployment.toml'),
      line: 10,
    });
  });
});

describe('loadConfig: problems in the config file', () => {
  it.each([
    {
      title: 'an unknown top-level key',
      config: lines('apimHome: new-home', 'oldApimHome: old-home', 'profiles: control-plane', ...IDENTITY_AND_APIM),
      key: '"profiles"',
      line: 3,
    },
    {
      title: 'a misspelt apim.migrationKit',
      config: lines(
        'apimHome: new-home',
        'oldApimHome: old-home',
        ...IDENTITY_AND_APIM.slice(0, 4),
        '  migrationKitt: am.zip',
      ),
      key: '"apim.migrationKitt"',
      line: 7,
    },
    {
      title: 'a misspelt database password',
      config: lines(
        'apimHome: new-home',
        'oldApimHome: old-home',
        ...IDENTITY_AND_APIM,
        'databases:',
        '  shared_db:',
        '    username: wso2',
        '    pasword: hunter2',
      ),
      key: '"databases.shared_db.pasword"',
      line: 11,
    },
    {
      title: 'an unknown database name',
      config: lines('apimHome: new-home', 'oldApimHome: old-home', ...IDENTITY_AND_APIM, 'databases:', '  reg_db: {}'),
      key: '"databases.reg_db"',
      line: 9,
    },
  ])('names $title and its line', async ({ config, key, line }) => {
    const { setup, error } = await loadError({ config });
    const problem = findProblem(error.problems, `unknown key ${key}`);
    expect(problem).toMatchObject({ file: setup.configFile, line });
    expect(error.message).toContain(`${setup.configFile}:${line}:`);
    expect(error.message).not.toContain('hunter2');
  });

  it.each([
    {
      title: 'a string for timeoutMinutes',
      yaml: 'server:\n  timeoutMinutes: soon',
      line: 9,
      text: 'server.timeoutMinutes: must be a number',
    },
    {
      title: 'zero stopGraceSeconds',
      yaml: 'server:\n  stopGraceSeconds: 0',
      line: 9,
      text: 'server.stopGraceSeconds:',
    },
    { title: 'a decimal retentionDays', yaml: 'backup:\n  retentionDays: 2.5', line: 9, text: 'backup.retentionDays:' },
    {
      title: 'a string for a boolean',
      yaml: 'strictDbmsCheck: "yes"',
      line: 8,
      text: 'strictDbmsCheck: must be a boolean',
    },
    {
      title: 'an unknown keyManager',
      yaml: 'keyManager: wso2is',
      line: 8,
      text: 'keyManager: must be one of "resident", "is"',
    },
    { title: 'an unknown profile', yaml: 'profile: gateway-worker', line: 8, text: 'profile:' },
    { title: 'a list for a mapping', yaml: 'server: [1, 2]', line: 8, text: 'server: must be a mapping' },
    {
      title: 'a harmless-error pattern that is no regular expression',
      yaml: 'server:\n  harmlessErrors:\n    - "SQL script not found ("',
      line: 10,
      text: 'server.harmlessErrors.0: must be a valid regular expression',
    },
  ])('reports $title at its line (the config adds it after line 7)', async ({ yaml, line, text }) => {
    const { setup, error } = await loadError({ config: `${MINIMAL_CONFIG}${yaml}\n` });
    expect(error.problems).toHaveLength(1);
    expect(findProblem(error.problems, text)).toMatchObject({ file: setup.configFile, line });
  });

  it('reports several problems together in one error, each at its line', async () => {
    const config = lines(
      'apimHome: new-home', //                          1
      'oldApimHome: $env{OLD_HOME_UNSET}', //           2
      'bogus: 1', //                                    3
      'identity:', //                                   4
      '  migrationKit: kits/is.zip', //                 5
      '  targetVersion: "6.0.0"', //                    6
      'apim:', //                                       7
      '  migrationKitt: kits/am.zip', //                8
      'server:', //                                     9
      '  timeoutMinutes: soon', //                     10
      'databases:', //                                 11
      '  shared_db:', //                               12
      '    pasword: hunter2', //                       13
    );
    const { setup, error } = await loadError({ config });
    const byLine = [...error.problems]
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
      .map((problem) => [problem.file, problem.line, problem.message]);
    expect(byLine).toEqual([
      [setup.configFile, 2, expect.stringContaining('OLD_HOME_UNSET')],
      [setup.configFile, 3, expect.stringContaining('unknown key "bogus"')],
      [setup.configFile, 7, 'apim.migrationKit: is required'],
      [setup.configFile, 8, expect.stringContaining('unknown key "apim.migrationKitt"')],
      [setup.configFile, 10, 'server.timeoutMinutes: must be a number'],
      [setup.configFile, 13, expect.stringContaining('unknown key "databases.shared_db.pasword"')],
    ]);
    expect(error.message).toContain(`(${setup.configFile}) has 6 problems`);
    expect(error.message).not.toContain('hunter2');
  });

  it.each([
    {
      title: 'a syntax error',
      config: lines('apimHome: new-home', 'oldApimHome: old-home', 'apim: [unclosed', 'identity: {}'),
      line: 4,
    },
    {
      title: 'a duplicate key',
      config: lines('apimHome: new-home', 'oldApimHome: old-home', 'apimHome: other'),
      line: 3,
    },
    { title: 'a tab for indentation', config: 'apimHome: new-home\napim:\n\tmigrationKit: x\n', line: 3 },
  ])('reports $title in the YAML with its line', async ({ config, line }) => {
    const { setup, error } = await loadError({ config });
    expect(error.problems.length).toBeGreaterThanOrEqual(1);
    expect(error.problems[0]).toMatchObject({ file: setup.configFile, line });
    expect(error.problems[0]?.message).toMatch(/^YAML syntax: /);
    expect(error.message).toContain('is not valid YAML');
  });

  it.each([
    { title: 'an empty file', config: '' },
    { title: 'a list', config: '- apimHome: x\n' },
    { title: 'a scalar', config: 'just text\n' },
  ])('refuses $title as the config', async ({ config }) => {
    const { setup, error } = await loadError({ config });
    expect(error.problems).toEqual([
      expect.objectContaining({ file: setup.configFile, message: expect.stringContaining('YAML mapping') }),
    ]);
  });

  it('says what to do when the default config file is missing', async () => {
    const cwd = await temp.make();
    const error = await catchInputError(() => loadConfig({ cwd, env: {} }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.file).toBe(path.join(cwd, 'apim-migration.yml'));
    expect(error.message).toContain('config file not found');
    expect(error.message).toContain('create apim-migration.yml');
    expect(error.message).toContain('--config FILE');
  });

  it.each([
    { title: 'a missing file', make: async () => {}, what: 'not found' },
    { title: 'a folder', make: async (file: string) => mkdir(file), what: 'is a directory' },
  ])('says what to do when --config names $title', async ({ make, what }) => {
    const cwd = await temp.make();
    const file = path.join(cwd, 'conf', 'mine.yml');
    await mkdir(path.dirname(file), { recursive: true });
    await make(file);
    const error = await catchInputError(() => loadConfig({ cwd, file: 'conf/mine.yml', env: {} }));
    expect(error.problems[0]?.file).toBe(file);
    expect(error.message).toContain(`config file ${what}`);
    expect(error.message).toContain('check the path given with --config');
  });
});

describe('loadConfig: rules that tie keys together', () => {
  it.each([
    {
      title: 'keyManager: is without isHealthUrl',
      config: lines('apimHome: new-home', 'oldApimHome: old-home', 'keyManager: is', 'apim:', '  migrationKit: am.zip'),
      text: 'keyManager "is" needs isHealthUrl',
      line: 3 as number | undefined,
    },
    {
      title: 'the resident Key Manager without identity',
      config: lines(
        'apimHome: new-home',
        'oldApimHome: old-home',
        'keyManager: resident',
        'apim:',
        '  migrationKit: am.zip',
      ),
      text: 'add identity.migrationKit and identity.targetVersion, or set keyManager: is',
      line: 3,
    },
    {
      title: 'the default Key Manager without identity',
      config: lines('apimHome: new-home', 'oldApimHome: old-home', 'apim:', '  migrationKit: am.zip'),
      text: 'add identity.migrationKit and identity.targetVersion, or set keyManager: is',
      line: undefined,
    },
    {
      title: 'backup.signingKeyEnv without signingPublicKey',
      config: `${MINIMAL_CONFIG}backup:\n  passphraseEnv: PASS\n  signingKeyEnv: SIGNING_KEY\n`,
      text: 'backup.signingKeyEnv needs backup.signingPublicKey',
      line: 10,
    },
    {
      title: 'backup.recipient without identityEnv',
      config: `${MINIMAL_CONFIG}backup:\n  recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq\n`,
      text: 'backup.recipient needs backup.identityEnv',
      line: 9,
    },
    {
      title: 'both passphraseEnv and recipient',
      config: `${MINIMAL_CONFIG}backup:\n  passphraseEnv: PASS\n  identityEnv: ID\n  recipient: age1abc\n`,
      text: 'either backup.passphraseEnv or backup.recipient',
      line: 11,
    },
  ])('refuses $title', async ({ config, text, line }) => {
    const { setup, error } = await loadError({ config });
    expect(error.problems).toHaveLength(1);
    const problem = findProblem(error.problems, text);
    expect(problem.file).toBe(setup.configFile);
    expect(problem.line).toBe(line);
  });
});

describe('loadConfig: databases', () => {
  it('tells how to replace a $secret{} password of deployment.toml', async () => {
    const { setup, error } = await loadError({
      deploymentToml: makeDeploymentToml([
        PG_TOML_DATABASES[0]!,
        {
          name: 'shared_db',
          type: 'postgre',
          url: 'jdbc:postgresql://pg/shared_db',
          username: 'u',
          password: '$secret{shared_db_pw}',
        },
      ]),
    });
    expect(error.problems).toHaveLength(1);
    const problem = findProblem(error.problems, '$secret{shared_db_pw}');
    expect(problem).toMatchObject({
      file: path.join(setup.newHome, 'repository', 'conf', 'deployment.toml'),
      line: 10,
    });
    expect(problem.message).toContain(
      `add \`databases.shared_db.password: $env{SHARED_DB_PASSWORD}\` to ${setup.configFile}`,
    );
    expect(problem.message).toContain('set the environment variable SHARED_DB_PASSWORD');
  });

  it('takes the password from the config over a $secret{} of deployment.toml', async () => {
    const { config } = await load(
      {
        config: `${MINIMAL_CONFIG}databases:\n  shared_db:\n    password: $env{SHARED_DB_PASSWORD}\n`,
        deploymentToml: makeDeploymentToml([
          PG_TOML_DATABASES[0]!,
          {
            name: 'shared_db',
            type: 'postgre',
            url: 'jdbc:postgresql://pg:5432/shared_db',
            username: 'u',
            password: '$secret{shared_db_pw}',
          },
        ]),
      },
      { SHARED_DB_PASSWORD: 'plain-pw' },
    );
    expect(config.databases[1]).toMatchObject({
      name: 'shared_db',
      url: 'jdbc:postgresql://pg:5432/shared_db',
      username: 'u',
      password: 'plain-pw',
      source: 'deployment.toml',
    });
  });

  it('works with databases given completely in the config and no deployment.toml', async () => {
    const { config } = await load(
      {
        deploymentToml: false,
        config: lines(
          MINIMAL_CONFIG.trimEnd(),
          'databases:',
          '  shared_db: { url: "jdbc:postgresql://db:5432/shared", username: wso2, password: "$env{SHARED_DB_PASSWORD}" }',
          '  apim_db:   { url: "jdbc:mysql://db:3306/apim", username: wso2, password: "$env{APIM_DB_PASSWORD}" }',
        ),
      },
      { SHARED_DB_PASSWORD: 'spw', APIM_DB_PASSWORD: 'apw' },
    );
    expect(config.databases).toEqual<DatabaseTarget[]>([
      {
        name: 'apim_db',
        engine: 'mysql',
        url: 'jdbc:mysql://db:3306/apim',
        host: 'db',
        port: 3306,
        database: 'apim',
        params: {},
        username: 'wso2',
        password: 'apw',
        source: 'config',
      },
      {
        name: 'shared_db',
        engine: 'postgresql',
        url: 'jdbc:postgresql://db:5432/shared',
        host: 'db',
        port: 5432,
        database: 'shared',
        params: {},
        username: 'wso2',
        password: 'spw',
        source: 'config',
      },
    ]);
  });

  it('says where to put the databases when deployment.toml is missing', async () => {
    const { setup, error } = await loadError({ deploymentToml: false });
    const problem = findProblem(error.problems, 'deployment.toml not found');
    expect(problem).toMatchObject({ file: setup.configFile, line: 1 });
    expect(problem.message).toContain('give databases.apim_db and databases.shared_db');
  });

  it('refuses the H2 databases of the default deployment.toml, naming them', async () => {
    const h2 = lines(
      '[server]',
      'hostname = "localhost"',
      '',
      '[database.apim_db]', // 4
      'type = "h2"',
      'url = "jdbc:h2:./repository/database/WSO2AM_DB;AUTO_SERVER=TRUE;DB_CLOSE_ON_EXIT=FALSE"',
      'username = "wso2carbon"',
      'password = "wso2carbon"',
      '',
      '[database.shared_db]', // 10
      'type = "h2"',
      'url = "jdbc:h2:./repository/database/WSO2SHARED_DB;DB_CLOSE_ON_EXIT=FALSE"',
      'username = "wso2carbon"',
      'password = "wso2carbon"',
      '',
      '[database.local]',
      'url = "jdbc:h2:./repository/database/WSO2CARBON_DB;DB_CLOSE_ON_EXIT=FALSE"',
    );
    const { setup, error } = await loadError({ deploymentToml: h2 });
    const toml = path.join(setup.newHome, 'repository', 'conf', 'deployment.toml');
    expect(error.problems.map((problem) => [problem.file, problem.line])).toEqual([
      [toml, 4],
      [toml, 10],
    ]);
    expect(error.problems[0]?.message).toContain('`[database.apim_db]`');
    expect(error.problems[0]?.message).toContain('uses H2, which apim-migrate does not support');
    expect(error.problems[1]?.message).toContain('`[database.shared_db]`');
    expect(error.message).not.toContain('wso2carbon');
  });

  it.each([
    {
      title: 'Microsoft SQL Server',
      url: 'jdbc:sqlserver://mssql.example:1433;databaseName=WSO2SHARED_DB',
      type: 'mssql',
      dbms: 'Microsoft SQL Server',
    },
    { title: 'Oracle', url: 'jdbc:oracle:thin:@oracle.example:1521/ORCLPDB', type: 'oracle', dbms: 'Oracle' },
    { title: 'IBM Db2', url: 'jdbc:db2://db2.example:50000/SHARED', type: 'db2', dbms: 'IBM Db2' },
    {
      title: 'Oracle without a type',
      url: 'jdbc:oracle:thin:@oracle.example:1521/ORCLPDB',
      type: undefined,
      dbms: 'Oracle',
    },
  ])('refuses $title, naming the database', async ({ url, type, dbms }) => {
    const { error } = await loadError({
      deploymentToml: makeDeploymentToml([
        PG_TOML_DATABASES[0]!,
        {
          name: 'shared_db',
          ...(type === undefined ? {} : { type }),
          url,
          username: 'u',
          password: 'Unsupported-PW-42',
        },
      ]),
    });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.line).toBe(10);
    expect(error.problems[0]?.message).toContain(`\`[database.shared_db]\``);
    expect(error.problems[0]?.message).toContain(`uses ${dbms}, which apim-migrate does not support`);
    expect(error.message).not.toContain('Unsupported-PW-42');
  });
});

describe('loadConfig: secrets never appear in error messages', () => {
  const SECRET = 'Zx9-TOPSECRET-pw';
  it.each<{ title: string; options: SetupOptions; env?: Record<string, string> }>([
    {
      title: 'an unsupported DBMS',
      options: {
        deploymentToml: makeDeploymentToml([
          { name: 'apim_db', url: 'jdbc:sqlserver://h:1433;databaseName=a', username: 'u', password: SECRET },
          PG_TOML_DATABASES[1]!,
        ]),
      },
    },
    {
      title: 'a type that contradicts the url',
      options: {
        deploymentToml: makeDeploymentToml([
          { name: 'apim_db', type: 'mysql', url: 'jdbc:postgresql://h/a', username: 'u', password: SECRET },
          PG_TOML_DATABASES[1]!,
        ]),
      },
    },
    {
      title: 'a missing username',
      options: {
        deploymentToml: makeDeploymentToml([
          { name: 'apim_db', url: 'jdbc:postgresql://h/a', password: SECRET },
          PG_TOML_DATABASES[1]!,
        ]),
      },
    },
    {
      title: 'a TOML syntax error on the password line',
      options: {
        deploymentToml: `[database.apim_db]\nurl = "jdbc:postgresql://h/a"\npassword = "${SECRET}\nusername = "u"\n`,
      },
    },
    {
      title: 'a YAML syntax error on the password line',
      options: { config: `${MINIMAL_CONFIG}databases:\n  apim_db:\n    password: "${SECRET}\n    username: x\n` },
    },
    {
      title: 'an unknown key next to a plain password',
      options: { config: `${MINIMAL_CONFIG}databases:\n  apim_db:\n    password: ${SECRET}\n    user: x\n` },
    },
    {
      title: 'a password in a JDBC URL with a bad port',
      options: {
        deploymentToml: makeDeploymentToml([
          { name: 'apim_db', url: `jdbc:mysql://h:99999/a?user=u&password=${SECRET}`, username: 'u', password: 'p' },
          PG_TOML_DATABASES[1]!,
        ]),
      },
    },
    {
      title: 'a password in a JDBC URL before the host',
      options: {
        deploymentToml: makeDeploymentToml([
          { name: 'apim_db', url: `jdbc:postgresql://u:${SECRET}@h/a`, username: 'u', password: 'p' },
          PG_TOML_DATABASES[1]!,
        ]),
      },
    },
    {
      title: 'a password from the environment with a broken url',
      options: {
        config: `${MINIMAL_CONFIG}databases:\n  apim_db:\n    url: "jdbc:postgresql://bad host/a"\n    password: $env{APIM_DB_PASSWORD}\n`,
      },
      env: { APIM_DB_PASSWORD: SECRET },
    },
  ])('$title', async ({ options, env }) => {
    const { error } = await loadError(options, env ?? {});
    expect(error.problems.length).toBeGreaterThan(0);
    expect(error.message).not.toContain(SECRET);
    for (const problem of error.problems) expect(problem.message).not.toContain(SECRET);
  });

  it('keeps the password out of the message when the config file cannot be parsed at all', async () => {
    const root = await temp.make();
    const file = path.join(root, 'apim-migration.yml');
    await writeFile(file, `databases: {apim_db: {password: ${SECRET}\n`);
    const error = await catchInputError(() => loadConfig({ cwd: root, env: {} }));
    expect(error.message).not.toContain(SECRET);
  });
});

describe('loadConfig: the store', () => {
  const ACTIONS = { GITHUB_ACTIONS: 'true' };
  const withStore = (...storeLines: string[]) => `${MINIMAL_CONFIG}${lines('store:', ...storeLines)}`;

  it('is a folder outside GitHub Actions and GitHub artifacts inside, when the config does not say', async () => {
    const outside = await load();
    expect(outside.config.store).toEqual({
      kind: 'folder',
      dir: path.join(outside.setup.root, '.apim-migrate'),
      groupAccess: false,
    });
    const inside = await load({}, ACTIONS);
    expect(inside.config.store.kind).toBe('github');
  });

  it('takes store.dir and groupAccess without a kind inside Actions too: one config serves the CLI and the action', async () => {
    const { setup, config } = await load({ config: withStore('  dir: state', '  groupAccess: true') }, ACTIONS);
    expect(config.store).toEqual({ kind: 'github', dir: path.join(setup.root, 'state'), groupAccess: true });
  });

  it('takes a folder store inside Actions', async () => {
    const { setup, config } = await load({ config: withStore('  kind: folder', '  dir: /srv/apim-migrate') }, ACTIONS);
    expect(config.store).toEqual({ kind: 'folder', dir: '/srv/apim-migrate', groupAccess: false });
    expect(setup.root).not.toBe('/srv');
  });

  it('resolves an S3 store: bucket, prefix without its trailing slash, region, endpoint and path style', async () => {
    const { config } = await load({
      config: withStore(
        '  kind: s3',
        '  bucket: apim-backups',
        '  prefix: migrations/prod/',
        '  region: eu-west-1',
        '  endpoint: https://minio.example:9000',
        '  forcePathStyle: true',
      ),
    });
    expect(config.store.kind).toBe('s3');
    expect(config.store.s3).toEqual({
      bucket: 'apim-backups',
      prefix: 'migrations/prod',
      region: 'eu-west-1',
      endpoint: 'https://minio.example:9000',
      forcePathStyle: true,
    });
  });

  it.each([
    { env: { AWS_REGION: 'ap-south-1' }, region: 'ap-south-1' },
    { env: { AWS_DEFAULT_REGION: 'ca-central-1' }, region: 'ca-central-1' },
    { env: { AWS_REGION: 'ap-south-1', AWS_DEFAULT_REGION: 'ca-central-1' }, region: 'ap-south-1' },
  ])('takes the region of an S3 store from $env when the config has none', async ({ env, region }) => {
    const { config } = await load({ config: withStore('  kind: s3', '  bucket: apim-backups') }, env);
    expect(config.store.s3).toEqual({ bucket: 'apim-backups', prefix: '', region, forcePathStyle: false });
  });

  it.each([
    {
      title: 'store.bucket with kind folder',
      store: ['  kind: folder', '  bucket: apim-backups'],
      env: {},
      at: 'store.bucket',
      text: 'is a setting of store.kind s3, not folder: remove it, or set store.kind: s3',
    },
    {
      title: 'store.dir with kind s3',
      store: ['  kind: s3', '  bucket: apim-backups', '  region: eu-west-1', '  dir: state'],
      env: {},
      at: 'store.dir',
      text: 'is a setting of store.kind folder, not s3',
    },
    {
      title: 'store.groupAccess with kind github inside Actions',
      store: ['  kind: github', '  groupAccess: true'],
      env: ACTIONS,
      at: 'store.groupAccess',
      text: 'is a setting of store.kind folder, not github',
    },
    {
      title: 'store.bucket without a kind',
      store: ['  bucket: apim-backups'],
      env: {},
      at: 'store.bucket',
      text: 'the store here is folder (the default outside GitHub Actions): add store.kind: s3, or remove it',
    },
    {
      title: 'kind github outside Actions',
      store: ['  kind: github'],
      env: {},
      at: 'store.kind',
      text: 'works only inside GitHub Actions: here, set store.kind: folder (with store.dir) or s3 (with store.bucket)',
    },
    {
      title: 'kind s3 without a bucket',
      store: ['  kind: s3', '  region: eu-west-1'],
      env: {},
      at: 'store.kind',
      text: 's3 needs store.bucket',
    },
    {
      title: 'kind s3 without a region, and none in the environment',
      store: ['  kind: s3', '  bucket: apim-backups'],
      env: {},
      at: 'store.kind',
      text: 'unless AWS_REGION or AWS_DEFAULT_REGION is set',
    },
    {
      title: 'an endpoint that is not an http(s) URL',
      store: ['  kind: s3', '  bucket: apim-backups', '  region: eu-west-1', '  endpoint: ftp://minio.example'],
      env: {},
      at: 'store.endpoint',
      text: 'must be an http(s) URL',
    },
    {
      title: 'an endpoint with a user and password in it',
      store: ['  kind: s3', '  bucket: b-1', '  region: eu-west-1', '  endpoint: https://key:secret@minio.example'],
      env: {},
      at: 'store.endpoint',
      text: 'must not hold a user or password',
    },
    {
      title: 'a prefix with a leading slash',
      store: ['  kind: s3', '  bucket: apim-backups', '  region: eu-west-1', '  prefix: /migrations'],
      env: {},
      at: 'store.prefix',
      text: 'must be a key prefix',
    },
    {
      title: 'a prefix with a .. segment',
      store: ['  kind: s3', '  bucket: apim-backups', '  region: eu-west-1', '  prefix: a/../b'],
      env: {},
      at: 'store.prefix',
      text: 'must be a key prefix',
    },
    {
      title: 'an unknown kind',
      store: ['  kind: bucket'],
      env: {},
      at: 'store.kind',
      text: 'must be one of "github", "folder", "s3"',
    },
  ])('refuses $title, naming the key', async ({ store, env, at, text }) => {
    const { setup, error } = await loadError({ config: withStore(...store) }, env);
    expect(error.problems.map((problem) => problem.message)).toEqual([expect.stringContaining(text)]);
    const [problem] = error.problems;
    expect(problem?.message.startsWith(`${at}: `)).toBe(true);
    expect(problem?.file).toBe(setup.configFile);
    // Line 8 is `store:`; the key is on a line of its own below it.
    expect(problem?.line).toBeGreaterThan(8);
  });

  it('reports every problem of the store in one pass, with the rest of the config', async () => {
    const config = withStore('  kind: s3', '  dir: state', '  prefix: /x', '  forcePathStyle: yes', '  bogus: 1');
    const { error } = await loadError({ config: `${config}server:\n  timeoutMinutes: soon\n` });
    const messages = error.problems.map((problem) => problem.message).sort();
    expect(messages).toEqual([
      expect.stringContaining('server.timeoutMinutes: must be a number'),
      expect.stringContaining('store.dir: is a setting of store.kind folder, not s3'),
      expect.stringContaining('store.forcePathStyle: must be a boolean'),
      expect.stringContaining('store.kind: s3 needs store.bucket'),
      expect.stringContaining('store.kind: s3 needs store.region'),
      expect.stringContaining('store.prefix: must be a key prefix'),
      expect.stringContaining('unknown key "store.bogus"'),
    ]);
  });
});
