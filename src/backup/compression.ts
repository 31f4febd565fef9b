/**
 * How dump files are compressed and decompressed. Where zstd's command-line tool is installed, it compresses on every
 * core behind a dump tool that does not compress (`pg_dump -Fc -Z0`, mysqldump): several times faster than pg_dump's
 * own zlib or gzip, which were the bottleneck of a backup (docs/benchmarks.md). Without it a backup is written as
 * before: compressed by pg_dump itself, or gzip on several of Node's threads. The manifest names the format, so a
 * restore decompresses what the backup wrote, whichever it was.
 */

import os from 'node:os';
import { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { errorMessage } from '../core/errors.js';
import type { SecretMasker } from '../core/secrets.js';
import { readStart } from '../core/streams.js';
import { ClientToolError, feedTool, startTool, superviseTool, type ResolvedTool } from '../db/client-process.js';
import type { ClientTool } from '../db/client-tools.js';
import { DumpFormatError, type Dialect, type DumpCompression, type DumpVariant } from '../db/dialect.js';
import { createParallelGzip } from './parallel-gzip.js';

/**
 * zstd's level 1. On the uncompressed archive of the bench's 1.05 GiB PostgreSQL database (1.8 GB, half of it hex
 * text of random bytes) two threads took 5.9 s at level 1 (580 MB), 5.5 s at level 2 (582 MB) with more CPU time and
 * 11.2 s at level 3 (604 MB); pg_dump's own zlib took 64 s for 638 MB in the same run (docs/benchmarks.md).
 */
const ZSTD_LEVEL = 1;

/** 1 MiB output chunks: fewer, larger writes into the restore tool's stdin. */
const GUNZIP_OPTIONS = { chunkSize: 1024 * 1024 };

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** The magic number of a zstd frame (RFC 8878, 3.1.1), little-endian 0xFD2FB528. */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** The variant a backup writes: the dialect's first whose compressor this machine has (the last needs none). */
export function chooseDumpVariant(dialect: Dialect, zstd: ClientTool): DumpVariant {
  const variants = dialect.dumpVariants;
  return (
    variants.find((variant) => variant.compression !== 'zstd' || zstd.path !== undefined) ??
    variants.at(-1) ??
    variants[0]
  );
}

/** The variant a dump of this format was written as; undefined when the dialect does not write that format. */
export function dumpVariantOf(dialect: Dialect, format: string): DumpVariant | undefined {
  return dialect.dumpVariants.find((variant) => variant.format === format);
}

/** How a variant is compressed, for the log and the bench: `zstd -1 on 2 threads`, `pg_dump's own zlib`. */
export function describeCompression(variant: DumpVariant, dumpTool: string): string {
  if (variant.compression === 'zstd') return `zstd -${ZSTD_LEVEL} on ${zstdThreads()} threads`;
  if (variant.compression === 'gzip') return 'gzip -6 in 1 MiB blocks on several threads';
  return `${dumpTool}'s own zlib`;
}

function zstdThreads(): number {
  return Math.max(1, os.availableParallelism());
}

/** What compresses one dump on its way to the file. */
export interface DumpCompressor {
  /** The streams the dump passes through (none when the dump tool compresses). */
  stages: NodeJS.ReadWriteStream[];
  /**
   * Waits for `writing`, the pipeline through `stages`, and for the compressor's process: a compressor that fails
   * fails the backup, and one stopped early is not left behind.
   */
  supervise(writing: Promise<unknown>): Promise<void>;
}

/** `what` completes "zstd failed while ...": `compressing the dump of apim_db`. */
export function startCompressor(
  compression: DumpCompression,
  zstd: ResolvedTool | undefined,
  masker: SecretMasker,
  what: string,
): DumpCompressor {
  if (compression === 'tool') return { stages: [], supervise: async (writing) => void (await writing) };
  if (compression === 'gzip')
    return { stages: [createParallelGzip()], supervise: async (writing) => void (await writing) };
  const tool = requireZstd(zstd);
  const run = startTool(tool, ['-q', '-c', `-${ZSTD_LEVEL}`, `-T${zstdThreads()}`], process.env, 'pipe', masker);
  const stdin = run.child.stdin;
  if (!stdin) throw new Error('zstd was started without stdin');
  return {
    stages: [Duplex.from({ writable: stdin, readable: run.child.stdout })],
    async supervise(writing) {
      try {
        await superviseTool(run, what, [writing]);
      } catch (error) {
        // A compressor that died on its own (an exit code, not the signal that stopped it) breaks the pipe that
        // feeds it: the pipe's error is not the cause.
        const exit = await run.finished.catch(() => undefined);
        if (error instanceof ClientToolError || !exit?.code || exit.signal !== null) throw error;
        const tail = run.stderrTail();
        const details = tail.length > 0 ? `:\n  ${tail.join('\n  ')}` : ' (no output on stderr)';
        throw new ClientToolError(`zstd failed while ${what} (exit code ${exit.code})${details}`, 'zstd', tail);
      }
    },
  };
}

export interface DecompressOptions {
  zstd: ResolvedTool | undefined;
  masker: SecretMasker;
  /** Completes "zstd failed while ...": `decompressing apim_db.sql.zst`. */
  what: string;
}

/**
 * The plaintext dump of a decrypted file: decompressed as its variant says (a `tool` dump is the dump tool's own
 * file, which it decompresses itself). A file that is not of the variant's compression fails the read with a
 * DumpFormatError; so does a compressed stream that is damaged or ends short. Stopping the read early stops the
 * decompression too.
 */
export function decompressDump(compression: DumpCompression, input: Readable, options: DecompressOptions): Readable {
  if (compression === 'tool') return input;
  const tool = compression === 'zstd' ? requireZstd(options.zstd) : undefined;
  async function* plain(): AsyncGenerator<Buffer, void, undefined> {
    const magic = compression === 'zstd' ? ZSTD_MAGIC : GZIP_MAGIC;
    const { head, all } = await readStart(input, magic.length);
    if (!head.equals(magic)) {
      await all[Symbol.asyncIterator]().return?.();
      throw new DumpFormatError(compression === 'zstd' ? 'is not a zstd-compressed file' : 'is not a gzip file');
    }
    if (tool) yield* zstdOutput(tool, all, options);
    else yield* gunzipOutput(all);
  }
  return Readable.from(plain(), { objectMode: false });
}

async function* gunzipOutput(compressed: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
  const gunzip = createGunzip(GUNZIP_OPTIONS);
  const feeding = pipeline(Readable.from(compressed, { objectMode: false }), gunzip);
  // The read below reports a failure; one after an early stop is of no interest.
  feeding.catch(() => undefined);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } catch (error) {
    // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR for an end cut short) are the file's; others are the read's.
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== 'string' || !code.startsWith('Z_')) throw error;
    throw new DumpFormatError(`is damaged or cut short (${errorMessage(error)})`, undefined, { cause: error });
  }
  await feeding;
}

