import path from 'node:path';
import { artifactName, type StoredArtifact } from '../artifacts/store.js';
import type { DatabaseName, DatabaseTarget, ResolvedConfig } from '../config/types.js';
import { createBackup, type BackupResult } from '../backup/create-backup.js';
import { MANIFEST_FILE } from '../backup/manifest.js';
import type { BackupDecryption, BackupEncryption } from '../backup/encryption.js';
import {
  decideStageRun,
  readLedger,
  recordStageFinished,
  recordStageStarted,
  type LedgerBackup,
  type LedgerDetails,
  type LedgerEntry,
  type LedgerEntryWithBackup,
  type StageRunDecision,
} from '../db/ledger.js';
import { acquireStageLock } from '../db/lock.js';
import { restoreBackup } from '../backup/restore-backup.js';
import { openSession, type DbSession } from '../db/session.js';
import { errorMessage, InputError } from '../core/errors.js';
import { groupPhysicalDatabases, isRegistryDatabase } from '../plan/build-plan.js';
import { withDatabase } from './databases.js';
import { TOOL_VERSION } from '../core/version.js';
import { runStage } from './engine.js';
import { MUTATING_STAGES, type StageName, type StageResult } from '../core/results.js';
import type { StageContext, StageDefinition, StepDefinition, StepOutput } from './types.js';

/** How long a stage waits for another run's lock on the same databases before it gives up, by default. */
export const DEFAULT_LOCK_WAIT_SECONDS = 60;
export const LOCK_WAIT_ENV = 'APIM_MIGRATE_LOCK_WAIT_SECONDS';

export function lockWaitMs(env: Record<string, string | undefined>): number {
  const text = env[LOCK_WAIT_ENV];
  if (text === undefined || text === '') return DEFAULT_LOCK_WAIT_SECONDS * 1000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new InputError({ message: `${LOCK_WAIT_ENV} must be a number of seconds (0 or more), not "${text}"` });
  }
  return seconds * 1000;
}

/** What a stage that changes data shares between its own steps and the guard around them. */
export interface GuardState {
  /** The ledger entries of these databases as they were when the stage started. */
  entries: LedgerEntry[];
  /** Written to the ledger entry of this attempt when it ends. */
  details: Record<string, unknown>;
  /** The ledger row of this attempt, once the data is safe to change. */
  attemptId?: number;
}

export interface MutatingStageDefinition {
  name: StageName;
  title: string;
  /**
   * The databases the stage changes, and so backs up first: `registry` is every configured database that may hold
   * the registry tables (shared_db, and config when it is another database).
   */
  touches: 'registry' | 'all';
  /** Why this configuration does not run the stage at all (no lock, no backup, no ledger entry). */
  skipReason?(config: ResolvedConfig): string | undefined;
  /** Checks the stage's input files before the lock and the backup; throws InputError (see input-checks.ts). */
  checkInputs?(config: ResolvedConfig, env: Record<string, string | undefined>): Promise<void>;
  steps(context: StageContext, guard: GuardState): StepDefinition[];
}

export interface PhysicalTarget {
  names: DatabaseName[];
  label: string;
  target: DatabaseTarget;
}

/**
 * Runs a stage that changes data, inside the guarantees of design.md: a lock on every database it
 * touches for the whole stage; the ledger's re-run rules; a verified backup stored before the first
 * change (or, when an earlier attempt failed, a restore from that attempt's backup instead of a new
 * backup of half-migrated data); and the attempt's outcome recorded in the ledger, whatever happens.
 */
export async function runMutatingStage(stage: MutatingStageDefinition, context: StageContext): Promise<StageResult> {
  const skip = stage.skipReason?.(context.config);
  if (skip !== undefined) {
    context.deps.logger.notice(`${stage.title} skipped: ${skip}`);
    return runStage(
      definitionWith(stage, [
        { id: 'skip', title: stage.title, run: async () => ({ outcome: 'skipped', summary: skip }) },
      ]),
      context,
    );
  }
  const touched = touchedDatabases(stage, context.config);
  const guard: GuardState = { entries: [], details: {} };
  if (context.dryRun) {
    guard.entries = await readEntries(context.config);
    return runStage(
      definitionWith(stage, [ledgerPreviewStep(stage, context, guard), ...stage.steps(context, guard)]),
      context,
    );
  }
  const locks = await lockDatabases(touched, context, stage.name);
  try {
    guard.entries = await readEntries(context.config);
    const decision = decide(stage, context, guard);
    return await runStage(definitionWith(stage, stepsFor(decision, stage, context, guard, touched)), context);
  } finally {
    await locks.release();
  }
}

