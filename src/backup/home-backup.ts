/**
 * Backups of files of the API-M home, for the startup stage: before WSO2's first start after the migration, the old
 * registry search index (`solr`) and the original deployment.toml are kept in a backup artifact, to be put back when
 * that start fails or on `restore --stage startup`. The artifact is written, authenticated, stored and verified as a
 * database backup is (storeBackup), and its restore makes the checks a database restore makes (fetchCheckedBackup,
 * copyStoredFile). A folder is stored as a gzip'd tar made by the system tar, a file as it is; either is encrypted
 * with age when the config encrypts backups.
 *
 * A restore changes nothing in the home until every stored file was checked against the manifest, decrypted into the
 * private work folder and unpacked into a temporary folder beside its place, and the unpacked folder holds what the
 * manifest says; only then is each item renamed into place.
 */

import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream, type Dirent, type Stats } from 'node:fs';
import {
  chmod,
  copyFile,
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  stat,
} from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import type { StoredArtifact } from '../artifacts/store.js';
import { errorMessage, InputError } from '../core/errors.js';
import { formatBytes } from '../core/format.js';
import { SecretMasker } from '../core/secrets.js';
import { createMeter } from '../core/streams.js';
import { ClientToolError, requireTool, startTool, superviseTool, type ResolvedTool } from '../db/client-process.js';
import { locateOnPath, type ToolRole } from '../db/client-tools.js';
import { backupFileStages, storeBackup, type BackupArtifactOptions } from './create-backup.js';
import { AGE_EXTENSION, checkDecryptionMode, type DecryptionMode } from './encryption.js';
import {
  homeFilePathSchema,
  overlappingHomePath,
  serializeManifest,
  type BackupManifest,
  type BackupManifestHomeFile,
  type HomeFileKind,
} from './manifest.js';
import {
  BackupRejectedError,
  checkSizes,
  copyStoredFile,
  describeBackup,
  fetchCheckedBackup,
  plainName,
  type ManifestReadOptions,
} from './restore-backup.js';

export interface HomeBackupItem {
  /** Relative to the API-M home, with POSIX separators: `solr`, `repository/conf/deployment.toml`. */
  path: string;
  kind: HomeFileKind;
}

export interface CreateHomeBackupOptions extends BackupArtifactOptions {
  apimHome: string;
  items: readonly HomeBackupItem[];
}

export interface HomeBackupResult {
  artifact: StoredArtifact;
  manifest: BackupManifest;
  /** The sha256 of the stored manifest.json, for the ledger. */
  manifestSha256: string;
}

export interface RestoreHomeBackupOptions extends ManifestReadOptions {
  decryption: DecryptionMode;
  apimHome: string;
}

export interface RestoreHomeBackupResult {
  manifest: BackupManifest;
  /** The item paths put back. */
  restored: string[];
  /** The item paths that were absent when the backup was taken and were there now: removed. */
  removed: string[];
}

/** Where a restore unpacks inside the home, so that each item is renamed into place on the same filesystem. */
const STAGING_PREFIX = '.apim-migrate-restore-';

/** How many names of a refused entry a message quotes. */
const QUOTED_NAMES = 3;

/** Stores each item of the home (a folder as a gzip'd tar, a file as it is), records absent ones, and verifies. */
export async function createHomeBackup(options: CreateHomeBackupOptions): Promise<HomeBackupResult> {
  checkItems(options.items);
  const home = path.resolve(options.apimHome);
  const { artifact, manifest } = await storeBackup(options, async (dir) => {
    const homeFiles: BackupManifestHomeFile[] = [];
    for (const [index, item] of options.items.entries()) {
      homeFiles.push(await storeItem(options, home, item, path.join(dir, storedName(item, index, options))));
    }
    return { databases: [], homeFiles };
  });
  const manifestSha256 = createHash('sha256').update(serializeManifest(manifest)).digest('hex');
  return { artifact, manifest, manifestSha256 };
}

