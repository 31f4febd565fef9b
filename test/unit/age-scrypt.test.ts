/**
 * backup/age-scrypt.ts: age's passphrase stanza on Node's native scrypt. Files it writes are read by the
 * age-encryption library's own scrypt identity, files that library writes are read by it, and a stanza that age would
 * refuse is refused. (test/integration/backup-restore.test.ts checks that the stock `age -d` reads its files too.)
 */

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter, Stanza } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { ScryptPassphraseIdentity, ScryptPassphraseRecipient } from '../../src/backup/age-scrypt.js';
import { BackupKeyError, decryptTransform, encryptTransform } from '../../src/backup/encryption.js';

const PASSPHRASE = 'correct horse battery staple 42';

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

describe('the native scrypt stanza', () => {
  it('writes files the library decrypts with its own passphrase code, at the work factor asked for', async () => {
    const plaintext = randomBytes(200_000);
    const encrypted = await collect(
      encryptTransform({ kind: 'passphrase', passphrase: PASSPHRASE }, { scryptWorkFactor: 10 })(once(plaintext)),
    );
    expect(encrypted.subarray(0, 200).toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt \S{22} 10\n/);
    const decrypter = new Decrypter();
    decrypter.addPassphrase(PASSPHRASE);
    expect(Buffer.from(await decrypter.decrypt(encrypted)).equals(plaintext)).toBe(true);
  });

  it('reads files the library encrypted with its own passphrase code, and refuses a wrong passphrase', async () => {
    const plaintext = randomBytes(100_000);
    const encrypter = new Encrypter();
    encrypter.setPassphrase(PASSPHRASE);
    encrypter.setScryptWorkFactor(10);
    const encrypted = await encrypter.encrypt(plaintext);
    const decrypted = await collect(decryptTransform({ kind: 'passphrase', passphrase: PASSPHRASE })(once(encrypted)));
    expect(decrypted.equals(plaintext)).toBe(true);

    const wrong = decryptTransform({ kind: 'passphrase', passphrase: 'not the passphrase' })(once(encrypted));
    await expect(collect(wrong)).rejects.toThrow(BackupKeyError);
  });

  it('derives the key of a file once, however often it is read with the same mode', async () => {
    const recipient = new ScryptPassphraseRecipient(PASSPHRASE, 12);
    const fileKey = randomBytes(16);
    const stanzas = await recipient.wrapFileKey(fileKey);
    const identity = new ScryptPassphraseIdentity(PASSPHRASE);
    const first = await identity.unwrapFileKey(stanzas);
    expect(Buffer.from(first ?? []).equals(fileKey)).toBe(true);
    // The same object again: no second scrypt.
    expect(await identity.unwrapFileKey(stanzas)).toBe(first);
    expect(await new ScryptPassphraseIdentity('another passphrase').unwrapFileKey(stanzas)).toBeNull();

    const mode = { kind: 'passphrase' as const, passphrase: PASSPHRASE };
    const encrypted = await collect(encryptTransform(mode, { scryptWorkFactor: 10 })(once(Buffer.from('dump'))));
    for (let read = 0; read < 2; read += 1) {
      const stream = ReadableStream.from(Readable.from([encrypted]));
      expect((await collect(decryptTransform(mode)(stream))).toString()).toBe('dump');
    }
  });

  it('refuses what age refuses: another stanza beside it, a bad salt or work factor, a body of the wrong size', async () => {
    const identity = new ScryptPassphraseIdentity(PASSPHRASE);
    const [good] = await new ScryptPassphraseRecipient(PASSPHRASE, 10).wrapFileKey(randomBytes(16));
    if (!good) throw new Error('no stanza');
    const [type, salt] = good.args as [string, string, string];
    const other = new Stanza(['X25519', 'abc'], new Uint8Array(32));
    await expect(identity.unwrapFileKey([good, other])).rejects.toThrow(/not the only one/);
    await expect(identity.unwrapFileKey([new Stanza([type, `${salt}==`, '10'], good.body)])).rejects.toThrow(
      /invalid scrypt stanza/,
    );
    await expect(identity.unwrapFileKey([new Stanza([type, salt, '010'], good.body)])).rejects.toThrow(
      /invalid scrypt stanza/,
    );
    await expect(identity.unwrapFileKey([new Stanza([type, salt, '21'], good.body)])).rejects.toThrow(/too high/);
    await expect(identity.unwrapFileKey([new Stanza([type, salt, '10'], good.body.subarray(1))])).rejects.toThrow(
      /invalid scrypt stanza/,
    );
    expect(await identity.unwrapFileKey([other])).toBeNull();
  });
});