/** The one step of a stage that the ledger stops before it changes anything. */
function ledgerVerdict(outcome: 'skipped' | 'failed', summary: string): StepDefinition {
  return { id: 'ledger', title: 'Ledger', run: async () => ({ outcome, summary }) };
}

function definitionWith(stage: MutatingStageDefinition, steps: StepDefinition[]): StageDefinition {
  return { name: stage.name, title: stage.title, steps: () => steps };
}

function stepsFor(
  decision: StageRunDecision,
  stage: MutatingStageDefinition,
  context: StageContext,
  guard: GuardState,
  touched: PhysicalTarget[],
): StepDefinition[] {
  switch (decision.kind) {
    case 'already-succeeded': {
      const { entry } = decision;
      context.deps.logger.notice(
        `${stage.title} already succeeded on these databases (run ${entry.runId}, attempt ${entry.attempt}); nothing to do. Pass --force (action input force: true) to run it again.`,
      );
      return [ledgerVerdict('skipped', `already succeeded in run ${entry.runId}, attempt ${entry.attempt}`)];
    }
    case 'missing-predecessors':
      return [
        ledgerVerdict(
          'failed',
          `${stage.name} needs ${decision.missing.join(', ')} to have succeeded on these databases first: run ${decision.missing.length === 1 ? 'it' : 'them'} before ${stage.name}`,
        ),
      ];
    case 'nothing-to-restore':
      return [
        ledgerVerdict(
          'failed',
          `an earlier ${stage.name} attempt (run ${decision.entry.runId}, attempt ${decision.entry.attempt}) may have changed data but stored no backup: restore a backup of your own (apim-migrate restore --stage ... or your DBA's), or check the data and run again with --force`,
        ),
      ];
    case 'resume-failed':
      return withLedger(stage, context, guard, restoreStep(decision.restoreFrom, context, guard, touched, stage));
    case 'first-run':
    case 'forced-rerun':
      return withLedger(stage, context, guard, backupStep(stage, context, guard, touched));
  }
}

/** The stage's own steps between the step that makes it safe to change data and the ledger record. */
function withLedger(
  stage: MutatingStageDefinition,
  context: StageContext,
  guard: GuardState,
  safetyStep: StepDefinition,
): StepDefinition[] {
  return [safetyStep, ...stage.steps(context, guard), recordStep(context, guard)];
}

function backupStep(
  stage: MutatingStageDefinition,
  context: StageContext,
  guard: GuardState,
  touched: PhysicalTarget[],
): StepDefinition {
  return {
    id: 'backup',
    title: 'Back up',
    async run(): Promise<StepOutput> {
      const { deps } = context;
      const backup = await backUpDatabases(
        context,
        stage.name,
        artifactName(stage.name, 'backup', deps.run.attempt),
        touched,
      );
      context.outcome.backupArtifact = backup.artifact.name;
      await recordAttemptStarted(context, guard, stage, {
        name: backup.artifact.name,
        id: backup.artifact.id,
        runId: backup.artifact.runId,
        sha256: manifestSha256(backup.artifact),
      });
      return {
        summary: `${backup.artifact.name} stored and verified (${touched.map((db) => db.label).join(', ')})`,
      };
    },
  };
}

