/**
 * The ledger's part in a stage that changes data: reading it and deciding what the stage must do, writing the
 * attempt's row once the data is safe to change, and finishing that row whatever happened.
 */

import type { ResolvedConfig } from '../config/types.js';
import { MUTATING_STAGES, type StageName } from '../core/results.js';
import { TOOL_VERSION } from '../core/version.js';
import {
  decideStageRun,
  readLedger,
  recordStageFinished,
  recordStageStarted,
  type BackupMeasure,
  type LedgerBackup,
  type LedgerDetails,
  type LedgerEntry,
  type StageRunDecision,
} from '../db/ledger.js';
import { withDatabase } from './databases.js';
import type { StageContext, StepDefinition, StepOutput } from './types.js';

/** What a stage that changes data shares between its own steps and the guard around them. */
export interface GuardState {
  /** The ledger entries of these databases as they were when the stage started. */
  entries: LedgerEntry[];
  /** Written to the ledger entry of this attempt when it ends. */
  details: Record<string, unknown>;
  /** The ledger row of this attempt, once the data is safe to change. */
  attemptId?: number;
}

/** Which reading of the ledger a decide step is: the first, before the checks and the lock, or the one under it. */
export type LedgerReadingStep = 'before-lock' | 'under-lock';

const READING_STEP: Record<LedgerReadingStep, { id: string; title: string }> = {
  'before-lock': { id: 'ledger-read', title: 'Read the ledger' },
  'under-lock': { id: 'ledger-read-locked', title: 'Read the ledger again under the lock' },
};

/**
 * Reads the ledger and decides; `next` turns the decision into the steps that follow (none when the ledger stops
 * the stage, which this step then says as its outcome). The guard reads it twice: first before it checks for
 * connected clients and locks, so that a stage with nothing to do checks and locks nothing, and again under the
 * lock, whose reading decides (another run may have finished the stage while this one waited for the lock).
 */
export function decideStep(
  stage: StageName,
  title: string,
  context: StageContext,
  guard: GuardState,
  next: (decision: StageRunDecision) => StepDefinition[],
  reading: LedgerReadingStep = 'under-lock',
): StepDefinition {
  return {
    ...READING_STEP[reading],
    async run(): Promise<StepOutput> {
      guard.entries = await readEntries(context.config);
      const decision = decide(stage, context, guard);
      switch (decision.kind) {
        case 'already-succeeded': {
          const { entry } = decision;
          context.deps.logger.notice(
            `${title} already succeeded on these databases (run ${entry.runId}, attempt ${entry.attempt}); nothing to do. Pass --force (action input force: true) to run it again.`,
          );
          return { outcome: 'skipped', summary: `already succeeded in run ${entry.runId}, attempt ${entry.attempt}` };
        }
        case 'missing-predecessors':
          return {
            outcome: 'failed',
            summary: `${stage} needs ${decision.missing.join(', ')} to have succeeded on these databases first: run ${decision.missing.length === 1 ? 'it' : 'them'} before ${stage}`,
          };
        case 'nothing-to-restore':
          return {
            outcome: 'failed',
            summary: `an earlier ${stage} attempt (run ${decision.entry.runId}, attempt ${decision.entry.attempt}) may have changed data but stored no backup: restore a backup of your own (apim-migrate restore --stage ... or your DBA's), or check the data and run again with --force`,
          };
        case 'first-run':
          return { summary: 'not run on these databases yet: back up, then run', next: next(decision) };
        case 'forced-rerun':
          return { summary: 'forced: back up, then run again on the data as it is', next: next(decision) };
        case 'resume-failed': {
          const from = decision.restoreFrom;
          return {
            summary: `attempt ${from.attempt} of run ${from.runId} did not succeed: restore ${from.backupName} first, then run again`,
            next: next(decision),
          };
        }
      }
    },
  };
}

/** The dry run's reading of the ledger: what the stage would do, changing nothing. */
export function previewStep(stage: StageName, context: StageContext, guard: GuardState): StepDefinition {
  return {
    id: 'ledger-read',
    title: 'Read the ledger',
    async run(): Promise<StepOutput> {
      guard.entries = await readEntries(context.config);
      const summary = describeDecision(decide(stage, context, guard));
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

/** The ledger row of this attempt: written once the data is safe to change, finished by {@link recordStep}. */
export async function recordAttemptStarted(
  context: StageContext,
  guard: GuardState,
  stage: StageName,
  backup: LedgerBackup,
  details?: LedgerDetails,
  backupMeasure?: BackupMeasure,
): Promise<void> {
  const { run } = context.deps;
  guard.attemptId = await withDatabase(context.config, 'shared_db', (session) =>
    recordStageStarted(session, {
      stage,
      runId: run.runId,
      attempt: run.attempt,
      backup,
      toolVersion: TOOL_VERSION,
      ...(details ? { details } : {}),
      ...(backupMeasure ? { backupMeasure } : {}),
    }),
  );
}

/** Finishes the attempt's row with its outcome; runs whatever happened before it. */
export function recordStep(context: StageContext, guard: GuardState): StepDefinition {
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
function decide(stage: StageName, context: StageContext, guard: GuardState): StageRunDecision {
  return decideStageRun({
    stage,
    order: MUTATING_STAGES,
    entries: guard.entries,
    force: context.force,
    skippedStages: skippedStages(context.config),
  });
}

/** The stages this configuration skips on purpose: they never count as missing predecessors. */
function skippedStages(config: ResolvedConfig): StageName[] {
  return config.keyManager === 'is' ? ['identity'] : [];
}

async function readEntries(config: ResolvedConfig): Promise<LedgerEntry[]> {
  const reading = await withDatabase(config, 'shared_db', (session) => readLedger(session));
  return reading.exists ? reading.entries : [];
}
