import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createStore, resolveRunIdentity } from '../artifacts/create-store.js';
import { loadConfig } from '../config/load-config.js';
import type { RegistryVersioningFlags, ResolvedConfig } from '../config/types.js';
import { readLedger, type LedgerReading } from '../db/ledger.js';
import { countVersioningRemoval } from '../db/registry-scripts.js';
import { openSession } from '../db/session.js';
import { errorMessage, InputError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { buildPlan, withNote, withRemovalCounts, type Plan } from '../plan/build-plan.js';
import { readRegistryVersioningFlags } from '../wso2/registry-flags.js';
import { requireStage, runAvailableStage } from './registry.js';
import { backupAllDatabases, checkBackupLabel } from './adhoc-backup.js';
import { restoreStage, type RestoreRequest } from './restore.js';
import type { ServerStateSink, StageContext, StageName, StageResult } from './types.js';

/** What every operation is given by its entry (the action or the CLI). */
export interface OperationOptions {
  configFile?: string;
  cwd?: string;
  env: Record<string, string | undefined>;
  logger: Logger;
  platform?: NodeJS.Platform;
  /** The action's record of what a stage left running or installed, for its post step. */
  serverState?: ServerStateSink;
}

/** Loads the config and registers every secret it leads to before anything can print it. */
export async function loadConfigWithSecrets(options: OperationOptions): Promise<ResolvedConfig> {
  const config = await loadConfig({
    ...(options.configFile === undefined ? {} : { file: options.configFile }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: options.env,
  });
  for (const db of config.databases) options.logger.setSecret(db.password);
  for (const name of [config.backup.passphraseEnv, config.backup.identityEnv]) {
    const value = name === undefined ? undefined : options.env[name];
    if (value) options.logger.setSecret(value);
  }
  return config;
}

/** A plan waits this long for shared_db before it goes without row counts. */
const PLAN_CONNECT_TIMEOUT_MS = 5_000;

export interface RunStageOptions extends OperationOptions {
  stage: StageName;
  dryRun: boolean;
  force: boolean;
}

export function runStageOperation(options: RunStageOptions): Promise<StageResult> {
  const stage = requireStage(options.stage);
  return withStageContext(options, options.stage, (context) => runAvailableStage(stage, context));
}

export interface RestoreOperationOptions extends OperationOptions, RestoreRequest {
  dryRun?: boolean;
}

export function restoreOperation(options: RestoreOperationOptions): Promise<StageResult> {
  const request: RestoreRequest = { stage: options.stage, ...(options.fromRun ? { fromRun: options.fromRun } : {}) };
  return withStageContext(options, 'restore', (context) => restoreStage(request, context));
}

export interface BackupOperationOptions extends OperationOptions {
  label?: string;
}

export function backupOperation(options: BackupOperationOptions): Promise<StageResult> {
  checkBackupLabel(options.label);
  return withStageContext(options, 'backup', (context) => backupAllDatabases(options.label, context));
}

/** Sets up what every stage and operation runs in: config, run, store, a work folder removed afterwards. */
async function withStageContext(
  options: OperationOptions & { dryRun?: boolean; force?: boolean },
  name: string,
  work: (context: StageContext) => Promise<StageResult>,
): Promise<StageResult> {
  const config = await loadConfigWithSecrets(options);
  const run = await resolveRunIdentity(options.env, config.store.dir);
  const store = createStore({ env: options.env, storeDir: config.store.dir, run });
  const workDir = await mkdtemp(path.join(options.env['RUNNER_TEMP'] ?? os.tmpdir(), `apim-migrate-${name}-`));
  let keepWorkDir = false;
  try {
    const result = await work({
      config,
      deps: {
        logger: options.logger,
        store,
        run,
        env: options.env,
        platform: options.platform ?? process.platform,
        ...(options.serverState ? { serverState: options.serverState } : {}),
      },
      dryRun: options.dryRun ?? false,
      force: options.force ?? false,
      workDir,
      outcome: {},
    });
    // A report that could not be stored elsewhere stays where it is.
    keepWorkDir = result.reportPath?.startsWith(workDir) ?? false;
    return result;
  } finally {
    if (!keepWorkDir) await rm(workDir, { recursive: true, force: true });
  }
}

export async function planOperation(options: OperationOptions): Promise<Plan> {
  const config = await loadConfigWithSecrets(options);
  const registryXml = path.join(config.oldApimHome, 'repository', 'conf', 'registry.xml');
  const registry = await readRegistryVersioningFlags(registryXml).catch((error: unknown) => {
    if (error instanceof InputError) {
      throw new InputError(error.problems, {
        headline: 'the plan needs the versioning flags of the old registry.xml (oldApimHome):',
      });
    }
    throw error;
  });
  const plan = buildPlan(config, {
    registryFlags: registry.flags,
    absentFlags: registry.absent,
    platform: options.platform ?? process.platform,
  });
  if (!Object.values(registry.flags).some(Boolean)) return plan;
  return countRemoval(plan, config, registry.flags);
}

/** Adds how many rows the versioning removal would delete; a plan is still a plan when shared_db does not answer. */
async function countRemoval(plan: Plan, config: ResolvedConfig, flags: RegistryVersioningFlags): Promise<Plan> {
  const shared = config.databases.find((db) => db.name === 'shared_db');
  if (!shared) return plan;
  try {
    const session = await openSession(shared, { connectTimeoutMs: PLAN_CONNECT_TIMEOUT_MS });
    try {
      return withRemovalCounts(plan, await countVersioningRemoval(session, flags));
    } finally {
      await session.close();
    }
  } catch (error) {
    return withNote(plan, 'registry-scripts', `row counts not available: ${errorMessage(error)}`);
  }
}

export interface StatusReport {
  database: string;
  ledger: LedgerReading;
}

export async function statusOperation(options: OperationOptions): Promise<StatusReport> {
  const config = await loadConfigWithSecrets(options);
  const shared = config.databases.find((db) => db.name === 'shared_db');
  if (!shared) throw new InputError({ file: config.configFile, message: 'no shared_db is configured' });
  const session = await openSession(shared);
  try {
    return {
      database: `shared_db (${shared.host}:${shared.port}/${shared.database})`,
      ledger: await readLedger(session),
    };
  } finally {
    await session.close();
  }
}
