/**
 * createParallelGzip (src/db/backup.ts): blocks compressed on several threads and written in order must read back
 * byte for byte, with Node's gunzip and with the stock gunzip, whatever the block boundaries.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createParallelGzip } from '../../src/backup/parallel-gzip.js';

async function compress(input: Buffer, chunkBytes: number, options: { blockBytes?: number; inFlight?: number }) {
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; at += chunkBytes) chunks.push(input.subarray(at, at + chunkBytes));
  const output: Buffer[] = [];
  await pipeline(Readable.from(chunks), createParallelGzip(options), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) output.push(chunk);
  });
  return Buffer.concat(output);
}

/** Half text that compresses, half random bytes, as a dump of an API-M database is. */
function dumpLike(bytes: number): Buffer {
  const text = Buffer.from('INSERT INTO REG_CONTENT VALUES (1,0x7b22737761676765);\n'.repeat(Math.ceil(bytes / 110)));
  return Buffer.concat([text.subarray(0, bytes / 2), randomBytes(bytes - bytes / 2)]);
}

describe('createParallelGzip', () => {
  it.each([
    { name: 'many blocks, chunks that straddle them', size: 300_000, chunk: 7_001, blockBytes: 16_384, inFlight: 3 },
    { name: 'one block larger than the input', size: 50_000, chunk: 65_536, blockBytes: 1_048_576, inFlight: 2 },
    { name: 'a block per chunk, exactly', size: 64_000, chunk: 16_000, blockBytes: 16_000, inFlight: 4 },
  ])('reads back byte for byte: $name', async ({ size, chunk, blockBytes, inFlight }) => {
    const input = dumpLike(size);
    const gz = await compress(input, chunk, { blockBytes, inFlight });
    expect(gunzipSync(gz).equals(input)).toBe(true);
    expect(execFileSync('gunzip', ['-c'], { input: gz }).equals(input)).toBe(true);
    // A block is cut once at least blockBytes are buffered, and becomes a gzip member of its own. (Only a lower
    // bound: compressed bytes may happen to look like a member's header.)
    const members = gz.reduce(
      (count, byte, at) => count + (byte === 0x1f && gz[at + 1] === 0x8b && gz[at + 2] === 8 ? 1 : 0),
      0,
    );
    expect(members).toBeGreaterThanOrEqual(Math.floor(size / (blockBytes + chunk)));
  });

  it('makes a valid, empty gzip file of no input', async () => {
    const gz = await compress(Buffer.alloc(0), 1, {});
    expect(gz.length).toBeGreaterThan(0);
    expect(gunzipSync(gz).length).toBe(0);
  });
});
