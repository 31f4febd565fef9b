/**
 * Looks inside a WSO2 migration kit (the identity kit of Step 2 or the API-M kit of Step 3), given as its zip or
 * as the folder it unpacks to, without unpacking anything. A bad kit is reported, never thrown. A folder kit's
 * symbolic links may point only inside the kit, as a zip's may only point inside the folder it is unpacked into.
 */
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { describeUnsafeZipName, listZipEntryNames, readZipEntryText } from '../core/zip.js';

export type KitKind = 'identity' | 'apim';

/** `missing`: nothing at the path; `unreadable`: a file that is not a readable zip archive, or a folder that cannot be listed. */
export type KitFormat = 'zip' | 'directory' | 'missing' | 'unreadable';

export interface KitInspection {
  /** The path as given, resolved. */
  path: string;
  kind: KitKind;
  format: KitFormat;
  /** The folder inside the zip or folder that holds `dropins/`: `''` or one wrapper folder such as `wso2is-migration-1.0.225/`. */
  rootPrefix: string;
  /** The client jar relative to the kit, e.g. `wso2is-migration-1.0.225/dropins/org.wso2.carbon.is.migration-1.0.225.jar`. */
  jarPath: string | null;
  /** The version in the jar's name, e.g. `1.0.225` or `4.2.0.67`. */
  jarVersion: string | null;
  hasMigrationResources: boolean;
  /** Whether `migration-resources/migration-config.yaml` exists (the identity kit needs it). */
  hasMigrationConfig: boolean;
  /** Entries that would land outside the folder the kit is unpacked into (`..` segments, absolute paths). */
  unsafeEntries: string[];
  /** Human sentences; empty when the kit is usable. */
  problems: string[];
}

interface KitSpec {
  title: string;
  archive: string;
  jarPattern: RegExp;
  jarExample: string;
}

const KIT_SPECS: Readonly<Record<KitKind, KitSpec>> = {
  identity: {
    title: 'identity migration kit',
    archive: 'wso2is-migration-x.y.z.zip',
    jarPattern: /^org\.wso2\.carbon\.is\.migration-(\d+(?:\.\d+)+(?:-[\w.]+)?)\.jar$/,
    jarExample: 'org.wso2.carbon.is.migration-x.y.z.jar',
  },
  apim: {
    title: 'API-M migration kit',
    archive: 'wso2am-migration-4.2.0.x.zip',
    jarPattern: /^org\.wso2\.carbon\.apimgt\.migrate\.client-(\d+(?:\.\d+)+(?:-[\w.]+)?)\.jar$/,
    jarExample: 'org.wso2.carbon.apimgt.migrate.client-4.2.0.x.jar',
  },
};

const APIM_TARGET_VERSION = /^4\.2\.0(?:\.\d+)?(?:-[\w.]+)?$/;
const DROPINS = 'dropins';
const MIGRATION_RESOURCES = 'migration-resources';
const MIGRATION_CONFIG = 'migration-config.yaml';
/** Deep enough for `<wrapper>/migration-resources/migration-config.yaml`; a wrong path must not walk a whole disk. */
const FOLDER_WALK_DEPTH = 3;
/** macOS zip tools add this folder next to the real content; it is not a second wrapper. */
const IGNORED_TOP_LEVEL = new Set(['__MACOSX']);

/** One file or folder of a kit, relative to the kit, `/`-separated, folders ending in `/`. */
interface KitEntry {
  segments: string[];
  isDirectory: boolean;
}

type EntryListing = { format: 'zip' | 'directory'; entries: string[] } | { format: KitFormat; problem: string };

export async function inspectMigrationKit(path: string, kind: KitKind): Promise<KitInspection> {
  const absolute = resolve(path);
  const spec = KIT_SPECS[kind];
  const listing = await listKitEntries(absolute, kind);
  const inspection = emptyInspection(absolute, kind, listing.format);
  if ('problem' in listing) {
    inspection.problems.push(listing.problem);
    return inspection;
  }
  const { safe, unsafe } = partitionEntries(listing.entries);
  inspection.unsafeEntries = unsafe;
  if (unsafe.length > 0) inspection.problems.push(describeUnsafeEntries(absolute, spec, unsafe));
  analyzeLayout(inspection, spec, safe);
  // Only a folder that looks like a kit is walked whole: a wrong path must not walk a whole disk.
  if (listing.format === 'directory' && inspection.jarPath !== null) {
    const links = await findUnsafeLinks(absolute);
    inspection.unsafeEntries.push(...links.map((link) => link.name));
    if (links.length > 0) inspection.problems.push(describeUnsafeLinks(absolute, spec, links));
  }
  return inspection;
}

