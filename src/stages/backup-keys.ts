/** The keys of backups, from the config and the environment variables it names: for new backups and restores. */

import type { KeyObject } from 'node:crypto';
import {
  parseSigningKey,
  parseSigningPublicKey,
  publicKeyText,
  SigningKeyError,
  type ManifestVerifier,
} from '../backup/authentication.js';
import type { DecryptionMode, EncryptionMode } from '../backup/encryption.js';
import type { ExpectedEncryption } from '../backup/restore-backup.js';
import type { ResolvedConfig, StoreKind } from '../config/types.js';
import { InputError } from '../core/errors.js';

/** The shortest passphrase new backups take. */
const MIN_PASSPHRASE_LENGTH = 16;

/**
 * Encryption of new backups from the config. Only the folder store, on the operator's own disks, takes plaintext
 * by default: GitHub's store and an S3 bucket (another party's service, or shared by many) get it only when allowed.
 */
export function backupEncryption(
  config: ResolvedConfig,
  env: Record<string, string | undefined>,
  storeKind: StoreKind,
): EncryptionMode {
  const { backup } = config;
  if (backup.passphraseEnv !== undefined) {
    const passphrase = env[backup.passphraseEnv];
    if (!passphrase) {
      throw new InputError({
        file: config.configFile,
        message: `backup.passphraseEnv names ${backup.passphraseEnv}, which is not set: set it to the backup passphrase where apim-migrate runs`,
      });
    }
    // Restores take the passphrase a backup was made with (backupDecryption); only new backups need a long one.
    if ([...passphrase].length < MIN_PASSPHRASE_LENGTH) {
      throw new InputError({
        file: config.configFile,
        message: `backup.passphraseEnv: the passphrase in ${backup.passphraseEnv} is shorter than ${MIN_PASSPHRASE_LENGTH} characters, too short for new backups: set a longer one (restores of existing backups still take the one they were made with)`,
      });
    }
    return { kind: 'passphrase', passphrase };
  }
  if (backup.recipient !== undefined) return { kind: 'recipient', recipient: backup.recipient };
  if (storeKind !== 'folder' && !backup.allowPlaintextBackups) {
    const where = storeKind === 'github' ? "GitHub's artifact store" : 'an S3 bucket';
    throw new InputError({
      file: config.configFile,
      message: `backups that go to ${where} are encrypted: set backup.passphraseEnv or backup.recipient, or allowPlaintextBackups: true to store them in clear`,
    });
  }
  return { kind: 'none' };
}

export function backupDecryption(config: ResolvedConfig, env: Record<string, string | undefined>): DecryptionMode {
  const { backup } = config;
  const read = (name: string, what: string) => {
    const value = env[name];
    if (!value) {
      throw new InputError({
        file: config.configFile,
        message: `${what} names ${name}, which is not set: set it where apim-migrate runs to restore the encrypted backup`,
      });
    }
    return value;
  };
  if (backup.passphraseEnv !== undefined)
    return { kind: 'passphrase', passphrase: read(backup.passphraseEnv, 'backup.passphraseEnv') };
  if (backup.identityEnv !== undefined)
    return { kind: 'identity', identity: read(backup.identityEnv, 'backup.identityEnv') };
  return { kind: 'none' };
}

/** The key that signs new backups' manifests, from `backup.signingKeyEnv`; it must be the config's public key's pair. */
export function backupSigningKey(
  config: ResolvedConfig,
  env: Record<string, string | undefined>,
): KeyObject | undefined {
  const { backup } = config;
  if (backup.signingKeyEnv === undefined) return undefined;
  const text = env[backup.signingKeyEnv];
  if (!text) {
    throw new InputError({
      file: config.configFile,
      message: `backup.signingKeyEnv names ${backup.signingKeyEnv}, which is not set: set it to the Ed25519 private key (PEM) where apim-migrate backs up`,
    });
  }
  const key = asSigningInput(config, 'backup.signingKeyEnv', () => parseSigningKey(text, backup.signingKeyEnv ?? ''));
  const trusted = signingPublicKey(config);
  if (trusted !== undefined && publicKeyText(trusted) !== publicKeyText(key)) {
    throw new InputError({
      file: config.configFile,
      message: `backup.signingKeyEnv: the key in ${backup.signingKeyEnv} is not the pair of backup.signingPublicKey, so restores would not accept what it signs: give the matching key, or the public key of this one (openssl pkey -pubout)`,
    });
  }
  return key;
}

/** `backup.signingPublicKey`, read. */
export function signingPublicKey(config: ResolvedConfig): KeyObject | undefined {
  const text = config.backup.signingPublicKey;
  return text === undefined
    ? undefined
    : asSigningInput(config, 'backup.signingPublicKey', () => parseSigningPublicKey(text));
}

/** What proves the manifest of a backup from a run the ledger does not record: the passphrase, the public key. */
export function manifestVerifier(config: ResolvedConfig, decryption: DecryptionMode): ManifestVerifier {
  const publicKey = signingPublicKey(config);
  return {
    ...(decryption.kind === 'passphrase' ? { passphrase: decryption.passphrase } : {}),
    ...(publicKey ? { signingPublicKey: publicKey } : {}),
  };
}

/** The encryption a backup must have to be restored with this config. */
export function expectedBackupEncryption(config: ResolvedConfig): ExpectedEncryption {
  const { backup } = config;
  const allowPlaintext = backup.allowPlaintextBackups;
  if (backup.passphraseEnv !== undefined) return { mode: 'passphrase', allowPlaintext };
  if (backup.recipient !== undefined) return { mode: 'recipient', recipient: backup.recipient, allowPlaintext };
  if (backup.identityEnv !== undefined) return { mode: 'recipient', allowPlaintext };
  return { mode: 'none', allowPlaintext };
}

function asSigningInput<T>(config: ResolvedConfig, setting: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof SigningKeyError)) throw error;
    throw new InputError({ file: config.configFile, message: `${setting}: ${error.message}` }, { cause: error });
  }
}
