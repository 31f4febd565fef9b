/**
 * Puts a WSO2 migration kit into the API-M home and takes it out again (wso2-facts.md, Steps 2 and 3): the client
 * jar goes into `repository/components/dropins`, the kit's `migration-resources/` becomes `<home>/migration-resources`.
 * Both kits use that same folder, and a jar left in dropins runs again at every start, so whatever another kit left is
 * removed before installing, and {@link uninstallMigrationKits} removes both kinds after every run.
 *
 * A zip is unpacked into a fresh folder under the work folder, never into the home. Every entry is checked before
 * anything is written: names that leave the folder (`..`, absolute paths, drive letters), symbolic links that point
 * outside it or through another link, entries written through a link. A folder kit is used where it is, and none of
 * its symbolic links may lead out of it: inspectMigrationKit refuses such a kit, and the copy checks every link again.
 * A refused kit is an InputError that names the entries, and the home is left exactly as it was.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, cp, lstat, mkdir, mkdtemp, readdir, realpath, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { errorMessage, InputError } from '../core/errors.js';
import { makePrivateDir } from '../core/private-files.js';
import type { Logger } from '../log/logger.js';
import { inspectMigrationKit, unsafeKitLink, type KitInspection, type KitKind } from './migration-kit.js';

export interface InstallMigrationKitOptions {
  /** The kit's zip, or the folder it unpacks to. */
  kit: string;
  kind: KitKind;
  /** The API-M 4.2.0 home. */
  apimHome: string;
  /** A folder of this run where the zip is unpacked (in a fresh sub-folder, removed afterwards). */
  workDir: string;
  logger: Logger;
  /** Called with `<home>/migration-resources` once it is in place (the identity stage edits migration-config.yaml). */
  prepareResources?: (migrationResourcesDir: string) => Promise<void>;
}

export interface InstallMigrationKitResult {
  /** The installed jar, in `<home>/repository/components/dropins`. */
  jar: string;
  /** `<home>/migration-resources`. */
  resourcesDir: string;
  /** What an earlier kit had left in the home and was removed first (absolute paths). */
  removedLeftovers: string[];
}

export interface InstalledMigrationArtifacts {
  /** Migration client jars in dropins (absolute paths), of either kit. */
  jars: string[];
  hasMigrationResources: boolean;
}

const DROPINS_DIR = join('repository', 'components', 'dropins');
const MIGRATION_RESOURCES_DIR = 'migration-resources';

/** `org.wso2.carbon.is.migration-*.jar` (Step 2) and `org.wso2.carbon.apimgt.migrate.client-*.jar` (Step 3). */
const MIGRATION_JAR_PREFIXES = ['org.wso2.carbon.is.migration-', 'org.wso2.carbon.apimgt.migrate.client-'] as const;

const KIT_TITLES: Readonly<Record<KitKind, string>> = {
  identity: 'identity migration kit',
  apim: 'API-M migration kit',
};

/** The kits are tens of MB; more than this unpacked is not a WSO2 kit (or is a zip bomb). */
const MAX_UNPACKED_BYTES = 2 * 1024 ** 3;
/** A symbolic link's target is a path; longer content is not one. */
const MAX_LINK_TARGET_BYTES = 4096;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * Installs the kit into the home and returns what it did. A bad kit or home is an InputError and nothing is changed.
 * When a later step fails (copying, `prepareResources`), what was installed is removed again before the error is
 * rethrown, so no half-installed kit stays behind.
 */
export async function installMigrationKit(options: InstallMigrationKitOptions): Promise<InstallMigrationKitResult> {
  const { kind, logger } = options;
  const home = resolve(options.apimHome);
  const title = KIT_TITLES[kind];
  await requireDropins(home);
  const inspection = await inspectMigrationKit(options.kit, kind);
  if (inspection.problems.length > 0) {
    throw new InputError(
      inspection.problems.map((message) => ({ message })),
      { headline: `Cannot install the ${title} ${inspection.path}; nothing was changed in ${home}:` },
    );
  }
  const jarPath = inspection.jarPath;
  if (jarPath === null) throw new Error(`internal: ${inspection.path} passed inspection without a jar`);

  await makePrivateDir(options.workDir);
  const unpackDir = inspection.format === 'zip' ? await mkdtemp(join(resolve(options.workDir), `kit-${kind}-`)) : null;
  try {
    let kitRoot = inspection.path;
    if (unpackDir !== null) {
      const count = await unpackZipSafely(inspection.path, unpackDir, title);
      logger.info(`Unpacked ${inspection.path} (${count} entries) into ${unpackDir}`);
      kitRoot = unpackDir;
    }
    return await installFrom(kitRoot, inspection, jarPath, home, options);
  } finally {
    if (unpackDir !== null) await rm(unpackDir, { recursive: true, force: true });
  }
}

