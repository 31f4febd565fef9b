import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import { InputError } from '../../src/core/errors.js';
import {
  REGISTRY_FLAG_NAMES,
  parseRegistryVersioningFlags,
  readOldHomeVersioning,
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
        expect(result).toEqual({ file: FILE, flags, absent: [], nearMisses: [] });
      });
    });
  }

  // carbon-kernel 4.6.0 RegistryConfigurationProcessor: `text.equals("true")`, no trim, case-sensitive.
  it.each([' true ', '\n\t TRUE \n', 'True', 'TRUE', 'yes', '1', '', '  fAlSe\t', 'FALSE'])(
    'takes %j as off, as the kernel did, and lists it as a near miss with its line',
    (raw) => {
      const xml = makeRegistryXml({ properties: true, comments: false, tags: raw, ratings: false }, { crlf: true });
      const result = parseRegistryVersioningFlags(xml, FILE);
      expect(result.flags).toEqual({ properties: true, comments: false, tags: false, ratings: false });
      expect(result.absent).toEqual([]);
      expect(result.nearMisses).toEqual([
        { flag: 'tags', element: 'versioningTags', text: raw, line: FIRST_FLAG_LINE + 2 },
      ]);
    },
  );

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

  it('rejects child elements in a flag with file, line and element', () => {
    const xml = makeRegistryXml({ properties: false, comments: '<on/>', tags: false, ratings: false }, { crlf: true });
    const error = catchInputError(() => parseRegistryVersioningFlags(xml, FILE));
    expect(error.problems).toEqual([
      {
        file: FILE,
        line: FIRST_FLAG_LINE + 1,
        message: '<versioningComments> must hold the text true or false, found child elements',
      },
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
      nearMisses: [],
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

describe('readOldHomeVersioning', () => {
  const temp = createTempDirs();
  afterEach(() => temp.cleanup());

  async function oldHome(registry: Parameters<typeof writeRegistryXml>[1], toml?: string): Promise<string> {
    const home = await temp.make();
    await writeRegistryXml(home, registry, { crlf: true });
    if (toml !== undefined) await writeFile(join(home, 'repository', 'conf', 'deployment.toml'), toml);
    return home;
  }

  it('warns about a near miss with file, line and what the kernel did with it', async () => {
    const home = await oldHome({ properties: false, comments: false, tags: ' true ', ratings: false });
    const result = await readOldHomeVersioning(home);
    expect(result.registry.flags.tags).toBe(false);
    const file = join(home, 'repository', 'conf', 'registry.xml');
    expect(result.warnings).toEqual([
      `${file}:${FIRST_FLAG_LINE + 2}: <versioningTags> is " true ", not exactly true: carbon-kernel compares it with ` +
        'equals("true"), so API-M 3.1.0 had tags versioning off and wrote REG_RESOURCE_TAG rows without REG_VERSION; ' +
        'apim-migrate takes it as off and keeps those rows',
    ]);
  });

  it('says nothing when the old deployment.toml agrees, and reads its flags', async () => {
    const toml = [
      '[server]',
      'hostname = "localhost"',
      '',
      '[static_configuration]',
      'versioning_tags.enable = true',
      '',
    ];
    const home = await oldHome({ properties: false, comments: false, tags: true, ratings: false }, toml.join('\n'));
    const result = await readOldHomeVersioning(home);
    expect(result.warnings).toEqual([]);
    expect(result.deploymentToml?.flags).toEqual({ properties: false, comments: false, tags: true, ratings: false });
  });

  it('names both files, the line and the one it follows when they disagree', async () => {
    const toml = [
      '[static_configuration]',
      'versioning_properties.enable = "true"',
      'versioning_tags.enable = "True"',
      '',
    ];
    const home = await oldHome({ properties: false, comments: false, tags: true, ratings: false }, toml.join('\n'));
    const result = await readOldHomeVersioning(home);
    const tomlFile = join(home, 'repository', 'conf', 'deployment.toml');
    expect(result.warnings).toHaveLength(2);
    expect(result.warnings[0]).toContain('properties versioning: <versioningProperties>');
    expect(result.warnings[0]).toContain('(what the last start of 3.1.0 used) is off');
    expect(result.warnings[0]).toContain(`versioning_properties.enable in ${tomlFile}:2 is "true"`);
    expect(result.warnings[0]).toContain('render as on; apim-migrate follows registry.xml');
    expect(result.warnings[1]).toContain(
      `versioning_tags.enable in ${tomlFile}:3 is "True", which the next start would render as off`,
    );
    expect(result.registry.flags).toEqual({ properties: false, comments: false, tags: true, ratings: false });
  });

  it('warns when an unset key would turn a flag that registry.xml has on off', async () => {
    const home = await oldHome({ properties: false, comments: true, tags: false, ratings: false }, '[server]\n');
    const [warning] = (await readOldHomeVersioning(home)).warnings;
    expect(warning).toContain('versioning_comments.enable in');
    expect(warning).toContain('is not set (false by default)');
  });

  it('warns about an old deployment.toml it cannot read, and still reads registry.xml', async () => {
    const home = await oldHome({ properties: true, comments: false, tags: false, ratings: false }, '[server\n');
    const result = await readOldHomeVersioning(home);
    expect(result.registry.flags.properties).toBe(true);
    expect(result.deploymentToml).toBeUndefined();
    expect(result.warnings[0]).toMatch(/deployment\.toml cannot be read, so its versioning keys were not compared/);
  });

  it('reads registry.xml alone when the old home has no deployment.toml', async () => {
    const home = await oldHome({ properties: true, comments: false, tags: false, ratings: false });
    await mkdir(join(home, 'bin'), { recursive: true });
    const result = await readOldHomeVersioning(home);
    expect(result).toMatchObject({ warnings: [], registry: { flags: { properties: true } } });
    expect(result.deploymentToml).toBeUndefined();
  });
});
