import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parseJdbcUrl } from '../../src/config/jdbc-url.js';
import { UnsupportedError } from '../../src/core/errors.js';
import { editDeploymentToml } from '../../src/wso2/deployment-toml-edit.js';
import type { EditDeploymentTomlOptions } from '../../src/wso2/deployment-toml-edit.js';
import { unifiedDiff } from '../../src/wso2/text-diff.js';
import { catchInputError } from '../helpers/errors.js';
import { describeConformance } from '../helpers/wso2-conformance.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = path.join(repoRoot, 'test/fixtures/wso2-edits');
const FILE = '/opt/wso2am-4.2.0/repository/conf/deployment.toml';

const readFixture = (name: string): string => readFileSync(path.join(fixtures, `deployment.${name}.toml`), 'utf8');
const toCrlf = (text: string): string => text.replace(/\n/g, '\r\n');

const ALL: Omit<EditDeploymentTomlOptions, 'file'> = {
  addStatementCacheParam: ['shared_db', 'config'],
  userStoreUniqueId: true,
};
const edit = (text: string, options: Partial<Omit<EditDeploymentTomlOptions, 'file'>> = ALL) =>
  editDeploymentToml(text, { ...ALL, ...options, file: FILE });
const statementCacheOnly = { addStatementCacheParam: ['shared_db', 'config'] as const, userStoreUniqueId: false };
const userStoreOnly = { addStatementCacheParam: [], userStoreUniqueId: true };

function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from)).toHaveLength(2);
  return text.replace(from, to);
}

const lines = (text: string) => text.split(/\r?\n/);

