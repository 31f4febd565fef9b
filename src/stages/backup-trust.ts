/**
 * Which backups a restore accepts. Only our own: one the ledger records (trusted through the manifest digest the
 * ledger pinned), or one from a run the ledger never saw that the operator vouches for explicitly and whose manifest
 * proves it came from a holder of the backup key. In GitHub, a backup of another run must also come from a run of
 * this repository, not started by a pull request, of a workflow the config trusts. Every store, every restore (the
 * `restore` command and a stage's automatic restore of a failed attempt) goes through here.
 */

import type { RunOrigin } from '../artifacts/store.js';
import type { DecryptionMode } from '../backup/encryption.js';
import { BackupRejectedError, type RestoreOptions } from '../backup/restore-backup.js';
import type { ResolvedConfig } from '../config/types.js';
import { InputError } from '../core/errors.js';
import { expectedBackupEncryption, manifestVerifier } from './backup-keys.js';
import type { StageContext } from './types.js';

/** The workflows of examples/workflows that take backups (migrate.yml) and roll them back (rehearsal.yml too). */
export const EXAMPLE_WORKFLOWS = ['.github/workflows/migrate.yml', '.github/workflows/rehearsal.yml'] as const;

/** Events whose runs a pull request's author controls: their artifacts are never restored. */
const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_target']);

export interface BackupRef {
  name: string;
  runId: string;
  /** The ledger records this backup (by name and run). */
  recorded: boolean;
  /** The sha256 of its manifest.json, as the ledger pinned it. */
  manifestSha256?: string;
}

export type RestoreTrust = Pick<RestoreOptions, 'manifestSha256' | 'authenticateWith' | 'expectedEncryption'>;

/**
 * Decides whether `backup` may be restored, and with which proof; throws (changing nothing) when it may not.
 * `trustUnrecordedRun` is the operator's `--trust-unrecorded-run`.
 */
export async function trustBackup(
  backup: BackupRef,
  request: { trustUnrecordedRun: boolean; decryption: DecryptionMode },
  context: StageContext,
): Promise<RestoreTrust> {
  const { config } = context;
  const expectedEncryption = expectedBackupEncryption(config);
  if (!backup.recorded && !request.trustUnrecordedRun) {
    throw new InputError({
      message:
        `the ledger in shared_db does not record ${backup.name} of run ${backup.runId}: apim-migrate restores only ` +
        'the backups it recorded, since anyone who can add an artifact to the store could have put this one there. ' +
        'If you know that run is yours, say so with --trust-unrecorded-run (action input trust-unrecorded-run: true); ' +
        "its manifest must then prove it was made with this config's backup passphrase or signing key. Nothing was changed",
    });
  }
  await checkRunOrigin(backup, context);
  if (backup.recorded)
    return { expectedEncryption, ...(backup.manifestSha256 ? { manifestSha256: backup.manifestSha256 } : {}) };
  return { expectedEncryption, authenticateWith: manifestVerifier(config, request.decryption) };
}

/** In GitHub: a backup of another run comes from this repository, no pull request, and a trusted workflow. */
async function checkRunOrigin(backup: BackupRef, context: StageContext): Promise<void> {
  const { store, run, env, logger } = context.deps;
  if (backup.runId === run.runId || store.runOrigin === undefined) return;
  const origin = await store.runOrigin(backup.runId);
  const trusted = trustedWorkflows(context.config, env);
  const problems = originProblems(origin, env['GITHUB_REPOSITORY'], trusted);
  if (problems.length > 0) {
    throw new BackupRejectedError(
      `${backup.name} of run ${backup.runId} (${origin.url}) is not restored: ${problems.join('; ')}. Nothing was ` +
        'changed. Restore a backup that a trusted workflow of this repository took, or add its workflow to ' +
        'backup.trustedWorkflows if you trust it.',
    );
  }
  logger.info(
    `Run ${backup.runId} is a ${origin.event} run of ${origin.workflowPath} in ${origin.repository}: its backups may be restored`,
  );
}

/** What makes a run's artifacts untrustworthy, in words; empty when there is nothing. */
export function originProblems(
  origin: RunOrigin,
  repository: string | undefined,
  trusted: readonly string[],
): string[] {
  const problems: string[] = [];
  const same = (a: string | undefined, b: string | undefined) =>
    a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
  if (repository !== undefined && !same(origin.repository, repository)) {
    problems.push(`it is a run of ${origin.repository || 'another repository'}, not of ${repository}`);
  }
  if (!same(origin.headRepository ?? origin.repository, origin.repository)) {
    problems.push(`its code came from ${origin.headRepository ?? 'another repository'}, a fork`);
  }
  if (PULL_REQUEST_EVENTS.has(origin.event)) {
    problems.push(`a ${origin.event} event started it, which anyone who opens a pull request can cause`);
  }
  if (!trusted.includes(origin.workflowPath)) {
    problems.push(
      `it ran ${origin.workflowPath || 'an unnamed workflow'}, which is not among the trusted workflows (${trusted.join(', ')})`,
    );
  }
  return problems;
}

/** backup.trustedWorkflows, or this run's own workflow file and the example workflows'. */
export function trustedWorkflows(config: ResolvedConfig, env: Record<string, string | undefined>): string[] {
  if (config.backup.trustedWorkflows !== undefined) return config.backup.trustedWorkflows;
  const own = ownWorkflowPath(env);
  return [...new Set([...(own ? [own] : []), ...EXAMPLE_WORKFLOWS])];
}

/** `.github/workflows/x.yml` from GITHUB_WORKFLOW_REF (`owner/repo/.github/workflows/x.yml@refs/heads/main`). */
function ownWorkflowPath(env: Record<string, string | undefined>): string | undefined {
  const ref = env['GITHUB_WORKFLOW_REF'];
  const repository = env['GITHUB_REPOSITORY'];
  if (!ref || !repository || !ref.startsWith(`${repository}/`)) return undefined;
  const at = ref.lastIndexOf('@');
  return ref.slice(repository.length + 1, at < 0 ? undefined : at);
}
