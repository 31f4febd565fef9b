/**
 * What makes it safe for a stage to change data: a new verified backup of every database it touches, or, when an
 * earlier attempt failed, the restore of that attempt's backup (a new backup of half-migrated data would be no
 * rollback point). Either step writes the attempt's ledger row once it is done.
 */

import type { KeyObject } from 'node:crypto';
import path from 'node:path';
import { artifactName, type StoredArtifact } from '../artifacts/store.js';
import { createBackup, type BackupResult } from '../backup/create-backup.js';
import { MANIFEST_FILE } from '../backup/manifest.js';
import { restoreBackup } from '../backup/restore-backup.js';
import type { StageName } from '../core/results.js';
import { TOOL_VERSION } from '../core/version.js';
import type { LedgerEntryWithBackup } from '../db/ledger.js';
import { readDatabaseSizeBytes } from '../db/probes.js';
import { withSession } from '../db/session.js';
import { errorMessage } from '../core/errors.js';
import type { PhysicalTarget } from '../plan/build-plan.js';
import { backupDecryption, backupEncryption, backupSigningKey } from './backup-keys.js';
import { trustBackup } from './backup-trust.js';
import type { TargetsOnce } from './databases.js';
import { recordAttemptStarted, type GuardState } from './ledger-steps.js';
import type { StageContext, StepDefinition, StepOutput } from './types.js';

export function backupStep(
  stage: StageName,
  context: StageContext,
  guard: GuardState,
  targets: TargetsOnce,
): StepDefinition {
  return {
    id: 'backup',
    title: 'Back up',
    async run(): Promise<StepOutput> {
      const touched = await targets();
      const name = artifactName(stage, 'backup', context.deps.run.attempt);
      const dataBytes = await measureDataBytes(context, touched);
      const started = Date.now();
      const backup = await backUpDatabases(context, stage, name, touched);
      context.outcome.backupArtifact = backup.artifact.name;
      const measure =
        dataBytes === undefined
          ? undefined
          : {
              bytes: backup.manifest.databases.reduce((sum, db) => sum + db.bytes, 0),
              seconds: (Date.now() - started) / 1000,
              dataBytes,
            };
      await recordAttemptStarted(
        context,
        guard,
        stage,
        {
          name: backup.artifact.name,
          id: backup.artifact.id,
          runId: backup.artifact.runId,
          sha256: manifestSha256(backup.artifact),
        },
        undefined,
        measure,
      );
      return {
        summary: `${backup.artifact.name} stored and verified (${touched.map((db) => db.label).join(', ')})`,
      };
    },
  };
}

export function restoreStep(
  stage: StageName,
  from: LedgerEntryWithBackup,
  context: StageContext,
  guard: GuardState,
  targets: TargetsOnce,
): StepDefinition {
  return {
    id: 'restore',
    title: 'Restore the backup of the failed attempt',
    async run(): Promise<StepOutput> {
      const touched = await targets();
      const { deps, config } = context;
      deps.logger.info(
        `${stage} failed earlier (run ${from.runId}, attempt ${from.attempt}): restoring ${from.backupName} of run ${from.backupRunId} before running it again, without a new backup`,
      );
      const decryption = backupDecryption(config, deps.env);
      const backup = {
        name: from.backupName,
        runId: from.backupRunId,
        recorded: true,
        manifestSha256: from.backupSha256,
      };
      await restoreBackup({
        artifactName: from.backupName,
        runId: from.backupRunId,
        store: deps.store,
        decryption,
        databases: touched,
        logger: deps.logger,
        secrets: deps.secrets,
        workDir: path.join(context.workDir, 'restore'),
        ...(await trustBackup(backup, { trustUnrecordedRun: false, decryption }, context)),
      });
      context.outcome.backupArtifact = from.backupName;
      // The restore put the ledger back as it was before that attempt: this attempt starts anew on it.
      await recordAttemptStarted(
        context,
        guard,
        stage,
        { name: from.backupName, id: from.backupId, runId: from.backupRunId, sha256: from.backupSha256 },
        { restoredFrom: from.id },
      );
      return { summary: `restored ${from.backupName} of run ${from.backupRunId}` };
    },
  };
}

/** Takes, stores and verifies the backup of these databases with the config's encryption. */
export function backUpDatabases(
  context: StageContext,
  stage: string,
  name: string,
  touched: readonly PhysicalTarget[],
): Promise<BackupResult> {
  const { deps, config } = context;
  return createBackup({
    stage,
    artifactName: name,
    databases: touched.map(({ names, target }) => ({ names, target })),
    store: deps.store,
    run: deps.run,
    encryption: backupEncryption(config, deps.env, deps.store.kind),
    ...signingKeyOption(backupSigningKey(config, deps.env)),
    logger: deps.logger,
    secrets: deps.secrets,
    workDir: path.join(context.workDir, 'backup'),
    retentionDays: config.backup.retentionDays,
    toolVersion: TOOL_VERSION,
  });
}

/**
 * The bytes of the databases a backup is about to take, for the ledger's record that later estimates start from
 * (plan/data-profile.ts); a database that does not say leaves the record without its measure.
 */
async function measureDataBytes(
  context: StageContext,
  touched: readonly PhysicalTarget[],
): Promise<number | undefined> {
  try {
    let sum = 0;
    for (const { target } of touched) sum += await withSession(target, (session) => readDatabaseSizeBytes(session));
    return sum;
  } catch (error) {
    context.deps.logger.debug(
      `the databases' sizes are unknown, so the ledger records no backup measure: ${errorMessage(error)}`,
    );
    return undefined;
  }
}

function signingKeyOption(key: KeyObject | undefined): { signingKey?: KeyObject } {
  return key === undefined ? {} : { signingKey: key };
}

function manifestSha256(artifact: StoredArtifact): string {
  return artifact.files.find((file) => file.name === MANIFEST_FILE)?.sha256 ?? '';
}
