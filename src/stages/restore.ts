import path from 'node:path';
import { artifactName } from '../artifacts/store.js';
import { readLedger, recordRollback } from '../db/ledger.js';
import { restoreBackup } from '../backup/restore-backup.js';
import { InputError } from '../core/errors.js';
import { physicalTargets, targetsOnce } from './databases.js';
import { withDatabase } from './databases.js';
import { runStage } from './engine.js';
import { backupDecryption } from './backup-keys.js';
import { connectedClientsSteps, leftoverServerStep } from './connected-clients.js';
import { lockSteps } from './locks.js';
import { trustBackup, type BackupRef, type RestoreTrust } from './backup-trust.js';
import { putBackHome } from './startup.js';
import type { StageContext, StepDefinition, StepOutput } from './types.js';
import type { StageName, StageResult } from '../core/results.js';

export interface RestoreRequest {
  stage: StageName;
  /** The run whose backup is restored; by default the one the ledger names. */
  fromRun?: string;
  /** `--trust-unrecorded-run`: the backup of a run the ledger does not record may be restored, if its manifest proves it ours. */
  trustUnrecordedRun?: boolean;
}

/** A GitHub run id (digits) or a local one (`20261124T203300Z`): never a path. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Checks the request before anything runs: bad input changes nothing, not even the store's run folders. */
export function checkRestoreRequest(request: RestoreRequest): void {
  if (request.trustUnrecordedRun && request.fromRun === undefined) {
    throw new InputError({
      message:
        '--trust-unrecorded-run (action input trust-unrecorded-run) goes with --from-run ID (restore-from-run): the backup the ledger names needs no such trust',
    });
  }
  if (request.fromRun !== undefined && !RUN_ID.test(request.fromRun)) {
    throw new InputError({
      message: `--from-run (action input restore-from-run) "${request.fromRun}" is not a run id: give the id of the run that took the backup, a GitHub run id such as 6123456789 or a local one such as 20261124T203300Z (apim-migrate status lists them)`,
    });
  }
}

/**
 * Rolls a stage back: finds the backup taken before the stage first changed data, checks and decrypts it
 * completely, then restores every database in it and compares the row counts with its manifest.
 */
export async function restoreStage(request: RestoreRequest, context: StageContext): Promise<StageResult> {
  // A backup that cannot be found is a wrong request (exit code 2), found before anything runs.
  const backup = await findBackup(request, context);
  context.outcome.backupArtifact = backup.name;
  context.outcome.restoredStage = request.stage;
  const decryption = backupDecryption(context.config, context.deps.env);
  const trust = await trustBackup(
    backup,
    { trustUnrecordedRun: request.trustUnrecordedRun ?? false, decryption },
    context,
  );
  if (request.stage === 'startup') return restoreStartup(backup, trust, context);
  const touched = targetsOnce(() => physicalTargets(context.config));
  const title = `Restore ${backup.name} of run ${backup.runId}`;
  if (context.dryRun) {
    const summary = `dry run: would restore ${backup.name} of run ${backup.runId}`;
    return runStage(
      {
        name: 'restore',
        reportName: `restore-${request.stage}`,
        title: `Restore of ${request.stage}`,
        steps: () => [{ id: 'restore', title, run: async () => ({ summary }) }],
      },
      context,
    );
  }
  const locks = lockSteps(touched, context, `restore of ${request.stage}`);
  const clients = connectedClientsSteps(touched, context, `the restore of ${request.stage}`);
  return runStage(
    {
      name: 'restore',
      reportName: `restore-${request.stage}`,
      title: `Restore of ${request.stage}`,
      steps: () => [
        leftoverServerStep(context),
        clients.before,
        locks.lock,
        clients.afterLock,
        {
          id: 'restore',
          title,
          async run(): Promise<StepOutput> {
            const result = await restoreBackup({
              artifactName: backup.name,
              runId: backup.runId,
              store: context.deps.store,
              decryption,
              databases: await touched(),
              logger: context.deps.logger,
              secrets: context.deps.secrets,
              workDir: path.join(context.workDir, 'restore'),
              ...trust,
            });
            const names = result.restored.map((db) => db.names.join(' = ')).join(', ');
            return { summary: `restored ${names}; every table's row count matches the manifest` };
          },
        },
        locks.release,
      ],
    },
    context,
  );
}

