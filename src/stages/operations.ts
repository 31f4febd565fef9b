import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createStore, resolveRunIdentity } from '../artifacts/create-store.js';
import { removeEmptyRunFolder } from '../artifacts/local-store.js';
import { deploymentTomlPath, loadConfig } from '../config/load-config.js';
import type { RegistryVersioningFlags, ResolvedConfig } from '../config/types.js';
import { readLedger, type LedgerReading } from '../db/ledger.js';
import { countVersioningRemoval } from '../db/registry-scripts.js';
import { withSession } from '../db/session.js';
import { configuredJavaHome, resolveJavaHome } from '../server/java.js';
import { processAlive } from '../server/server-runner.js';
import { errorMessage, InputError } from '../core/errors.js';
import { collectSecrets, type CollectedSecrets } from '../config/secrets.js';
import { SecretMasker } from '../core/secrets.js';
import type { Logger } from '../log/logger.js';
import { buildPlan, withDataProfile, withDiff, withNote, withRemovalCounts, type Plan } from '../plan/build-plan.js';
import { editDeploymentToml } from '../wso2/deployment-toml-edit.js';
import { editMigrationConfig } from '../wso2/migration-config-edit.js';
import { MIGRATION_CONFIG_PATH, readKitText } from '../wso2/migration-kit.js';
import { unifiedDiff } from '../wso2/text-diff.js';
import { statementCacheTargets } from '../plan/build-plan.js';
import { readOldHomeVersioning } from '../wso2/registry-flags.js';
import { checkStageInputs, requireStage, runAvailableStage } from './registry.js';
import { backupAllDatabases, checkBackupLabel } from './adhoc-backup.js';
import {
  configuredDatabase,
  describeDatabase,
  findRegistryDatabases,
  physicalTargets,
  readProfiles,
  serverIdentities,
} from './databases.js';
import { checkBackupKeyInput, checkRestoreKeyInput, checkStoreDirInput } from './input-checks.js';
import { checkRestoreRequest, restoreStage, type RestoreRequest } from './restore.js';
import { DEFAULT_LOCK_WAIT_MS } from './locks.js';
import type { ServerStateSink, StageContext } from './types.js';
import type { StageName, StageResult } from '../core/results.js';

/** What every operation is given by its entry (the action or the CLI). */
export interface OperationOptions {
  configFile?: string;
  cwd?: string;
  env: Record<string, string | undefined>;
  logger: Logger;
  platform?: NodeJS.Platform;
  /** The action's record of what a stage left running or installed, for its post step. */
  serverState?: ServerStateSink;
  /** The action's `github-token` input, for the artifacts of other runs and earlier attempts. */
  githubToken?: string;
}

/** The config, and the one secrets service of the operation: every secret it leads to, registered with the logger. */
export interface ConfigWithSecrets {
  config: ResolvedConfig;
  secrets: SecretMasker;
  /** What the secrets are and which environment variables hold them (by name, for the post step). */
  collected: CollectedSecrets;
}

