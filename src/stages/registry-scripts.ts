import type { RegistryScriptsChanges, VersioningRemovalChange } from '../core/results.js';
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
import { readRegistryVersioningFlags, registryXmlPath } from '../wso2/registry-flags.js';
import { isRecord } from '../config/schema.js';
import { withSession } from '../db/session.js';
import { checkOldHomeInput } from './input-checks.js';
import { describeDatabase, findRegistryDatabases, type RegistryDatabase } from './databases.js';
import type { GuardState } from './ledger-steps.js';
import type { MutatingStageDefinition } from './guard.js';
import type { StageContext, StepOutput } from './types.js';

type Flag = keyof RegistryVersioningFlags;

/** The ledger's record of which registry tables have had their versioning details removed. */
export const VERSIONING_REMOVED_KEY = 'versioningRemoved';

/**
 * Step 1 of WSO2's guide on every database that holds the registry tables (shared_db, and `[database.config]` when it
 * is another database with REG_ tables, as the API-M client's own pre-DB-script step does): the two registry indices
 * of carbon-kernel 4.8.1, and the removal of registry versioning details for exactly the tables whose versioning was
 * on in the old registry.xml, never twice on the same database.
 */
export const registryScriptsStage: MutatingStageDefinition = {
  name: 'registry-scripts',
  title: 'Registry scripts',
  touches: 'registry',
  checkInputs: checkOldHomeInput,
  steps(context, guard) {
    const databases: RegistryDatabase[] = [];
    return [
      { id: 'registry-databases', title: 'Registry databases', run: () => findDatabases(context, databases) },
      { id: 'indices', title: 'Registry indices', run: () => addIndices(context, databases) },
      {
        id: 'versioning',
        title: 'Registry versioning details',
        run: () => removeVersioning(context, guard, databases),
      },
    ];
  },
};

/** The registry databases, found once for the steps after it. */
async function findDatabases(context: StageContext, found: RegistryDatabase[]): Promise<StepOutput> {
  const { databases, without } = await findRegistryDatabases(context.config);
  found.push(...databases);
  for (const db of without) {
    context.deps.logger.info(
      `${describeDatabase(db)} has no registry tables (no REG_RESOURCE): Step 1 does not apply there`,
    );
  }
  const names = databases.map((db) => db.label).join(', ');
  const skipped = without.map((db) => db.label).join(', ');
  return { summary: `${names}${skipped ? `; ${skipped} has no registry tables` : ''}` };
}

/** `NAME` with one registry database, `label: NAME` with several. */
function qualify(databases: readonly RegistryDatabase[], db: RegistryDatabase, name: string): string {
  return databases.length > 1 ? `${db.label}: ${name}` : name;
}

async function addIndices(context: StageContext, databases: readonly RegistryDatabase[]): Promise<StepOutput> {
  const { logger } = context.deps;
  const added: string[] = [];
  let existed = 0;
  for (const db of databases) {
    const on = databases.length > 1 ? ` in ${db.label}` : '';
    if (context.dryRun) {
      const existing = await withSession(db.target, (session) => findExistingRegistryIndices(session));
      const missing = REGISTRY_INDICES.filter((index) => !existing.some((entry) => entry.index.name === index.name));
      for (const index of missing)
        logger.info(`would add ${index.name} on ${index.table} (${index.columns.join(', ')})${on}`);
      for (const entry of existing) logExisting(context, entry, on);
      added.push(...missing.map((index) => qualify(databases, db, index.name)));
      existed += existing.length;
      continue;
    }
    const result = await withSession(db.target, (session) => createMissingRegistryIndices(session));
    for (const index of result.created)
      logger.info(`added ${index.name} on ${index.table} (${index.columns.join(', ')})${on}`);
    for (const entry of result.existing) logExisting(context, entry, on);
    added.push(...result.created.map((index) => qualify(databases, db, index.name)));
    existed += result.existing.length;
  }
  const total = REGISTRY_INDICES.length * databases.length;
  if (context.dryRun) {
    registryChanges(context).indicesToAdd = added;
    return { summary: `dry run: would add ${added.length} of ${total} indices` };
  }
  registryChanges(context).indicesAdded = added;
  return { summary: `added ${added.length}, ${existed} existed already` };
}

/** This stage's record of what it changed, made on first use. */
function registryChanges(context: StageContext): RegistryScriptsChanges {
  const changes = context.outcome.changes;
  if (changes?.stage === 'registry-scripts') return changes;
  const fresh: RegistryScriptsChanges = { stage: 'registry-scripts' };
  context.outcome.changes = fresh;
  return fresh;
}

