import { UnsupportedError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import { runStage } from './engine.js';
import { runMutatingStage, type MutatingStageDefinition } from './guard.js';
import { preflightStage } from './preflight.js';
import { registryScriptsStage } from './registry-scripts.js';
import type { StageContext, StageDefinition, StageName, StageResult } from './types.js';

/** A stage that only reads, or one that changes data and so runs inside the guard. */
type AvailableStage = { reads: StageDefinition } | { changes: MutatingStageDefinition };

const AVAILABLE: Partial<Record<StageName, AvailableStage>> = {
  preflight: { reads: preflightStage },
  'registry-scripts': { changes: registryScriptsStage },
};

export function availableStages(): StageName[] {
  return Object.keys(AVAILABLE) as StageName[];
}

/** Checks that this version has the stage; one it does not have yet is said plainly, never faked. */
export function requireStage(name: StageName): AvailableStage {
  const stage = AVAILABLE[name];
  if (stage) return stage;
  throw new UnsupportedError(
    `stage "${name}" is not available in apim-migrate ${TOOL_VERSION}; this version runs: ${availableStages().join(', ')}. "apim-migrate plan" shows what ${name} will do.`,
  );
}

export function runAvailableStage(stage: AvailableStage, context: StageContext): Promise<StageResult> {
  return 'reads' in stage ? runStage(stage.reads, context) : runMutatingStage(stage.changes, context);
}
