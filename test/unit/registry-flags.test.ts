import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import { InputError } from '../../src/errors.js';
import {
  REGISTRY_FLAG_NAMES,
  parseRegistryVersioningFlags,
  readRegistryVersioningFlags,
} from '../../src/wso2/registry-flags.js';
import { FIRST_FLAG_LINE, createTempDirs, makeRegistryXml, writeRegistryXml } from '../helpers/wso2-fixtures.js';
import { catchInputError } from '../helpers/errors.js';

const FILE = '/old/repository/conf/registry.xml';

function allCombinations(): RegistryVersioningFlags[] {
  return Array.from({ length: 16 }, (_, bits) => ({
    properties: (bits & 1) !== 0,
    comments: (bits & 2) !== 0,
    tags: (bits & 4) !== 0,
    ratings: (bits & 8) !== 0,
  }));
}

describe('parseRegistryVersioningFlags', () => {
  for (const crlf of [false, true]) {
    describe(crlf ? 'CRLF' : 'LF', () => {
      it.each(allCombinations())('reads %o', (flags) => {
        const result = parseRegistryVersioningFlags(makeRegistryXml(flags, { crlf }), FILE);
        expect(result).toEqual({ file: FILE, flags, absent: [] });
      });
    });
  }

  it.each([
    [' true ', true],
    ['\r\n\t TRUE \r\n', true],
    ['True', true],
    ['  fAlSe\t', false],
    ['FALSE', false],
  ])('accepts %j as %s', (raw, expected) => {
    const xml = makeRegistryXml({ properties: false, comments: false, tags: raw, ratings: false }, { crlf: true });
    const result = parseRegistryVersioningFlags(xml, FILE);
    expect(result.flags.tags).toBe(expected);
    expect(result.absent).toEqual([]);
  });

  it('reports absent elements as false and lists them', () => {
    const result = parseRegistryVersioningFlags(makeRegistryXml({ properties: true, ratings: true }), FILE);
    expect(result.flags).toEqual({ properties: true, comments: false, tags: false, ratings: true });
    expect(result.absent).toEqual(['comments', 'tags']);
  });

  it('reports every flag absent when <staticConfiguration> is missing', () => {
    const result = parseRegistryVersioningFlags(makeRegistryXml({}, { omitStaticConfiguration: true }), FILE);
    expect(result.flags).toEqual({ properties: false, comments: false, tags: false, ratings: false });
    expect(result.absent).toEqual([...REGISTRY_FLAG_NAMES]);
  });

  it('ignores commented-out elements', () => {
    const xml = makeRegistryXml(
      { properties: false, comments: false, ratings: false },
      {
        crlf: true,
        staticConfigExtra: [
          '        <!-- <versioningTags>true</versioningTags> -->',
          '        <!--',
          '        <versioningProperties>true</versioningProperties>',
          '        -->',
        ],
      },
    );
    const result = parseRegistryVersioningFlags(xml, FILE);
    expect(result.flags).toEqual({ properties: false, comments: false, tags: false, ratings: false });
    expect(result.absent).toEqual(['tags']);
  });

  it('ignores flag elements outside <staticConfiguration>', () => {
    const xml = makeRegistryXml({ tags: false }).replace(
      '<readOnly>false</readOnly>',
      '<readOnly>false</readOnly><versioningRatings>true</versioningRatings>',
    );
    const result = parseRegistryVersioningFlags(xml, FILE);
    expect(result.flags.ratings).toBe(false);
    expect(result.absent).toContain('ratings');
  });

  it.each([false, true])('names file and line of malformed XML (crlf: %s)', (crlf) => {
    const xml = makeRegistryXml({ properties: false, comments: false, tags: false, ratings: false }, { crlf }).replace(
      '<versioningTags>false</versioningTags>',
      '<versioningTags>false</versioningTag>',
    );
    const error = catchInputError(() => parseRegistryVersioningFlags(xml, FILE));
    expect(error.problems[0]).toMatchObject({ file: FILE, line: FIRST_FLAG_LINE + 2 });
    expect(error.message).toContain(`${FILE}:${FIRST_FLAG_LINE + 2}`);
    expect(error.message).toMatch(/not well-formed XML/);
  });

  it.each([
    ['yes', '"yes"'],
    ['', '""'],
    ['1', '"1"'],
    ['<on/>', 'child elements'],
  ])('rejects the value %j with file, line and element', (raw, shown) => {
    const xml = makeRegistryXml({ properties: false, comments: raw, tags: false, ratings: false }, { crlf: true });
    const error = catchInputError(() => parseRegistryVersioningFlags(xml, FILE));
    expect(error.problems).toEqual([
      { file: FILE, line: FIRST_FLAG_LINE + 1, message: `<versioningComments> must be true or false, found ${shown}` },
    ]);
  });

  it('rejects a repeated flag element at the repeat', () => {
    const xml = makeRegistryXml(
      { properties: false, comments: false, tags: false, ratings: false },
      { staticConfigExtra: ['        <versioningTags>true</versioningTags>'] },
    );
    const error = catchInputError(() => parseRegistryVersioningFlags(xml, FILE));
    expect(error.problems[0]).toMatchObject({ file: FILE, line: FIRST_FLAG_LINE + 4 });
    expect(error.message).toMatch(/<versioningTags> appears 2 times/);
  });

  it('rejects a file that is not a registry.xml', () => {
    const error = catchInputError(() => parseRegistryVersioningFlags('<server><a>true</a></server>', FILE));
    expect(error.message).toContain(FILE);
    expect(error.message).toMatch(/<wso2registry>/);
  });

  it('accepts a byte order mark', () => {
    const result = parseRegistryVersioningFlags(`\uFEFF${makeRegistryXml({ tags: true })}`, FILE);
    expect(result.flags.tags).toBe(true);
  });
});

describe('readRegistryVersioningFlags', () => {
  const temp = createTempDirs();
  afterEach(() => temp.cleanup());

  it('reads the file from disk', async () => {
    const home = await temp.make();
    const file = await writeRegistryXml(
      home,
      { properties: true, comments: false, tags: true, ratings: false },
      {
        crlf: true,
      },
    );
    const result = await readRegistryVersioningFlags(file);
    expect(result).toEqual({
      file,
      flags: { properties: true, comments: false, tags: true, ratings: false },
      absent: [],
    });
  });

  it('says which file is missing and that oldApimHome must point at the 3.1.0 home', async () => {
    const file = join(await temp.make(), 'repository', 'conf', 'registry.xml');
    const error = await readRegistryVersioningFlags(file).then(
      () => new Error('expected a failure'),
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toContain(file);
    expect((error as InputError).message).toMatch(/not found.*oldApimHome.*3\.1\.0/);
  });
});
