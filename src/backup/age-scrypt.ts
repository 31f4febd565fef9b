/**
 * age's passphrase stanza (the scrypt recipient type of age-encryption.org/v1, C2SP `age.md`) on Node's native scrypt
 * and ChaCha20-Poly1305, in place of the age-encryption library's JavaScript scrypt. That one blocked the event loop
 * for seconds per file and peaked at over 600 MiB at age's work factor 18; and a restore derives the same key twice
 * (the checked read and the restore's read), which an identity that remembers what it unwrapped does only once.
 *
 * The format, as the spec gives it: a stanza `-> scrypt <salt> <log2 N>` whose salt is 16 bytes in unpadded base64
 * and whose work factor is a decimal without leading zeros; the wrap key is scrypt(passphrase,
 * "age-encryption.org/v1/scrypt" || salt, N, r = 8, p = 1) of 32 bytes; the body is the 16-byte file key sealed with
 * ChaCha20-Poly1305 under that key and a zero nonce (32 bytes). A scrypt stanza must be the only one in its header.
 * The stock `age` tool writes and reads exactly this (`age -p`).
 */

import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { Stanza, type Identity, type Recipient } from 'age-encryption';

const LABEL = 'age-encryption.org/v1/scrypt';
const SALT_BYTES = 16;
const FILE_KEY_BYTES = 16;
const TAG_BYTES = 16;
/** The highest work factor a backup is decrypted with, as the age-encryption library allows (2^20: 1 GiB). */
export const MAX_SCRYPT_WORK_FACTOR = 20;

/** The passphrase as an age recipient: every file key wrapped under a fresh salt, at work factor `logN`. */
export class ScryptPassphraseRecipient implements Recipient {
  constructor(
    private readonly passphrase: string,
    private readonly logN: number,
  ) {}

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    const salt = randomBytes(SALT_BYTES);
    const key = await wrapKey(this.passphrase, salt, this.logN);
    const cipher = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: TAG_BYTES });
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    return [new Stanza(['scrypt', unpaddedBase64(salt), String(this.logN)], body)];
  }
}

/**
 * The passphrase as an age identity. It remembers the file keys it unwrapped, by stanza, so that reading one file
 * twice derives its key once.
 */
export class ScryptPassphraseIdentity implements Identity {
  private readonly unwrapped = new Map<string, Uint8Array>();

  constructor(private readonly passphrase: string) {}

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    const stanza = stanzas.find((candidate) => candidate.args[0] === 'scrypt');
    if (stanza === undefined) return null;
    if (stanzas.length !== 1) throw new Error('scrypt recipient is not the only one in the header');
    const [, saltText = '', logNText = ''] = stanza.args;
    const salt = decodeUnpaddedBase64(saltText);
    if (stanza.args.length !== 3 || salt?.length !== SALT_BYTES || !/^[1-9][0-9]*$/.test(logNText)) {
      throw new Error('invalid scrypt stanza');
    }
    const logN = Number(logNText);
    if (logN > MAX_SCRYPT_WORK_FACTOR) throw new Error('scrypt work factor is too high');
    if (stanza.body.length !== FILE_KEY_BYTES + TAG_BYTES) throw new Error('invalid scrypt stanza');
    const id = `${stanza.args.join(' ')} ${Buffer.from(stanza.body).toString('base64')}`;
    const known = this.unwrapped.get(id);
    if (known) return known;
    const key = await wrapKey(this.passphrase, salt, logN);
    const decipher = createDecipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(stanza.body.subarray(FILE_KEY_BYTES));
    let fileKey: Buffer;
    try {
      fileKey = Buffer.concat([decipher.update(stanza.body.subarray(0, FILE_KEY_BYTES)), decipher.final()]);
    } catch {
      // Another passphrase: not this identity's file.
      return null;
    }
    this.unwrapped.set(id, fileKey);
    return fileKey;
  }
}

function wrapKey(passphrase: string, salt: Uint8Array, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    // scrypt needs 128 * N * r bytes; Node refuses more than maxmem (32 MiB by default).
    scrypt(
      passphrase,
      Buffer.concat([Buffer.from(LABEL), salt]),
      32,
      { N, r: 8, p: 1, maxmem: 130 * N * 8 },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

function unpaddedBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

/** Canonical unpadded base64 only, as age requires: anything else is not a stanza age wrote. */
function decodeUnpaddedBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return unpaddedBase64(bytes) === text ? bytes : undefined;
}
