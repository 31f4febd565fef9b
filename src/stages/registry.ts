import { runStage } from './engine.js';
import { runMutatingStage, type MutatingStageDefinition } from './guard.js';
import { apimStage } from './apim.js';
import { apimValidateStage } from './apim-validate.js';
import { identityStage } from './identity.js';
import { preflightStage } from './preflight.js';
import { startupStage } from './startup.js';
import { verifyStage } from './verify.js';
import { checkBackupKeyInput } from './input-checks.js';
import { registryScriptsStage } from './registry-scripts.js';
import type { ResolvedConfig } from '../config/types.js';
import type { StageContext, StageDefinition } from './types.js';
import type { StageName, StageResult } from '../core/results.js';

/** A stage that only reads, or one that changes data and so runs inside the guard. */
type AvailableStage = { reads: StageDefinition } | { changes: MutatingStageDefinition };

const STAGES: Record<StageName, AvailableStage> = {
  preflight: { reads: preflightStage },
  'registry-scripts': { changes: registryScriptsStage },
  identity: { changes: identityStage },
  'apim-validate': { reads: apimValidateStage },
  apim: { changes: apimStage },
  verify: { reads: verifyStage },
  startup: { changes: startupStage },
};

export function requireStage(name: StageName): AvailableStage {
  return STAGES[name];
}

/**
 * The stage's checks of its input files, and for a stage that changes data its backup key; none for a stage that
 * this configuration skips.
 */
export async function checkStageInputs(
  stage: AvailableStage,
  config: ResolvedConfig,
  env: Record<string, string | undefined>,
  platform: NodeJS.Platform = process.platform,
): Promise<void> {
  if ('reads' in stage) return stage.reads.checkInputs?.(config, env, platform);
  if (stage.changes.skipReason?.(config) !== undefined) return;
  checkBackupKeyInput(config, env);
  return stage.changes.checkInputs?.(config, env, platform);
}

export function runAvailableStage(stage: AvailableStage, context: StageContext): Promise<StageResult> {
  return 'reads' in stage ? runStage(stage.reads, context) : runMutatingStage(stage.changes, context);
}
