import path from 'node:path';
import type { RegistryVersioningFlags } from '../config/types.js';
import type { LedgerEntry } from '../db/ledger.js';
import {
  countVersioningRemoval,
  createMissingRegistryIndices,
  findExistingRegistryIndices,
  removeVersioningDetails,
  type ExistingRegistryIndex,
} from '../db/registry-scripts.js';
import { REGISTRY_INDICES, VERSIONED_METADATA } from '../wso2/registry.js';
import { readRegistryVersioningFlags } from '../wso2/registry-flags.js';
import { withDatabase } from './databases.js';
import { checkOldHomeInput } from './input-checks.js';
import type { GuardState, MutatingStageDefinition } from './guard.js';
import type { StageContext, StepOutput } from './types.js';

type Flag = keyof RegistryVersioningFlags;

/** The ledger's record of which registry tables have had their versioning details removed. */
export const VERSIONING_REMOVED_KEY = 'versioningRemoved';

/**
 * Step 1 of WSO2's guide on shared_db: the two registry indices of carbon-kernel 4.8.1, and the removal
 * of registry versioning details for exactly the tables whose versioning was on in the old registry.xml,
 * never twice.
 */
export const registryScriptsStage: MutatingStageDefinition = {
  name: 'registry-scripts',
  title: 'Registry scripts',
  touches: 'shared_db',
  checkInputs: checkOldHomeInput,
  steps(context, guard) {
    return [
      { id: 'indices', title: 'Registry indices', run: () => addIndices(context) },
      { id: 'versioning', title: 'Registry versioning details', run: () => removeVersioning(context, guard) },
    ];
  },
};

async function addIndices(context: StageContext): Promise<StepOutput> {
  const { logger } = context.deps;
  if (context.dryRun) {
    const existing = await withDatabase(context.config, 'shared_db', (session) => findExistingRegistryIndices(session));
    const missing = REGISTRY_INDICES.filter((index) => !existing.some((entry) => entry.index.name === index.name));
    for (const index of missing) logger.info(`would add ${index.name} on ${index.table} (${index.columns.join(', ')})`);
    for (const entry of existing) logExisting(context, entry);
    context.outcome.changes = { ...context.outcome.changes, indicesToAdd: missing.map((index) => index.name) };
    return { summary: `dry run: would add ${missing.length} of ${REGISTRY_INDICES.length} indices` };
  }
  const result = await withDatabase(context.config, 'shared_db', (session) => createMissingRegistryIndices(session));
  for (const index of result.created)
    logger.info(`added ${index.name} on ${index.table} (${index.columns.join(', ')})`);
  for (const entry of result.existing) logExisting(context, entry);
  context.outcome.changes = { ...context.outcome.changes, indicesAdded: result.created.map((index) => index.name) };
  return { summary: `added ${result.created.length}, ${result.existing.length} existed already` };
}

function logExisting(context: StageContext, entry: ExistingRegistryIndex): void {
  const note = entry.matchesDefinition
    ? ''
    : `, but on ${entry.table} (${entry.columns.join(', ')}) instead of ${entry.index.table} (${entry.index.columns.join(', ')}): check it`;
  const line = `${entry.index.name} exists already; left as it is${note}`;
  if (entry.matchesDefinition) context.deps.logger.info(line);
  else context.deps.logger.warning(line);
}

async function removeVersioning(context: StageContext, guard: GuardState): Promise<StepOutput> {
  const { logger } = context.deps;
  const registryXml = path.join(context.config.oldApimHome, 'repository', 'conf', 'registry.xml');
  const { flags } = await readRegistryVersioningFlags(registryXml);
  const done = tablesAlreadyCleaned(guard.entries);
  const toClean: RegistryVersioningFlags = { properties: false, comments: false, tags: false, ratings: false };
  for (const meta of VERSIONED_METADATA) {
    if (!flags[meta.flag])
      logger.info(`${meta.mappingTable}: ${meta.element} was false in ${registryXml}; kept as it is`);
    else if (done.has(meta.flag))
      logger.info(`${meta.mappingTable}: versioning details were removed by an earlier run; not again`);
    else toClean[meta.flag] = true;
  }
  const flagsToClean = VERSIONED_METADATA.map((meta) => meta.flag).filter((flag) => toClean[flag]);
  if (flagsToClean.length === 0) {
    return { outcome: 'skipped', summary: 'no table needs its versioning details removed' };
  }
  if (context.dryRun) {
    const counts = await withDatabase(context.config, 'shared_db', (session) =>
      countVersioningRemoval(session, toClean),
    );
    for (const count of counts) {
      logger.info(
        `would delete ${count.mappingRowsToDelete} rows of ${count.mappingTable} and ${count.entityRowsToDelete} orphan rows of ${count.entityTable}`,
      );
    }
    context.outcome.changes = { ...context.outcome.changes, versioningRemoval: counts };
    return { summary: `dry run: counted the rows of ${flagsToClean.length} tables` };
  }
  const removed = await withDatabase(context.config, 'shared_db', (session) =>
    removeVersioningDetails(session, toClean),
  );
  for (const table of removed) {
    logger.info(
      `${table.mappingTable}: deleted ${table.mappingRowsDeleted} rows; ${table.entityTable}: deleted ${table.entityRowsDeleted} orphans`,
    );
  }
  guard.details[VERSIONING_REMOVED_KEY] = [...done, ...flagsToClean];
  context.outcome.changes = { ...context.outcome.changes, versioningRemoval: removed };
  return { summary: `removed versioning details of ${flagsToClean.join(', ')}` };
}

/** The kinds whose versioning details a succeeded earlier attempt removed: running it twice destroys data. */
export function tablesAlreadyCleaned(entries: readonly LedgerEntry[]): Set<Flag> {
  const done = new Set<Flag>();
  for (const entry of entries) {
    if (entry.stage !== 'registry-scripts' || entry.state !== 'succeeded') continue;
    const removed = entry.details?.[VERSIONING_REMOVED_KEY];
    if (Array.isArray(removed)) {
      for (const flag of removed) if (isFlag(flag)) done.add(flag);
    }
  }
  return done;
}

function isFlag(value: unknown): value is Flag {
  return VERSIONED_METADATA.some((meta) => meta.flag === value);
}