/** A WSO2 kit holds a few hundred files; a folder with more is not one. */
const MAX_FOLDER_KIT_ENTRIES = 100_000;

interface UnsafeLink {
  /** Relative to the kit, `/`-separated. */
  name: string;
  problem: string;
}

/** Every symbolic link of the folder kit `root`, anywhere in it, that must not be followed. Links are not followed. */
async function findUnsafeLinks(root: string): Promise<UnsafeLink[]> {
  const realRoot = await realpath(root);
  const found: UnsafeLink[] = [];
  let entries = 0;
  const walk = async (folder: string): Promise<void> => {
    for (const child of await readdir(join(root, ...folder.split('/').filter(Boolean)), { withFileTypes: true })) {
      entries += 1;
      if (entries > MAX_FOLDER_KIT_ENTRIES) throw new Error(`more than ${MAX_FOLDER_KIT_ENTRIES} entries`);
      const name = `${folder}${child.name}`;
      if (child.isSymbolicLink()) {
        const problem = await unsafeKitLink(realRoot, join(root, ...name.split('/')));
        if (problem !== undefined) found.push({ name, problem });
      } else if (child.isDirectory()) {
        await walk(`${name}/`);
      }
    }
  };
  try {
    await walk('');
  } catch (error) {
    found.push({ name: '.', problem: `cannot be checked for symbolic links (${errorMessage(error)})` });
  }
  return found;
}

/**
 * Why the symbolic link `link` of a kit whose real path is `realKitRoot` must not be followed, or undefined: it leads
 * out of the kit (also through other links), to nothing, or to a folder that holds it (copying would never end).
 * Installing checks every link again as it copies.
 */
export async function unsafeKitLink(realKitRoot: string, link: string): Promise<string | undefined> {
  const target = await readlink(link).catch(() => '?');
  const resolved = await realpath(link).catch(() => undefined);
  if (resolved === undefined) return `is a symbolic link to "${target}", which does not exist`;
  if (!isInsideFolder(realKitRoot, resolved)) {
    return `is a symbolic link to "${target}", which leads out of the kit (to ${resolved})`;
  }
  const isFolder = await stat(resolved).then(
    (info) => info.isDirectory(),
    () => false,
  );
  if (isFolder && isInsideFolder(resolved, await realpath(dirname(link)))) {
    return `is a symbolic link to "${target}", a folder that contains the link itself (a loop)`;
  }
  return undefined;
}

function isInsideFolder(folder: string, path: string): boolean {
  const rest = relative(folder, path);
  // On Windows a path on another drive comes back absolute.
  return rest === '' || (rest !== '..' && !rest.startsWith(`..${sep}`) && !isAbsolute(rest));
}

function describeUnsafeLinks(path: string, spec: KitSpec, links: UnsafeLink[]): string {
  const listed = links.map((link) => `"${link.name}" ${link.problem}`);
  return (
    `${path}: has ${links.length} symbolic ${links.length === 1 ? 'link' : 'links'} that installing would have to ` +
    `follow out of the kit: ${formatList(listed, 3)}; apim-migrate never follows a link out of a kit: give the ` +
    `${spec.archive} as downloaded, or the folder it unpacks to with the files themselves`
  );
}

function emptyInspection(path: string, kind: KitKind, format: KitFormat): KitInspection {
  return {
    path,
    kind,
    format,
    rootPrefix: '',
    jarPath: null,
    jarVersion: null,
    hasMigrationResources: false,
    hasMigrationConfig: false,
    unsafeEntries: [],
    problems: [],
  };
}