/** The items come from a stage, not from a person: a wrong one is a bug, and nothing is written. */
function checkItems(items: readonly HomeBackupItem[]): void {
  if (items.length === 0) throw new Error('createHomeBackup: no items to back up');
  for (const item of items) {
    const parsed = homeFilePathSchema.safeParse(item.path);
    if (!parsed.success) {
      throw new Error(`createHomeBackup: ${JSON.stringify(item.path)} ${parsed.error.issues[0]?.message ?? ''}`);
    }
  }
  const overlapping = overlappingHomePath(items.map((item) => item.path));
  if (overlapping !== undefined) throw new Error(`createHomeBackup: ${overlapping} is listed twice, or inside another`);
}

/** `home-<n>-<name>[.tar.gz][.age]`: a plain, unique file name for each item. */
function storedName(item: HomeBackupItem, index: number, options: CreateHomeBackupOptions): string {
  const extension = item.kind === 'folder' ? '.tar.gz' : '';
  const encrypted = options.encryption.kind === 'none' ? '' : AGE_EXTENSION;
  return `home-${index + 1}-${path.posix.basename(item.path)}${extension}${encrypted}`;
}

async function storeItem(
  options: CreateHomeBackupOptions,
  home: string,
  item: HomeBackupItem,
  output: string,
): Promise<BackupManifestHomeFile> {
  const { logger, encryption } = options;
  const source = homePath(home, item.path);
  const encrypted = encryption.kind !== 'none';
  const info = await lstatIfAny(source);
  if (info === undefined) {
    logger.info(`${item.path}: not there; recorded as absent, so that a restore removes what is there by then`);
    return { path: item.path, kind: item.kind, present: false, encrypted };
  }
  if (item.kind === 'folder' ? !info.isDirectory() : !info.isFile()) {
    throw new InputError({
      file: source,
      message:
        `is ${describeType(info)}, not a ${item.kind === 'folder' ? 'folder' : 'regular file'} as in an API-M home: ` +
        `apim-migrate keeps the ${item.kind} itself in the backup. Put the ${item.kind} in its place, then run the stage again`,
    });
  }
  const file = path.basename(output);
  const stored =
    item.kind === 'folder'
      ? await storeFolder(options, home, item.path, output)
      : await storeFile(options, source, output);
  logger.info(
    `${item.path}: ${item.kind === 'folder' ? `${stored.entries} files, ` : ''}${formatBytes(stored.contentBytes)}, ` +
      `stored as ${file} (${formatBytes(stored.bytes)})`,
  );
  return { path: item.path, kind: item.kind, present: true, file, encrypted, ...stored };
}

interface StoredItem {
  bytes: number;
  sha256: string;
  entries?: number;
  contentBytes: number;
}

/** `tar -C <home> -cf - -- <path>`, through gzip and age into the file. */
async function storeFolder(
  options: CreateHomeBackupOptions,
  home: string,
  item: string,
  output: string,
): Promise<StoredItem> {
  const folder = homePath(home, item);
  // A link out of the folder would come back pointing there: what WSO2 writes through it would land outside.
  const survey = await surveyFolder(folder);
  if (survey.problems.length > 0) {
    throw new InputError({
      file: folder,
      message:
        `holds what a backup cannot keep safely: ${formatNames(survey.problems)}. Replace each link with what it ` +
        'points to (or remove it), then run the stage again',
    });
  }
  const tar = await findTool('tar', 'dump');
  const { stages, written } = backupFileStages({ compress: true, encryption: options.encryption });
  const run = startTool(tar, ['-C', home, '-cf', '-', '--', item], toolEnv(), 'ignore', new SecretMasker());
  await superviseTool(run, `storing ${folder}`, [
    pipeline([run.child.stdout, ...stages, createWriteStream(output, { mode: 0o600 })]).catch((error: unknown) => {
      throw new Error(`writing the backup of ${folder} to ${output} failed: ${errorMessage(error)}`, { cause: error });
    }),
  ]);
  return { bytes: written.bytes, sha256: written.digest(), entries: survey.entries, contentBytes: survey.contentBytes };
}