async function findBackup(request: RestoreRequest, context: StageContext): Promise<BackupRef> {
  const reading = await withDatabase(context.config, 'shared_db', (session) => readLedger(session));
  const recorded = (reading.exists ? reading.entries : []).filter(
    (entry) => entry.stage === request.stage && entry.backupName && entry.backupRunId,
  );
  const withDigest = (ref: BackupRef): BackupRef => {
    const entry = recorded.find(
      (candidate) => candidate.backupName === ref.name && candidate.backupRunId === ref.runId,
    );
    if (!entry) return ref;
    return { ...ref, recorded: true, ...(entry.backupSha256 ? { manifestSha256: entry.backupSha256 } : {}) };
  };
  if (request.fromRun !== undefined) return withDigest(await findBackupInRun(request.stage, request.fromRun, context));
  const latest = recorded.at(-1);
  if (!latest?.backupName || !latest.backupRunId) {
    throw new InputError({
      message: `the ledger in shared_db records no backup of ${request.stage}: name the run that took it with --from-run ID (action input restore-from-run)`,
    });
  }
  return withDigest({ name: latest.backupName, runId: latest.backupRunId, recorded: true });
}

/** The backup of the stage's first attempt in that run: the one taken before it first changed data. */
async function findBackupInRun(stage: StageName, runId: string, context: StageContext): Promise<BackupRef> {
  const artifacts = await context.deps.store.list({ runId });
  const backups = artifacts
    .map((artifact) => ({ artifact, attempt: attemptOf(stage, artifact.name) }))
    .filter((entry): entry is { artifact: (typeof artifacts)[number]; attempt: number } => entry.attempt !== undefined)
    .sort((a, b) => a.attempt - b.attempt);
  const first = backups[0];
  if (!first) {
    throw new InputError({
      message: `run ${runId} has no backup of ${stage} in ${context.deps.store.description} (looked for ${artifactName(stage, 'backup', 1)} and later attempts)`,
    });
  }
  return { name: first.artifact.name, runId, recorded: false };
}

function attemptOf(stage: StageName, name: string): number | undefined {
  const prefix = artifactName(stage, 'backup', 1).replace(/1$/, '');
  if (!name.startsWith(prefix)) return undefined;
  const attempt = Number(name.slice(prefix.length));
  return Number.isInteger(attempt) && attempt > 0 ? attempt : undefined;
}

/**
 * Rolls the startup stage back: puts solr and deployment.toml back from its backup (with the server stopped: a
 * server a killed run left behind is stopped first), then records in the ledger that startup was rolled back, so
 * that it can run again. The databases are not touched, so no client check and no lock beyond the ledger's.
 */
function restoreStartup(backup: BackupRef, trust: RestoreTrust, context: StageContext): Promise<StageResult> {
  const title = `Put back solr and deployment.toml from ${backup.name} of run ${backup.runId}`;
  const steps = (): StepDefinition[] => {
    if (context.dryRun) return [{ id: 'restore', title, run: async () => ({ summary: `dry run: would ${title}` }) }];
    const locks = lockSteps(
      targetsOnce(async () => (await physicalTargets(context.config)).filter((db) => db.names.includes('shared_db'))),
      context,
      'restore of startup',
    );
    return [
      leftoverServerStep(context),
      locks.lock,
      {
        id: 'restore',
        title,
        async run(): Promise<StepOutput> {
          const result = await putBackHome(context, backup, trust);
          await withDatabase(context.config, 'shared_db', (session) =>
            recordRollback(session, {
              stage: 'startup',
              runId: context.deps.run.runId,
              attempt: context.deps.run.attempt,
              message: `rolled back: ${backup.name} of run ${backup.runId} put back by restore --stage startup`,
            }),
          );
          const removed =
            result.removed.length > 0 ? `; removed ${result.removed.join(', ')} (absent in the backup)` : '';
          return {
            summary: `put back ${result.restored.join(', ')}${removed}; the ledger records startup as rolled back`,
          };
        },
      },
      locks.release,
    ];
  };
  return runStage({ name: 'restore', reportName: 'restore-startup', title: 'Restore of startup', steps }, context);
}
