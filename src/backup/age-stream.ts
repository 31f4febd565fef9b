/**
 * The payload of an age file, decrypted with Node's native ChaCha20-Poly1305 instead of the age-encryption library's
 * JavaScript one, which took a core's worth of time beside the restore tool (docs/benchmarks.md). The header (the
 * stanzas, the key and the header's MAC) stays with the library (`Decrypter.decryptHeader`), which hands back the
 * file key once the MAC is proved.
 *
 * The format, as C2SP `age.md` ("Header", "Payload") gives it: the header ends with the line `--- <MAC>`; then a
 * 16-byte nonce; then the plaintext in chunks of 64 KiB, each sealed with ChaCha20-Poly1305 under the payload key
 * HKDF-SHA-256(file key, salt = that nonce, info = "payload"), with the nonce an 11-byte big-endian chunk counter
 * followed by a flag byte that is 1 on the final chunk only. Every chunk but the final one is full; the final one may
 * be full, and may be empty only when it is also the first. So a file cut at a chunk boundary fails (the chunk before
 * the cut was not sealed as final), and so does anything appended after the final chunk.
 */

import { createDecipheriv, hkdfSync } from 'node:crypto';

const CHUNK_BYTES = 64 * 1024;
const TAG_BYTES = 16;
const SEALED_BYTES = CHUNK_BYTES + TAG_BYTES;
const NONCE_BYTES = 16;
const HEADER_END = Buffer.from('\n--- ');
/** No header of a backup comes near this; a file without a MAC line in it is not an age file. */
const MAX_HEADER_BYTES = 1024 * 1024;

/** The header, through its MAC line, and the rest of the file after it. */
export async function splitAgeHeader(
  source: AsyncIterable<Uint8Array>,
): Promise<{ header: Buffer; payload: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  let taken = Buffer.alloc(0);
  for (;;) {
    const macLine = taken.indexOf(HEADER_END);
    const end = macLine < 0 ? -1 : taken.indexOf(0x0a, macLine + HEADER_END.length);
    if (end >= 0) {
      const header = taken.subarray(0, end + 1);
      const after = taken.subarray(end + 1);
      async function* payload(): AsyncGenerator<Uint8Array, void, undefined> {
        if (after.length > 0) yield after;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield next.value;
        }
      }
      return { header, payload: payload() };
    }
    if (taken.length > MAX_HEADER_BYTES) break;
    const next = await iterator.next();
    if (next.done) break;
    taken = Buffer.concat([taken, next.value]);
  }
  await iterator.return?.();
  throw new Error('invalid header: no MAC line');
}

/** The plaintext of an age payload, chunk by chunk; throws at the first chunk that does not authenticate. */
export async function* decryptAgePayload(
  fileKey: Uint8Array,
  payload: AsyncIterable<Uint8Array>,
): AsyncGenerator<Buffer, void, undefined> {
  const nonce = Buffer.alloc(NONCE_BYTES);
  let nonceUsed = 0;
  const sealed = Buffer.allocUnsafe(SEALED_BYTES);
  let used = 0;
  let key: Buffer | undefined;
  const chunkNonce = Buffer.alloc(12);
  let first = true;

  const open = (length: number, final: boolean): Buffer => {
    if (key === undefined) throw new Error('the payload has no nonce');
    chunkNonce[11] = final ? 1 : 0;
    const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(length - TAG_BYTES, length));
    const plain = Buffer.concat([decipher.update(sealed.subarray(0, length - TAG_BYTES)), decipher.final()]);
    // The 11-byte big-endian counter, for the next chunk.
    for (let at = 10; at >= 0; at -= 1) {
      chunkNonce[at] = ((chunkNonce[at] ?? 0) + 1) & 0xff;
      if (chunkNonce[at] !== 0) break;
    }
    first = false;
    return plain;
  };

  for await (const piece of payload) {
    let chunk = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    if (nonceUsed < NONCE_BYTES) {
      const n = Math.min(NONCE_BYTES - nonceUsed, chunk.length);
      chunk.copy(nonce, nonceUsed, 0, n);
      nonceUsed += n;
      chunk = chunk.subarray(n);
      if (nonceUsed < NONCE_BYTES) continue;
      key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
    }
    while (chunk.length > 0) {
      // A full chunk is opened only once more bytes follow: until then it may be the final one.
      if (used === SEALED_BYTES) {
        yield open(SEALED_BYTES, false);
        used = 0;
      }
      const n = Math.min(SEALED_BYTES - used, chunk.length);
      chunk.copy(sealed, used, 0, n);
      used += n;
      chunk = chunk.subarray(n);
    }
  }
  if (nonceUsed < NONCE_BYTES) throw new Error('the payload ends before its nonce');
  if (used < TAG_BYTES) throw new Error('the final chunk is cut short');
  const wasFirst = first;
  const last = open(used, true);
  if (last.length === 0 && !wasFirst) throw new Error('the final chunk is empty');
  yield last;
}
