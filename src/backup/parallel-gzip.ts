import os from 'node:os';
import { Transform } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipBlock = promisify(gzip);
const GZIP_BLOCK_BYTES = 1024 * 1024;

/**
 * gzip on several of zlib's threads at once, as pigz does: the input is cut into 1 MiB blocks, each compressed
 * on its own (level 6, as gzip) into one gzip member, and the members are written in order. A file of
 * concatenated members is a valid gzip file (RFC 1952); gunzip, zcat and Node's gunzip read it whole.
 *
 * Why: one deflate stream over a MariaDB dump was the bottleneck of the backup: gzip -6 alone takes longer than
 * the dump tool (docs/benchmarks.md). Each block's dictionary starts empty, which costs well
 * under 1% of the size. At most `inFlight` blocks are being compressed or waiting to be written; the input is
 * not taken faster than that, so memory stays at a few MiB whatever the dump size.
 */
export function createParallelGzip(options: { inFlight?: number; blockBytes?: number } = {}): Transform {
  const blockBytes = options.blockBytes ?? GZIP_BLOCK_BYTES;
  const inFlight = options.inFlight ?? Math.min(4, Math.max(2, os.availableParallelism()));
  const pending: Array<Promise<Buffer>> = [];
  let buffered: Buffer[] = [];
  let bufferedBytes = 0;
  let members = 0;
  const startBlock = (): void => {
    const block = Buffer.concat(buffered, bufferedBytes);
    buffered = [];
    bufferedBytes = 0;
    members += 1;
    const compressed = gzipBlock(block, { level: 6 });
    // Awaited in order below; until then a failure must not count as unhandled.
    compressed.catch(() => undefined);
    pending.push(compressed);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      buffered.push(chunk);
      bufferedBytes += chunk.length;
      if (bufferedBytes >= blockBytes) startBlock();
      const drain = async (): Promise<void> => {
        while (pending.length >= inFlight) this.push(await (pending.shift() as Promise<Buffer>));
      };
      drain().then(() => callback(), callback);
    },
    flush(callback) {
      // Empty input still makes a valid (empty) gzip file.
      if (bufferedBytes > 0 || members === 0) startBlock();
      const drain = async (): Promise<void> => {
        while (pending.length > 0) this.push(await (pending.shift() as Promise<Buffer>));
      };
      drain().then(() => callback(), callback);
    },
  });
}
