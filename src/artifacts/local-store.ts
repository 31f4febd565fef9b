import { chmod, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../core/files.js';
import {
  copyPrivateFile,
  formatMode,
  makePrivateDir,
  makePrivateFolder,
  modeBitsBeyond,
  OWNER_ONLY,
  storeModes,
  writePrivateFile,
  type FileModes,
} from '../core/private-files.js';
import {
  ArtifactExistsError,
  ArtifactNotFoundError,
  type ArtifactStore,
  type StoredArtifact,
  type StoredFile,
  type UploadOptions,
} from './store.js';

const INDEX_FILE = '.artifact.json';

export interface LocalFolderStoreOptions {
  /** `store.groupAccess`: folders 0750 and files 0640 instead of 0700 and 0600. */
  groupAccess?: boolean;
  /** Told once when a store folder that was there already lets more accounts in than the store's modes. */
  onWarning?: (message: string) => void;
}

/**
 * The artifact store outside GitHub Actions: `<dir>/runs/<runId>/<artifact>/<files>`.
 * An artifact appears whole or not at all (it is assembled beside its place and renamed into it),
 * and an existing one is never replaced. What the store creates is 0700 and 0600 (0750 and 0640 with groupAccess),
 * whatever the umask; a folder that was there already keeps its modes, with a warning when they are wider.
 */
export class LocalFolderStore implements ArtifactStore {
  readonly kind = 'folder';
  readonly description: string;
  private readonly modes: FileModes;
  private warned = false;

  constructor(
    readonly dir: string,
    readonly runId: string,
    private readonly options: LocalFolderStoreOptions = {},
  ) {
    this.description = `local folder ${dir}`;
    this.modes = storeModes(options.groupAccess ?? false);
  }

  async upload(name: string, files: readonly string[], options: UploadOptions = {}): Promise<StoredArtifact> {
    assertSafeName(name);
    const runDir = this.runDir(this.runId);
    const target = path.join(runDir, name);
    if (await exists(target)) throw new ArtifactExistsError(name, this.runId);
    await makePrivateDir(runDir, this.modes);
    await this.warnAboutWideFolders(runDir);
    const partial = path.join(runDir, `.${name}.partial-${process.pid}`);
    await rm(partial, { recursive: true, force: true });
    await makePrivateFolder(partial, this.modes);
    const moved: Array<[from: string, to: string]> = [];
    try {
      const stored: StoredFile[] = [];
      for (const file of files) {
        const base = path.basename(file);
        if (stored.some((entry) => entry.name === base)) throw new Error(`two files named ${base} in artifact ${name}`);
        const storedPath = path.join(partial, base);
        if (options.moveFiles && (await moveFile(file, storedPath))) {
          moved.push([file, storedPath]);
          await chmod(storedPath, this.modes.file);
        } else {
          await copyPrivateFile(file, storedPath, this.modes);
        }
        // The size and digest of what the store holds, read from its own copy.
        stored.push({ name: base, size: (await stat(storedPath)).size, sha256: await sha256File(storedPath) });
      }
      const artifact: StoredArtifact = {
        name,
        id: `${this.runId}/${name}`,
        runId: this.runId,
        location: target,
        localDir: target,
        files: stored,
      };
      await writePrivateFile(path.join(partial, INDEX_FILE), `${JSON.stringify(artifact, null, 2)}\n`, this.modes);
      // rename() onto an existing folder fails, so a racing upload of the same name cannot replace this one.
      await rename(partial, target).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOTEMPTY' || error.code === 'EEXIST') throw new ArtifactExistsError(name, this.runId);
        throw error;
      });
      moved.length = 0;
      return artifact;
    } finally {
      // A failed upload gives the moved files back before the partial folder goes.
      for (const [from, to] of moved) await rename(to, from).catch(() => undefined);
      await rm(partial, { recursive: true, force: true });
    }
  }

  async list(options: { runId?: string } = {}): Promise<StoredArtifact[]> {
    const runDir = this.runDir(options.runId ?? this.runId);
    const entries = await readdir(runDir, { withFileTypes: true }).catch(() => []);
    const artifacts: StoredArtifact[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const dir = path.join(runDir, entry.name);
      const index = await readFile(path.join(dir, INDEX_FILE), 'utf8').catch(() => undefined);
      if (index === undefined) continue;
      // The files are where the index is: a store that was moved or copied still reads its own files.
      const artifact = JSON.parse(index) as StoredArtifact;
      artifacts.push({ ...artifact, location: dir, localDir: dir });
    }
    return artifacts.sort((a, b) => a.name.localeCompare(b.name));
  }

  async localFolder(name: string, options: { runId?: string } = {}): Promise<string | undefined> {
    assertSafeName(name);
    return (await this.list(options)).find((entry) => entry.name === name)?.localDir;
  }

  async download(name: string, destination: string, options: { runId?: string } = {}): Promise<string[]> {
    assertSafeName(name);
    const runId = options.runId ?? this.runId;
    const artifact = (await this.list({ runId })).find((entry) => entry.name === name);
    if (!artifact) throw new ArtifactNotFoundError(name, runId, this.description);
    await makePrivateDir(destination);
    const paths: string[] = [];
    for (const file of artifact.files) {
      const target = path.join(destination, file.name);
      await copyPrivateFile(path.join(artifact.location, file.name), target).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        throw new Error(
          `artifact ${name} of run ${runId} is incomplete: ${file.name} is missing from ${artifact.location}`,
        );
      });
      paths.push(target);
    }
    return paths;
  }

  private runDir(runId: string): string {
    assertSafeName(runId);
    return path.join(this.dir, 'runs', runId);
  }

  /**
   * The store's own folders that were there before (made by hand, or by an earlier version with the umask's modes)
   * are left as they are: changing them could lock out whoever shares them on purpose. The artifacts inside are
   * private anyway, but other accounts can list their names, and that is said once.
   */
  private async warnAboutWideFolders(runDir: string): Promise<void> {
    if (this.warned || !this.options.onWarning) return;
    this.warned = true;
    for (const folder of [this.dir, path.dirname(runDir), runDir]) {
      const wider = await modeBitsBeyond(folder, this.modes.dir);
      if (!wider) continue;
      const mode = formatMode((await stat(folder)).mode);
      this.options.onWarning(
        `the store folder ${folder} is ${mode}, so other accounts of this machine can list the artifacts in it ` +
          `(each artifact's own folder is ${formatMode(this.modes.dir)} and its files ${formatMode(this.modes.file)}); ` +
          `apim-migrate leaves the modes of folders it did not create as they are: run chmod ${formatMode(this.modes.dir).slice(1)} ${folder}` +
          (this.options.groupAccess
            ? ''
            : ', or set store.groupAccess: true when runner accounts of one group share the store'),
      );
    }
  }
}