async function listKitEntries(path: string, kind: KitKind): Promise<EntryListing> {
  const spec = KIT_SPECS[kind];
  const settingName = kind === 'identity' ? 'identity.migrationKit' : 'apim.migrationKit';
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    return {
      format: 'missing',
      problem: `${path}: not found (${errorMessage(error)}); set ${settingName} to the ${spec.archive} or the folder it unpacks to`,
    };
  }
  if (isDirectory) {
    try {
      return { format: 'directory', entries: await listFolderEntries(path) };
    } catch (error) {
      return { format: 'unreadable', problem: `${path}: cannot be read (${errorMessage(error)})` };
    }
  }
  try {
    return { format: 'zip', entries: await listZipEntryNames(path) };
  } catch (error) {
    return {
      format: 'unreadable',
      problem: `${path}: is not a readable zip archive (${errorMessage(error)}); give the ${spec.archive} as downloaded, or the folder it unpacks to`,
    };
  }
}

async function listFolderEntries(root: string): Promise<string[]> {
  const names: string[] = [];
  await walkFolder(root, '', FOLDER_WALK_DEPTH, names);
  return names;
}

async function walkFolder(root: string, prefix: string, depthLeft: number, names: string[]): Promise<void> {
  const children = await readdir(join(root, prefix), { withFileTypes: true });
  for (const child of children) {
    const relative = `${prefix}${child.name}`;
    if (!child.isDirectory()) {
      names.push(relative);
      continue;
    }
    names.push(`${relative}/`);
    if (depthLeft > 1) await walkFolder(root, `${relative}/`, depthLeft - 1, names);
  }
}

function partitionEntries(names: string[]): { safe: KitEntry[]; unsafe: string[] } {
  const safe: KitEntry[] = [];
  const unsafe: string[] = [];
  for (const name of names) {
    if (isUnsafeEntryName(name)) unsafe.push(name);
    else safe.push(toKitEntry(name));
  }
  return { safe, unsafe };
}

function isUnsafeEntryName(name: string): boolean {
  return describeUnsafeZipName(name) !== null;
}

function toKitEntry(name: string): KitEntry {
  return {
    segments: name.split('/').filter((segment) => segment !== '' && segment !== '.'),
    isDirectory: name.endsWith('/'),
  };
}

function describeUnsafeEntries(path: string, spec: KitSpec, unsafe: string[]): string {
  return (
    `${path}: has ${unsafe.length} ${unsafe.length === 1 ? 'entry' : 'entries'} that would be written outside the ` +
    `folder it is unpacked into (zip slip): ${formatList(unsafe)}; do not use it, download the ${spec.archive} again from WSO2`
  );
}

function analyzeLayout(inspection: KitInspection, spec: KitSpec, entries: KitEntry[]): void {
  const root = findRoot(entries);
  if ('problem' in root) {
    inspection.problems.push(`${inspection.path}: ${root.problem}; expected the ${spec.title} (${spec.archive})`);
    return;
  }
  inspection.rootPrefix = root.prefix;
  const content = entries
    .filter((entry) => root.prefix === '' || entry.segments[0] === root.prefix.slice(0, -1))
    .map((entry) => (root.prefix === '' ? entry : { ...entry, segments: entry.segments.slice(1) }));
  checkJar(inspection, content);
  checkResources(inspection, content);
}

function findRoot(entries: KitEntry[]): { prefix: string } | { problem: string } {
  const topLevel = new Set(
    entries
      .map((entry) => entry.segments[0])
      .filter((name): name is string => name !== undefined && !IGNORED_TOP_LEVEL.has(name)),
  );
  if (topLevel.size === 0) return { problem: 'is empty' };
  if (topLevel.has(DROPINS) || topLevel.has(MIGRATION_RESOURCES)) return { prefix: '' };
  const [only] = topLevel;
  if (topLevel.size === 1 && only !== undefined && isFolderIn(entries, only)) return { prefix: `${only}/` };
  return {
    problem:
      `has no ${DROPINS}/ or ${MIGRATION_RESOURCES}/ at its top nor inside a single top-level folder ` +
      `(top level: ${formatList([...topLevel])})`,
  };
}

function isFolderIn(entries: KitEntry[], name: string): boolean {
  return entries.some((entry) => entry.segments[0] === name && (entry.isDirectory || entry.segments.length > 1));
}

