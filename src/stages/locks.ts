/**
 * The stage locks as two steps around the work that needs them: one lock per physical database, each on its own
 * session held until the release step, which runs whatever happened in between.
 */

import { errorMessage } from '../core/errors.js';
import { acquireStageLock } from '../db/lock.js';
import { openSession, type DbSession } from '../db/session.js';
import type { PhysicalTarget } from '../plan/build-plan.js';
import type { TargetsOnce } from './databases.js';
import type { StageContext, StepDefinition, StepOutput } from './types.js';

/** How long a stage waits for another run's lock on the same databases before it gives up, by default. */
export const DEFAULT_LOCK_WAIT_MS = 60_000;

interface HeldLock {
  session: DbSession;
  label: string;
  release(): Promise<void>;
}

/** The step that takes the locks of `touched` and the step that gives them back, for `operation` (in messages). */
export function lockSteps(
  targets: TargetsOnce,
  context: StageContext,
  operation: string,
): { lock: StepDefinition; release: StepDefinition } {
  const held: HeldLock[] = [];
  let touched: readonly PhysicalTarget[] = [];
  const lock: StepDefinition = {
    id: 'lock',
    title: 'Lock the databases',
    housekeeping: true,
    async run(): Promise<StepOutput> {
      try {
        touched = await targets();
        for (const db of touched) held.push(await lockDatabase(db, context, operation));
      } catch (error) {
        await releaseAll(held, context);
        throw error;
      }
      return { summary: `locked ${touched.map((db) => db.label).join(', ')}` };
    },
  };
  const release: StepDefinition = {
    id: 'unlock',
    title: 'Release the locks',
    alwaysRun: true,
    housekeeping: true,
    async run(): Promise<StepOutput> {
      if (held.length === 0) return { outcome: 'skipped', summary: 'no lock was held' };
      const labels = held.map((entry) => entry.label);
      await releaseAll(held, context);
      return { summary: `released ${labels.join(', ')}` };
    },
  };
  return { lock, release };
}

async function lockDatabase(db: PhysicalTarget, context: StageContext, operation: string): Promise<HeldLock> {
  const { deps } = context;
  const session = await openSession(db.target);
  try {
    const lock = await acquireStageLock(session, {
      waitMs: deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
      holder: `${operation} run ${deps.run.runId} attempt ${deps.run.attempt}`,
    });
    return { session, label: db.label, release: () => lock.release() };
  } catch (error) {
    await session.close().catch(() => undefined);
    throw error;
  }
}

/** Releases every held lock, the last taken first; a lock that cannot be released is said, not thrown. */
async function releaseAll(held: HeldLock[], context: StageContext): Promise<void> {
  for (const lock of held.splice(0).reverse()) {
    await lock
      .release()
      .catch((error: unknown) => context.deps.logger.warning(`releasing a lock: ${errorMessage(error)}`));
    await lock.session.close().catch(() => undefined);
  }
}
