import { UnsupportedError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import { preflightStage } from './preflight.js';
import type { StageDefinition, StageName } from './types.js';

const AVAILABLE: Partial<Record<StageName, StageDefinition>> = {
  preflight: preflightStage,
};

export function availableStages(): StageName[] {
  return Object.keys(AVAILABLE) as StageName[];
}

/** The definition of a stage; a stage this version does not have yet is said plainly, never faked. */
export function stageDefinition(name: StageName): StageDefinition {
  const definition = AVAILABLE[name];
  if (definition) return definition;
  throw new UnsupportedError(
    `stage "${name}" is not available in apim-migrate ${TOOL_VERSION}; this version runs: ${availableStages().join(', ')}. "apim-migrate plan" shows what ${name} will do.`,
  );
}
