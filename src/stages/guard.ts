/**
 * A stage that changes data runs inside the guarantees of design.md, as one sequence of steps: stop a server a
 * killed run left behind; read the ledger and decide (run, restore the failed attempt's backup and run again, do
 * nothing, or refuse), and where there is something to do, refuse while other clients are connected
 * (connected-clients.ts), lock every database it touches and read the ledger again under the lock, whose decision
 * counts; make the data safe to change (a new verified backup, or that restore); the stage's own steps; record
 * the attempt's outcome; release the locks. The last two run whatever happened before them.
 */

import type { ResolvedConfig } from '../config/types.js';
import type { StageName, StageResult } from '../core/results.js';
import type { LedgerEntryWithBackup, StageRunDecision } from '../db/ledger.js';
import { isRegistryDatabase, type PhysicalTarget } from '../plan/build-plan.js';
import { physicalTargets, targetsOnce } from './databases.js';
import { runStage } from './engine.js';
import { decideStep, previewStep, recordStep, type GuardState } from './ledger-steps.js';
import { connectedClientsPreview, connectedClientsSteps, leftoverServerStep } from './connected-clients.js';
import { lockSteps } from './locks.js';
import { backupStep, restoreStep } from './safety-steps.js';
import type { StageContext, StageDefinition, StepDefinition } from './types.js';

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
  checkInputs?(
    config: ResolvedConfig,
    env: Record<string, string | undefined>,
    platform: NodeJS.Platform,
  ): Promise<void>;
  /** Read-only checks that must pass before anything is backed up or changed: the stage refuses when one fails. */
  preconditions?(context: StageContext): StepDefinition[];
  /**
   * For a stage that changes the API-M home rather than the databases: its own backup step and its own restore of a
   * failed attempt's backup, each of which writes the attempt's ledger row, instead of the databases' ones.
   */
  safety?: {
    backup(context: StageContext, guard: GuardState): StepDefinition;
    restore(from: LedgerEntryWithBackup, context: StageContext, guard: GuardState): StepDefinition;
  };
  steps(context: StageContext, guard: GuardState): StepDefinition[];
}

export async function runMutatingStage(stage: MutatingStageDefinition, context: StageContext): Promise<StageResult> {
  const skip = stage.skipReason?.(context.config);
  if (skip !== undefined) {
    context.deps.logger.notice(`${stage.title} skipped: ${skip}`);
    return runStage(withSteps(stage, [skipStep(stage.title, skip)]), context);
  }
  const guard: GuardState = { entries: [], details: {} };
  const touched = targetsOnce(() => touchedDatabases(stage, context.config));
  if (context.dryRun) {
    return runStage(
      withSteps(stage, [
        connectedClientsPreview(touched, context, stage.name),
        previewStep(stage.name, context, guard),
        ...(stage.preconditions?.(context) ?? []),
        ...stage.steps(context, guard),
      ]),
      context,
    );
  }
  const locks = lockSteps(touched, context, stage.name);
  const clients = connectedClientsSteps(touched, context, stage.name);
  const safety = stage.safety;
  const decided = (decision: StageRunDecision): StepDefinition[] => [
    ...(stage.preconditions?.(context) ?? []),
    decision.kind === 'resume-failed'
      ? (safety?.restore(decision.restoreFrom, context, guard) ??
        restoreStep(stage.name, decision.restoreFrom, context, guard, touched))
      : (safety?.backup(context, guard) ?? backupStep(stage.name, context, guard, touched)),
    ...stage.steps(context, guard),
    recordStep(context, guard),
  ];
  const guarded = (): StepDefinition[] => [
    clients.before,
    locks.lock,
    clients.afterLock,
    decideStep(stage.name, stage.title, context, guard, decided, 'under-lock'),
    locks.release,
  ];
  return runStage(
    withSteps(stage, [
      leftoverServerStep(context),
      // A stage that already succeeded, or that must refuse, ends here: no check of the clients, no lock.
      decideStep(stage.name, stage.title, context, guard, guarded, 'before-lock'),
    ]),
    context,
  );
}

async function touchedDatabases(stage: MutatingStageDefinition, config: ResolvedConfig): Promise<PhysicalTarget[]> {
  const all = await physicalTargets(config);
  return stage.touches === 'all' ? all : all.filter(isRegistryDatabase);
}

function skipStep(title: string, reason: string): StepDefinition {
  return { id: 'skip', title, run: async () => ({ outcome: 'skipped', summary: reason }) };
}

function withSteps(stage: MutatingStageDefinition, steps: StepDefinition[]): StageDefinition {
  return { name: stage.name, title: stage.title, steps: () => steps };
}