/** The file as it is, through age when the backup is encrypted. */
async function storeFile(options: CreateHomeBackupOptions, source: string, output: string): Promise<StoredItem> {
  const read = createMeter({ hash: false });
  const { stages, written } = backupFileStages({ compress: false, encryption: options.encryption });
  await pipeline([createReadStream(source), read.stream, ...stages, createWriteStream(output, { mode: 0o600 })]).catch(
    (error: unknown) => {
      throw new Error(`writing the backup of ${source} to ${output} failed: ${errorMessage(error)}`, { cause: error });
    },
  );
  return { bytes: written.bytes, sha256: written.digest(), contentBytes: read.bytes };
}

/**
 * Puts every item of a home backup back: a folder or file that was there is replaced by the backup's, one that was
 * absent is removed. Nothing in the home changes until every item is checked and unpacked beside its place.
 */
export async function restoreHomeBackup(options: RestoreHomeBackupOptions): Promise<RestoreHomeBackupResult> {
  const { logger, decryption } = options;
  checkDecryptionMode(decryption);
  const backup = describeBackup(options);
  const home = path.resolve(options.apimHome);
  await mkdir(options.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(options.workDir, `restore-${options.artifactName}-`));
  let staging: string | undefined;
  const prepared: PreparedItem[] = [];
  try {
    const plainDir = path.join(dir, 'plain');
    await mkdir(plainDir, { mode: 0o700 });
    const { backupDir, manifest } = await fetchCheckedBackup(options, path.join(dir, 'download'));
    const items = manifest.homeFiles ?? [];
    if (items.length === 0) {
      throw new BackupRejectedError(
        `${backup} is a backup of databases (${manifest.stage}), not of API-M home files: restore it with ` +
          `restore --stage ${manifest.stage}. Nothing was changed.`,
      );
    }
    await checkSizes(backupDir, manifest, backup);
    if (!(await isFolder(home))) {
      throw new InputError({ file: home, message: 'is not a folder: give the API-M home the backup was taken of' });
    }
    staging = await mkdtemp(path.join(home, STAGING_PREFIX));
    const context: RestoreContext = { options, backup, home, backupDir, plainDir, staging };
    for (const [index, entry] of items.entries()) {
      if (entry.present) prepared.push(await prepareItem(context, entry, index));
    }

    // Everything is checked and in place beside its target: from here on the home changes.
    const restored: string[] = [];
    const removed: string[] = [];
    for (const item of prepared) {
      await putBack(context, item, restored);
      restored.push(item.entry.path);
      logger.info(`${item.entry.path}: put back`);
    }
    for (const entry of items.filter((item) => !item.present)) {
      const target = homePath(home, entry.path);
      if ((await lstatIfAny(target)) === undefined) continue;
      await rm(target, { recursive: true, force: true });
      removed.push(entry.path);
      logger.info(`${entry.path}: removed (it was not there when the backup was taken)`);
    }
    const changes = [
      restored.length > 0 ? `put back ${restored.join(', ')}` : '',
      removed.length > 0 ? `removed ${removed.join(', ')}` : '',
    ].filter(Boolean);
    logger.info(
      `Restored ${backup} into ${home}: ` +
        (changes.join('; ') || `nothing to change (${items.map((item) => item.path).join(', ')} absent then and now)`),
    );
    return { manifest, restored, removed };
  } finally {
    // Unpacked items that were not put back, what was set aside, and the plaintext in the work folder.
    for (const item of prepared) if (item.kind === 'file') await rm(item.staged, { force: true });
    if (staging !== undefined) await rm(staging, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  }
}

interface RestoreContext {
  options: RestoreHomeBackupOptions;
  backup: string;
  home: string;
  backupDir: string;
  plainDir: string;
  /** `<home>/.apim-migrate-restore-XXXX`: folders are unpacked here, and what they replace is set aside here. */
  staging: string;
}

interface PreparedItem {
  entry: BackupManifestHomeFile;
  kind: HomeFileKind;
  index: number;
  /** The unpacked folder, or the file written beside its target: renamed into place. */
  staged: string;
}

/** Checks, decrypts and unpacks one stored item next to its place, without touching the item itself. */
async function prepareItem(
  context: RestoreContext,
  entry: BackupManifestHomeFile,
  index: number,
): Promise<PreparedItem> {
  const { options, backup } = context;
  const { file, bytes, sha256, contentBytes } = entry;
  if (file === undefined || bytes === undefined || sha256 === undefined || contentBytes === undefined) {
    throw new Error(`the manifest entry of ${entry.path} lacks its file`); // the schema requires them
  }
  const stored = { file, bytes, sha256, encrypted: entry.encrypted };
  const plain = path.join(context.plainDir, plainName(stored));
  await copyStoredFile(
    { entry: stored, file: path.join(context.backupDir, file), decryption: options.decryption, backup },
    plain,
  );
  const reject = (why: string): BackupRejectedError =>
    new BackupRejectedError(`${file} of ${backup} ${why}. Nothing was changed; restore from another backup.`);

  if (entry.kind === 'file') {
    const size = (await stat(plain)).size;
    if (size !== contentBytes)
      throw reject(`holds ${size} bytes, but its manifest says ${entry.path} had ${contentBytes}`);
    const staged = await stageFile(context, entry.path, plain);
    options.logger.info(`${entry.path}: checked (${entry.encrypted ? 'decrypted, ' : ''}${formatBytes(size)})`);
    return { entry, kind: 'file', index, staged };
  }

  await findTool('gzip', 'restore'); // tar -z runs it
  const tar = await findTool('tar', 'restore');
  await checkMembers(tar, plain, entry.path, reject);
  const unpackDir = path.join(context.staging, `item-${index + 1}`);
  await mkdir(unpackDir, { mode: 0o700 });
  await runTar(tar, ['-C', unpackDir, '--no-same-owner', '-xzf', plain], `unpacking ${file}`).catch(
    (error: unknown) => {
      if (error instanceof ClientToolError) throw reject(`could not be unpacked: ${error.message}`);
      throw error;
    },
  );
  const staged = homePath(unpackDir, entry.path);
  if (!(await lstatIfAny(staged))?.isDirectory()) throw reject(`does not hold the folder ${entry.path}`);
  const survey = await surveyFolder(staged);
  if (survey.problems.length > 0)
    throw reject(`holds what must not be put into the home: ${formatNames(survey.problems)}`);
  if (survey.entries !== entry.entries || survey.contentBytes !== contentBytes) {
    throw reject(
      `unpacks to ${survey.entries} files of ${survey.contentBytes} bytes, but its manifest says ${entry.path} had ` +
        `${entry.entries ?? 0} files of ${contentBytes} bytes`,
    );
  }
  await giveOwnerOf(context, homePath(context.home, entry.path), staged);
  options.logger.info(
    `${entry.path}: checked (${entry.encrypted ? 'decrypted, ' : ''}${survey.entries} files, ` +
      `${formatBytes(contentBytes)})`,
  );
  return { entry, kind: 'folder', index, staged };
}

/**
 * Lists the archive (`tar -tzf`) before unpacking it: every entry must be the item's folder or inside it. tar itself
 * refuses absolute names and `..`, but would unpack any other name of the archive.
 */
async function checkMembers(
  tar: ResolvedTool,
  archive: string,
  item: string,
  reject: (why: string) => BackupRejectedError,
): Promise<void> {
  const outside: string[] = [];
  let members = 0;
  await runTar(tar, ['-tzf', archive], `listing ${path.basename(archive)}`, async (stdout) => {
    for await (const name of createInterface({ input: stdout, crlfDelay: Infinity })) {
      members += 1;
      const inside = name === item || name.startsWith(`${item}/`);
      if (!inside || name.split('/').includes('..')) outside.push(name);
    }
  }).catch((error: unknown) => {
    if (error instanceof ClientToolError) throw reject(`is not a gzip'd tar archive: ${error.message}`);
    throw error;
  });
  if (outside.length > 0) {
    throw reject(
      `holds ${outside.length} entries outside ${item}: ${formatNames(outside.map((n) => JSON.stringify(n)))}`,
    );
  }
  if (members === 0) throw reject(`is an empty archive, without ${item}`);
}

/**
 * Writes the decrypted file beside its target (`.<name>.apim-migrate-<hex>`, the target's mode), so that the rename
 * into place stays on the target's filesystem; where the target's folder is gone, into the staging folder.
 */
async function stageFile(context: RestoreContext, item: string, plain: string): Promise<string> {
  const target = homePath(context.home, item);
  const folder = path.dirname(target);
  const staged = path.join(
    (await isFolder(folder)) ? folder : context.staging,
    `.${path.basename(target)}.apim-migrate-${randomBytes(6).toString('hex')}`,
  );
  const current = await lstatIfAny(target);
  await copyFile(plain, staged, constants.COPYFILE_EXCL);
  try {
    await giveOwnerOf(context, target, staged);
    await chmod(staged, current?.isFile() ? current.mode & 0o7777 : 0o600);
  } catch (error) {
    await rm(staged, { force: true });
    throw error;
  }
  return staged;
}

/**
 * tar unpacks with --no-same-owner, so that an archive cannot choose owners, and a copy is the copier's: run as root,
 * apim-migrate would put back root's files where the server's account must write. What is put back gets the owner of
 * what it replaces, or else of the folder it goes into.
 */
async function giveOwnerOf(context: RestoreContext, target: string, staged: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const owner = (await lstatIfAny(target)) ?? (await lstatIfAny(path.dirname(target))) ?? (await stat(context.home));
  if (owner.uid === 0 && owner.gid === 0) return;
  const inside = (await lstat(staged)).isDirectory()
    ? (await readdir(staged, { recursive: true })).map((name) => path.join(staged, name))
    : [];
  for (const entry of [staged, ...inside]) await lchown(entry, owner.uid, owner.gid);
}

/**
 * Renames one prepared item into place. A folder (or whatever is at a file's place that is not a file) is set aside
 * into the staging folder first, and comes back when the rename fails; a file is renamed over the one there.
 */
async function putBack(context: RestoreContext, item: PreparedItem, done: readonly string[]): Promise<void> {
  const target = homePath(context.home, item.entry.path);
  const current = await lstatIfAny(target);
  const aside =
    current !== undefined && (item.kind === 'folder' || !current.isFile())
      ? path.join(context.staging, `previous-${item.index + 1}`)
      : undefined;
  try {
    if (aside !== undefined) await rename(target, aside);
    try {
      await mkdir(path.dirname(target), { recursive: true });
      await rename(item.staged, target);
    } catch (error) {
      if (aside !== undefined) await rename(aside, target).catch(() => undefined);
      throw error;
    }
  } catch (error) {
    const before = done.length > 0 ? `${done.join(', ')} ${done.length === 1 ? 'was' : 'were'} put back before it` : '';
    throw new Error(
      `putting ${item.entry.path} back into ${context.home} failed (${errorMessage(error)}); ${before || 'nothing was changed'}. ` +
        `Fix the cause (free space, permissions, a mount at ${target}), then run the restore again: it puts every item back anew`,
      { cause: error },
    );
  }
}

/** Runs tar to its end; `read` gets its stdout (otherwise ignored). A failure is a ClientToolError with tar's stderr. */
async function runTar(
  tar: ResolvedTool,
  args: string[],
  what: string,
  read?: (stdout: NodeJS.ReadableStream) => Promise<void>,
): Promise<void> {
  const run = startTool(tar, args, toolEnv(), 'ignore', new SecretMasker());
  const output = read ? read(run.child.stdout) : drain(run.child.stdout);
  await superviseTool(run, what, [output]);
}

async function drain(stream: NodeJS.ReadableStream): Promise<void> {
  for await (const _chunk of stream) {
    // stdout is not used; reading it keeps the tool from blocking on a full pipe.
  }
}

/** tar and gzip as found on PATH, or an error that names the Debian package. */
async function findTool(name: 'tar' | 'gzip', role: ToolRole): Promise<ResolvedTool> {
  const found = await locateOnPath(name);
  return requireTool({ role, name, ...(found === undefined ? {} : { path: found }) }, name);
}

/** The environment for tar: TAR_OPTIONS and GZIP would add options of their own, and messages are read in English. */
function toolEnv(): NodeJS.ProcessEnv {
  const { TAR_OPTIONS: _tarOptions, GZIP: _gzipOptions, ...env } = process.env;
  return { ...env, LC_ALL: 'C' };
}

interface FolderSurvey {
  /** Regular files, at any depth. */
  entries: number;
  /** The sum of their sizes. */
  contentBytes: number;
  /** What must not be stored or put back: links that lead out of the folder or nowhere, devices, set-user-ID files. */
  problems: string[];
}

/** Counts a folder's regular files and their bytes, without following links; notes what a backup cannot keep. */
async function surveyFolder(root: string): Promise<FolderSurvey> {
  const realRoot = await realpath(root);
  const survey: FolderSurvey = { entries: 0, contentBytes: 0, problems: [] };
  const walk = async (folder: string): Promise<void> => {
    const children: Dirent[] = await readdir(folder, { withFileTypes: true });
    for (const child of children) {
      const full = path.join(folder, child.name);
      const name = path.relative(root, full).split(path.sep).join('/');
      if (child.isDirectory()) await walk(full);
      else if (child.isFile()) {
        const info = await lstat(full);
        survey.entries += 1;
        survey.contentBytes += info.size;
        // tar run as root keeps the modes of the archive, and the files are root's until they are given back.
        if ((info.mode & 0o6000) !== 0) survey.problems.push(`"${name}" is a set-user-ID or set-group-ID file`);
      } else if (child.isSymbolicLink()) {
        const problem = await linkProblem(realRoot, full);
        if (problem !== undefined) survey.problems.push(`"${name}" ${problem}`);
      } else survey.problems.push(`"${name}" is ${describeType(await lstat(full))}`);
    }
  };
  await walk(root);
  return survey;
}

/** Why a link must not be kept: it leads out of the folder (also through other links), or to nothing. */
async function linkProblem(realRoot: string, link: string): Promise<string | undefined> {
  const target = await readlink(link).catch(() => '?');
  const resolved = await realpath(link).catch(() => undefined);
  if (resolved === undefined) return `is a symbolic link to "${target}", which does not exist`;
  const rest = path.relative(realRoot, resolved);
  if (rest === '..' || rest.startsWith(`..${path.sep}`) || path.isAbsolute(rest)) {
    return `is a symbolic link to "${target}", which leads out of the folder`;
  }
  return undefined;
}

function describeType(info: Stats): string {
  if (info.isSymbolicLink()) return 'a symbolic link';
  if (info.isDirectory()) return 'a folder';
  if (info.isFile()) return 'a file';
  if (info.isFIFO()) return 'a named pipe';
  if (info.isSocket()) return 'a socket';
  return 'a device';
}

function formatNames(names: readonly string[]): string {
  const shown = names.slice(0, QUOTED_NAMES).join(', ');
  return names.length > QUOTED_NAMES ? `${shown} and ${names.length - QUOTED_NAMES} more` : shown;
}

/** An item's place under `root`, from its POSIX path (checked by homeFilePathSchema: it stays under `root`). */
function homePath(root: string, item: string): string {
  return path.join(root, ...item.split('/'));
}

async function isFolder(file: string): Promise<boolean> {
  return stat(file).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

async function lstatIfAny(file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
