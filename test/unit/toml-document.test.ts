import { describe, expect, it } from 'vitest';
import { getPath, lineOf, readTomlDocument, requireLayout } from '../../src/config/toml-document.js';
import { UnsupportedError } from '../../src/core/errors.js';
import { catchInputError } from '../helpers/errors.js';

const FILE = '/opt/wso2am-4.2.0/repository/conf/deployment.toml';

describe('readTomlDocument', () => {
  const text = [
    '# a comment',
    '[server]',
    'offset = 1',
    '',
    '[database]',
    'apim_db.type = "postgre"',
    '',
    '[database.shared_db]',
    'type = "postgre"',
    'url = """',
    'jdbc:postgresql://db/shared',
    '"""',
    '',
    '[user_store]',
    "type = 'database_unique_id'",
  ].join('\n');

  it('reads the values and the line of every table and value', () => {
    const document = readTomlDocument(text, FILE);
    expect(getPath(document.data, ['user_store', 'type'])).toBe('database_unique_id');
    expect(lineOf(document, ['server'])).toBe(2);
    // A dotted key under a table header is found at its own line.
    expect(lineOf(document, ['database', 'apim_db'])).toBe(6);
    expect(lineOf(document, ['database', 'shared_db'])).toBe(8);
    expect(lineOf(document, ['database', 'shared_db', 'url'])).toBe(10);
    // After a multi-line string, lines still count.
    expect(lineOf(document, ['user_store', 'type'])).toBe(15);
    expect(lineOf(document, ['database', 'config'])).toBeUndefined();
  });

  it('gives a syntax error as an InputError at its line', () => {
    const error = catchInputError(() => readTomlDocument('[server]\noffset = = 1\n', FILE));
    expect(error.problems).toEqual([
      expect.objectContaining({ file: FILE, line: 2, message: expect.stringMatching(/^invalid TOML: /) }),
    ]);
  });

  it('refuses an edit where the layout is unknown, saying why and that nothing changed', () => {
    const document = { file: FILE, text: 'a = 1\n', data: { a: 1 }, layoutProblem: 'expected a key at line 3' };
    expect(() => requireLayout(document)).toThrow(UnsupportedError);
    expect(() => requireLayout(document)).toThrow(
      'apim-migrate could not follow the layout of this file (expected a key at line 3); nothing was changed',
    );
  });
});