/**
 * A local run id that sorts by time: `20261124T203300Z`, with a suffix if that second is taken. The store's folders
 * it creates get the store's modes (`modes`, default owner only).
 */
export async function newLocalRunId(
  dir: string,
  now: Date = new Date(),
  modes: FileModes = OWNER_ONLY,
): Promise<string> {
  const stamp = runStamp(now);
  await makePrivateDir(path.join(dir, 'runs'), modes);
  for (let suffix = 1; ; suffix += 1) {
    const runId = suffix === 1 ? stamp : `${stamp}-${suffix}`;
    try {
      // Creating the run's folder claims the id, so two invocations in the same second differ.
      await makePrivateFolder(path.join(dir, 'runs', runId), modes);
      return runId;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** The UTC second of `now` as a run id sorts by time: `20261124T203300Z`. */
export function runStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** Removes a run's folder if nothing was stored in it: rmdir refuses a folder that holds anything. */
export async function removeEmptyRunFolder(dir: string, runId: string): Promise<void> {
  await rmdir(path.join(dir, 'runs', runId)).catch(() => undefined);
}

/** Renames `file` to `target`; false when they are on different filesystems, where only a copy can do it. */
async function moveFile(file: string, target: string): Promise<boolean> {
  try {
    await rename(file, target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EXDEV') return false;
    throw error;
  }
}

function assertSafeName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    throw new Error(`not a safe artifact or run name: ${JSON.stringify(name)}`);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
