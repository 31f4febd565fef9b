import { copyFile, mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../core/files.js';
import {
  ArtifactExistsError,
  ArtifactNotFoundError,
  type ArtifactStore,
  type StoredArtifact,
  type StoredFile,
  type UploadOptions,
} from './store.js';

const INDEX_FILE = '.artifact.json';

/**
 * The artifact store outside GitHub Actions: `<dir>/runs/<runId>/<artifact>/<files>`.
 * An artifact appears whole or not at all (it is assembled beside its place and renamed into it),
 * and an existing one is never replaced.
 */
export class LocalFolderStore implements ArtifactStore {
  readonly kind = 'local';
  readonly description: string;

  constructor(
    readonly dir: string,
    readonly runId: string,
  ) {
    this.description = `local folder ${dir}`;
  }

  async upload(name: string, files: readonly string[], options: UploadOptions = {}): Promise<StoredArtifact> {
    assertSafeName(name);
    const runDir = this.runDir(this.runId);
    const target = path.join(runDir, name);
    if (await exists(target)) throw new ArtifactExistsError(name, this.runId);
    await mkdir(runDir, { recursive: true });
    const partial = path.join(runDir, `.${name}.partial-${process.pid}`);
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial);
    const moved: Array<[from: string, to: string]> = [];
    try {
      const stored: StoredFile[] = [];
      for (const file of files) {
        const base = path.basename(file);
        if (stored.some((entry) => entry.name === base)) throw new Error(`two files named ${base} in artifact ${name}`);
        const storedPath = path.join(partial, base);
        if (options.moveFiles && (await moveFile(file, storedPath))) moved.push([file, storedPath]);
        else await copyFile(file, storedPath);
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
      await writeFile(path.join(partial, INDEX_FILE), `${JSON.stringify(artifact, null, 2)}\n`);
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
    await mkdir(destination, { recursive: true });
    const paths: string[] = [];
    for (const file of artifact.files) {
      const target = path.join(destination, file.name);
      await copyFile(path.join(artifact.location, file.name), target).catch((error: NodeJS.ErrnoException) => {
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
}

/** A local run id that sorts by time: `20261124T203300Z`, with a suffix if that second is taken. */
export async function newLocalRunId(dir: string, now: Date = new Date()): Promise<string> {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  await mkdir(path.join(dir, 'runs'), { recursive: true });
  for (let suffix = 1; ; suffix += 1) {
    const runId = suffix === 1 ? stamp : `${stamp}-${suffix}`;
    try {
      // Creating the run's folder claims the id, so two invocations in the same second differ.
      await mkdir(path.join(dir, 'runs', runId));
      return runId;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
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