function restoreStep(
  from: LedgerEntryWithBackup,
  context: StageContext,
  guard: GuardState,
  touched: PhysicalTarget[],
  stage: MutatingStageDefinition,
): StepDefinition {
  return {
    id: 'restore',
    title: 'Restore the backup of the failed attempt',
    async run(): Promise<StepOutput> {
      const { deps, config } = context;
      deps.logger.info(
        `${stage.name} failed earlier (run ${from.runId}, attempt ${from.attempt}): restoring ${from.backupName} of run ${from.backupRunId} before running it again, without a new backup`,
      );
      await restoreBackup({
        artifactName: from.backupName,
        runId: from.backupRunId,
        store: deps.store,
        decryption: backupDecryption(config, deps.env),
        databases: touched.map(({ target }) => target),
        logger: deps.logger,
        workDir: path.join(context.workDir, 'restore'),
        manifestSha256: from.backupSha256,
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

/** The ledger row of this attempt: written once the data is safe to change, finished by {@link recordStep}. */
async function recordAttemptStarted(
  context: StageContext,
  guard: GuardState,
  stage: MutatingStageDefinition,
  backup: LedgerBackup,
  details?: LedgerDetails,
): Promise<void> {
  const { run } = context.deps;
  guard.attemptId = await withDatabase(context.config, 'shared_db', (session) =>
    recordStageStarted(session, {
      stage: stage.name,
      runId: run.runId,
      attempt: run.attempt,
      backup,
      toolVersion: TOOL_VERSION,
      ...(details ? { details } : {}),
    }),
  );
}

function recordStep(context: StageContext, guard: GuardState): StepDefinition {
  return {
    id: 'ledger',
    title: 'Record in the ledger',
    alwaysRun: true,
    async run(_context, progress): Promise<StepOutput> {
      const id = guard.attemptId;
      if (id === undefined) return { outcome: 'skipped', summary: 'nothing was changed, so nothing is recorded' };
      const state = progress.failed ? 'failed' : 'succeeded';
      const details = progress.failure ? { ...guard.details, message: progress.failure } : guard.details;
      await withDatabase(context.config, 'shared_db', (session) =>
        recordStageFinished(session, id, { state, details }),
      );
      return { summary: `recorded as ${state}` };
    },
  };
}

/** What the ledger's rules say this stage must do on these databases now. */
function decide(stage: MutatingStageDefinition, context: StageContext, guard: GuardState): StageRunDecision {
  return decideStageRun({
    stage: stage.name,
    order: MUTATING_STAGES,
    entries: guard.entries,
    force: context.force,
    skippedStages: skippedStages(context.config),
  });
}

function ledgerPreviewStep(stage: MutatingStageDefinition, context: StageContext, guard: GuardState): StepDefinition {
  return {
    id: 'ledger',
    title: 'Ledger',
    async run(): Promise<StepOutput> {
      const decision = decide(stage, context, guard);
      const summary = describeDecision(decision);
      context.deps.logger.info(`dry run: ${summary}`);
      return { summary: `dry run: ${summary}` };
    },
  };
}

export function describeDecision(decision: StageRunDecision): string {
  switch (decision.kind) {
    case 'first-run':
      return 'would back up the databases first, then run';
    case 'forced-rerun':
      return 'forced: would back up the databases first, then run again on the data as it is';
    case 'already-succeeded':
      return `already succeeded (run ${decision.entry.runId}, attempt ${decision.entry.attempt}); would do nothing`;
    case 'resume-failed':
      return `an earlier attempt did not succeed: would restore ${decision.restoreFrom.backupName ?? '(no backup)'} first, then run again`;
    case 'missing-predecessors':
      return `would refuse: ${decision.missing.join(', ')} must succeed first`;
    case 'nothing-to-restore':
      return 'would refuse: an earlier attempt may have changed data but stored no backup';
  }
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
    logger: deps.logger,
    workDir: path.join(context.workDir, 'backup'),
    retentionDays: config.backup.retentionDays,
    toolVersion: TOOL_VERSION,
  });
}

function manifestSha256(artifact: StoredArtifact): string {
  return artifact.files.find((file) => file.name === MANIFEST_FILE)?.sha256 ?? '';
}

export function touchedDatabases(stage: MutatingStageDefinition, config: ResolvedConfig): PhysicalTarget[] {
  const all = groupPhysicalDatabases(config.databases);
  return stage.touches === 'all' ? all : all.filter(isRegistryDatabase);
}

/** The stages this configuration skips on purpose: they never count as missing predecessors. */
function skippedStages(config: ResolvedConfig): StageName[] {
  return config.keyManager === 'is' ? ['identity'] : [];
}

async function readEntries(config: ResolvedConfig): Promise<LedgerEntry[]> {
  const reading = await withDatabase(config, 'shared_db', (session) => readLedger(session));
  return reading.exists ? reading.entries : [];
}

/** One lock per physical database, each on its own session held for the whole stage. */
export async function lockDatabases(
  touched: PhysicalTarget[],
  context: StageContext,
  operation: string,
): Promise<{ release(): Promise<void> }> {
  const held: Array<{ session: DbSession; release(): Promise<void> }> = [];
  const releaseAll = async () => {
    for (const lock of held.reverse()) {
      await lock
        .release()
        .catch((error: unknown) => context.deps.logger.warning(`releasing a lock: ${errorMessage(error)}`));
      await lock.session.close().catch(() => undefined);
    }
  };
  try {
    for (const { target } of touched) {
      const session = await openSession(target);
      try {
        const lock = await acquireStageLock(session, {
          waitMs: lockWaitMs(context.deps.env),
          holder: `${operation} run ${context.deps.run.runId} attempt ${context.deps.run.attempt}`,
        });
        held.push({ session, release: () => lock.release() });
      } catch (error) {
        await session.close().catch(() => undefined);
        throw error;
      }
    }
  } catch (error) {
    await releaseAll();
    throw error;
  }
  return { release: releaseAll };
}

/** Encryption of new backups from the config; GitHub's store never gets plaintext unless allowed. */
export function backupEncryption(
  config: ResolvedConfig,
  env: Record<string, string | undefined>,
  storeKind: 'local' | 'github',
): BackupEncryption {
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

export function backupDecryption(config: ResolvedConfig, env: Record<string, string | undefined>): BackupDecryption {
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