/** Loads the config and registers every secret it leads to before anything can print it. */
export async function loadConfigWithSecrets(options: OperationOptions): Promise<ConfigWithSecrets> {
  const config = await loadConfig({
    ...(options.configFile === undefined ? {} : { file: options.configFile }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: options.env,
  });
  const collected = collectSecrets(config, options.env, {
    ...(options.githubToken ? { githubToken: options.githubToken } : {}),
  });
  const secrets = new SecretMasker();
  for (const value of collected.values) {
    secrets.add(value);
    options.logger.setSecret(value);
  }
  return { config, secrets, collected };
}

/** A plan waits this long for shared_db before it goes without row counts. */
const PLAN_CONNECT_TIMEOUT_MS = 5_000;

export interface RunStageOptions extends OperationOptions {
  stage: StageName;
  dryRun: boolean;
  force: boolean;
  /** Go on while other clients are connected to the databases, with a warning that names them. */
  allowConnectedClients?: boolean;
}

export function runStageOperation(options: RunStageOptions): Promise<StageResult> {
  const stage = requireStage(options.stage);
  return withStageContext(options, options.stage, (context) => runAvailableStage(stage, context), {
    checkInputs: (config) => checkStageInputs(stage, config, options.env, options.platform ?? process.platform),
  });
}

export interface RestoreOperationOptions extends OperationOptions, RestoreRequest {
  dryRun?: boolean;
  /** Go on while other clients are connected to the databases, with a warning that names them. */
  allowConnectedClients?: boolean;
}

export async function restoreOperation(options: RestoreOperationOptions): Promise<StageResult> {
  const request: RestoreRequest = {
    stage: options.stage,
    ...(options.fromRun ? { fromRun: options.fromRun } : {}),
    trustUnrecordedRun: options.trustUnrecordedRun ?? false,
  };
  checkRestoreRequest(request);
  return withStageContext(options, 'restore', (context) => restoreStage(request, context), {
    checkInputs: async (config) => checkRestoreKeyInput(config, options.env),
  });
}

export interface BackupOperationOptions extends OperationOptions {
  label?: string;
}

export function backupOperation(options: BackupOperationOptions): Promise<StageResult> {
  checkBackupLabel(options.label);
  return withStageContext(options, 'backup', (context) => backupAllDatabases(options.label, context), {
    checkInputs: async (config) => checkBackupKeyInput(config, options.env),
  });
}

/** Sets up what every stage and operation runs in: config, run, store, a work folder removed afterwards. */
async function withStageContext(
  options: OperationOptions & { dryRun?: boolean; force?: boolean; allowConnectedClients?: boolean },
  name: string,
  work: (context: StageContext) => Promise<StageResult>,
  checks: { checkInputs?: (config: ResolvedConfig) => Promise<void> } = {},
): Promise<StageResult> {
  const { config, secrets, collected } = await loadConfigWithSecrets(options);
  // Before the run's folder, the lock or a backup: bad input changes nothing.
  if (config.store.kind === 'folder') await checkStoreDirInput(config);
  await checks.checkInputs?.(config);
  const lockWaitMs = readLockWaitMs(options.env);
  const run = await resolveRunIdentity(options.env, config.store);
  const store = createStore({
    store: config.store,
    env: options.env,
    run,
    ...(options.githubToken ? { githubToken: options.githubToken } : {}),
    onWarning: (message) => options.logger.warning(message),
    onProgress: (message) => options.logger.info(message),
  });
  const serverState = options.serverState;
  const workBase = options.env['RUNNER_TEMP'] ?? os.tmpdir();
  for (const base of new Set([workBase, os.tmpdir()])) await removeOrphanedWorkDirs(base, options.logger);
  const workDir = await mkdtemp(path.join(workBase, `apim-migrate-${name}-${process.pid}-`));
  let keepWorkDir = false;
  try {
    const result = await work({
      config,
      deps: {
        logger: options.logger,
        store,
        run,
        env: options.env,
        secrets,
        secretEnv: collected.envNames,
        lockWaitMs,
        platform: options.platform ?? process.platform,
        ...(serverState ? { serverState } : {}),
      },
      dryRun: options.dryRun ?? false,
      force: options.force ?? false,
      allowConnectedClients: options.allowConnectedClients ?? false,
      workDir,
      outcome: {},
    });
    // The report stays where it is when it could not be stored, or when the store keeps it elsewhere than on this
    // machine (GitHub, S3): its path is printed, and is the action's output.
    keepWorkDir = result.reportPath?.startsWith(workDir) ?? false;
    return result;
  } finally {
    if (!keepWorkDir) await rm(workDir, { recursive: true, force: true });
    else await removeAllBut(workDir, KEPT_IN_WORK_DIR);
    // A run that stored nothing (refused, or failed before its first artifact) leaves no folder behind.
    if (store.kind === 'folder') await removeEmptyRunFolder(config.store.dir, run.runId);
  }
}

/**
 * What a kept work folder keeps: the report, and the logs the post step may still have to store. The backup's files,
 * a restore's decrypted ones and the kit's copy go: they are stored, or of no use, and may hold plaintext data.
 */
const KEPT_IN_WORK_DIR = ['report', 'logs'];

async function removeAllBut(dir: string, kept: readonly string[]): Promise<void> {
  for (const name of await readdir(dir).catch(() => [])) {
    if (!kept.includes(name)) await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

const LOCK_WAIT_ENV = 'APIM_MIGRATE_LOCK_WAIT_SECONDS';

/** How long to wait for another run's lock, from APIM_MIGRATE_LOCK_WAIT_SECONDS (default 60 s). */
function readLockWaitMs(env: Record<string, string | undefined>): number {
  const text = env[LOCK_WAIT_ENV];
  if (text === undefined || text === '') return DEFAULT_LOCK_WAIT_MS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new InputError({ message: `${LOCK_WAIT_ENV} must be a number of seconds (0 or more), not "${text}"` });
  }
  return seconds * 1000;
}

/**
 * `apim-migrate-<operation>-<pid>-<random>`: the work folder of one invocation, or the folder of a MySQL client
 * defaults file (`apim-migrate-mysql-<pid>-<random>`, it holds a password).
 */
const WORK_DIR = /^apim-migrate-[a-z-]+-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Removes the work folders of invocations that were killed (SIGKILL, a power cut) before they could: they may hold
 * dumps, and a restore's decrypted plaintext. A folder whose process still runs is left alone.
 */
async function removeOrphanedWorkDirs(base: string, logger: Logger): Promise<void> {
  const names = await readdir(base).catch(() => []);
  for (const name of names) {
    const pid = Number(WORK_DIR.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    const dir = path.join(base, name);
    try {
      await rm(dir, { recursive: true, force: true });
      logger.info(`Removed ${dir}, the work folder of an apim-migrate run that was killed (pid ${pid})`);
    } catch (error) {
      // Another user's, in a shared /tmp: not ours to remove, and no reason to stop this run.
      logger.debug(`Left ${dir}: ${errorMessage(error)}`);
    }
  }
}

export async function planOperation(options: OperationOptions): Promise<Plan> {
  const { config, secrets } = await loadConfigWithSecrets(options);
  const versioning = await readOldHomeVersioning(config.oldApimHome).catch((error: unknown) => {
    if (error instanceof InputError) {
      throw new InputError(error.problems, {
        headline: 'the plan needs the versioning flags of the old registry.xml (oldApimHome):',
      });
    }
    throw error;
  });
  const registry = versioning.registry;
  const platform = options.platform ?? process.platform;
  const plan = buildPlan(config, {
    registryFlags: registry.flags,
    absentFlags: registry.absent,
    platform,
    javaHome: await resolveJavaHome({ env: options.env, platform, ...configuredJavaHome(config) }),
    // Which configured databases are one: the servers say it where they answer.
    servers: await serverIdentities(config, { connectTimeoutMs: PLAN_CONNECT_TIMEOUT_MS }),
  });
  const withWarnings = versioning.warnings.reduce(
    (current, warning) => withNote(current, 'registry-scripts', `WARNING: ${warning}`),
    plan,
  );
  const withDiffs = await addConfigDiffs(withWarnings, config, secrets);
  const counted = Object.values(registry.flags).some(Boolean)
    ? await countRemoval(withDiffs, config, registry.flags)
    : withDiffs;
  return addDataProfile(counted, config, secrets, options.logger);
}

/**
 * Adds the data profile of every physical database and the backup estimates (from shared_db's ledger); a database
 * that does not answer is left out and said in a note, so a plan is still a plan.
 */
async function addDataProfile(
  plan: Plan,
  config: ResolvedConfig,
  secrets: SecretMasker,
  logger: Logger,
): Promise<Plan> {
  const timeout = { connectTimeoutMs: PLAN_CONNECT_TIMEOUT_MS };
  const { profiles, problems } = await readProfiles(await physicalTargets(config), timeout);
  const entries = await withSession(configuredDatabase(config, 'shared_db'), (session) => readLedger(session), timeout)
    .then((reading) => (reading.exists ? reading.entries : []))
    .catch((error: unknown) => {
      logger.debug(`the ledger could not be read for the backup estimates: ${errorMessage(error)}`);
      return [];
    });
  const profiled = withDataProfile(plan, profiles, entries);
  // A driver's message is text from outside: masked like the diffs.
  return problems.length === 0 ? profiled : { ...profiled, profileNotes: problems.map((note) => secrets.mask(note)) };
}

/**
 * The edits the identity and apim stages would make, as diffs of the files as they are now. A file that cannot
 * be read or edited yet is said in a note: preflight and the stage itself report it fully.
 */
async function addConfigDiffs(plan: Plan, config: ResolvedConfig, secrets: SecretMasker): Promise<Plan> {
  let result = plan;
  const tomlFile = deploymentTomlPath(config.apimHome);
  const toml = await readFile(tomlFile, 'utf8').catch(() => undefined);
  const tryDiff = (stage: StageName, file: string, edit: () => { text: string }, before: string) => {
    try {
      const diff = unifiedDiff(file, before, edit().text);
      result = withDiff(result, stage, file, secrets.mask(diff));
    } catch (error) {
      result = withNote(result, stage, `${file} cannot be edited as it is: ${errorMessage(error)}`);
    }
  };
  if (toml !== undefined) {
    if (config.keyManager === 'resident' && config.identity?.uniqueIdUserStore) {
      tryDiff(
        'identity',
        tomlFile,
        () => editDeploymentToml(toml, { file: tomlFile, addStatementCacheParam: [], userStoreUniqueId: true }),
        toml,
      );
    }
    const cache = statementCacheTargets(config);
    if (cache.length > 0) {
      tryDiff(
        'apim',
        tomlFile,
        () => editDeploymentToml(toml, { file: tomlFile, addStatementCacheParam: cache, userStoreUniqueId: false }),
        toml,
      );
    }
  }
  const identity = config.keyManager === 'resident' ? config.identity : undefined;
  if (identity) {
    const yaml = await readKitText(identity.migrationKit, 'identity', MIGRATION_CONFIG_PATH).catch(() => undefined);
    const file = `${identity.migrationKit}: ${MIGRATION_CONFIG_PATH}`;
    if (yaml !== undefined) {
      tryDiff('identity', file, () => editMigrationConfig(yaml, { targetVersion: identity.targetVersion, file }), yaml);
    }
  }
  return result;
}

/**
 * Adds how many rows the versioning removal would delete, in every database that holds the registry (shared_db's in
 * the stage's table, another's in a note); a plan is still a plan when a database does not answer.
 */
async function countRemoval(plan: Plan, config: ResolvedConfig, flags: RegistryVersioningFlags): Promise<Plan> {
  const timeout = { connectTimeoutMs: PLAN_CONNECT_TIMEOUT_MS };
  try {
    const { databases } = await findRegistryDatabases(config, timeout);
    let result = plan;
    for (const db of databases) {
      const counts = await withSession(db.target, (session) => countVersioningRemoval(session, flags), timeout);
      if (db.key === 'shared_db') {
        result = withRemovalCounts(result, counts);
        continue;
      }
      for (const count of counts) {
        result = withNote(
          result,
          'registry-scripts',
          `in ${describeDatabase(db)}: would delete ${count.mappingRowsToDelete} rows of ${count.mappingTable} and ${count.entityRowsToDelete} of ${count.entityTable}`,
        );
      }
    }
    return result;
  } catch (error) {
    return withNote(plan, 'registry-scripts', `row counts not available: ${errorMessage(error)}`);
  }
}

export interface StatusReport {
  database: string;
  ledger: LedgerReading;
}

export async function statusOperation(options: OperationOptions): Promise<StatusReport> {
  const { config } = await loadConfigWithSecrets(options);
  const shared = configuredDatabase(config, 'shared_db');
  return {
    database: `shared_db (${shared.host}:${shared.port}/${shared.database})`,
    ledger: await withSession(shared, (session) => readLedger(session)),
  };
}
