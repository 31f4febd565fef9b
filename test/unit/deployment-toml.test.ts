import { describe, expect, it } from 'vitest';
import { readDeploymentDatabases, resolveDatabases } from '../../src/config/deployment-toml.js';
import type { DatabaseOverride, DeploymentDatabase, ResolveDatabasesInput } from '../../src/config/deployment-toml.js';
import type { Problem } from '../../src/core/errors.js';
import { catchInputError } from '../helpers/errors.js';

const TOML_FILE = '/opt/wso2am-4.2.0/repository/conf/deployment.toml';
const CONFIG_FILE = '/work/apim-migrate.yml';

function lines(...text: string[]): string {
  return text.join('\n');
}

describe('readDeploymentDatabases', () => {
  it('returns the four known database tables with their header lines and raw values', () => {
    const toml = lines(
      '[server]', //                                           1
      'hostname = "localhost"', //                             2
      '', //                                                   3
      '[database.apim_db]', //                                 4
      'type = "postgre"', //                                   5
      'url = "jdbc:postgresql://db:5432/apim_db"', //          6
      'username = "$env{APIM_USER}"', //                       7
      'password = "$secret{apim_pw}"', //                      8
      'driver = "org.postgresql.Driver"', //                   9
      '', //                                                  10
      '[ database . "shared_db" ]  # the registry', //        11
      "url = 'jdbc:postgresql://db/shared_db'", //            12
      '', //                                                  13
      '[database.local]', //                                  14
      'url = "jdbc:h2:./x"', //                               15
      '', //                                                  16
      "[database.'user']", //                                 17
      'username = "u"', //                                    18
      'password = ""', //                                     19
      '', //                                                  20
      '[database.config.pool_options]', //                    21
      'maxActive = 10', //                                    22
      '', //                                                  23
      '[database.config]', //                                 24
      'url = "jdbc:mysql://m/config"', //                     25
    );
    expect(readDeploymentDatabases(toml, TOML_FILE)).toEqual<DeploymentDatabase[]>([
      {
        name: 'apim_db',
        type: 'postgre',
        url: 'jdbc:postgresql://db:5432/apim_db',
        username: '$env{APIM_USER}',
        password: '$secret{apim_pw}',
        line: 4,
      },
      { name: 'shared_db', url: 'jdbc:postgresql://db/shared_db', line: 11 },
      { name: 'config', url: 'jdbc:mysql://m/config', line: 21 },
      { name: 'user', username: 'u', password: '', line: 17 },
    ]);
  });

  it.each([
    { title: 'no database section', toml: '[server]\nhostname = "x"\n', expected: [] },
    { title: 'an empty document', toml: '', expected: [] },
    {
      title: 'dotted keys under [database]',
      toml: lines('[server]', 'a = 1', '[database]', 'apim_db.url = "jdbc:mysql://h/a"'),
      expected: [{ name: 'apim_db', url: 'jdbc:mysql://h/a', line: 4 }],
    },
    {
      title: 'a multi-line string that looks like a header',
      toml: lines('[server]', 'note = """', '[database.apim_db]', '"""', '[database.apim_db]', 'url = "u"'),
      expected: [{ name: 'apim_db', url: 'u', line: 5 }],
    },
    {
      title: 'CRLF line ends',
      toml: '[server]\r\nx = 1\r\n[database.shared_db]\r\nusername = "u"\r\n',
      expected: [{ name: 'shared_db', username: 'u', line: 3 }],
    },
  ])('handles $title', ({ toml, expected }) => {
    expect(readDeploymentDatabases(toml, TOML_FILE)).toEqual(expected);
  });

  it('turns a TOML syntax error into an InputError with file, line and column', () => {
    const toml = lines('[database.apim_db]', 'url = "jdbc:postgresql://h/a"', 'username = wso2carbon');
    const error = catchInputError(() => readDeploymentDatabases(toml, TOML_FILE));
    expect(error.exitCode).toBe(2);
    expect(error.problems).toHaveLength(1);
    const problem = error.problems[0];
    expect(problem?.file).toBe(TOML_FILE);
    expect(problem?.line).toBe(3);
    expect(problem?.column).toBeGreaterThan(0);
    expect(problem?.message).toMatch(/invalid TOML/);
    expect(problem?.message).toMatch(/fix the TOML syntax/);
    expect(problem?.message).not.toContain('\n');
  });

  it('reports every value of the wrong type at its own line', () => {
    const toml = lines(
      '[database.apim_db]', //  1
      'url = 5', //             2
      'username = "u"', //      3
      'password = 12345', //    4
      '[database.shared_db]', //5
      'type = ["h2"]', //       6
    );
    const error = catchInputError(() => readDeploymentDatabases(toml, TOML_FILE));
    expect(error.problems.map(({ line, message }) => ({ line, message }))).toEqual([
      { line: 2, message: '`url` in [database.apim_db] must be a string in quotes, not an integer: write url = "..."' },
      { line: 4, message: expect.stringMatching(/^`password` in \[database\.apim_db\] must be a string/) },
      {
        line: 6,
        message: expect.stringMatching(/^`type` in \[database\.shared_db\] must be a string in quotes, not an array/),
      },
    ]);
    expect(error.message).not.toContain('12345');
  });

  it.each([
    { toml: 'database = "apim"', line: 1, message: /`database` must be a table/ },
    { toml: lines('[database]', 'apim_db = "x"'), line: 2, message: /`database.apim_db` must be a table/ },
    { toml: lines('[[database.apim_db]]', 'url = "x"'), line: 1, message: /`database.apim_db` must be a table/ },
  ])('rejects a database entry that is not a table: $toml', ({ toml, line, message }) => {
    const error = catchInputError(() => readDeploymentDatabases(toml, TOML_FILE));
    expect(error.problems[0]).toMatchObject({ file: TOML_FILE, line, message: expect.stringMatching(message) });
  });
});

