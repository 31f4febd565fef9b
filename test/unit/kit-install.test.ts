import { lstat, mkdir, readdir, readFile, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import {
  copyKitFolder,
  findInstalledMigrationArtifacts,
  installMigrationKit,
  uninstallMigrationKits,
  type InstallMigrationKitOptions,
} from '../../src/wso2/kit-install.js';
import { rejectedInputError } from '../helpers/errors.js';
import { createRecordingLogger } from '../helpers/fakes.js';
import {
  createTempDirs,
  kitJarName,
  kitWrapperName,
  makeApimHome,
  makeKitEntries,
  makeMigrationKitDir,
  makeMigrationKitZip,
  writeZip,
  type KitEntrySpec,
  type MigrationKitOptions,
} from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-kit-install-');
afterEach(() => temp.cleanup());

type Kind = 'identity' | 'apim';
const KINDS: readonly Kind[] = ['identity', 'apim'];
const DROPINS = ['repository', 'components', 'dropins'] as const;

interface Setup {
  home: string;
  workDir: string;
  dropins: string;
  resources: string;
}

async function setup(): Promise<Setup> {
  const root = await temp.make();
  const home = await makeApimHome(join(root, 'wso2am-4.2.0'), { version: '4.2.0' });
  const workDir = join(root, 'work');
  return { home, workDir, dropins: join(home, ...DROPINS), resources: join(home, 'migration-resources') };
}

/** What another kit leaves behind, next to a jar of WSO2's own that must stay. */
async function addLeftovers(s: Setup): Promise<string[]> {
  const identityJar = join(s.dropins, kitJarName('identity', '1.0.200'));
  const apimJar = join(s.dropins, kitJarName('apim', '4.2.0.1'));
  await writeFile(identityJar, 'old identity client');
  await writeFile(apimJar, 'old apim client');
  await writeFile(join(s.dropins, 'org.wso2.carbon.other-1.0.0.jar'), 'not a migration client');
  await mkdir(join(s.resources, 'nested'), { recursive: true });
  await writeFile(join(s.resources, 'nested', 'old.txt'), 'left by the other kit');
  return [apimJar, identityJar, s.resources];
}

/** Every path below `dir` with what it is: file content, `dir`, or `link -> target`. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  async function walk(relative: string): Promise<void> {
    for (const name of (await readdir(join(dir, relative))).sort()) {
      const path = relative === '' ? name : `${relative}/${name}`;
      const stats = await lstat(join(dir, path));
      if (stats.isSymbolicLink()) result[path] = `link -> ${await readlink(join(dir, path))}`;
      else if (stats.isDirectory()) {
        result[path] = 'dir';
        await walk(path);
      } else result[path] = await readFile(join(dir, path), 'utf8');
    }
  }
  await walk('');
  return result;
}

async function listOrEmpty(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

function install(s: Setup, kit: string, kind: Kind, extra: Partial<InstallMigrationKitOptions> = {}) {
  const logger = createRecordingLogger();
  return {
    logger,
    result: installMigrationKit({ kit, kind, apimHome: s.home, workDir: s.workDir, logger, ...extra }),
  };
}

function kitEntries(options: MigrationKitOptions): KitEntrySpec[] {
  return makeKitEntries(options).map((entry: KitEntrySpec) => ({ path: entry.path, content: entry.content ?? '' }));
}

type KitBuilder = (options: MigrationKitOptions) => Promise<string>;

const builders: Array<[string, KitBuilder]> = [
  ['zip', async (options) => makeMigrationKitZip(join(await temp.make(), 'kit.zip'), options)],
  ['folder', async (options) => makeMigrationKitDir(join(await temp.make(), 'kit'), options)],
];

describe.each(builders)('installMigrationKit from a %s', (format, build) => {
  describe.each(KINDS)('%s kit', (kind) => {
    it.each([
      ['inside its wrapper folder', undefined],
      ['without a wrapper folder', false as const],
    ])('installs the jar and migration-resources (%s)', async (_label, wrapper) => {
      const s = await setup();
      const kit = await build({ kind, ...(wrapper === undefined ? {} : { wrapper }) });
      const kitBefore = format === 'folder' ? await snapshot(kit) : undefined;
      const { result, logger } = install(s, kit, kind);

      expect(await result).toEqual({
        jar: join(s.dropins, kitJarName(kind)),
        resourcesDir: s.resources,
        removedLeftovers: [],
      });
      expect(await readFile(join(s.dropins, kitJarName(kind)), 'utf8')).toBe('PK jar placeholder');
      expect(await snapshot(s.resources)).toEqual({
        'README.txt': 'resources',
        'migration-config.yaml': 'migrationEnable: "true"\n',
      });
      // The unpack folder is gone again; a folder kit is left as it was.
      expect(await listOrEmpty(s.workDir)).toEqual([]);
      if (kitBefore) expect(await snapshot(kit)).toEqual(kitBefore);
      expect(logger.lines).toContainEqual(`info: Installed ${kitJarName(kind)} into ${s.dropins}`);
    });
  });

  it('removes what the other kit left before installing', async () => {
    const s = await setup();
    const leftovers = await addLeftovers(s);
    const { result, logger } = install(s, await build({ kind: 'apim' }), 'apim');

    expect((await result).removedLeftovers).toEqual(leftovers);
    expect((await readdir(s.dropins)).sort()).toEqual([kitJarName('apim'), 'org.wso2.carbon.other-1.0.0.jar']);
    expect(await snapshot(s.resources)).toEqual({
      'README.txt': 'resources',
      'migration-config.yaml': 'migrationEnable: "true"\n',
    });
    for (const path of leftovers) {
      expect(logger.lines).toContainEqual(`info: Removed ${path}, left by an earlier migration kit`);
    }
  });

  it('calls prepareResources with <home>/migration-resources once everything is in place', async () => {
    const s = await setup();
    const calls: Array<{ dir: string; config: string; jars: string[] }> = [];
    const { result } = install(s, await build({ kind: 'identity' }), 'identity', {
      async prepareResources(dir) {
        calls.push({
          dir,
          config: await readFile(join(dir, 'migration-config.yaml'), 'utf8'),
          jars: await readdir(s.dropins),
        });
        await writeFile(join(dir, 'migration-config.yaml'), 'migrationEnable: "true"\ncurrentVersion: "5.10.0"\n');
      },
    });

    await result;
    expect(calls).toEqual([{ dir: s.resources, config: 'migrationEnable: "true"\n', jars: [kitJarName('identity')] }]);
    expect(await readFile(join(s.resources, 'migration-config.yaml'), 'utf8')).toContain('currentVersion: "5.10.0"');
  });

  it('takes the kit out again when prepareResources fails', async () => {
    const s = await setup();
    const failure = new InputError({ message: 'SchemaMigrator order 4 not found' });
    const { result } = install(s, await build({ kind: 'identity' }), 'identity', {
      prepareResources: () => Promise.reject(failure),
    });

    await expect(result).rejects.toBe(failure);
    expect(await findInstalledMigrationArtifacts(s.home)).toEqual({ jars: [], hasMigrationResources: false });
    expect(await listOrEmpty(s.workDir)).toEqual([]);
  });
});

describe('installMigrationKit refuses bad input and changes nothing', () => {
  /** Sets up a home with another kit's leftovers, runs the install and checks the home and work folder are untouched. */
  async function expectRefused(kit: (s: Setup) => Promise<string>, kind: Kind = 'apim'): Promise<InputError> {
    const s = await setup();
    await addLeftovers(s);
    const before = await snapshot(s.home);
    const error = await rejectedInputError(install(s, await kit(s), kind).result);
    expect(error.exitCode).toBe(2);
    expect(await snapshot(s.home)).toEqual(before);
    expect(await listOrEmpty(s.workDir)).toEqual([]);
    return error;
  }

  const wrapper = kitWrapperName('apim');

  it.each([
    ['a ".." entry', '../evil'],
    ['a ".." entry inside the wrapper', `${wrapper}/../../evil.sh`],
    ['an absolute path', '/etc/x'],
    ['a drive letter', 'C:\\x'],
  ])('zip slip: %s', async (_label, entryName) => {
    const error = await expectRefused(async () => {
      const file = join(await temp.make(), 'evil.zip');
      await writeZip(file, [...makeKitEntries({ kind: 'apim' }), { path: entryName, content: 'pwned' }]);
      return file;
    });
    expect(error.message).toContain('zip slip');
    expect(error.message).toContain(entryName.replace(/\\/g, '/'));
    expect(error.message).toContain('nothing was changed');
  });

  it.each([
    ['a relative target that climbs out', '../../../../../../etc/passwd'],
    ['an absolute target', '/etc/passwd'],
    ['a Windows drive target', 'C:\\Windows\\System32'],
  ])('a symbolic link entry with %s', async (_label, linkTo) => {
    const linkName = `${wrapper}/migration-resources/evil-link`;
    const error = await expectRefused(async () =>
      writeZip(join(await temp.make(), 'evil.zip'), [...kitEntries({ kind: 'apim' }), { path: linkName, linkTo }]),
    );
    expect(error.message).toContain(`entry "${linkName}" is a symbolic link to "${linkTo}", outside the folder`);
    expect(error.message).toContain('nothing was installed');
  });

  it('a symbolic link that leaves the folder through another link', async () => {
    // Each looks harmless alone: `up` points to the wrapper's parent (the unpack folder), `out` goes one level above.
    const error = await expectRefused(async () =>
      writeZip(join(await temp.make(), 'evil.zip'), [
        ...kitEntries({ kind: 'apim' }),
        { path: `${wrapper}/migration-resources/up`, linkTo: '../..' },
        { path: `${wrapper}/migration-resources/out`, linkTo: 'up/..' },
      ]),
    );
    expect(error.message).toContain(
      `entry "${wrapper}/migration-resources/out" is a symbolic link to "up/..", which goes through`,
    );
  });

  it('an entry written through a symbolic link', async () => {
    const error = await expectRefused(async () =>
      writeZip(join(await temp.make(), 'evil.zip'), [
        ...kitEntries({ kind: 'apim' }),
        { path: `${wrapper}/migration-resources/dir`, linkTo: '../dropins' },
        { path: `${wrapper}/migration-resources/dir/x.jar`, content: 'x' },
      ]),
    );
    expect(error.message).toContain(
      `entry "${wrapper}/migration-resources/dir/x.jar" would be written through the symbolic link "${wrapper}/migration-resources/dir"`,
    );
  });

  it('a symbolic link to a folder that holds it', async () => {
    const error = await expectRefused(async () =>
      writeZip(join(await temp.make(), 'loop.zip'), [
        ...kitEntries({ kind: 'apim' }),
        { path: `${wrapper}/migration-resources/loop`, linkTo: '.' },
      ]),
    );
    expect(error.message).toContain('a folder that contains the link itself');
  });

  it('a kit that does not exist, naming the path', async () => {
    let missing = '';
    const error = await expectRefused(async (s) => {
      missing = join(s.workDir, '..', 'no-such-kit.zip');
      return missing;
    });
    expect(error.message).toContain('no-such-kit.zip: not found');
    expect(error.message).toContain('set apim.migrationKit');
  });

  it('the API-M kit given as the identity kit', async () => {
    const error = await expectRefused(
      async () => makeMigrationKitZip(join(await temp.make(), 'k.zip'), { kind: 'apim' }),
      'identity',
    );
    expect(error.message).toMatch(/it is the API-M migration kit .* given as the identity migration kit/);
  });

  it('a home without repository/components/dropins', async () => {
    const root = await temp.make();
    const home = await makeApimHome(join(root, 'home'), { version: '4.2.0', dropins: false });
    const before = await snapshot(home);
    const kit = await makeMigrationKitZip(join(root, 'k.zip'), { kind: 'apim' });
    const error = await rejectedInputError(
      installMigrationKit({
        kit,
        kind: 'apim',
        apimHome: home,
        workDir: join(root, 'work'),
        logger: createRecordingLogger(),
      }),
    );
    expect(error.message).toBe(
      `${home}: has no repository/components/dropins folder; set apimHome to the folder API-M 4.2.0 is unpacked into`,
    );
    expect(await snapshot(home)).toEqual(before);
  });
});