function logExisting(context: StageContext, entry: ExistingRegistryIndex, on: string): void {
  const note = entry.matchesDefinition
    ? ''
    : `, but on ${entry.table} (${entry.columns.join(', ')}) instead of ${entry.index.table} (${entry.index.columns.join(', ')}): check it`;
  const line = `${entry.index.name} exists already${on}; left as it is${note}`;
  if (entry.matchesDefinition) context.deps.logger.info(line);
  else context.deps.logger.warning(line);
}

async function removeVersioning(
  context: StageContext,
  guard: GuardState,
  databases: readonly RegistryDatabase[],
): Promise<StepOutput> {
  const { logger } = context.deps;
  const registryXml = registryXmlPath(context.config.oldApimHome);
  const { flags } = await readRegistryVersioningFlags(registryXml);
  const removedNow: Partial<Record<RegistryDatabase['key'], Flag[]>> = {};
  const results: VersioningRemovalChange[] = [];
  const cleaned: string[] = [];
  for (const db of databases) {
    const on = databases.length > 1 ? ` in ${db.label}` : '';
    const done = tablesAlreadyCleaned(guard.entries, db.key);
    const toClean: RegistryVersioningFlags = { properties: false, comments: false, tags: false, ratings: false };
    for (const meta of VERSIONED_METADATA) {
      if (!flags[meta.flag])
        logger.info(`${meta.mappingTable}${on}: ${meta.element} was not true in ${registryXml}; kept as it is`);
      else if (done.has(meta.flag))
        logger.info(`${meta.mappingTable}${on}: versioning details were removed by an earlier run; not again`);
      else toClean[meta.flag] = true;
    }
    const flagsToClean = VERSIONED_METADATA.map((meta) => meta.flag).filter((flag) => toClean[flag]);
    if (flagsToClean.length === 0) continue;
    const database = databases.length > 1 ? { database: db.label } : {};
    if (context.dryRun) {
      const counts = await withSession(db.target, (session) => countVersioningRemoval(session, toClean));
      for (const count of counts) {
        logger.info(
          `would delete ${count.mappingRowsToDelete} rows of ${count.mappingTable} and ${count.entityRowsToDelete} orphan rows of ${count.entityTable}${on}`,
        );
      }
      results.push(...counts.map((count) => ({ ...database, ...count })));
      cleaned.push(`${flagsToClean.join(', ')}${on}`);
      continue;
    }
    const removed = await withSession(db.target, (session) => removeVersioningDetails(session, toClean));
    for (const table of removed) {
      logger.info(
        `${table.mappingTable}${on}: deleted ${table.mappingRowsDeleted} rows; ${table.entityTable}: deleted ${table.entityRowsDeleted} orphans`,
      );
    }
    results.push(...removed.map((table) => ({ ...database, ...table })));
    removedNow[db.key] = [...done, ...flagsToClean];
    cleaned.push(`${flagsToClean.join(', ')}${on}`);
  }
  if (cleaned.length === 0) return { outcome: 'skipped', summary: 'no table needs its versioning details removed' };
  registryChanges(context).versioningRemoval = results;
  if (context.dryRun) return { summary: `dry run: counted the rows of ${cleaned.join('; ')}` };
  guard.details[VERSIONING_REMOVED_KEY] = removedNow;
  return { summary: `removed versioning details of ${cleaned.join('; ')}` };
}

/**
 * The kinds whose versioning details a succeeded earlier attempt removed from that registry database: running it
 * twice destroys data. The ledger records them by database; a list alone (older records) is shared_db's.
 */
export function tablesAlreadyCleaned(entries: readonly LedgerEntry[], database: 'shared_db' | 'config'): Set<Flag> {
  const done = new Set<Flag>();
  for (const entry of entries) {
    if (entry.stage !== 'registry-scripts' || entry.state !== 'succeeded') continue;
    const recorded = entry.details?.[VERSIONING_REMOVED_KEY];
    const removed = Array.isArray(recorded)
      ? database === 'shared_db'
        ? recorded
        : []
      : isRecord(recorded)
        ? recorded[database]
        : undefined;
    if (Array.isArray(removed)) {
      for (const flag of removed) if (isFlag(flag)) done.add(flag);
    }
  }
  return done;
}

function isFlag(value: unknown): value is Flag {
  return VERSIONED_METADATA.some((meta) => meta.flag === value);
}
