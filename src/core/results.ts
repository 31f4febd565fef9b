import type { DatabaseProfile } from './data-profile.js';
import type { Check } from './check.js';

/** The stages, their results and their steps' outcomes: the words every layer uses. */
export const STAGE_NAMES = [
  'preflight',
  'registry-scripts',
  'identity',
  'apim-validate',
  'apim',
  'verify',
  'startup',
] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** What the engine runs: the stages, and the operations beside them that store a report too. */
export type OperationName = StageName | 'restore' | 'backup';

/**
 * The stages that change data, in pipeline order; each needs the ones before it. startup changes the API-M home (its
 * search index and deployment.toml), which it backs up instead of the databases.
 */
export const MUTATING_STAGES = [
  'registry-scripts',
  'identity',
  'apim',
  'startup',
] as const satisfies readonly StageName[];

export function isStageName(value: string): value is StageName {
  return (STAGE_NAMES as readonly string[]).includes(value);
}

export type StepOutcome = 'succeeded' | 'failed' | 'skipped' | 'not-run';
export type StageStatus = 'succeeded' | 'skipped' | 'failed';

export interface StepResult {
  id: string;
  title: string;
  outcome: StepOutcome;
  durationMs: number;
  /** One line on what the step did or why it failed. */
  summary?: string;
  checks?: Check[];
}

export interface StageResult {
  stage: OperationName;
  status: StageStatus;
  dryRun: boolean;
  runId: string;
  attempt: number;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  steps: StepResult[];
  /** The verdict line of the stage. */
  summary: string;
  /**
   * What the process exits with for this result, in the CLI and the action alike: 0 when it succeeded or was
   * skipped; 2 when it failed because the input, the config or its secrets are wrong (a step failed with such an
   * error, e.g. a database refused the configured credentials); 1 for any other failure.
   */
  exitCode: 0 | 1 | 2;
  toolVersion: string;
  backupArtifact?: string;
  /** restore: the stage it rolled back. */
  restoredStage?: StageName;
  logArtifact?: string;
  reportArtifact?: string;
  /** Path of the JSON report on this machine. */
  reportPath?: string;
  invalidDefinitions?: number;
  changes?: StageChanges;
  /** The known problems of the catalogue (src/wso2/known-problems.json) the stage met, each once. */
  knownProblems?: KnownProblemMatch[];
  /** preflight: the data profile of every physical database that answered. */
  profile?: DatabaseProfile[];
}

/** A known problem met by a stage: which, where it was seen, and what to do. */
export interface KnownProblemMatch {
  id: string;
  /** `server-log`: a WARN/ERROR record of a server run; `database`: a database error of apim-migrate's own SQL. */
  source: 'server-log' | 'database';
  cause: string;
  fix: string;
  /** The issue or docs page it comes from. */
  reference: string;
  /** The line it was seen in, masked (neutralised when printed or stored). */
  line: string;
}

/** What a stage changed (in a dry run: would change), for the report and the job summary; one shape per stage. */
export type StageChanges = RegistryScriptsChanges | ApimValidateChanges;

export interface RegistryScriptsChanges {
  stage: 'registry-scripts';
  /** The indices added (`REG_RESOURCE_TAG_IND_BY_REG_TAG_ID`, prefixed `<database>: ` when there are several). */
  indicesAdded?: string[];
  /** In a dry run: the indices that would be added. */
  indicesToAdd?: string[];
  versioningRemoval?: VersioningRemovalChange[];
}

/** One kind of versioned metadata: the rows deleted, or in a dry run the rows that would be. */
export type VersioningRemovalChange = {
  /** The database, when the stage changes several. */
  database?: string;
  mappingTable: string;
  entityTable: string;
} & (
  | { mappingRowsDeleted: number; entityRowsDeleted: number }
  | { mappingRowsToDelete: number; entityRowsToDelete: number }
);

export interface ApimValidateChanges {
  stage: 'apim-validate';
  /** The API definitions the validator found invalid. */
  invalidDefinitions: Array<{ name: string; version: string; provider: string; kind: string; message: string }>;
}