const PG_APIM: DeploymentDatabase = {
  name: 'apim_db',
  type: 'postgre',
  url: 'jdbc:postgresql://pg:5432/apim_db?preparedStatementCacheQueries=0',
  username: 'apimuser',
  password: 'Apim-Pa55',
  line: 10,
};
const PG_SHARED: DeploymentDatabase = {
  name: 'shared_db',
  type: 'postgre',
  url: 'jdbc:postgresql://pg/shared_db',
  username: 'shareduser',
  password: 'Shared-Pa55',
  line: 20,
};

function resolve(
  discovered: DeploymentDatabase[],
  overrides?: DatabaseOverride[],
  env: Record<string, string | undefined> = {},
): ReturnType<typeof resolveDatabases> {
  const input: ResolveDatabasesInput = {
    discovered,
    deploymentFile: TOML_FILE,
    overrides,
    configFile: CONFIG_FILE,
    env,
  };
  return resolveDatabases(input);
}

describe('resolveDatabases', () => {
  it('builds targets from deployment.toml alone', () => {
    const { databases, problems } = resolve([PG_SHARED, PG_APIM]);
    expect(problems).toEqual([]);
    expect(databases).toEqual([
      {
        name: 'apim_db',
        engine: 'postgresql',
        url: 'jdbc:postgresql://pg:5432/apim_db?preparedStatementCacheQueries=0',
        host: 'pg',
        port: 5432,
        database: 'apim_db',
        params: { preparedStatementCacheQueries: '0' },
        username: 'apimuser',
        password: 'Apim-Pa55',
        source: 'deployment.toml',
      },
      {
        name: 'shared_db',
        engine: 'postgresql',
        url: 'jdbc:postgresql://pg/shared_db',
        host: 'pg',
        port: 5432,
        database: 'shared_db',
        params: {},
        username: 'shareduser',
        password: 'Shared-Pa55',
        source: 'deployment.toml',
      },
    ]);
  });

  it('lets each overridden field win and keeps the others', () => {
    const { databases, problems } = resolve(
      [PG_APIM, PG_SHARED],
      [{ name: 'apim_db', url: 'jdbc:postgresql://localhost:15432/apim_db', password: '$env{APIM_PW}', line: 4 }],
      { APIM_PW: 'from-env' },
    );
    expect(problems).toEqual([]);
    expect(databases[0]).toMatchObject({
      name: 'apim_db',
      host: 'localhost',
      port: 15432,
      username: 'apimuser',
      password: 'from-env',
      source: 'config',
    });
  });

  it('takes the union of discovered and overridden databases', () => {
    const { databases, problems } = resolve(
      [PG_APIM],
      [
        { name: 'shared_db', type: 'mysql', url: 'jdbc:mysql://m/shared', username: 'u', password: '', line: 3 },
        { name: 'user', url: 'jdbc:mariadb://maria/users', username: 'u', password: 'p', line: 8 },
      ],
    );
    expect(problems).toEqual([]);
    expect(databases.map(({ name, engine, source }) => ({ name, engine, source }))).toEqual([
      { name: 'apim_db', engine: 'postgresql', source: 'deployment.toml' },
      { name: 'shared_db', engine: 'mysql', source: 'config' },
      { name: 'user', engine: 'mariadb', source: 'config' },
    ]);
  });

  it.each([
    { type: 'postgre', url: 'jdbc:postgresql://h/d', engine: 'postgresql' },
    { type: 'mysql', url: 'jdbc:mysql://h/d', engine: 'mysql' },
    { type: 'mysql', url: 'jdbc:mariadb://h/d', engine: 'mariadb' },
    { type: 'MySQL', url: 'jdbc:mysql://h/d', engine: 'mysql' },
    { type: undefined, url: 'jdbc:mariadb://h/d', engine: 'mariadb' },
  ])('maps type $type with $url to $engine', ({ type, url, engine }) => {
    const { databases, problems } = resolve([{ ...PG_APIM, type, url }, PG_SHARED]);
    expect(problems).toEqual([]);
    expect(databases[0]?.engine).toBe(engine);
  });

  it('resolves $env{} in url, username and password, an empty value counting as set', () => {
    const { databases, problems } = resolve(
      [
        {
          ...PG_APIM,
          url: 'jdbc:postgresql://$env{DB_HOST}/apim_db',
          username: '$env{DB_USER}',
          password: '$env{DB_PW}',
        },
        PG_SHARED,
      ],
      undefined,
      { DB_HOST: 'pg.internal', DB_USER: 'apim', DB_PW: '' },
    );
    expect(problems).toEqual([]);
    expect(databases[0]).toMatchObject({
      url: 'jdbc:postgresql://pg.internal/apim_db',
      host: 'pg.internal',
      username: 'apim',
      password: '',
    });
  });

  it.each([
    {
      title: 'an unset variable in deployment.toml',
      discovered: [{ ...PG_APIM, username: '$env{APIM_USER}' }, PG_SHARED],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 10,
        message: expect.stringMatching(
          /username of `\[database\.apim_db\]` uses \$env\{APIM_USER\}, but the environment variable APIM_USER is not set/,
        ),
      },
    },
    {
      title: 'an unset variable in the config',
      discovered: [PG_APIM, PG_SHARED],
      overrides: [{ name: 'shared_db' as const, url: 'jdbc:postgresql://$env{PGHOST}/shared_db', line: 7 }],
      expected: {
        file: CONFIG_FILE,
        line: 7,
        message: expect.stringMatching(/url of `databases\.shared_db` uses \$env\{PGHOST\}.*PGHOST is not set/),
      },
    },
    {
      title: 'a $secret{} password in deployment.toml',
      discovered: [PG_APIM, { ...PG_SHARED, password: '$secret{shared_db_pw}' }],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 20,
        message: expect.stringMatching(
          /cannot decrypt WSO2 secure vault secrets: add `databases\.shared_db\.password: \$env\{SHARED_DB_PASSWORD\}` to \/work\/apim-migrate\.yml and set the environment variable SHARED_DB_PASSWORD/,
        ),
      },
    },
    {
      title: 'a $secret{} password in the config',
      discovered: [PG_APIM, PG_SHARED],
      overrides: [{ name: 'apim_db' as const, password: '$secret{x}', line: 2 }],
      expected: {
        file: CONFIG_FILE,
        line: 2,
        message: expect.stringMatching(
          /cannot decrypt .*change it to `databases\.apim_db\.password: \$env\{APIM_DB_PASSWORD\}`/,
        ),
      },
    },
    {
      title: 'a missing url',
      discovered: [{ ...PG_APIM, url: undefined }, PG_SHARED],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 10,
        message: expect.stringMatching(/^`\[database\.apim_db\]` has no url: add url = /),
      },
    },
    {
      title: 'a missing username in a config-only database',
      discovered: [PG_APIM, PG_SHARED],
      overrides: [{ name: 'config' as const, url: 'jdbc:mysql://h/c', password: 'p', line: 12 }],
      expected: {
        file: CONFIG_FILE,
        line: 12,
        message: '`databases.config` has no username: add databases.config.username to /work/apim-migrate.yml',
      },
    },
    {
      title: 'a missing password',
      discovered: [PG_APIM, { ...PG_SHARED, password: undefined }],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 20,
        message: expect.stringMatching(/has no password: .*an empty password is written as ""/),
      },
    },
    {
      title: 'an empty username',
      discovered: [{ ...PG_APIM, username: '' }, PG_SHARED],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 10,
        message: expect.stringMatching(/username of `\[database\.apim_db\]` is empty/),
      },
    },
    {
      title: 'an unknown type',
      discovered: [{ ...PG_APIM, type: 'postgresql' }, PG_SHARED],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 10,
        message: expect.stringMatching(/type "postgresql", which is not a WSO2 database type: use "postgre"/),
      },
    },
    {
      title: 'a type contradicting the url',
      discovered: [PG_APIM, { ...PG_SHARED, type: 'mysql' }],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 20,
        message: expect.stringMatching(
          /`\[database\.shared_db\]` has type "mysql", but its url \(.*deployment\.toml:20\) is a PostgreSQL URL/,
        ),
      },
    },
    {
      title: 'an overridden url contradicting the discovered type',
      discovered: [PG_APIM, PG_SHARED],
      overrides: [{ name: 'apim_db' as const, url: 'jdbc:mysql://m/apim', line: 5 }],
      expected: {
        file: TOML_FILE,
        line: 10,
        message: expect.stringMatching(
          /has type "postgre", but its url \(\/work\/apim-migrate\.yml:5\) is a MySQL URL/,
        ),
      },
    },
    {
      title: 'a malformed url',
      discovered: [{ ...PG_APIM, url: 'jdbc:postgresql://pg:54x/apim_db' }, PG_SHARED],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 10,
        message: 'the url of `[database.apim_db]` cannot be used: the port "54x" is not a number',
      },
    },
    {
      title: 'an unsupported type',
      discovered: [{ ...PG_APIM, type: 'oracle', url: 'jdbc:oracle:thin:@o:1521/x' }, PG_SHARED],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 10,
        message: expect.stringMatching(
          /^`\[database\.apim_db\]` in .*deployment\.toml:10 uses Oracle, which apim-migrate does not support: .*PostgreSQL, MySQL or MariaDB/,
        ),
      },
    },
    {
      title: 'an unsupported url without type',
      discovered: [PG_APIM, PG_SHARED],
      overrides: [
        { name: 'shared_db' as const, type: undefined, url: 'jdbc:sqlserver://s:1433;databaseName=x', line: 9 },
      ],
      expected: {
        file: CONFIG_FILE,
        line: 9,
        message: expect.stringMatching(
          /^`databases\.shared_db` in \/work\/apim-migrate\.yml:9 uses Microsoft SQL Server, which apim-migrate does not support: .*move shared_db/,
        ),
      },
    },
    {
      title: 'an unsupported type with a supported url',
      discovered: [{ ...PG_APIM, type: 'h2' }, PG_SHARED],
      overrides: undefined,
      expected: {
        file: TOML_FILE,
        line: 10,
        message: expect.stringMatching(/has type "h2", but its url .* is a PostgreSQL URL/),
      },
    },
  ])('reports $title', ({ discovered, overrides, expected }) => {
    const { databases, problems } = resolve(discovered, overrides, {});
    expect(problems).toEqual([expected]);
    const names = new Set([...discovered, ...(overrides ?? [])].map((entry) => entry.name));
    expect(databases).toHaveLength(names.size - 1);
  });

  it.each([
    { discovered: [PG_SHARED], missing: ['apim_db'] },
    { discovered: [PG_APIM], missing: ['shared_db'] },
    { discovered: [], missing: ['apim_db', 'shared_db'] },
  ])('requires apim_db and shared_db (missing $missing)', ({ discovered, missing }) => {
    const { problems } = resolve(discovered);
    expect(problems).toEqual(
      missing.map((name) => ({
        file: TOML_FILE,
        message: `the ${name} database is not configured: add [database.${name}] to ${TOML_FILE} or databases.${name} to ${CONFIG_FILE}`,
      })),
    );
  });

  it('accepts apim_db and shared_db defined only in the config', () => {
    const { databases, problems } = resolve(
      [],
      [
        { name: 'apim_db', type: 'postgre', url: 'jdbc:postgresql://h/a', username: 'u', password: 'p', line: 2 },
        { name: 'shared_db', url: 'jdbc:postgresql://h/s', username: 'u', password: 'p', line: 7 },
      ],
    );
    expect(problems).toEqual([]);
    expect(databases.map((database) => database.name)).toEqual(['apim_db', 'shared_db']);
  });

  it('collects every problem of every database in one pass, without passwords', () => {
    const passwords = ['Apim-Pa55', 'Shared-Pa55', 'user-pw-42', 'env-pw-99'];
    const { databases, problems } = resolve(
      [
        { ...PG_APIM, type: 'h2', url: 'jdbc:h2:./db', password: 'Apim-Pa55' },
        { ...PG_SHARED, username: '$env{NO_USER}', password: '$secret{shared}' },
        {
          name: 'user',
          type: 'mssql',
          url: 'jdbc:postgresql://h/user?password=user-pw-42',
          password: 'user-pw-42',
          line: 30,
        },
      ],
      [
        {
          name: 'config',
          type: 'db3',
          url: 'jdbc:mysql://h:99999/c?password=env-pw-99',
          username: 'u',
          password: '$env{CFG_PW}',
          line: 14,
        },
      ],
      { CFG_PW: 'env-pw-99' },
    );
    expect(databases).toEqual([]);
    expect(problems.map(({ file, line }) => ({ file, line }))).toEqual([
      { file: TOML_FILE, line: 10 }, // apim_db: H2
      { file: TOML_FILE, line: 20 }, // shared_db: NO_USER unset
      { file: TOML_FILE, line: 20 }, // shared_db: secret password
      { file: CONFIG_FILE, line: 14 }, // config: unknown type
      { file: CONFIG_FILE, line: 14 }, // config: port out of range
      { file: TOML_FILE, line: 30 }, // user: no username
      { file: TOML_FILE, line: 30 }, // user: mssql type with a PostgreSQL url
    ]);
    expect(problems[0]?.message).toMatch(/`\[database\.apim_db\]` in .*:10 uses H2/);
    expect(problems[3]?.message).toMatch(/type "db3"/);
    expect(problems[4]?.message).toMatch(/out of range/);
    for (const problem of problems) {
      for (const password of passwords) expect(problem.message).not.toContain(password);
    }
  });

  it('never puts a resolved password into a message', () => {
    const { problems } = resolve(
      [{ ...PG_APIM, url: 'jdbc:postgresql://h:bad/apim?password=$env{PW}', password: '$env{PW}' }, PG_SHARED],
      undefined,
      { PW: 'TopSecret-1' },
    );
    expect(problems).toHaveLength(1);
    expect(problems.map((problem: Problem) => problem.message).join('\n')).not.toContain('TopSecret-1');
  });
});
