import type { StageResult } from '../core/results.js';

/** The action's outputs of design.md, from a stage result. */
export interface StageOutputs {
  status: string;
  'backup-artifact': string;
  'log-artifact': string;
  report: string;
  'invalid-definitions': string;
}

export function stageOutputs(result: StageResult): StageOutputs {
  return {
    status: result.status,
    'backup-artifact': result.backupArtifact ?? '',
    'log-artifact': result.logArtifact ?? '',
    report: result.reportPath ?? '',
    'invalid-definitions': result.invalidDefinitions === undefined ? '' : String(result.invalidDefinitions),
  };
}