async function* zstdOutput(
  tool: ResolvedTool,
  compressed: AsyncIterable<Uint8Array>,
  options: DecompressOptions,
): AsyncGenerator<Buffer, void, undefined> {
  const run = startTool(tool, ['-d', '-c', '-q'], process.env, 'pipe', options.masker);
  const feeding = feedTool(run, compressed);
  // Awaited below once the output is read; until then a failure must not count as unhandled.
  feeding.catch(() => undefined);
  let complete = false;
  try {
    for await (const chunk of run.child.stdout as AsyncIterable<Buffer>) yield chunk;
    complete = true;
  } finally {
    // Stopped early (the check read what it needed): the decompressor is of no use any more.
    if (!complete) run.abort();
  }
  // The input failed first (the stored file changed, the decryption failed): zstd's complaint about an input cut
  // short follows from it.
  const fed = await feeding.then(
    () => undefined,
    (error: unknown) => ({ error }),
  );
  if (fed) throw fed.error;
  try {
    await superviseTool(run, options.what, [feeding]);
  } catch (error) {
    // zstd's own failure is the file's; a failure of the read that fed it is thrown as it is.
    if (!(error instanceof ClientToolError)) throw error;
    throw new DumpFormatError(`is damaged or cut short (${errorMessage(error)})`, undefined, { cause: error });
  }
}

function requireZstd(zstd: ResolvedTool | undefined): ResolvedTool {
  if (zstd) return zstd;
  throw new Error('a zstd-compressed dump needs the zstd tool, which the caller did not find');
}
