/**
 * Builders for WSO2 test fixtures: API-M homes, registry.xml files and migration kits (zips and folders).
 * Everything is written by the project itself; the real WSO2 files are only read by conformance tests.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import yazl from 'yazl';
import type { RegistryVersioningFlags } from '../../src/config/types.js';

// ---------------------------------------------------------------------------------------------------------------
// Temporary folders

/** Creates temporary folders and removes them all on `cleanup()` (call it from `afterEach`). */
export function createTempDirs(prefix = 'apim-migrate-'): {
  make: () => Promise<string>;
  cleanup: () => Promise<void>;
} {
  const made: string[] = [];
  return {
    async make() {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    async cleanup() {
      await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

async function writeFileDeep(file: string, content: string | Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content);
}

// ---------------------------------------------------------------------------------------------------------------
// registry.xml

/** A flag's value: a boolean, or the raw element text (to test whitespace, case and bad values). Omitted → no element. */
export type RegistryXmlFlags = Partial<Record<keyof RegistryVersioningFlags, boolean | string>>;

export interface RegistryXmlOptions {
  /** Write CRLF line endings, like the real 3.1.0 file. */
  crlf?: boolean;
  /** Extra lines placed inside `<staticConfiguration>` after the flags, e.g. comments. */
  staticConfigExtra?: string[];
  /** Leave `<staticConfiguration>` out entirely. */
  omitStaticConfiguration?: boolean;
}

const FLAG_ELEMENTS: Record<keyof RegistryVersioningFlags, string> = {
  properties: 'versioningProperties',
  comments: 'versioningComments',
  tags: 'versioningTags',
  ratings: 'versioningRatings',
};

export const ALL_FLAGS_FALSE: RegistryVersioningFlags = {
  properties: false,
  comments: false,
  tags: false,
  ratings: false,
};

/** The line of the first flag element in `makeRegistryXml`'s output; the others follow in the order given there. */
export const FIRST_FLAG_LINE = 10;

/** A registry.xml shaped like the 3.1.0 default; the present flags come in the order properties, comments, tags, ratings. */
export function makeRegistryXml(flags: RegistryXmlFlags = ALL_FLAGS_FALSE, options: RegistryXmlOptions = {}): string {
  const flagLines = (Object.keys(FLAG_ELEMENTS) as (keyof RegistryVersioningFlags)[])
    .filter((name) => flags[name] !== undefined)
    .map((name) => `        <${FLAG_ELEMENTS[name]}>${String(flags[name])}</${FLAG_ELEMENTS[name]}>`);
  const staticConfiguration = options.omitStaticConfiguration
    ? []
    : [
        '    <staticConfiguration>',
        ...flagLines,
        ...(options.staticConfigExtra ?? []),
        '        <servicePath>/trunk/services/</servicePath>',
        '    </staticConfiguration>',
      ];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!-- Test registry.xml written by apim-migrate tests -->',
    '<wso2registry>',
    '    <currentDBConfig>wso2registry</currentDBConfig>',
    '    <readOnly>false</readOnly>',
    '    <enableCache>true</enableCache>',
    '    <registryRoot>/</registryRoot>',
    '    <!-- NOTE: You can edit the options under "StaticConfiguration" only before the startup. -->',
    ...staticConfiguration,
    '    <versionResourcesOnChange>false</versionResourcesOnChange>',
    '</wso2registry>',
    '',
  ];
  return lines.join(options.crlf ? '\r\n' : '\n');
}

/** Writes `<home>/repository/conf/registry.xml` and returns its path. */
export async function writeRegistryXml(
  home: string,
  flags: RegistryXmlFlags = ALL_FLAGS_FALSE,
  options: RegistryXmlOptions = {},
): Promise<string> {
  const file = join(home, 'repository', 'conf', 'registry.xml');
  await writeFileDeep(file, makeRegistryXml(flags, options));
  return file;
}

// ---------------------------------------------------------------------------------------------------------------
// API-M homes

/** Which file tells the version; `none` writes no version file. */
export type VersionFileKind = 'version.txt' | 'product.txt' | 'carbon' | 'none';

export interface ApimHomeOptions {
  /** The API-M version the home claims, e.g. `4.2.0` or `3.1.0`. */
  version: string;
  versionFile?: VersionFileKind;
  /** Override the carbon-kernel version written by `versionFile: 'carbon'` (default: the one the version ships). */
  kernelVersion?: string;
  /** Launcher scripts; default: `api-manager.sh`/`.bat` from 4.x on, `wso2server.sh`/`.bat` before. */
  launchers?: string[];
  dropins?: boolean;
  /** Content of deployment.toml, or false for none. Default: a small H2 file. */
  deploymentToml?: string | false;
  /** Flags of registry.xml, or false for none. Default: all flags false. */
  registryXml?: RegistryXmlFlags | false;
  /** Jar names put into repository/components/lib; default {@link DEFAULT_JDBC_DRIVERS}. */
  jdbcDrivers?: readonly string[];
}

const KERNEL_BY_APIM_VERSION: Record<string, string> = { '4.2.0': '4.8.1', '3.1.0': '4.6.0' };

const DEFAULT_DEPLOYMENT_TOML = [
  '[server]',
  'hostname = "localhost"',
  '',
  '[database.apim_db]',
  'type = "h2"',
  'url = "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE"',
  'username = "wso2carbon"',
  'password = "wso2carbon"',
  '',
].join('\n');

/** The drivers a test home's repository/components/lib holds unless told otherwise. */
export const DEFAULT_JDBC_DRIVERS: readonly string[] = [
  'postgresql-42.6.0.jar',
  'mysql-connector-j-8.0.33.jar',
  'mariadb-java-client-3.1.4.jar',
];

/** Lays out an API-M home in `dir` (created when missing) and returns `dir`. */
export async function makeApimHome(dir: string, options: ApimHomeOptions): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const launcher of options.launchers ?? defaultLaunchers(options.version)) {
    await writeFileDeep(join(dir, 'bin', launcher), '#!/bin/sh\necho test launcher\n');
  }
  if (options.dropins ?? true) await mkdir(join(dir, 'repository', 'components', 'dropins'), { recursive: true });
  for (const jar of options.jdbcDrivers ?? DEFAULT_JDBC_DRIVERS) {
    await writeFileDeep(join(dir, 'repository', 'components', 'lib', jar), 'PK test JDBC driver jar\n');
  }
  const toml = options.deploymentToml ?? DEFAULT_DEPLOYMENT_TOML;
  if (toml !== false) await writeFileDeep(join(dir, 'repository', 'conf', 'deployment.toml'), toml);
  const registryFlags = options.registryXml ?? ALL_FLAGS_FALSE;
  if (registryFlags !== false) await writeRegistryXml(dir, registryFlags);
  await writeVersionFile(dir, options);
  return dir;
}

