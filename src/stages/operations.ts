import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createStore, resolveRunIdentity } from '../artifacts/create-store.js';
import { loadConfig } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/types.js';
import { readLedger, type LedgerReading } from '../db/ledger.js';
import { openSession } from '../db/session.js';
import { InputError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { buildPlan, type Plan } from '../plan/build-plan.js';
import { readRegistryVersioningFlags } from '../wso2/registry-flags.js';
import { runStage } from './engine.js';
import { stageDefinition } from './registry.js';
import type { StageName, StageResult } from './types.js';

/** What every operation is given by its entry (the action or the CLI). */
export interface OperationOptions {
  configFile?: string;
  cwd?: string;
  env: Record<string, string | undefined>;
  logger: Logger;
  platform?: NodeJS.Platform;
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

export interface RunStageOptions extends OperationOptions {
  stage: StageName;
  dryRun: boolean;
  force: boolean;
}

export async function runStageOperation(options: RunStageOptions): Promise<StageResult> {
  const definition = stageDefinition(options.stage);
  const config = await loadConfigWithSecrets(options);
  const run = await resolveRunIdentity(options.env, config.store.dir);
  const store = createStore({ env: options.env, storeDir: config.store.dir, run });
  const workDir = await mkdtemp(path.join(options.env['RUNNER_TEMP'] ?? os.tmpdir(), `apim-migrate-${options.stage}-`));
  const result = await runStage(definition, {
    config,
    deps: { logger: options.logger, store, run, env: options.env, platform: options.platform ?? process.platform },
    dryRun: options.dryRun,
    force: options.force,
    workDir,
  });
  // The work folder goes once everything in it is stored elsewhere.
  if (!result.reportPath?.startsWith(workDir)) await rm(workDir, { recursive: true, force: true });
  return result;
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
  return buildPlan(config, {
    registryFlags: registry.flags,
    absentFlags: registry.absent,
    platform: options.platform ?? process.platform,
  });
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
