/**
 * backup/compression.ts with the real zstd tool: what it compresses the stock tool reads, what it decompresses is the
 * input byte for byte, a foreign, damaged or cut file fails as the file's fault, and a read stopped early leaves no
 * decompressor running.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseDumpVariant, decompressDump, startCompressor } from '../../src/backup/compression.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { ClientToolError, requireTool, type ResolvedTool } from '../../src/db/client-process.js';
import { findZstd } from '../../src/db/client-tools.js';
import { DumpFormatError } from '../../src/db/dialect.js';
import { dialectOf } from '../../src/db/dialects.js';

const masker = new SecretMasker();
const BUFFER = 64 * 1024 * 1024;
let zstd: ResolvedTool;
let dir: string;

/** Half text a dump would hold, half random bytes, in chunks as a dump tool writes them. */
function dumpLike(): Buffer {
  const text = Buffer.from("INSERT INTO AM_API VALUES (1, 'PizzaShackAPI', '1.0.0', 'admin');\n".repeat(20_000));
  return Buffer.concat([text, randomBytes(1024 * 1024 + 17), text]);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function childCommands(): string[] {
  const result = spawnSync('ps', ['-o', 'comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return result.stdout.split('\n').filter((line) => line.trim() !== '');
}

async function compressWithStartCompressor(input: Buffer, file: string): Promise<void> {
  const compressor = startCompressor('zstd', zstd, masker, 'compressing a test dump');
  await compressor.supervise(pipeline([Readable.from([input]), ...compressor.stages, createWriteStream(file)]));
}

beforeAll(async () => {
  zstd = requireTool(await findZstd(), 'zstd');
  dir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-compression-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('zstd', () => {
  it('compresses what the stock tool decompresses, and decompresses it back byte for byte', async () => {
    const input = dumpLike();
    const file = path.join(dir, 'dump.zst');
    await compressWithStartCompressor(input, file);
    const compressed = await readFile(file);
    expect(compressed.length).toBeLessThan(input.length);
    expect(execFileSync('zstd', ['-d', '-c', '-q', file], { maxBuffer: BUFFER }).equals(input)).toBe(true);

    const plain = decompressDump('zstd', Readable.from([compressed]), { zstd, masker, what: 'decompressing dump.zst' });
    expect((await readAll(plain)).equals(input)).toBe(true);
  });

  it('refuses a file that is not zstd, and one that is damaged or cut short, as the file', async () => {
    const compressed = execFileSync('zstd', ['-q', '-c'], { input: dumpLike(), maxBuffer: BUFFER });
    const read = (bytes: Buffer) =>
      readAll(decompressDump('zstd', Readable.from([bytes]), { zstd, masker, what: 'decompressing dump.zst' }));

    await expect(read(Buffer.from('PGDMP, but not compressed'))).rejects.toThrow(DumpFormatError);
    await expect(read(Buffer.from('PGDMP, but not compressed'))).rejects.toThrow(/is not a zstd-compressed file/);
    const cut = compressed.subarray(0, Math.floor(compressed.length / 2));
    await expect(read(cut)).rejects.toThrow(/is damaged or cut short \(zstd failed while decompressing dump\.zst/);
    const damaged = Buffer.from(compressed);
    const at = Math.floor(damaged.length / 2);
    damaged[at] = (damaged[at] ?? 0) ^ 0xff;
    await expect(read(damaged)).rejects.toThrow(DumpFormatError);
  });

  it('passes on a failure of the read that feeds it as that failure, not as a damaged file', async () => {
    const compressed = execFileSync('zstd', ['-q', '-c'], { input: dumpLike(), maxBuffer: BUFFER });
    async function* failing(): AsyncGenerator<Buffer> {
      yield compressed.subarray(0, 64 * 1024);
      throw new Error('the stored file changed');
    }
    const plain = decompressDump('zstd', Readable.from(failing()), { zstd, masker, what: 'decompressing dump.zst' });
    const error = await readAll(plain).catch((reason: unknown) => reason);
    expect(error).not.toBeInstanceOf(DumpFormatError);
    expect((error as Error).message).toBe('the stored file changed');
  });

  it('stops the decompressor when the read stops early', async () => {
    const compressed = execFileSync('zstd', ['-q', '-c'], {
      input: Buffer.concat([dumpLike(), dumpLike()]),
      maxBuffer: BUFFER,
    });
    const plain = decompressDump('zstd', Readable.from([compressed]), { zstd, masker, what: 'decompressing' });
    for await (const chunk of plain as AsyncIterable<Buffer>) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    await expect.poll(() => childCommands().filter((command) => command === 'zstd')).toEqual([]);
  });

  it('fails the backup when the compressor fails', async () => {
    const broken: ResolvedTool = { ...zstd, path: '/bin/false' };
    const compressor = startCompressor('zstd', broken, masker, 'compressing the dump of apim_db');
    const file = path.join(dir, 'broken.zst');
    const writing = pipeline([Readable.from([dumpLike()]), ...compressor.stages, createWriteStream(file)]);
    await expect(compressor.supervise(writing)).rejects.toThrow(ClientToolError);
  });
});

describe('gzip and the dump tool', () => {
  it('decompresses gzip in Node, refusing what is not gzip or is cut short', async () => {
    const input = dumpLike();
    const compressor = startCompressor('gzip', undefined, masker, 'compressing');
    const file = path.join(dir, 'dump.gz');
    await compressor.supervise(pipeline([Readable.from([input]), ...compressor.stages, createWriteStream(file)]));
    const options = { zstd: undefined, masker, what: 'decompressing' };
    const gz = await readFile(file);
    expect((await readAll(decompressDump('gzip', Readable.from([gz]), options))).equals(input)).toBe(true);

    await expect(readAll(decompressDump('gzip', Readable.from([Buffer.from('text')]), options))).rejects.toThrow(
      /is not a gzip file/,
    );
    const cut = gzipSync(input).subarray(0, 200_000);
    await expect(readAll(decompressDump('gzip', Readable.from([cut]), options))).rejects.toThrow(
      /is damaged or cut short/,
    );
  });

  it('leaves a dump the tool compressed itself as it is', async () => {
    const input = Buffer.from('PGDMP archive bytes');
    await writeFile(path.join(dir, 'tool.pgdump'), input);
    const plain = decompressDump('tool', Readable.from([input]), { zstd: undefined, masker, what: 'reading' });
    expect((await readAll(plain)).equals(input)).toBe(true);
    expect(startCompressor('tool', undefined, masker, 'compressing').stages).toEqual([]);
  });
});

describe('chooseDumpVariant', () => {
  it('writes zstd dumps where zstd is installed, and the earlier formats where it is not', () => {
    const missing = { role: 'compress' as const, name: 'zstd' };
    expect(chooseDumpVariant(dialectOf('postgresql'), zstd).format).toBe('pg-custom-zstd');
    expect(chooseDumpVariant(dialectOf('postgresql'), missing)).toEqual({
      format: 'pg-custom',
      extension: '.pgdump',
      compression: 'tool',
    });
    expect(chooseDumpVariant(dialectOf('mariadb'), zstd).format).toBe('sql-zstd');
    expect(chooseDumpVariant(dialectOf('mysql'), missing)).toEqual({
      format: 'sql-gzip',
      extension: '.sql.gz',
      compression: 'gzip',
    });
  });
});
