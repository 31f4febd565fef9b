/**
 * Stream helpers every layer uses: the first bytes of a stream without losing them, waiting until a writable takes
 * more, one read of a source shared with a consumer that may stop before the end, and a meter that counts and hashes
 * what flows through it.
 */

import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Readable, type Writable } from 'node:stream';

/**
 * The first `bytes` bytes of `source` (fewer when it is shorter) and all of it, those bytes included, to read on. The
 * source is read no further than the chunk that completes the head.
 */
export async function readStart(
  source: AsyncIterable<Uint8Array>,
  bytes: number,
): Promise<{ head: Buffer; all: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const taken: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  while (size < bytes) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    taken.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(taken).subarray(0, bytes);
  async function* all(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      yield* taken;
      if (ended) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      if (!ended) await iterator.return?.();
    }
  }
  return { head, all: all() };
}

/** Resolves when `stream` takes more writes (its buffer drained), or will never take any again (closed). */
export function whenWritable(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableEnded || !stream.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/**
 * Reads `source` to its end and hands its bytes to `consumer` as a stream for as long as the consumer reads: a consumer
 * that is done early (it found what it needed, or failed) does not stop the reading, a slower one holds it back.
 * Throws what reading `source` throws (the consumer's stream then fails with it); otherwise gives how the consumer
 * ended. With `drain: false` the reading stops where the consumer is done (the source is closed there).
 */
export async function readThrough<T>(
  source: AsyncIterable<Uint8Array>,
  consumer: (stream: Readable) => Promise<T>,
  options: { drain: boolean } = { drain: true },
): Promise<PromiseSettledResult<T>> {
  const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
  // A failure passed on below must not escape as an unhandled 'error' when the consumer no longer listens.
  stream.on('error', () => undefined);
  let outcome: PromiseSettledResult<T> | undefined;
  const consumed = consumer(stream)
    .then(
      (value): PromiseSettledResult<T> => (outcome = { status: 'fulfilled', value }),
      (reason: unknown): PromiseSettledResult<T> => (outcome = { status: 'rejected', reason }),
    )
    .finally(() => stream.destroy());
  try {
    for await (const chunk of source) {
      if (outcome !== undefined || stream.destroyed) {
        if (options.drain) continue;
        break;
      }
      if (!stream.write(chunk)) await Promise.race([whenWritable(stream), consumed]);
    }
  } catch (error) {
    stream.destroy(error instanceof Error ? error : new Error(String(error)));
    await consumed;
    throw error;
  }
  stream.end();
  return consumed;
}

export interface Meter {
  stream: Transform;
  readonly bytes: number;
  digest(): string;
}

/** A pass-through that counts and (unless told not to) hashes the bytes that flow through it. */
export function createMeter(options: { hash?: boolean } = {}): Meter {
  const hash = options.hash === false ? undefined : createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash?.update(chunk);
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  return {
    stream,
    get bytes() {
      return bytes;
    },
    digest: () => {
      if (!hash) throw new Error('this meter only counts bytes');
      return hash.digest('hex');
    },
  };
}