/**
 * Removes both kinds of migration jar from dropins and `<home>/migration-resources`, and returns what it removed
 * (absolute paths). Safe to call any number of times, also when the home or dropins does not exist.
 */
export async function uninstallMigrationKits(apimHome: string, logger: Logger): Promise<string[]> {
  const removed = await removeMigrationArtifacts(resolve(apimHome));
  for (const path of removed) logger.info(`Removed ${path}`);
  return removed;
}

/** What migration artifacts are in the home now (for `verify`, and to tell that a run left something behind). */
export async function findInstalledMigrationArtifacts(apimHome: string): Promise<InstalledMigrationArtifacts> {
  const home = resolve(apimHome);
  return {
    jars: await listMigrationJars(home),
    hasMigrationResources: await exists(join(home, MIGRATION_RESOURCES_DIR)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Installing

async function installFrom(
  kitRoot: string,
  inspection: KitInspection,
  jarPath: string,
  home: string,
  options: InstallMigrationKitOptions,
): Promise<InstallMigrationKitResult> {
  const { logger } = options;
  const jarName = jarPath.split('/').pop() ?? jarPath;
  const sourceJar = join(kitRoot, ...jarPath.split('/'));
  const sourceResources = join(kitRoot, ...inspection.rootPrefix.split('/').filter(Boolean), MIGRATION_RESOURCES_DIR);
  const jar = join(home, DROPINS_DIR, jarName);
  const resourcesDir = join(home, MIGRATION_RESOURCES_DIR);

  const removedLeftovers = await removeMigrationArtifacts(home);
  for (const path of removedLeftovers) logger.info(`Removed ${path}, left by an earlier migration kit`);
  const realKitRoot = await realpath(kitRoot);
  try {
    await refuseLinkOutOfKit(realKitRoot, sourceJar);
    await copyFile(sourceJar, jar);
    logger.info(`Installed ${jarName} into ${join(home, DROPINS_DIR)}`);
    await copyKitFolder(sourceResources, resourcesDir, realKitRoot);
    logger.info(`Installed ${MIGRATION_RESOURCES_DIR} of ${inspection.path} into ${resourcesDir}`);
    if (options.prepareResources) await options.prepareResources(resourcesDir);
  } catch (error) {
    const removed = await removeMigrationArtifacts(home).catch(() => []);
    if (removed.length > 0) logger.info(`Installing failed; removed again: ${removed.join(', ')}`);
    if (error instanceof InputError) throw error;
    throw new Error(
      `installing the ${KIT_TITLES[inspection.kind]} ${inspection.path} into ${home} failed: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  return { jar, resourcesDir, removedLeftovers };
}

/**
 * Copies a folder of a kit whose real path is `realKitRoot`, links as what they point to (an unpacked zip's folder is
 * removed afterwards), and checks every link again as it copies it: a folder kit may have changed since it was
 * inspected. A link out of the kit is an InputError, and what was copied stays for the caller to remove.
 */
export async function copyKitFolder(source: string, target: string, realKitRoot: string): Promise<void> {
  await cp(source, target, {
    recursive: true,
    dereference: true,
    errorOnExist: true,
    force: false,
    filter: async (entry) => {
      await refuseLinkOutOfKit(realKitRoot, entry);
      return true;
    },
  });
}

/** Throws an InputError when `path` is a symbolic link that must not be followed (see unsafeKitLink). */
async function refuseLinkOutOfKit(realKitRoot: string, path: string): Promise<void> {
  const isLink = await lstat(path).then(
    (info) => info.isSymbolicLink(),
    () => false,
  );
  const problem = isLink ? await unsafeKitLink(realKitRoot, path) : undefined;
  if (problem !== undefined) {
    throw new InputError({ file: path, message: `${problem}; apim-migrate never follows a link out of a kit` });
  }
}

async function requireDropins(home: string): Promise<void> {
  const dropins = join(home, DROPINS_DIR);
  const isDirectory = await stat(dropins).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!isDirectory) {
    throw new InputError({
      file: home,
      message: `has no ${DROPINS_DIR} folder; set apimHome to the folder API-M 4.2.0 is unpacked into`,
    });
  }
}

async function removeMigrationArtifacts(home: string): Promise<string[]> {
  const removed: string[] = [];
  for (const jar of await listMigrationJars(home)) {
    await rm(jar, { force: true });
    removed.push(jar);
  }
  const resources = join(home, MIGRATION_RESOURCES_DIR);
  if (await exists(resources)) {
    await rm(resources, { recursive: true, force: true });
    removed.push(resources);
  }
  return removed;
}

async function listMigrationJars(home: string): Promise<string[]> {
  const dropins = join(home, DROPINS_DIR);
  let names: string[];
  try {
    names = await readdir(dropins);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  return names
    .filter((name) => name.endsWith('.jar') && MIGRATION_JAR_PREFIXES.some((prefix) => name.startsWith(prefix)))
    .sort()
    .map((name) => join(dropins, name));
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

// ---------------------------------------------------------------------------------------------------------------
// Unpacking a zip safely

type EntryKind = 'file' | 'directory' | 'symlink';

interface PlannedEntry {
  /** The name as stored in the zip (backslashes read as `/`), for messages. */
  name: string;
  /** Its path below the unpack folder, without empty and `.` segments. */
  segments: string[];
  kind: EntryKind;
  entry: Entry;
  /** Symbolic links: the target, as validated and as it will be written. */
  linkTarget?: string;
}

/**
 * Unpacks `zipFile` into the empty folder `target`: first reads the whole central directory (and the targets of
 * symbolic links) and checks every entry, then writes. Returns the number of entries written.
 */
async function unpackZipSafely(zipFile: string, target: string, title: string): Promise<number> {
  // yauzl's own name check is off (strictFileNames: false) so that every bad name is reported, not just the first.
  const zip = await yauzl.openPromise(zipFile, {
    lazyEntries: true,
    decodeStrings: false,
    autoClose: false,
    validateEntrySizes: true,
  });
  try {
    const { planned, problems } = await readPlan(zip);
    problems.push(...checkPlan(planned));
    if (problems.length > 0) {
      throw new InputError(
        problems.map((message) => ({ message })),
        { headline: `Refusing to unpack the ${title} ${zipFile}; nothing was installed. Download it again from WSO2:` },
      );
    }
    for (const item of planned) await writeEntry(zip, target, item);
    return planned.length;
  } finally {
    zip.close();
  }
}

async function readPlan(zip: ZipFile): Promise<{ planned: PlannedEntry[]; problems: string[] }> {
  const planned: PlannedEntry[] = [];
  const problems: string[] = [];
  let unpackedBytes = 0;
  for await (const entry of zip.eachEntry()) {
    const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
    const unsafe = describeUnsafeName(name);
    if (unsafe !== null) {
      problems.push(`entry "${name}" ${unsafe}`);
      continue;
    }
    if (!entry.canDecodeFileData()) {
      problems.push(`entry "${name}" is encrypted or uses a compression method that cannot be read`);
      continue;
    }
    const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
    if (segments.length === 0) continue;
    unpackedBytes += entry.uncompressedSize;
    const kind = entryKind(entry, name);
    if (kind === 'symlink') {
      const linkTarget = await readLinkTarget(zip, entry);
      if (linkTarget === null) problems.push(`entry "${name}" is a symbolic link without a readable target`);
      else planned.push({ name, segments, kind, entry, linkTarget });
    } else {
      planned.push({ name, segments, kind, entry });
    }
  }
  if (unpackedBytes > MAX_UNPACKED_BYTES) {
    problems.push(`unpacks to ${unpackedBytes} bytes, more than a migration kit holds (${MAX_UNPACKED_BYTES})`);
  }
  return { planned, problems };
}

/** Why a name would leave the unpack folder, or null. Backslashes were already read as `/`. */
function describeUnsafeName(name: string): string | null {
  if (name.includes('\0')) return 'has a NUL character in its name';
  if (name.startsWith('/')) return 'has an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'starts with a drive letter';
  if (name.split('/').includes('..')) return 'has a ".." segment';
  return null;
}

function entryKind(entry: Entry, name: string): EntryKind {
  // The upper 16 bits of the external attributes hold the Unix mode when a Unix tool wrote the zip.
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (mode === S_IFLNK) return 'symlink';
  return name.endsWith('/') ? 'directory' : 'file';
}

async function readLinkTarget(zip: ZipFile, entry: Entry): Promise<string | null> {
  if (entry.uncompressedSize === 0 || entry.uncompressedSize > MAX_LINK_TARGET_BYTES) return null;
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  const target = Buffer.concat(chunks).toString('utf8');
  return target.includes('\0') ? null : target;
}

/** Checks the entries against each other: links and what is written through them, duplicates. */
function checkPlan(planned: PlannedEntry[]): string[] {
  const problems: string[] = [];
  const byPath = new Map<string, PlannedEntry>();
  const links = new Set<string>();
  const files = new Set<string>();
  for (const item of planned) {
    const path = item.segments.join('/');
    const earlier = byPath.get(path);
    if (earlier !== undefined && (earlier.kind !== 'directory' || item.kind !== 'directory')) {
      problems.push(`entry "${item.name}" appears twice`);
      continue;
    }
    byPath.set(path, item);
    if (item.kind === 'symlink') links.add(path);
    if (item.kind === 'file') files.add(path);
  }
  for (const item of planned) {
    for (let length = 1; length < item.segments.length; length += 1) {
      const prefix = item.segments.slice(0, length).join('/');
      if (links.has(prefix)) {
        problems.push(`entry "${item.name}" would be written through the symbolic link "${prefix}"`);
        break;
      }
      if (files.has(prefix)) {
        problems.push(`entry "${item.name}" is inside "${prefix}", which is a file`);
        break;
      }
    }
    if (item.kind === 'symlink' && item.linkTarget !== undefined) {
      const problem = checkLinkTarget(item, links);
      if (problem === null) item.linkTarget = normalizeLinkTarget(item.linkTarget);
      else problems.push(problem);
    }
  }
  return problems;
}

/**
 * A link may point only to a path inside the unpack folder, resolved from the link's own folder, and not through
 * another link: `a -> .` then `a/b -> ../..` would leave the folder although each looks harmless on its own.
 */
function checkLinkTarget(item: PlannedEntry, links: ReadonlySet<string>): string | null {
  const target = item.linkTarget ?? '';
  const outside = `is a symbolic link to "${target}", outside the folder the kit is unpacked into`;
  if (target.startsWith('/') || target.startsWith('\\') || /^[A-Za-z]:/.test(target)) {
    return `entry "${item.name}" ${outside}`;
  }
  const steps = target.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
  const at = item.segments.slice(0, -1);
  for (const [index, step] of steps.entries()) {
    if (step === '..') {
      if (at.length === 0) return `entry "${item.name}" ${outside}`;
      at.pop();
      continue;
    }
    at.push(step);
    if (index < steps.length - 1 && links.has(at.join('/'))) {
      return `entry "${item.name}" is a symbolic link to "${target}", which goes through the symbolic link "${at.join('/')}"`;
    }
  }
  // A link to a folder that holds it would make copying the resources recurse without end.
  if (at.every((segment, position) => item.segments[position] === segment)) {
    return `entry "${item.name}" is a symbolic link to "${target}", a folder that contains the link itself (a loop)`;
  }
  return null;
}

function normalizeLinkTarget(target: string): string {
  const steps = target.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
  return steps.length === 0 ? '.' : steps.join('/');
}

async function writeEntry(zip: ZipFile, target: string, item: PlannedEntry): Promise<void> {
  const path = join(target, ...item.segments);
  if (item.kind === 'directory') {
    await mkdir(path, { recursive: true });
    return;
  }
  await mkdir(dirname(path), { recursive: true });
  if (item.kind === 'symlink') {
    await symlink(item.linkTarget ?? '.', path);
    return;
  }
  const stream: Readable = await zip.openReadStreamPromise(item.entry);
  // 'wx': never follows or overwrites anything already there.
  await pipeline(stream, createWriteStream(path, { flags: 'wx' }));
}