function checkJar(inspection: KitInspection, content: KitEntry[]): void {
  const spec = KIT_SPECS[inspection.kind];
  const jars = content
    .filter((entry) => !entry.isDirectory && entry.segments.length === 2 && entry.segments[0] === DROPINS)
    .map((entry) => entry.segments[1] ?? '')
    .filter((name) => name.endsWith('.jar'));
  const where = `${inspection.path}: `;
  if (jars.length > 1) {
    inspection.problems.push(
      `${where}has ${jars.length} jars in ${inspection.rootPrefix}${DROPINS}/ (${formatList(jars)}); the ${spec.title} holds exactly one, ${spec.jarExample}`,
    );
    return;
  }
  const [jar] = jars;
  if (jar === undefined) {
    inspection.problems.push(
      `${where}has no ${inspection.rootPrefix}${DROPINS}/${spec.jarExample}; is this the ${spec.title} (${spec.archive})?`,
    );
    return;
  }
  const version = spec.jarPattern.exec(jar)?.[1];
  if (version === undefined) {
    inspection.problems.push(`${where}${describeUnexpectedJar(inspection, jar)}`);
    return;
  }
  inspection.jarPath = `${inspection.rootPrefix}${DROPINS}/${jar}`;
  inspection.jarVersion = version;
  if (inspection.kind === 'apim' && !APIM_TARGET_VERSION.test(version)) {
    inspection.problems.push(
      `${where}holds ${jar}, the migration client ${version}, not 4.2.0.x; download the ${spec.archive} that migrates to API-M 4.2.0`,
    );
  }
}

function describeUnexpectedJar(inspection: KitInspection, jar: string): string {
  const spec = KIT_SPECS[inspection.kind];
  const otherKind: KitKind = inspection.kind === 'identity' ? 'apim' : 'identity';
  const other = KIT_SPECS[otherKind];
  const jarPath = `${inspection.rootPrefix}${DROPINS}/${jar}`;
  if (other.jarPattern.test(jar)) {
    return `holds ${jarPath}, so it is the ${other.title} (${other.archive}), but it was given as the ${spec.title}; give the ${spec.archive} here`;
  }
  return `holds ${jarPath}, which is not the ${spec.title}'s ${spec.jarExample}; give the ${spec.archive} here`;
}

function checkResources(inspection: KitInspection, content: KitEntry[]): void {
  const spec = KIT_SPECS[inspection.kind];
  inspection.hasMigrationResources = content.some((entry) => entry.segments[0] === MIGRATION_RESOURCES);
  inspection.hasMigrationConfig = content.some(
    (entry) =>
      !entry.isDirectory &&
      entry.segments.length === 2 &&
      entry.segments[0] === MIGRATION_RESOURCES &&
      entry.segments[1] === MIGRATION_CONFIG,
  );
  const folder = `${inspection.rootPrefix}${MIGRATION_RESOURCES}/`;
  if (!inspection.hasMigrationResources) {
    inspection.problems.push(
      `${inspection.path}: has no ${folder} folder; the ${spec.title} (${spec.archive}) needs it`,
    );
  } else if (inspection.kind === 'identity' && !inspection.hasMigrationConfig) {
    inspection.problems.push(
      `${inspection.path}: has no ${folder}${MIGRATION_CONFIG}; the ${spec.title} (${spec.archive}) needs it`,
    );
  }
}

function formatList(items: string[], max = 5): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

/** Where a kit keeps the identity client's config, relative to its root. */
export const MIGRATION_CONFIG_PATH = `${MIGRATION_RESOURCES}/${MIGRATION_CONFIG}`;

/** The largest kit file read into memory (config files are a few kilobytes). */
const MAX_KIT_TEXT_BYTES = 4 * 1024 * 1024;

/**
 * Reads one text file of a kit without unpacking it, e.g. its migration-config.yaml for the plan's diff.
 * `relativePath` is relative to the kit's root (inside its wrapper folder); undefined when the kit lacks it.
 */
export async function readKitText(path: string, kind: KitKind, relativePath: string): Promise<string | undefined> {
  const inspection = await inspectMigrationKit(path, kind);
  const wanted = `${inspection.rootPrefix}${relativePath}`;
  if (inspection.format === 'directory') {
    return readFile(join(resolve(path), ...wanted.split('/')), 'utf8').catch(() => undefined);
  }
  if (inspection.format !== 'zip') return undefined;
  return readZipEntryText(resolve(path), wanted, MAX_KIT_TEXT_BYTES);
}
