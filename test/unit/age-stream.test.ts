/**
 * backup/age-stream.ts: the native decryption of an age payload reads what the age-encryption library writes, at
 * every size around the 64 KiB chunk, and refuses a file that is damaged, cut at a chunk boundary, extended, or ends
 * in an empty chunk after a full one. Files the stock `age` tool reads are checked in
 * test/integration/backup-restore.test.ts.
 */

import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Decrypter, Encrypter } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { decryptAgePayload, splitAgeHeader } from '../../src/backup/age-stream.js';
import { AgeFormatError, decryptTransform } from '../../src/backup/encryption.js';

const PASSPHRASE = 'correct horse battery staple 42';
const CHUNK = 64 * 1024;

async function encrypt(plaintext: Uint8Array): Promise<Buffer> {
  const encrypter = new Encrypter();
  encrypter.setPassphrase(PASSPHRASE);
  encrypter.setScryptWorkFactor(10);
  return Buffer.from(await encrypter.encrypt(plaintext));
}

/** Hands the file over in pieces of `size` bytes, as a read of the stored file does. */
async function* inPieces(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function decrypt(file: Buffer, pieceSize = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const transform = decryptTransform({ kind: 'passphrase', passphrase: PASSPHRASE });
  for await (const chunk of transform(inPieces(file, pieceSize))) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** The header of a file and its file key, as the library proves them. */
async function headerAndKey(file: Buffer): Promise<{ header: Buffer; fileKey: Uint8Array }> {
  const { header } = await splitAgeHeader(inPieces(file, 100));
  const decrypter = new Decrypter();
  decrypter.addPassphrase(PASSPHRASE);
  return { header, fileKey: await decrypter.decryptHeader(header) };
}

/** Seals chunks as age does, flags given per chunk, for files the library would never write. */
function sealPayload(fileKey: Uint8Array, chunks: Array<{ plain: Buffer; final: boolean }>): Buffer {
  const nonce = randomBytes(16);
  const key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
  const sealed = chunks.map(({ plain, final }, index) => {
    const chunkNonce = Buffer.alloc(12);
    chunkNonce.writeUIntBE(index, 5, 6);
    chunkNonce[11] = final ? 1 : 0;
    const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce, { authTagLength: 16 });
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  });
  return Buffer.concat([nonce, ...sealed]);
}

describe('the native payload decryption', () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 12345])(
    'reads a %i-byte file the library wrote, whatever the pieces it comes in',
    async (size) => {
      const plaintext = randomBytes(size);
      const file = await encrypt(plaintext);
      expect((await decrypt(file)).equals(plaintext)).toBe(true);
      expect((await decrypt(file, 7)).equals(plaintext)).toBe(true);
    },
  );

  it('refuses a damaged chunk, a file cut at a chunk boundary, and bytes after the final chunk', async () => {
    const plaintext = randomBytes(3 * CHUNK);
    const file = await encrypt(plaintext);
    const damaged = Buffer.from(file);
    const at = file.length - CHUNK - 100;
    damaged[at] = (damaged[at] ?? 0) ^ 1;
    await expect(decrypt(damaged)).rejects.toThrow(AgeFormatError);

    const { header } = await headerAndKey(file);
    // The header, the nonce, then two of the three full chunks.
    const cut = file.subarray(0, header.length + 16 + 2 * (CHUNK + 16));
    await expect(decrypt(cut)).rejects.toThrow(/damaged or cut short/);
    await expect(decrypt(Buffer.concat([file, Buffer.from('x')]))).rejects.toThrow(/damaged or cut short/);
    await expect(decrypt(file.subarray(0, header.length + 10))).rejects.toThrow(/before its nonce/);
  });

  it('takes an empty final chunk only as the first one', async () => {
    const { header, fileKey } = await headerAndKey(await encrypt(Buffer.alloc(0)));
    const empty = sealPayload(fileKey, [{ plain: Buffer.alloc(0), final: true }]);
    expect((await decrypt(Buffer.concat([header, empty]))).length).toBe(0);

    const full = randomBytes(CHUNK);
    const trailingEmpty = sealPayload(fileKey, [
      { plain: full, final: false },
      { plain: Buffer.alloc(0), final: true },
    ]);
    await expect(decrypt(Buffer.concat([header, trailingEmpty]))).rejects.toThrow(/final chunk is empty/);
    const fullFinal = sealPayload(fileKey, [{ plain: full, final: true }]);
    expect((await decrypt(Buffer.concat([header, fullFinal]))).equals(full)).toBe(true);
  });

  it('refuses what has no MAC line as not an age file', async () => {
    await expect(decrypt(Buffer.from('age-encryption.org/v1\n-> scrypt abc 10\nAAAA\n'))).rejects.toThrow(
      /not an age-encrypted file, or its header is damaged/,
    );
  });

  it('gives the plaintext of a payload it is handed directly', async () => {
    const plaintext = randomBytes(CHUNK + 5);
    const file = await encrypt(plaintext);
    const { header, fileKey } = await headerAndKey(file);
    const chunks: Buffer[] = [];
    for await (const chunk of decryptAgePayload(fileKey, inPieces(file.subarray(header.length), 4096)))
      chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(plaintext)).toBe(true);
  });
});
