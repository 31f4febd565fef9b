/** The keys of backups, from the config and the environment variables it names: for new backups and restores. */

import type { DecryptionMode, EncryptionMode } from '../backup/encryption.js';
import type { ResolvedConfig } from '../config/types.js';
import { InputError } from '../core/errors.js';

/** Encryption of new backups from the config; GitHub's store never gets plaintext unless allowed. */
export function backupEncryption(
  config: ResolvedConfig,
  env: Record<string, string | undefined>,
  storeKind: 'local' | 'github',
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
    return { kind: 'passphrase', passphrase };
  }
  if (backup.recipient !== undefined) return { kind: 'recipient', recipient: backup.recipient };
  if (storeKind === 'github' && !backup.allowPlaintextBackups) {
    throw new InputError({
      file: config.configFile,
      message:
        "backups that go to GitHub's artifact store are encrypted: set backup.passphraseEnv or backup.recipient, or allowPlaintextBackups: true to store them in clear",
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
