import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_BYTES, readCheckedFile, StoredFileMismatch } from '../../src/backup/checked-read.js';

let dir: string;
let bytes: Buffer;
const expected = () => ({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-checked-read-'));
  // Three full blocks and a part of a fourth.
  bytes = randomBytes(3 * CHECKPOINT_BYTES + 1234);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Reads all a generator gives out, and what it threw at the end. */
async function drain(read: AsyncIterable<Buffer>): Promise<{ given: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of read) chunks.push(chunk);
    return { given: Buffer.concat(chunks) };
  } catch (error) {
    return { given: Buffer.concat(chunks), error };
  }
}

async function fileWith(content: Buffer): Promise<string> {
  const file = path.join(dir, `f-${randomBytes(4).toString('hex')}`);
  await writeFile(file, content);
  return file;
}

describe('readCheckedFile', () => {
  it('records a checkpoint per block, and a second read of the same bytes gives them all out', async () => {
    const file = await fileWith(bytes);
    const record: string[] = [];
    expect((await drain(readCheckedFile(file, expected(), { record }))).given.equals(bytes)).toBe(true);
    expect(record).toHaveLength(4);
    expect(record.at(-1)).toBe(expected().sha256);
    const again = await drain(readCheckedFile(file, expected(), { verify: record }));
    expect(again.error).toBeUndefined();
    expect(again.given.equals(bytes)).toBe(true);
  });

  it('gives out nothing of a block that differs from the checked read, and stops there', async () => {
    const file = await fileWith(bytes);
    const record: string[] = [];
    await drain(readCheckedFile(file, expected(), { record }));
    const changed = Buffer.from(bytes);
    changed[2 * CHECKPOINT_BYTES + 7] = (changed[2 * CHECKPOINT_BYTES + 7] ?? 0) ^ 1;
    await writeFile(file, changed);
    const { given, error } = await drain(readCheckedFile(file, expected(), { verify: record }));
    expect(error).toBeInstanceOf(StoredFileMismatch);
    expect((error as StoredFileMismatch).problem).toMatch(`its bytes ${2 * CHECKPOINT_BYTES} to`);
    expect(given.equals(bytes.subarray(0, 2 * CHECKPOINT_BYTES))).toBe(true);
  });

  it('holds back the last block of a first read whose sha256 is not the manifest one', async () => {
    const changed = Buffer.from(bytes);
    changed[100] = (changed[100] ?? 0) ^ 1;
    const file = await fileWith(changed);
    const { given, error } = await drain(readCheckedFile(file, expected(), { record: [] }));
    expect((error as StoredFileMismatch).problem).toMatch(/^sha256 [0-9a-f]{64} instead of/);
    expect(given.length).toBe(3 * CHECKPOINT_BYTES);
  });

  it('refuses a file that became shorter or longer', async () => {
    const shorter = await fileWith(bytes);
    await truncate(shorter, bytes.length - 10);
    expect(((await drain(readCheckedFile(shorter, expected(), { record: [] }))).error as Error).message).toMatch(
      `it ends after ${bytes.length - 10} bytes instead of ${bytes.length}`,
    );
    const longer = await fileWith(bytes);
    await appendFile(longer, 'x');
    expect(((await drain(readCheckedFile(longer, expected(), { record: [] }))).error as Error).message).toMatch(
      `it holds more than ${bytes.length} bytes`,
    );
  });
});