describe('editDeploymentToml on deployment.toml files', () => {
  const cases = [
    {
      name: 'postgres',
      changes: [
        'added preparedStatementCacheQueries=0 to the url of [database.shared_db]',
        'added preparedStatementCacheQueries=0 to the url of [database.config]',
        'set [user_store] type from "database" to "database_unique_id"',
      ],
      notes: [],
    },
    {
      name: 'mixed',
      changes: [
        'set preparedStatementCacheQueries from 256 to 0 in the url of [database.config]',
        'added [user_store] with type = "database_unique_id" at the end of the file',
      ],
      notes: [
        'the url of [database.shared_db] points at MySQL, not PostgreSQL: left as it is ' +
          '(preparedStatementCacheQueries is a setting of the PostgreSQL driver)',
      ],
    },
  ];

  describe.each(cases)('$name', ({ name, changes, notes }) => {
    const input = readFixture(name);
    const golden = readFixture(`${name}.expected`);

    it('gives the golden output, with its changes and notes', () => {
      expect(edit(input)).toEqual({ text: golden, changes, notes });
    });

    it('gives the same output with CRLF line endings, and adds lines with CRLF', () => {
      const result = edit(toCrlf(input));
      expect(result.text).toBe(toCrlf(golden));
      expect(result.text).not.toMatch(/[^\r]\n/);
    });

    it('is idempotent: the edited file comes back unchanged, with no changes', () => {
      expect(edit(golden)).toEqual({ text: golden, changes: [], notes });
    });

    it('keeps every comment line and every line it did not edit', () => {
      const before = lines(input);
      const after = lines(edit(input).text);
      expect(after.filter((line) => line.trimStart().startsWith('#'))).toEqual(
        before.filter((line) => line.trimStart().startsWith('#')),
      );
      const edited = after.filter((line) => !before.includes(line));
      expect(edited.every((line) => /^(url|type) = |^\[user_store\]$|^$/.test(line))).toBe(true);
    });
  });

  it('keeps the other URL parameters, their separator and the comment after the value', () => {
    const result = edit(readFixture('postgres'), statementCacheOnly);
    expect(lines(result.text)).toContain(
      'url = "jdbc:postgresql://db.example.com:5432/shared_db?ssl=true&amp;sslmode=require&amp;preparedStatementCacheQueries=0"  # see the runbook',
    );
    const shared = (parse(result.text) as { database: { shared_db: { url: string } } }).database.shared_db.url;
    expect(parseJdbcUrl(shared).params).toEqual({
      ssl: 'true',
      sslmode: 'require',
      preparedStatementCacheQueries: '0',
    });
  });

  it('leaves $env{} placeholders and a literal string as written, under a quoted table name', () => {
    const result = edit(readFixture('postgres'), statementCacheOnly);
    expect(lines(result.text)).toContain(
      "url = 'jdbc:postgresql://$env{CONFIG_DB_HOST}:$env{CONFIG_DB_PORT}/config_db?preparedStatementCacheQueries=0'",
    );
  });

  it('does not add the parameter twice', () => {
    const once = edit(readFixture('postgres'), statementCacheOnly).text;
    expect(edit(once, statementCacheOnly)).toEqual({ text: once, changes: [], notes: [] });
    expect(once.match(/preparedStatementCacheQueries/g)).toHaveLength(2);
  });

  it('adds the parameter beside one in another case, which PgJDBC does not read', () => {
    const text = readFixture('postgres').replace("/config_db'", "/config_db?PreparedStatementCacheQueries=0'");
    const result = edit(text, { addStatementCacheParam: ['config'], userStoreUniqueId: false });
    expect(result.changes).toEqual(['added preparedStatementCacheQueries=0 to the url of [database.config]']);
    expect(lines(result.text)).toContain(
      "url = 'jdbc:postgresql://$env{CONFIG_DB_HOST}:$env{CONFIG_DB_PORT}/config_db?PreparedStatementCacheQueries=0&preparedStatementCacheQueries=0'",
    );
  });

  it('touches only the databases it is asked for', () => {
    const result = edit(readFixture('postgres'), { addStatementCacheParam: ['config'], userStoreUniqueId: false });
    expect(result.changes).toEqual(['added preparedStatementCacheQueries=0 to the url of [database.config]']);
    expect(result.text).toContain('shared_db?ssl=true&amp;sslmode=require"');
  });

  it('leaves a MySQL URL alone and says so', () => {
    const input = readFixture('mixed');
    const result = edit(input, { addStatementCacheParam: ['shared_db'], userStoreUniqueId: false });
    expect(result.text).toBe(input);
    expect(result.changes).toEqual([]);
    expect(result.notes).toEqual([
      expect.stringMatching(/^the url of \[database\.shared_db\] points at MySQL, not PostgreSQL: left as it is/),
    ]);
  });

  it('notes a URL that is a placeholder as a whole, and a table that is not there', () => {
    const input = replaceOnce(
      readFixture('postgres'),
      'url = "jdbc:postgresql://db.example.com:5432/shared_db?ssl=true&amp;sslmode=require"',
      'url = "$env{SHARED_DB_URL}"',
    );
    const withoutConfig = input.replace(/\[database\."config"\][^[]*/, '');
    const result = edit(withoutConfig, statementCacheOnly);
    expect(result.text).toBe(withoutConfig);
    expect(result.notes).toEqual([
      'the url of [database.shared_db] does not start with jdbc: (a placeholder?), so apim-migrate cannot add ' +
        'preparedStatementCacheQueries=0 to it: if it is a PostgreSQL URL, make sure it ends with that parameter',
      '[database.config] is not in the file: no preparedStatementCacheQueries to add there',
    ]);
  });

  it('finds a url written as a dotted key under [database]', () => {
    const input = '[database]\nshared_db.type = "postgre"\nshared_db.url = "jdbc:postgresql://db/shared"\n';
    expect(edit(input, statementCacheOnly).text).toBe(
      '[database]\nshared_db.type = "postgre"\nshared_db.url = "jdbc:postgresql://db/shared?preparedStatementCacheQueries=0"\n',
    );
  });

  it('is not fooled by a table header inside a multi-line string or an array', () => {
    const result = edit(readFixture('postgres'), statementCacheOnly);
    expect(result.text).toContain('[database.shared_db]\nurl = "jdbc:postgresql://elsewhere/x"\n"""');
    expect(result.text).toContain('matrix = [\n  ["user_store"],\n');
  });

  describe('[user_store] type', () => {
    it('replaces another value, keeping the comment after it', () => {
      const result = edit(readFixture('postgres'), userStoreOnly);
      expect(lines(result.text)).toContain(
        'type = "database_unique_id"   # switched to database_unique_id after the identity migration',
      );
      expect(result.changes).toEqual(['set [user_store] type from "database" to "database_unique_id"']);
    });

    it('adds the key right under the header when the table has no type', () => {
      const input = replaceOnce(
        readFixture('postgres'),
        'type = "database"   # switched to database_unique_id after the identity migration\n',
        '',
      );
      const result = edit(input, userStoreOnly);
      expect(result.text).toContain('[user_store]\ntype = "database_unique_id"\nread_groups = true\n');
      expect(result.changes).toEqual(['added type = "database_unique_id" to [user_store]']);
    });

    it('adds the table at the end when there is none, after a blank line', () => {
      const input = '[server]\nhostname = "localhost"\n';
      expect(edit(input, userStoreOnly).text).toBe(
        '[server]\nhostname = "localhost"\n\n[user_store]\ntype = "database_unique_id"\n',
      );
      const endsBlank = '[server]\nhostname = "localhost"\n\n';
      expect(edit(endsBlank, userStoreOnly).text).toBe(`${endsBlank}[user_store]\ntype = "database_unique_id"\n`);
    });

    it('adds a table header when the table exists only through a sub-table', () => {
      const input = '[user_store.properties]\nReadGroups = true\n';
      expect(edit(input, userStoreOnly).text).toBe(`${input}\n[user_store]\ntype = "database_unique_id"\n`);
    });

    it('leaves database_unique_id alone: the stock 4.2.0 file already has it', () => {
      const input = '[user_store]\ntype = "database_unique_id"\n';
      expect(edit(input, userStoreOnly)).toEqual({ text: input, changes: [], notes: [] });
    });
  });

  describe('refusals', () => {
    it('refuses invalid TOML with its line', () => {
      const error = catchInputError(() => edit('[server]\nhostname = "localhost\n'));
      expect(error.problems).toEqual([
        { file: FILE, line: 2, column: expect.any(Number), message: expect.stringMatching(/^invalid TOML: /) },
      ]);
    });

    it('refuses a PostgreSQL URL that cannot be read, without repeating it', () => {
      const input = '[database.shared_db]\n\nurl = "jdbc:postgresql://db:99999/shared?password=hunter2"\n';
      const error = catchInputError(() => edit(input, statementCacheOnly));
      expect(error.problems).toEqual([
        {
          file: FILE,
          line: 3,
          message:
            'the url of [database.shared_db] cannot be read, so preparedStatementCacheQueries=0 cannot be added: ' +
            'the port 99999 is out of range: use 1 to 65535',
        },
      ]);
      expect(error.message).not.toContain('hunter2');
    });

    it('refuses a url it cannot place in the text (an inline table)', () => {
      const input = '[database]\nshared_db = { type = "postgre", url = "jdbc:postgresql://db/shared" }\n';
      expect(() => edit(input, statementCacheOnly)).toThrow(UnsupportedError);
      expect(() => edit(input, statementCacheOnly)).toThrow(
        /cannot find where the url of \[database\.shared_db\] is written/,
      );
    });

    it('throws, writing nothing, when the re-parsed result is not what was intended', () => {
      // A [user_store] header after user_store was made by a dotted key is invalid TOML.
      const input = 'user_store.class = "org.wso2.UserStore"\n';
      expect(() => edit(input, userStoreOnly)).toThrow(UnsupportedError);
      expect(() => edit(input, userStoreOnly)).toThrow(
        /could not edit this file safely \(the edited text does not parse/,
      );
    });
  });

  describe('unifiedDiff', () => {
    it('shows the changed lines with 3 lines of context, and nothing for equal texts', () => {
      const input = readFixture('mixed');
      expect(unifiedDiff('deployment.toml', input, edit(input).text)).toBe(
        [
          '--- deployment.toml',
          '+++ deployment.toml',
          '@@ -16,7 +16,7 @@',
          ' ',
          ' [database.config]',
          ' type = "postgre"',
          '-url = "jdbc:postgresql://pg.example.com/config_db?preparedStatementCacheQueries=256&ApplicationName=apim"',
          '+url = "jdbc:postgresql://pg.example.com/config_db?preparedStatementCacheQueries=0&ApplicationName=apim"',
          ' username = "wso2"',
          ' password = "$env{CONFIG_DB_PASSWORD}"',
          ' ',
          '@@ -24,4 +24,7 @@',
          ' file_name =  "wso2carbon.jks"',
          ' type =  "JKS"',
          ' # no trailing line break after the last line',
          '-password =  "$env{KEYSTORE_PASSWORD}"',
          '\\ No newline at end of file',
          '+password =  "$env{KEYSTORE_PASSWORD}"',
          '+',
          '+[user_store]',
          '+type = "database_unique_id"',
          '',
        ].join('\n'),
      );
      expect(unifiedDiff('deployment.toml', input, input)).toBe('');
    });

    it('shows CRLF files as plain lines', () => {
      const input = toCrlf(readFixture('postgres'));
      const diff = unifiedDiff('deployment.toml', input, edit(input).text);
      expect(diff).not.toContain('\r');
      expect(diff.split('\n').filter((line) => /^[-+](?![-+])/.test(line))).toHaveLength(6);
    });
  });
});

describeConformance('the stock deployment.toml of API-M 4.2.0', 'deployment-4.2.0.toml', (realFile, stock) => {
  /** The stock file with its H2 databases moved to PostgreSQL, as an operator would have it. */
  const onPostgres = replaceOnce(
    replaceOnce(
      stock,
      '[database.apim_db]\ntype = "h2"\nurl = "jdbc:h2:./repository/database/WSO2AM_DB;AUTO_SERVER=TRUE;DB_CLOSE_ON_EXIT=FALSE"',
      '[database.apim_db]\ntype = "postgre"\nurl = "jdbc:postgresql://db:5432/apim_db"',
    ),
    '[database.shared_db]\ntype = "h2"\nurl = "jdbc:h2:./repository/database/WSO2SHARED_DB;DB_CLOSE_ON_EXIT=FALSE"',
    '[database.shared_db]\ntype = "postgre"\nurl = "jdbc:postgresql://db:5432/shared_db?ssl=false"',
  );

  it('gets the parameter on shared_db only, and keeps its user_store as it is', () => {
    const result = editDeploymentToml(onPostgres, { file: realFile, ...ALL });
    expect(result.changes).toEqual(['added preparedStatementCacheQueries=0 to the url of [database.shared_db]']);
    expect(result.notes).toEqual([
      '[database.config] is not in the file: no preparedStatementCacheQueries to add there',
    ]);
    expect(unifiedDiff('deployment.toml', onPostgres, result.text)).toBe(
      [
        '--- deployment.toml',
        '+++ deployment.toml',
        '@@ -21,7 +21,7 @@',
        ' ',
        ' [database.shared_db]',
        ' type = "postgre"',
        '-url = "jdbc:postgresql://db:5432/shared_db?ssl=false"',
        '+url = "jdbc:postgresql://db:5432/shared_db?ssl=false&preparedStatementCacheQueries=0"',
        ' username = "wso2carbon"',
        ' password = "wso2carbon"',
        ' ',
        '',
      ].join('\n'),
    );
  });

  it('keeps every comment and parses to the same document except that url', () => {
    const result = editDeploymentToml(onPostgres, { file: realFile, ...ALL });
    const comments = (text: string) => lines(text).filter((line) => line.trimStart().startsWith('#'));
    expect(comments(stock).length).toBeGreaterThan(30);
    expect(comments(result.text)).toEqual(comments(stock));
    const before = parse(onPostgres) as { database: { shared_db: { url: string } } };
    before.database.shared_db.url = 'jdbc:postgresql://db:5432/shared_db?ssl=false&preparedStatementCacheQueries=0';
    expect(parse(result.text)).toEqual(before);
  });

  it('sets user_store when the file has another type', () => {
    const input = replaceOnce(
      onPostgres,
      '[user_store]\ntype = "database_unique_id"',
      '[user_store]\ntype = "database"',
    );
    const result = editDeploymentToml(input, { file: realFile, addStatementCacheParam: [], userStoreUniqueId: true });
    expect(result.text).toBe(onPostgres);
  });

  it('leaves the stock H2 URLs alone, saying why', () => {
    const result = editDeploymentToml(stock, {
      file: realFile,
      addStatementCacheParam: ['shared_db'],
      userStoreUniqueId: true,
    });
    expect(result).toEqual({
      text: stock,
      changes: [],
      notes: [expect.stringMatching(/^the url of \[database\.shared_db\] points at H2, not PostgreSQL: left as it is/)],
    });
  });
});
