/** New backups need a passphrase of 16 characters or more; restores take the one a backup was made with. */
import { describe, expect, it } from 'vitest';
import type { ResolvedConfig } from '../../src/config/types.js';
import { InputError } from '../../src/core/errors.js';
import { checkBackupKeyInput, checkRestoreKeyInput } from '../../src/stages/input-checks.js';

const config = {
  configFile: '/work/apim-migration.yml',
  backup: { passphraseEnv: 'BK_PASS', retentionDays: 30, allowPlaintextBackups: false },
  store: { kind: 'folder', dir: '/work/.apim-migrate', groupAccess: false },
} as unknown as ResolvedConfig;

describe('the backup passphrase', () => {
  it.each(['', 'x', 'fifteen-chars-x', 'ünïcödé-fïftëën'])(
    '%j is refused for new backups (exit code 2)',
    (passphrase) => {
      const env = { BK_PASS: passphrase };
      expect(() => checkBackupKeyInput(config, env)).toThrow(InputError);
      try {
        checkBackupKeyInput(config, env);
      } catch (error) {
        expect((error as InputError).exitCode).toBe(2);
        if (passphrase !== '') {
          expect((error as Error).message).toBe(
            '/work/apim-migration.yml: backup.passphraseEnv: the passphrase in BK_PASS is shorter than 16 characters, too short for new backups: set a longer one (restores of existing backups still take the one they were made with)',
          );
        }
      }
    },
  );

  it('of 16 characters or more is taken for new backups', () => {
    expect(() => checkBackupKeyInput(config, { BK_PASS: 'sixteen-chars-xy' })).not.toThrow();
  });

  it('that is short is still taken to restore a backup made with it', () => {
    expect(() => checkRestoreKeyInput(config, { BK_PASS: 'short' })).not.toThrow();
  });
});
