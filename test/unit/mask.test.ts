import { describe, expect, it } from 'vitest';
import { maskPasswordAssignments, SecretMasker } from '../../src/log/logger.js';

describe('maskPasswordAssignments', () => {
  it.each([
    ['password = "wso2carbon"', 'password = "***"'],
    ['key_password =  "s3cr3t" # keystore', 'key_password =  "***" # keystore'],
    ['+password = "new"', '+password = "***"'],
    ['-password = "old"', '-password = "***"'],
    [' password = "ctx"', ' password = "***"'],
    ['password: plain', 'password: ***'],
    ["Password = 'single'", "Password = '***'"],
    ['password = "$env{SHARED_DB_PASSWORD}"', 'password = "$env{SHARED_DB_PASSWORD}"'],
    ['password = "$secret{db}"', 'password = "$secret{db}"'],
    ['password = ""', 'password = ""'],
    ['username = "wso2carbon"', 'username = "wso2carbon"'],
    ['url = "jdbc:mysql://db/x?password=abc"', 'url = "jdbc:mysql://db/x?password=abc"'],
  ])('%s → %s', (line, expected) => {
    expect(maskPasswordAssignments(line)).toBe(expected);
  });

  it('masks every line of a multi-line text', () => {
    expect(maskPasswordAssignments('[a]\npassword = "x1"\n[b]\npassword = "x2"\n')).toBe(
      '[a]\npassword = "***"\n[b]\npassword = "***"\n',
    );
  });
});

describe('SecretMasker', () => {
  it('masks overlapping secrets fully, the longest first', () => {
    const masker = new SecretMasker();
    masker.add('abc');
    masker.add('abcdef');
    masker.add('');
    expect(masker.mask('x abcdef y abc z')).toBe('x *** y *** z');
  });
});