describe('installMigrationKit with symbolic links inside the kit', () => {
  it('installs what a link inside the kit points to, as a regular file', async () => {
    const s = await setup();
    const wrapper = kitWrapperName('identity');
    const kit = await writeZip(join(await temp.make(), 'kit.zip'), [
      ...kitEntries({ kind: 'identity' }),
      { path: `${wrapper}/migration-resources/config-link.yaml`, linkTo: 'migration-config.yaml' },
      { path: `${wrapper}/migration-resources/readme-up`, linkTo: '../migration-resources/./README.txt' },
    ]);
    await install(s, kit, 'identity').result;

    expect(await snapshot(s.resources)).toEqual({
      'README.txt': 'resources',
      'config-link.yaml': 'migrationEnable: "true"\n',
      'migration-config.yaml': 'migrationEnable: "true"\n',
      'readme-up': 'resources',
    });
  });
});

describe('uninstallMigrationKits and findInstalledMigrationArtifacts', () => {
  it('removes both kinds of jar and migration-resources, and is idempotent', async () => {
    const s = await setup();
    const leftovers = await addLeftovers(s);
    expect(await findInstalledMigrationArtifacts(s.home)).toEqual({
      jars: leftovers.slice(0, 2),
      hasMigrationResources: true,
    });
    const logger = createRecordingLogger();

    expect(await uninstallMigrationKits(s.home, logger)).toEqual(leftovers);
    expect(logger.lines).toEqual(leftovers.map((path) => `info: Removed ${path}`));
    expect(await readdir(s.dropins)).toEqual(['org.wso2.carbon.other-1.0.0.jar']);
    expect(await findInstalledMigrationArtifacts(s.home)).toEqual({ jars: [], hasMigrationResources: false });

    expect(await uninstallMigrationKits(s.home, logger)).toEqual([]);
    expect(logger.lines).toHaveLength(leftovers.length);
  });

  it('removes what installMigrationKit installed', async () => {
    const s = await setup();
    const kit = await makeMigrationKitZip(join(await temp.make(), 'kit.zip'), { kind: 'identity' });
    const installed = await install(s, kit, 'identity').result;
    expect(await findInstalledMigrationArtifacts(s.home)).toEqual({
      jars: [installed.jar],
      hasMigrationResources: true,
    });

    expect(await uninstallMigrationKits(s.home, createRecordingLogger())).toEqual([
      installed.jar,
      installed.resourcesDir,
    ]);
  });

  it('does nothing for a home that does not exist or has no dropins', async () => {
    const root = await temp.make();
    const noDropins = await makeApimHome(join(root, 'home'), { version: '4.2.0', dropins: false });
    for (const home of [join(root, 'missing'), noDropins]) {
      expect(await uninstallMigrationKits(home, createRecordingLogger())).toEqual([]);
      expect(await findInstalledMigrationArtifacts(home)).toEqual({ jars: [], hasMigrationResources: false });
    }
  });
});

