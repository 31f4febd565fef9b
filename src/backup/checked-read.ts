/**
 * Reads of a stored backup file in which every byte is hashed as it is read, so that what a check or a restore tool
 * gets is what was hashed, never a second open of a file that may have changed in between.
 */

import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

/** Blocks of 1 MiB: the sha256 of all the bytes up to the end of each one is a checkpoint. */
export const CHECKPOINT_BYTES = 1024 * 1024;

/** What the manifest says of a file. */
export interface ExpectedFile {
  bytes: number;
  sha256: string;
}

/**
 * The first read records a checkpoint per block; a later read gives out each block only once its checkpoint is the
 * recorded one, so that it gives out nothing the first read did not see.
 */
export type Checkpoints = { record: string[] } | { verify: readonly string[] };

/** The file is not the one the manifest describes, or no longer the one read before; `problem` says how. */
export class StoredFileMismatch extends Error {
  constructor(readonly problem: string) {
    super(problem);
    this.name = 'StoredFileMismatch';
  }
}

/**
 * Reads the manifest's size of `file` once, in blocks that it hashes as it goes, and gives out each block after its
 * check: with `verify`, its checkpoint; the last block also the file's size and sha256 against the manifest's. With
 * `record`, only the last block is checked, so a consumer of the first read must not act before the read has ended.
 * A difference throws StoredFileMismatch before the block that holds it is given out.
 */
export async function* readCheckedFile(
  file: string,
  expected: ExpectedFile,
  checkpoints: Checkpoints,
): AsyncGenerator<Buffer, void, undefined> {
  const handle = await open(file, 'r');
  try {
    const hash = createHash('sha256');
    let position = 0;
    let index = 0;
    do {
      const size = Math.min(CHECKPOINT_BYTES, expected.bytes - position);
      const block = Buffer.allocUnsafe(size);
      const read = await readFully(handle, block, position);
      if (read < size) {
        throw new StoredFileMismatch(`it ends after ${position + read} bytes instead of ${expected.bytes}`);
      }
      hash.update(block);
      const last = position + size === expected.bytes;
      // A copy of the running hash gives the digest of the bytes so far without ending the hash.
      const digest = last ? hash.digest('hex') : hash.copy().digest('hex');
      if ('verify' in checkpoints) {
        if (checkpoints.verify[index] !== digest) {
          throw new StoredFileMismatch(
            `its bytes ${position} to ${position + size} differ from those read and checked before`,
          );
        }
      } else checkpoints.record.push(digest);
      if (last) {
        if ((await readFully(handle, Buffer.alloc(1), position + size)) > 0) {
          throw new StoredFileMismatch(`it holds more than ${expected.bytes} bytes`);
        }
        if (digest !== expected.sha256) {
          throw new StoredFileMismatch(`sha256 ${digest} instead of ${expected.sha256}`);
        }
      }
      position += size;
      index += 1;
      if (size > 0) yield block;
    } while (position < expected.bytes);
  } finally {
    await handle.close();
  }
}

/** Reads into all of `buffer` from `position`; fewer bytes only at the end of the file. */
async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