function defaultLaunchers(version: string): string[] {
  return Number.parseInt(version, 10) >= 4
    ? ['api-manager.sh', 'api-manager.bat']
    : ['wso2server.sh', 'wso2server.bat'];
}

async function writeVersionFile(dir: string, options: ApimHomeOptions): Promise<void> {
  switch (options.versionFile ?? 'version.txt') {
    case 'version.txt':
      return writeFileDeep(join(dir, 'bin', 'version.txt'), `WSO2 API Manager v${options.version}\n`);
    case 'product.txt':
      return writeFileDeep(join(dir, 'updates', 'product.txt'), `wso2am-${options.version}\n`);
    case 'carbon': {
      const kernel = options.kernelVersion ?? KERNEL_BY_APIM_VERSION[options.version] ?? '0.0.0';
      return writeFileDeep(join(dir, 'bin', 'wso2carbon-version.txt'), `WSO2 Carbon Framework v${kernel}\n`);
    }
    case 'none':
      return;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Migration kits

export interface KitEntrySpec {
  /** Path inside the kit; may be unsafe (`../x`, `/etc/x`) for zip-slip tests (zips only). */
  path: string;
  content?: string;
  /** Makes the entry a symbolic link (Unix mode S_IFLNK in the external attributes) to this target (zips only). */
  linkTo?: string;
}

export interface MigrationKitOptions {
  kind: 'identity' | 'apim';
  /** Client version; default `1.0.225` (identity) or `4.2.0.67` (API-M). */
  version?: string;
  /** The top-level folder; default `wso2is-migration-<version>` / `wso2am-migration-<version>`; false for none. */
  wrapper?: string | false;
  /** Put the client jar into dropins/ (default true). */
  jar?: boolean;
  /** Put migration-resources/ in (default true). */
  resources?: boolean;
  /** Put migration-resources/migration-config.yaml in (default true when resources are in). */
  migrationConfig?: boolean;
  /** The content of that migration-config.yaml (default: a one-line placeholder). */
  migrationConfigContent?: string;
  /** More entries, relative to the wrapper (unsafe ones are written as given, without the wrapper). */
  extraEntries?: KitEntrySpec[];
}

export function defaultKitVersion(kind: 'identity' | 'apim'): string {
  return kind === 'identity' ? '1.0.225' : '4.2.0.67';
}

export function kitJarName(kind: 'identity' | 'apim', version = defaultKitVersion(kind)): string {
  return kind === 'identity'
    ? `org.wso2.carbon.is.migration-${version}.jar`
    : `org.wso2.carbon.apimgt.migrate.client-${version}.jar`;
}

export function kitWrapperName(kind: 'identity' | 'apim', version = defaultKitVersion(kind)): string {
  return kind === 'identity' ? `wso2is-migration-${version}` : `wso2am-migration-${version}`;
}

/** The entries of a kit laid out as WSO2 ships it, adjusted by `options`. */
export function makeKitEntries(options: MigrationKitOptions): KitEntrySpec[] {
  const version = options.version ?? defaultKitVersion(options.kind);
  const wrapper = options.wrapper ?? kitWrapperName(options.kind, version);
  const prefix = wrapper === false ? '' : `${wrapper}/`;
  const entries: KitEntrySpec[] = [];
  if (options.jar ?? true) {
    entries.push({ path: `${prefix}dropins/${kitJarName(options.kind, version)}`, content: 'PK jar placeholder' });
  }
  if (options.resources ?? true) {
    entries.push({ path: `${prefix}migration-resources/README.txt`, content: 'resources' });
    if (options.migrationConfig ?? true) {
      entries.push({
        path: `${prefix}migration-resources/migration-config.yaml`,
        content: options.migrationConfigContent ?? 'migrationEnable: "true"\n',
      });
    }
  }
  for (const extra of options.extraEntries ?? []) {
    entries.push({ ...extra, path: isUnsafePath(extra.path) ? extra.path : `${prefix}${extra.path}` });
  }
  return entries;
}

/** Writes a kit zip (path `file`) and returns `file`. */
export async function makeMigrationKitZip(file: string, options: MigrationKitOptions): Promise<string> {
  await writeZip(file, makeKitEntries(options));
  return file;
}

/** Writes a kit as the folder it unpacks to (inside `dir`) and returns `dir`. Unsafe entries are refused. */
export async function makeMigrationKitDir(dir: string, options: MigrationKitOptions): Promise<string> {
  for (const entry of makeKitEntries(options)) {
    if (isUnsafePath(entry.path)) throw new Error(`a folder kit cannot hold the unsafe entry ${entry.path}`);
    if (entry.path.endsWith('/')) await mkdir(join(dir, entry.path), { recursive: true });
    else await writeFileDeep(join(dir, entry.path), entry.content ?? '');
  }
  return dir;
}

/**
 * Writes a zip holding `entries` (names ending in `/` are folders, `linkTo` makes a symbolic link as `zip --symlinks`
 * writes one) and returns its path. yazl refuses unsafe names, so those are written under a placeholder of the same
 * length and patched in the finished bytes. Entries are stored unless `compress` is set (then deflated, whose sizes
 * yauzl does not check against each other until it reads them).
 */
export async function writeZip(
  file: string,
  entries: KitEntrySpec[],
  options: { compress?: boolean } = {},
): Promise<string> {
  const zip = new yazl.ZipFile();
  const compress = options.compress ?? false;
  const patches: Array<{ placeholder: string; name: string }> = [];
  for (const [index, entry] of entries.entries()) {
    const name = isUnsafePath(entry.path) ? placeholderFor(entry.path, index, patches) : entry.path;
    if (entry.linkTo !== undefined) zip.addBuffer(Buffer.from(entry.linkTo), name, { mode: 0o120777, compress });
    else if (name.endsWith('/')) zip.addEmptyDirectory(name);
    else zip.addBuffer(Buffer.from(entry.content ?? ''), name, { compress });
  }
  await mkdir(dirname(file), { recursive: true });
  const output = createWriteStream(file);
  zip.outputStream.pipe(output);
  zip.end();
  await once(output, 'close');
  if (patches.length > 0) await patchNames(file, patches);
  return file;
}

function isUnsafePath(path: string): boolean {
  return path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.replace(/\\/g, '/').split('/').includes('..');
}

function placeholderFor(name: string, index: number, patches: Array<{ placeholder: string; name: string }>): string {
  const tag = `Q${index}Q`;
  const body = name.replace(/[^A-Za-z0-9]/g, 'q');
  if (body.length < tag.length) throw new Error(`unsafe test entry name too short to patch: ${name}`);
  const placeholder = tag + body.slice(tag.length);
  patches.push({ placeholder, name });
  return placeholder;
}

async function patchNames(file: string, patches: Array<{ placeholder: string; name: string }>): Promise<void> {
  const bytes = await readFile(file);
  for (const { placeholder, name } of patches) {
    const from = Buffer.from(placeholder);
    const to = Buffer.from(name);
    let at = bytes.indexOf(from);
    if (at < 0) throw new Error(`placeholder ${placeholder} not found in ${file}`);
    while (at >= 0) {
      to.copy(bytes, at);
      at = bytes.indexOf(from, at + to.length);
    }
  }
  await writeFile(file, bytes);
}
