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
import { copyFile, cp, lstat, mkdtemp, readdir, realpath, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorMessage, InputError } from '../core/errors.js';
import { makePrivateDir } from '../core/private-files.js';
import { unpackZip } from '../core/zip.js';
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
      const files = await unpackZip(inspection.path, unpackDir, {
        headline: `Refusing to unpack the ${title} ${inspection.path}; nothing was installed. Download it again from WSO2:`,
        symlinks: 'inside',
        maxUnpackedBytes: { bytes: MAX_UNPACKED_BYTES, reason: 'a migration kit holds' },
      });
      logger.info(`Unpacked ${inspection.path} (${files.length} files) into ${unpackDir}`);
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
