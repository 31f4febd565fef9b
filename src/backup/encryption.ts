/**
 * Backup encryption in the age format (age-encryption.org/v1), so that the stock `age` tool can decrypt
 * a backup too. Everything streams: age works in 64 KiB chunks, and the transforms here pull from their
 * source only as fast as their consumer takes the output, so memory stays flat whatever the dump size.
 */

import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { ReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter } from 'age-encryption';
import { errorMessage } from '../core/errors.js';
import { ScryptPassphraseIdentity, ScryptPassphraseRecipient } from './age-scrypt.js';
import { decryptAgePayload, splitAgeHeader } from './age-stream.js';

export type EncryptionMode =
  { kind: 'none' } | { kind: 'passphrase'; passphrase: string } | { kind: 'recipient'; recipient: string };

export type DecryptionMode =
  { kind: 'none' } | { kind: 'passphrase'; passphrase: string } | { kind: 'identity'; identity: string };

export type ActiveEncryptionMode = Exclude<EncryptionMode, { kind: 'none' }>;
export type ActiveDecryptionMode = Exclude<DecryptionMode, { kind: 'none' }>;

/** What a pipeline stage looks like to `stream/promises` pipeline: bytes in, bytes out. */
export type ByteTransform = (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array, void, undefined>;

/** The first line of every age file. */
export const AGE_MAGIC = 'age-encryption.org/v1\n';
/** The suffix an encrypted backup file carries. */
export const AGE_EXTENSION = '.age';

/**
 * The key given cannot decrypt the backup (wrong passphrase, wrong identity, or the other kind of key),
 * or the key itself is unusable. Fixing it is the operator's job: exit code 2.
 */
export class BackupKeyError extends Error {
  readonly exitCode = 2;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackupKeyError';
  }
}

/** The bytes are not an age file, or an age file that was damaged or cut short. */
export class AgeFormatError extends Error {
  readonly exitCode = 1;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgeFormatError';
  }
}

/** The kinds of key an age file was encrypted to, from its header stanzas (`scrypt`, `X25519`, ...). */
export interface AgeHeaderFacts {
  stanzaTypes: string[];
  /** True when the file was encrypted with a passphrase (one `scrypt` stanza). */
  passphrase: boolean;
}

/** Checks a mode before any work starts, so that a bad recipient fails before a dump runs for minutes. */
export function checkEncryptionMode(mode: EncryptionMode): void {
  if (mode.kind === 'none') return;
  createEncrypter(mode, DEFAULT_SCRYPT_WORK_FACTOR);
}

/** Checks a decryption mode before any file is read. */
export function checkDecryptionMode(mode: DecryptionMode): void {
  if (mode.kind === 'none') return;
  createDecrypter(mode);
}

/** `none`, `passphrase` or `recipient <age1...>`: the public part only, never a secret. */
export function describeEncryption(mode: EncryptionMode): string {
  return mode.kind === 'recipient' ? `recipient ${mode.recipient}` : mode.kind;
}

export interface EncryptOptions {
  /** scrypt's log2 work factor for passphrases; default 18, as the stock age tool uses. */
  scryptWorkFactor?: number;
}

/** scrypt's log2 work factor for passphrases, as the stock age tool uses (`age -p`). */
const DEFAULT_SCRYPT_WORK_FACTOR = 18;

/** A pipeline stage that turns plaintext into an age file. */
export function encryptTransform(mode: ActiveEncryptionMode, options: EncryptOptions = {}): ByteTransform {
  const encrypter = createEncrypter(mode, options.scryptWorkFactor ?? DEFAULT_SCRYPT_WORK_FACTOR);
  return async function* encrypt(source) {
    // ReadableStream.from pulls from the source only when age asks for more: back-pressure end to end.
    const encrypted = await encrypter.encrypt(ReadableStream.from(source));
    yield* encrypted;
  };
}

/**
 * A pipeline stage that turns an age file into plaintext. A key that does not fit fails with
 * BackupKeyError before any plaintext comes out; damage or truncation fails with AgeFormatError
 * (age authenticates every chunk and marks the last one, so nothing damaged passes silently).
 */
export function decryptTransform(mode: ActiveDecryptionMode): ByteTransform {
  const decrypter = createDecrypter(mode);
  return async function* decrypt(source) {
    let plaintext: AsyncIterable<Uint8Array>;
    try {
      // The library proves the header and gives the file key; the payload is decrypted natively (age-stream.ts).
      const { header, payload } = await splitAgeHeader(source);
      plaintext = decryptAgePayload(await decrypter.decryptHeader(header), payload);
    } catch (error) {
      throw classifyHeaderError(mode, error);
    }
    try {
      yield* plaintext;
    } catch (error) {
      throw new AgeFormatError(`the encrypted data is damaged or cut short (${errorMessage(error)})`, {
        cause: error,
      });
    }
  };
}

