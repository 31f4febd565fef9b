import type { Check } from '../core/check.js';
import type { DatabaseProfile } from '../core/data-profile.js';
import type { KnownProblemMatch, OperationName, StageChanges, StageName } from '../core/results.js';
import type { ArtifactStore, RunIdentity } from '../artifacts/store.js';
import type { ResolvedConfig, StoreConfig } from '../config/types.js';
import type { SecretMasker } from '../core/secrets.js';
import type { Logger } from '../log/logger.js';
import type { ProcessIdentity } from '../server/process-identity.js';
import type { ServerCommand } from '../server/server-command.js';

/** What a step hands back; a step that throws has failed. */
export interface StepOutput {
  outcome?: 'succeeded' | 'failed' | 'skipped';
  summary?: string;
  checks?: Check[];
  /** Steps this one decided on, run right after it (before the steps that were listed after it). */
  next?: StepDefinition[];
}

/** Where a stage says what it left in the API-M home, so that the action's post step can clean up after a cancel. */
export interface ServerStateSink {
  /**
   * The server runs as `pid` in `apimHome`; `command` is how it was started, whose launcher also stops it; `identity`,
   * when the platform tells it, is who `pid` was at the start (the post step checks it before it signals the pid).
   */
  serverStarted(pid: number, apimHome: string, command: ServerCommand, identity?: ProcessIdentity): void;
  serverStopped(): void;
  /** The server is left running on purpose (startup.leaveRunning): the post step must not stop it. */
  serverLeftRunning(): void;
  kitInstalled(apimHome: string): void;
  kitRemoved(): void;
  /** The stage gathers its logs; if the job ends before it stores them, the post step does. */
  logsPending(logs: PendingLogs): void;
  logsStored(): void;
}

/** A server stage's logs that are not stored yet. */
export interface PendingLogs {
  /** The folder that holds them. */
  dir: string;
  /** The artifact to store them as. */
  artifact: string;
  retentionDays: number;
  /** The API-M home, whose repository/logs/wso2carbon.log joins them. */
  apimHome: string;
  /** The store the logs go to, as the config sets it (kind and settings, never a credential). */
  store: StoreConfig;
  /** The environment variables that hold secrets, by name, never their values: the post step masks with them. */
  secretEnv: readonly string[];
}

/** The shell's pieces a stage may use; tests give fakes of exactly these. */
export interface StageDeps {
  logger: Logger;
  store: ArtifactStore;
  run: RunIdentity;
  /** Environment for secrets the config names. */
  env: Record<string, string | undefined>;
  /** Every secret of the run, collected once (config/secrets.ts): what stage logs, copied files and tools mask. */
  secrets: SecretMasker;
  /** The environment variables that hold those secrets, by name (for the action's post step). */
  secretEnv: readonly string[];
  clock?: () => number;
  /** How long a stage waits for another run's lock on its databases (APIM_MIGRATE_LOCK_WAIT_SECONDS); 60 s if unset. */
  lockWaitMs?: number;
  platform?: NodeJS.Platform;
  serverState?: ServerStateSink;
}

/** What the steps of a stage found or changed, merged into its result and report. */
export interface StageOutcome {
  backupArtifact?: string;
  /** restore: the stage it rolls back. */
  restoredStage?: StageName;
  logArtifact?: string;
  invalidDefinitions?: number;
  /** What changed, for the report and the job summary (indices added, rows deleted per table, ...). */
  changes?: StageChanges;
  /** The known problems the stage met (stages/known-problems.ts), each once. */
  knownProblems?: KnownProblemMatch[];
  /** preflight: the data profile, for the report. */
  profile?: DatabaseProfile[];
}

export interface StageContext {
  config: ResolvedConfig;
  deps: StageDeps;
  dryRun: boolean;
  force: boolean;
  /** Go on while other clients are connected to the databases, with a warning (`--allow-connected-clients`). */
  allowConnectedClients?: boolean;
  /** A scratch folder for this stage's files (reports, logs) before they are stored. */
  workDir: string;
  /** Filled in by the steps as they go. */
  outcome: StageOutcome;
}

/** What a step knows of the steps before it. */
export interface StepProgress {
  failed: boolean;
  /** The first failed step and why, e.g. "Registry indices: table REG_RESOURCE_TAG not found". */
  failure?: string;
}

export interface StepDefinition {
  id: string;
  title: string;
  /** Runs even after an earlier step failed: recording the outcome, releasing what was taken. */
  alwaysRun?: boolean;
  /**
   * Takes or gives back what the other steps need (the stage's locks): it does not say whether the stage did
   * anything, so a stage whose other steps were all skipped is skipped.
   */
  housekeeping?: boolean;
  run(context: StageContext, progress: StepProgress): Promise<StepOutput | void>;
}

export interface StageDefinition {
  name: OperationName;
  title: string;
  /**
   * The `<stage>` part of the report artifact's name when it is not `name`: a restore's names the stage it rolls
   * back (`restore-apim`), so that several restores in one job (a rehearsal's rollback) each store their report.
   */
  reportName?: string;
  /** Preflight reports every failed check, so its steps all run even after one failed. */
  runAllSteps?: boolean;
  /** Checks the stage's input files before anything happens; throws InputError (see input-checks.ts). */
  checkInputs?(
    config: ResolvedConfig,
    env: Record<string, string | undefined>,
    platform: NodeJS.Platform,
  ): Promise<void>;
  steps(context: StageContext): StepDefinition[];
}
