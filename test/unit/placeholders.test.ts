import { describe, expect, it } from 'vitest';
import { envPlaceholderNames, resolvePlaceholders } from '../../src/config/placeholders.js';

const ENV = { DB_HOST: 'db.example.com', DB_PORT: '5432', EMPTY: '', 'my.var_2': 'dotted', NESTED: '$env{DB_HOST}' };

describe('resolvePlaceholders', () => {
  it.each([
    { text: 'no placeholders', value: 'no placeholders' },
    { text: '$env{DB_HOST}', value: 'db.example.com' },
    { text: 'jdbc:postgresql://$env{DB_HOST}:$env{DB_PORT}/apim', value: 'jdbc:postgresql://db.example.com:5432/apim' },
    { text: 'a$env{EMPTY}b', value: 'ab' },
    { text: 'x-$env{my.var_2}-y', value: 'x-dotted-y' },
    { text: '$env{NESTED}', value: '$env{DB_HOST}' },
    { text: '$env{}', value: '$env{}' },
    { text: '$env{DB_HOST', value: '$env{DB_HOST' },
    { text: '${carbon.home}', value: '${carbon.home}' },
  ])('turns $text into $value', ({ text, value }) => {
    expect(resolvePlaceholders(text, ENV)).toEqual({ ok: true, value });
  });

  it.each([
    { text: '$env{NOPE}', missingEnv: ['NOPE'], secrets: [] },
    { text: '$env{A}:$env{DB_HOST}:$env{B}:$env{A}', missingEnv: ['A', 'B'], secrets: [] },
    { text: '$secret{admin_password}', missingEnv: [], secrets: ['admin_password'] },
    { text: 'p=$secret{db.pass}&u=$env{NOPE}', missingEnv: ['NOPE'], secrets: ['db.pass'] },
  ])('reports what $text needs', ({ text, missingEnv, secrets }) => {
    expect(resolvePlaceholders(text, ENV)).toEqual({ ok: false, missingEnv, secrets });
  });

  it('treats a variable set to the empty string as set', () => {
    expect(resolvePlaceholders('$env{EMPTY}', { EMPTY: '' })).toEqual({ ok: true, value: '' });
  });
});

describe('envPlaceholderNames', () => {
  it.each([
    { value: 'no placeholders', names: [] },
    { value: '$env{DB_PASSWORD}', names: ['DB_PASSWORD'] },
    { value: 'jdbc:postgresql://$env{DB_HOST}:$env{DB_PORT}/$env{DB_HOST}', names: ['DB_HOST', 'DB_PORT'] },
    // WSO2's config mapper takes whatever stands between "$env{" and "}".
    { value: '$env{my.var-2}', names: ['my.var-2'] },
    { value: '$env{}', names: [] },
    { value: '$env{UNCLOSED', names: [] },
    { value: '$sys{carbon.home} $secret{alias} ${port}', names: [] },
  ])('finds $names in $value', ({ value, names }) => {
    expect(envPlaceholderNames(value)).toEqual(names);
  });
});
