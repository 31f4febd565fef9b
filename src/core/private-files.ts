/**
 * The modes of what apim-migrate writes on a shared machine: its work folders, logs, reports and the local store.
 * Modes are set explicitly after creation, so the umask neither widens nor narrows them; folders that already
 * existed keep theirs (they are someone's, and may be shared on purpose).
 */
import { once } from 'node:events';
import { createReadStream, type WriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import type { SecretMasker } from './secrets.js';

export interface FileModes {
  readonly dir: number;
  readonly file: number;
}

/** Only the account that runs apim-migrate. */
export const OWNER_ONLY: FileModes = { dir: 0o700, file: 0o600 };

/** The owner and its group (`store.groupAccess: true`): runner accounts of one group that share a store. */
export const OWNER_AND_GROUP: FileModes = { dir: 0o750, file: 0o640 };

export function storeModes(groupAccess: boolean): FileModes {
  return groupAccess ? OWNER_AND_GROUP : OWNER_ONLY;
}

/**
 * Creates `dir` and its missing parents, each with exactly `modes.dir`; folders that exist keep their modes.
 * Returns the folders it created, outermost first.
 */
export async function makePrivateDir(dir: string, modes: FileModes = OWNER_ONLY): Promise<string[]> {
  const missing: string[] = [];
  for (let current = path.resolve(dir); !(await exists(current)); current = path.dirname(current)) {
    missing.unshift(current);
    if (path.dirname(current) === current) break;
  }
  const created: string[] = [];
  for (const folder of missing) {
    try {
      await mkdir(folder, { mode: modes.dir });
    } catch (error) {
      // Made by someone else in the meantime: theirs, and its modes with it.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    await chmod(folder, modes.dir);
    created.push(folder);
  }
  return created;
}

/** Creates the folder `dir`, whose parent exists, with exactly `modes.dir`; fails with EEXIST when it exists. */
export async function makePrivateFolder(dir: string, modes: FileModes = OWNER_ONLY): Promise<void> {
  await mkdir(dir, { mode: modes.dir });
  await chmod(dir, modes.dir);
}

/**
 * Writes `data` to `file` with exactly `modes.file`. A new file is created with that mode (never wider, whatever the
 * umask); an existing one is narrowed before anything is written to it.
 */
export async function writePrivateFile(
  file: string,
  data: string | Uint8Array,
  modes: FileModes = OWNER_ONLY,
  flag = 'w',
): Promise<void> {
  const handle = await open(file, flag, modes.file);
  try {
    await handle.chmod(modes.file);
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/**
 * `file` opened with `flags` and exactly `modes.file`, narrowed before the first byte is written: e.g. a file a
 * child process writes to through its descriptor.
 */
export async function openPrivateFile(file: string, flags = 'w', modes: FileModes = OWNER_ONLY): Promise<FileHandle> {
  const handle = await open(file, flags, modes.file);
  try {
    await handle.chmod(modes.file);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

/** A write stream to `file` with exactly `modes.file`, opened (and narrowed) before the first byte is written. */
export async function openPrivateWriteStream(
  file: string,
  flags = 'w',
  modes: FileModes = OWNER_ONLY,
): Promise<WriteStream> {
  return (await openPrivateFile(file, flags, modes)).createWriteStream();
}

/** Copies `source` to `target` and gives the copy `modes.file` (copyFile gives it the source's mode). */
export async function copyPrivateFile(source: string, target: string, modes: FileModes = OWNER_ONLY): Promise<void> {
  await copyFile(source, target);
  await chmod(target, modes.file);
}

/** Copies a text file line by line into a private file with the secrets hidden; a missing file is skipped. */
export async function copyMasked(source: string, target: string, masker: SecretMasker): Promise<void> {
  const input = createReadStream(source);
  const opened = await once(input, 'open').then(
    () => true,
    () => false,
  );
  if (!opened) return;
  const output = await openPrivateWriteStream(target);
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (!output.write(`${masker.mask(line)}\n`)) await once(output, 'drain');
  }
  output.end();
  await finished(output);
}

/** The permission bits of `file` beyond `allowed` (0 when none), or undefined when it does not exist. */
export async function modeBitsBeyond(file: string, allowed: number): Promise<number | undefined> {
  const info = await stat(file).catch(() => undefined);
  return info === undefined ? undefined : info.mode & 0o777 & ~allowed;
}

/** `0755` */
export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
