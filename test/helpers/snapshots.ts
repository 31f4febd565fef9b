/**
 * "Nothing changed": digests of a folder tree and of a database's tables, taken before and after something that
 * must not change them.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { tableChecksums, type TableChecksums } from '../../src/db/table-checksums.js';
import type { MigrationSetup } from './migration-setup.js';

/** Relative path to `dir`, `link -> target` or `file <mode> <size> <sha256>`. */
export type TreeDigest = Record<string, string>;

export async function digestTree(root: string): Promise<TreeDigest> {
  const digest: TreeDigest = {};
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const relative = path.relative(root, full);
      const info = await lstat(full);
      if (info.isSymbolicLink()) digest[relative] = `link -> ${await readlink(full)}`;
      else if (info.isDirectory()) {
        digest[relative] = `dir ${(info.mode & 0o7777).toString(8)}`;
        await walk(full);
      } else {
        const sha256 = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
        digest[relative] = `file ${(info.mode & 0o7777).toString(8)} ${info.size} ${sha256}`;
      }
    }
  }
  await walk(root);
  return digest;
}

export interface Snapshot {
  /** The setup's folder: config, homes, kits, the local store. */
  files: TreeDigest;
  /** Where the tool's work folders go (TMPDIR or RUNNER_TEMP). */
  temp: TreeDigest;
  /** Every table of the setup's scratch database. */
  tables: TableChecksums;
}

export async function takeSnapshot(setup: MigrationSetup, tempDir: string): Promise<Snapshot> {
  const session = await setup.adminSession();
  try {
    return {
      files: await digestTree(setup.dir),
      temp: await digestTree(tempDir),
      tables: await tableChecksums(session),
    };
  } finally {
    await session.close();
  }
}

export function expectUnchanged(before: Snapshot, after: Snapshot): void {
  expect(after.files, 'files of the setup').toEqual(before.files);
  expect(after.temp, 'work folders').toEqual(before.temp);
  expect(after.tables, 'database tables').toEqual(before.tables);
}