describe('installMigrationKit refuses a folder kit with a symbolic link out of it, as a zip', () => {
  const wrapper = kitWrapperName('apim');

  /** A folder kit, with `links` (relative to the wrapper) added, beside a folder that is not part of it. */
  async function folderKitWith(links: Record<string, string>): Promise<{ kit: string; outside: string }> {
    const root = await temp.make();
    const outside = join(root, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'not part of the kit');
    const kit = await makeMigrationKitDir(join(root, 'kit'), { kind: 'apim' });
    for (const [name, target] of Object.entries(links)) {
      await rm(join(kit, wrapper, name), { force: true });
      await symlink(target.replace('<outside>', outside), join(kit, wrapper, name));
    }
    return { kit, outside };
  }

  async function expectRefused(links: Record<string, string>): Promise<InputError> {
    const s = await setup();
    await addLeftovers(s);
    const before = await snapshot(s.home);
    const { kit } = await folderKitWith(links);
    const error = await rejectedInputError(install(s, kit, 'apim').result);
    expect(error.exitCode).toBe(2);
    expect(await snapshot(s.home)).toEqual(before);
    return error;
  }

  it.each([
    ['an absolute target', { 'migration-resources/evil-link': '<outside>/secret.txt' }],
    ['a relative target that climbs out', { 'migration-resources/evil-link': '../../../outside' }],
    ['a folder out of the kit', { 'migration-resources/conf': '<outside>' }],
    ['the jar itself', { [`dropins/${kitJarName('apim')}`]: '<outside>/secret.txt' }],
    ['a way out through another link', { 'migration-resources/up': '..', 'migration-resources/out': 'up/../..' }],
  ])('%s', async (_label, links) => {
    const error = await expectRefused(links);
    expect(error.message).toMatch(/symbolic links? that installing would have to follow out of the kit/);
    expect(error.message).toMatch(/which leads out of the kit \(to .*\)/);
    expect(error.message).toContain('apim-migrate never follows a link out of a kit');
  });

  it('a link to a folder that holds it, and a link to nothing', async () => {
    const error = await expectRefused({ 'migration-resources/loop': '.', 'migration-resources/gone': 'no-such-file' });
    expect(error.message).toContain('"wso2am-migration-4.2.0.67/migration-resources/loop" is a symbolic link to "."');
    expect(error.message).toContain('a folder that contains the link itself (a loop)');
    expect(error.message).toContain('is a symbolic link to "no-such-file", which does not exist');
  });

  it('installs what a link inside the kit points to, as a regular file', async () => {
    const s = await setup();
    const { kit } = await folderKitWith({
      'migration-resources/readme-link.txt': 'README.txt',
      'migration-resources/dropins-copy': '../dropins',
    });
    await install(s, kit, 'apim').result;
    const installed = await snapshot(s.resources);
    expect(installed['readme-link.txt']).toBe(installed['README.txt']);
    expect(installed['dropins-copy']).toBe('dir');
    expect((await lstat(join(s.resources, 'readme-link.txt'))).isSymbolicLink()).toBe(false);
  });

  it('checks every link again as it copies: one made after the inspection is refused', async () => {
    // copyKitFolder is what installMigrationKit copies migration-resources with, after inspecting the kit.
    const { kit, outside } = await folderKitWith({});
    const resources = join(kit, wrapper, 'migration-resources');
    await mkdir(join(resources, 'nested'));
    await symlink(join(outside, 'secret.txt'), join(resources, 'nested', 'late-link'));
    const target = join(await temp.make(), 'migration-resources');

    const error = await rejectedInputError(copyKitFolder(resources, target, await realpath(kit)));
    expect(error.message).toContain(`${join(resources, 'nested', 'late-link')}: is a symbolic link to "${outside}`);
    expect(await readFile(join(target, 'nested', 'late-link'), 'utf8').catch(() => 'not copied')).toBe('not copied');
  });
});
