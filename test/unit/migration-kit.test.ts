import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inspectMigrationKit } from '../../src/wso2/migration-kit.js';
import {
  createTempDirs,
  kitJarName,
  makeMigrationKitDir,
  makeMigrationKitZip,
  writeZip,
  type MigrationKitOptions,
} from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-kit-');
afterEach(() => temp.cleanup());

type KitBuilder = (options: MigrationKitOptions) => Promise<string>;

const builders: Array<[string, KitBuilder]> = [
  ['zip', async (options) => makeMigrationKitZip(join(await temp.make(), 'kit.zip'), options)],
  ['directory', async (options) => makeMigrationKitDir(join(await temp.make(), 'kit'), options)],
];

describe.each(builders)('inspectMigrationKit (%s)', (format, build) => {
  it.each([
    ['identity', 'wso2is-migration-1.0.225/', '1.0.225', 'org.wso2.carbon.is.migration-1.0.225.jar'],
    ['apim', 'wso2am-migration-4.2.0.67/', '4.2.0.67', 'org.wso2.carbon.apimgt.migrate.client-4.2.0.67.jar'],
  ] as const)('accepts a %s kit inside a wrapper folder', async (kind, prefix, version, jar) => {
    const path = await build({ kind });
    const inspection = await inspectMigrationKit(path, kind);
    expect(inspection).toEqual({
      path,
      kind,
      format,
      rootPrefix: prefix,
      jarPath: `${prefix}dropins/${jar}`,
      jarVersion: version,
      hasMigrationResources: true,
      hasMigrationConfig: true,
      unsafeEntries: [],
      problems: [],
    });
  });

  it.each(['identity', 'apim'] as const)('accepts a %s kit without a wrapper folder', async (kind) => {
    const inspection = await inspectMigrationKit(await build({ kind, wrapper: false }), kind);
    expect(inspection.problems).toEqual([]);
    expect(inspection.rootPrefix).toBe('');
    expect(inspection.jarPath).toBe(`dropins/${kitJarName(kind)}`);
  });

  it('accepts an API-M kit without migration-config.yaml', async () => {
    const inspection = await inspectMigrationKit(await build({ kind: 'apim', migrationConfig: false }), 'apim');
    expect(inspection.problems).toEqual([]);
    expect(inspection.hasMigrationConfig).toBe(false);
  });

  it('says an API-M kit was given as the identity kit', async () => {
    const inspection = await inspectMigrationKit(await build({ kind: 'apim' }), 'identity');
    expect(inspection.jarPath).toBeNull();
    expect(inspection.problems).toEqual([
      `${inspection.path}: holds wso2am-migration-4.2.0.67/dropins/org.wso2.carbon.apimgt.migrate.client-4.2.0.67.jar, ` +
        'so it is the API-M migration kit (wso2am-migration-4.2.0.x.zip), but it was given as the identity migration kit; ' +
        'give the wso2is-migration-x.y.z.zip here',
    ]);
  });

  it('says an identity kit was given as the API-M kit', async () => {
    const inspection = await inspectMigrationKit(await build({ kind: 'identity' }), 'apim');
    expect(inspection.problems).toEqual([
      expect.stringMatching(
        /org\.wso2\.carbon\.is\.migration-1\.0\.225\.jar, so it is the identity migration kit .* given as the API-M migration kit/,
      ),
    ]);
  });

  it('names the missing jar', async () => {
    const path = await build({ kind: 'identity', jar: false, extraEntries: [{ path: 'dropins/readme.txt' }] });
    const inspection = await inspectMigrationKit(path, 'identity');
    expect(inspection.jarPath).toBeNull();
    expect(inspection.problems).toEqual([
      `${path}: has no wso2is-migration-1.0.225/dropins/org.wso2.carbon.is.migration-x.y.z.jar; is this the identity migration kit (wso2is-migration-x.y.z.zip)?`,
    ]);
  });

  it('refuses several jars', async () => {
    const path = await build({ kind: 'apim', extraEntries: [{ path: 'dropins/other.jar', content: 'x' }] });
    const inspection = await inspectMigrationKit(path, 'apim');
    expect(inspection.problems).toEqual([
      expect.stringMatching(/has 2 jars in wso2am-migration-4\.2\.0\.67\/dropins\//),
    ]);
  });

  it('refuses an API-M client that is not 4.2.0.x', async () => {
    const inspection = await inspectMigrationKit(await build({ kind: 'apim', version: '4.1.0.12' }), 'apim');
    expect(inspection.jarVersion).toBe('4.1.0.12');
    expect(inspection.problems).toEqual([expect.stringMatching(/migration client 4\.1\.0\.12, not 4\.2\.0\.x/)]);
  });

  it.each(['identity', 'apim'] as const)('reports missing migration-resources in a %s kit', async (kind) => {
    const path = await build({ kind, resources: false });
    const inspection = await inspectMigrationKit(path, kind);
    expect(inspection.hasMigrationResources).toBe(false);
    expect(inspection.problems).toEqual([expect.stringMatching(/^.+: has no .*migration-resources\/ folder/)]);
  });

  it('reports a missing migration-config.yaml in the identity kit', async () => {
    const inspection = await inspectMigrationKit(await build({ kind: 'identity', migrationConfig: false }), 'identity');
    expect(inspection.hasMigrationResources).toBe(true);
    expect(inspection.hasMigrationConfig).toBe(false);
    expect(inspection.problems).toEqual([expect.stringMatching(/migration-resources\/migration-config\.yaml/)]);
  });
});

describe('inspectMigrationKit (other layouts)', () => {
  it('lists zip-slip entries as a problem and still judges the rest', async () => {
    const path = join(await temp.make(), 'evil.zip');
    await writeZip(path, [
      { path: 'wso2is-migration-1.0.225/dropins/org.wso2.carbon.is.migration-1.0.225.jar', content: 'jar' },
      { path: 'wso2is-migration-1.0.225/migration-resources/migration-config.yaml', content: 'a: "b"' },
      { path: '../../etc/cron.d/evil', content: 'x' },
      { path: 'wso2is-migration-1.0.225/../../evil.sh', content: 'x' },
      { path: '/tmp/absolute.txt', content: 'x' },
      { path: 'C:/Windows/evil.dll', content: 'x' },
      { path: '..\\..\\backslash.txt', content: 'x' },
    ]);
    const inspection = await inspectMigrationKit(path, 'identity');
    expect(inspection.unsafeEntries).toEqual([
      '../../etc/cron.d/evil',
      'wso2is-migration-1.0.225/../../evil.sh',
      '/tmp/absolute.txt',
      'C:/Windows/evil.dll',
      '../../backslash.txt',
    ]);
    expect(inspection.rootPrefix).toBe('wso2is-migration-1.0.225/');
    expect(inspection.jarVersion).toBe('1.0.225');
    expect(inspection.problems).toHaveLength(1);
    expect(inspection.problems[0]).toMatch(/has 5 entries that would be written outside .* \(zip slip\)/);
  });

  it('refuses several top-level folders', async () => {
    const path = join(await temp.make(), 'two.zip');
    await writeZip(path, [
      { path: 'one/dropins/org.wso2.carbon.is.migration-1.0.225.jar' },
      { path: 'two/migration-resources/migration-config.yaml' },
    ]);
    const inspection = await inspectMigrationKit(path, 'identity');
    expect(inspection.jarPath).toBeNull();
    expect(inspection.problems).toEqual([
      expect.stringMatching(
        /has no dropins\/ or migration-resources\/ at its top nor inside a single top-level folder \(top level: one, two\)/,
      ),
    ]);
  });

  it('ignores the __MACOSX folder next to the wrapper', async () => {
    const path = join(await temp.make(), 'mac.zip');
    await writeZip(path, [
      { path: 'wso2am-migration-4.2.0.67/dropins/org.wso2.carbon.apimgt.migrate.client-4.2.0.67.jar' },
      { path: 'wso2am-migration-4.2.0.67/migration-resources/' },
      { path: '__MACOSX/wso2am-migration-4.2.0.67/._dropins' },
    ]);
    const inspection = await inspectMigrationKit(path, 'apim');
    expect(inspection.problems).toEqual([]);
    expect(inspection.rootPrefix).toBe('wso2am-migration-4.2.0.67/');
  });

  it('refuses a folder with several top-level folders', async () => {
    const path = await temp.make();
    await makeMigrationKitDir(join(path, 'one'), { kind: 'identity', wrapper: false, resources: false });
    await makeMigrationKitDir(join(path, 'two'), { kind: 'identity', wrapper: false, jar: false });
    const inspection = await inspectMigrationKit(path, 'identity');
    expect(inspection.format).toBe('directory');
    expect(inspection.problems).toEqual([expect.stringMatching(/top level: one, two/)]);
  });

  it('reports an empty zip', async () => {
    const path = join(await temp.make(), 'empty.zip');
    await writeZip(path, []);
    const inspection = await inspectMigrationKit(path, 'apim');
    expect(inspection.format).toBe('zip');
    expect(inspection.problems).toEqual([expect.stringMatching(/: is empty; expected the API-M migration kit/)]);
  });

  it('reports a file that is not a zip', async () => {
    const path = join(await temp.make(), 'kit.zip');
    await writeFile(path, 'this is not a zip archive');
    const inspection = await inspectMigrationKit(path, 'identity');
    expect(inspection.format).toBe('unreadable');
    expect(inspection.problems).toEqual([expect.stringContaining(`${path}: is not a readable zip archive`)]);
  });

  it('reports a missing path as not found', async () => {
    const path = join(await temp.make(), 'absent.zip');
    const inspection = await inspectMigrationKit(path, 'apim');
    expect(inspection.format).toBe('missing');
    expect(inspection.problems).toEqual([expect.stringMatching(/not found.*set apim\.migrationKit/)]);
    expect(inspection.problems[0]).toContain(path);
  });
});