/** Encrypts a file into another, streaming. */
export async function encryptFile(
  input: string,
  output: string,
  mode: ActiveEncryptionMode,
  options: EncryptOptions = {},
): Promise<void> {
  await pipeline(createReadStream(input), encryptTransform(mode, options), createWriteStream(output, { mode: 0o600 }));
}

/** How much of an age file's start holds its header: one with one or a few recipients is a few hundred bytes. */
export const AGE_HEADER_BYTES = 16 * 1024;

/** The header of an age file from its first bytes; undefined when they do not start like an age file. */
export function parseAgeHeader(head: Buffer): AgeHeaderFacts | undefined {
  const text = head.subarray(0, AGE_HEADER_BYTES).toString('latin1');
  if (!text.startsWith(AGE_MAGIC)) return undefined;
  const stanzaTypes: string[] = [];
  for (const line of text.slice(AGE_MAGIC.length).split('\n')) {
    if (line.startsWith('---')) break;
    const match = /^-> (\S+)/.exec(line);
    if (match?.[1]) stanzaTypes.push(match[1]);
  }
  return { stanzaTypes, passphrase: stanzaTypes.length === 1 && stanzaTypes[0] === 'scrypt' };
}

/** Explains why a key does not fit an age file whose header is known. */
export function describeKeyMismatch(mode: ActiveDecryptionMode, header: AgeHeaderFacts): string {
  if (header.passphrase && mode.kind === 'identity') {
    return 'it was encrypted with a passphrase, but an age identity was given; give the backup passphrase instead';
  }
  if (!header.passphrase && mode.kind === 'passphrase') {
    return (
      `it was encrypted to an age recipient (${header.stanzaTypes.join(', ')}), but a passphrase was given; ` +
      'give the identity (AGE-SECRET-KEY-1...) that belongs to the recipient instead'
    );
  }
  return mode.kind === 'passphrase'
    ? 'the passphrase is wrong; give the passphrase the backup was taken with'
    : 'the identity does not belong to the recipient the backup was encrypted to; give the matching AGE-SECRET-KEY-1...';
}

function createEncrypter(mode: ActiveEncryptionMode, scryptWorkFactor: number): Encrypter {
  const encrypter = new Encrypter();
  if (mode.kind === 'passphrase') {
    if (mode.passphrase.length === 0) throw new BackupKeyError('the backup passphrase is empty; set a passphrase');
    encrypter.addRecipient(new ScryptPassphraseRecipient(mode.passphrase, scryptWorkFactor));
    return encrypter;
  }
  const recipient = mode.recipient.trim();
  try {
    if (!recipient.startsWith('age1')) throw new Error('it does not start with age1');
    encrypter.addRecipient(recipient);
  } catch (error) {
    throw new BackupKeyError(
      `the backup recipient ${JSON.stringify(recipient)} is not an age public key (${errorMessage(error)}); ` +
        'give the age1... line that age-keygen prints',
      { cause: error },
    );
  }
  return encrypter;
}

/** One identity per passphrase mode, so that every read of a file with that mode derives its key once. */
const passphraseIdentities = new WeakMap<ActiveDecryptionMode, ScryptPassphraseIdentity>();

function createDecrypter(mode: ActiveDecryptionMode): Decrypter {
  const decrypter = new Decrypter();
  if (mode.kind === 'passphrase') {
    if (mode.passphrase.length === 0) throw new BackupKeyError('the backup passphrase is empty; set the passphrase');
    let identity = passphraseIdentities.get(mode);
    if (identity === undefined) {
      identity = new ScryptPassphraseIdentity(mode.passphrase);
      passphraseIdentities.set(mode, identity);
    }
    decrypter.addIdentity(identity);
    return decrypter;
  }
  // Identity files hold comments and the key on its own line, as age-keygen writes them.
  const identity = mode.identity
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line.startsWith('AGE-SECRET-KEY-'));
  try {
    if (identity === undefined) throw new Error('no AGE-SECRET-KEY-... line');
    decrypter.addIdentity(identity);
  } catch (error) {
    // Never quote the identity: it is the secret.
    throw new BackupKeyError(
      `the backup identity is not an age secret key (${errorMessage(error)}); give the AGE-SECRET-KEY-1... line of the identity file`,
      { cause: error },
    );
  }
  return decrypter;
}

function classifyHeaderError(mode: ActiveDecryptionMode, error: unknown): Error {
  const message = errorMessage(error);
  if (/no identity matched/i.test(message)) {
    const what = mode.kind === 'passphrase' ? 'passphrase' : 'identity';
    return new BackupKeyError(
      `the ${what} given does not decrypt this backup (wrong ${what}, or the backup was encrypted with the other kind of key)`,
      { cause: error },
    );
  }
  if (/invalid version|invalid header|invalid stanza|non-ASCII/i.test(message)) {
    return new AgeFormatError(`not an age-encrypted file, or its header is damaged (${message})`, { cause: error });
  }
  return new AgeFormatError(`the encrypted data is damaged or cut short (${message})`, { cause: error });
}
