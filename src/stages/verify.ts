import { readFile } from 'node:fs/promises';
import type { Check } from '../core/check.js';
import { deploymentTomlPath } from '../config/load-config.js';
import { readDeploymentDatabases } from '../config/deployment-toml.js';
import { getPath, readTomlDocument } from '../config/toml-document.js';
import { jdbcParam, parseJdbcUrl } from '../config/jdbc-url.js';
import type { DatabaseName, DbEngine } from '../config/types.js';
import { dialectOf } from '../db/dialects.js';
import { describeAddress, withSession } from '../db/session.js';
import {
  APIM_420_TABLES,
  BUSINESS_TABLES,
  countOldVersionMappingRows,
  countTablesNow,
  findMissingIdentityFacts,
  findMissingRegistryIndices,
  findMissingTables,
  IDENTITY_610_FACTS,
  identityFactDatabase,
  identityFactName,
  identityFactsToCheck,
  readPublishedApiRevisions,
  readResidentKeyManagerDomains,
  readTenantDomains,
  realmDatabase,
  RESIDENT_KEY_MANAGER,
  type BusinessTable,
  type MissingIdentityFact,
} from '../db/verify-probes.js';
import { readLedger } from '../db/ledger.js';
import { readTrustedManifest } from '../backup/restore-backup.js';
import type { BackupManifest } from '../backup/manifest.js';
import path from 'node:path';
import { apimStage } from './apim.js';
import { identityStage } from './identity.js';
import { trustBackup, type BackupRef } from './backup-trust.js';
import { errorMessage } from '../core/errors.js';
import { findInstalledMigrationArtifacts } from '../wso2/kit-install.js';
import { PG_STATEMENT_CACHE_PARAM, VERSIONED_METADATA } from '../wso2/registry.js';
import { readRegistryVersioningFlags, registryXmlPath } from '../wso2/registry-flags.js';
import { reportChecks } from './check-step.js';
import { configuredDatabase, describeDatabase, findRegistryDatabases, withDatabase } from './databases.js';
import type { StageContext, StageDefinition, StepOutput } from './types.js';

/**
 * Read-only checks that the migration left what API-M 4.2.0 expects. Every check runs, so that the
 * stage lists everything that is missing at once.
 */
export const verifyStage: StageDefinition = {
  name: 'verify',
  title: 'Verify',
  runAllSteps: true,
  steps: () => [
    { id: 'home', title: 'API-M home', run: checkHome },
    { id: 'deployment-toml', title: 'deployment.toml', run: checkDeploymentToml },
    { id: 'registry-indices', title: 'Registry indices', run: checkRegistryIndices },
    { id: 'apim-tables', title: 'API-M 4.2.0 tables', run: checkApimTables },
    { id: 'identity-schema', title: 'Identity schema changes', run: checkIdentitySchema },
    { id: 'registry-versions', title: 'Registry old versions', run: checkRegistryVersions },
    { id: 'row-counts', title: 'Business tables against the backup', run: checkRowCounts },
    { id: 'revisions', title: 'Revisions of published APIs', run: checkRevisions },
    { id: 'key-managers', title: 'Resident Key Managers', run: checkKeyManagers },
  ],
};

async function checkHome(context: StageContext): Promise<StepOutput> {
  const installed = await findInstalledMigrationArtifacts(context.config.apimHome);
  const checks: Check[] = [
    installed.jars.length === 0
      ? { verdict: 'pass', message: 'no migration jar in repository/components/dropins' }
      : {
          verdict: 'fail',
          message: `migration jars left in dropins run again at every start: remove ${installed.jars.join(', ')}`,
        },
    installed.hasMigrationResources
      ? {
          verdict: 'fail',
          message: `${context.config.apimHome}/migration-resources is still there: remove it`,
        }
      : { verdict: 'pass', message: 'no migration-resources folder in the API-M home' },
  ];
  return reportChecks(context, checks);
}

async function checkDeploymentToml(context: StageContext): Promise<StepOutput> {
  const { config } = context;
  const file = deploymentTomlPath(config.apimHome);
  const text = await readFile(file, 'utf8');
  const checks: Check[] = [];
  const databases = readDeploymentDatabases(text, file);
  for (const name of ['shared_db', 'config'] as const) {
    const url = databases.find((db) => db.name === name)?.url;
    if (url === undefined) continue;
    checks.push(checkStatementCache(name, url, file));
  }
  if (config.identity?.uniqueIdUserStore) {
    const type = getPath(readTomlDocument(text, file).data, ['user_store', 'type']);
    checks.push(
      type === 'database_unique_id'
        ? { verdict: 'pass', message: '[user_store] type = "database_unique_id"' }
        : {
            verdict: 'fail',
            message: `[user_store] type is ${typeof type === 'string' ? `"${type}"` : 'not set'} in ${file}, but identity.uniqueIdUserStore is true: set type = "database_unique_id"`,
          },
    );
  }
  return reportChecks(context, checks);
}

function checkStatementCache(name: string, url: string, file: string): Check {
  let engine: DbEngine;
  let value: string | undefined;
  try {
    const parsed = parseJdbcUrl(url);
    engine = parsed.engine;
    value = jdbcParam(parsed, PG_STATEMENT_CACHE_PARAM);
  } catch (error) {
    return { verdict: 'warn', message: `[database.${name}] url could not be read: ${errorMessage(error)}` };
  }
  if (!dialectOf(engine).disablesStatementCache)
    return { verdict: 'pass', message: `[database.${name}] is not PostgreSQL: no URL edit needed` };
  return value === '0'
    ? { verdict: 'pass', message: `[database.${name}] url has ${PG_STATEMENT_CACHE_PARAM}=0` }
    : {
        verdict: 'fail',
        message: `[database.${name}] url in ${file} lacks ${PG_STATEMENT_CACHE_PARAM}=0, which API-M 4.2.0 needs on PostgreSQL`,
      };
}

/** Both indices in every database that holds the registry (registry-scripts adds them to each). */
async function checkRegistryIndices(context: StageContext): Promise<StepOutput> {
  const { databases } = await findRegistryDatabases(context.config);
  const checks: Check[] = [];
  for (const db of databases) {
    const where = describeDatabase(db);
    const missing = await withSession(db.target, (session) => findMissingRegistryIndices(session));
    if (missing.length === 0) {
      checks.push({ verdict: 'pass', message: `both registry indices of carbon-kernel 4.8.1 exist in ${where}` });
    }
    for (const index of missing) {
      checks.push({
        verdict: 'fail',
        message: `registry index ${index.name} on ${index.table} (${index.columns.join(', ')}) is missing in ${where}: run the registry-scripts stage`,
      });
    }
  }
  return reportChecks(context, checks);
}

async function checkApimTables(context: StageContext): Promise<StepOutput> {
  const missing = await withDatabase(context.config, 'apim_db', (session) =>
    findMissingTables(session, [...APIM_420_TABLES]),
  );
  const checks: Check[] =
    missing.length === 0
      ? [
          {
            verdict: 'pass',
            message: `apim_db has the ${APIM_420_TABLES.length} tables checked that API-M 4.2.0 added`,
          },
        ]
      : [
          {
            verdict: 'fail',
            message: `apim_db lacks tables that API-M 4.2.0 has: ${missing.join(', ')}; the apim stage (or the 4.2.0 schema scripts) did not complete`,
          },
        ];
  return reportChecks(context, checks);
}

/**
 * The tables and columns the identity migration 5.10.0 -> 5.11.0 -> 6.0.0 (-> 6.1.0) adds, each in the database its
 * script runs on (see IDENTITY_SCHEMA_FACTS). Skipped when WSO2 IS is the Key Manager: the identity stage does not run.
 */
async function checkIdentitySchema(context: StageContext): Promise<StepOutput> {
  const { config } = context;
  if (config.keyManager === 'is' || config.identity === undefined) {
    return reportChecks(context, [
      {
        verdict: 'pass',
        message:
          'WSO2 Identity Server is the Key Manager: the identity stage does not run here (IS migrates its own side), so its schema changes are not checked',
      },
    ]);
  }
  const { targetVersion } = config.identity;
  const facts = identityFactsToCheck(targetVersion);
  const configured = config.databases.map((db) => db.name);
  const byDatabase = new Map<DatabaseName, typeof facts>();
  for (const fact of facts) {
    const name = identityFactDatabase(fact, configured);
    byDatabase.set(name, [...(byDatabase.get(name) ?? []), fact]);
  }
  const hops = targetVersion === '6.1.0' ? '5.10.0 -> 5.11.0 -> 6.0.0 -> 6.1.0' : '5.10.0 -> 5.11.0 -> 6.0.0';
  const checks: Check[] = [];
  for (const [name, wanted] of byDatabase) {
    const target = configuredDatabase(config, name);
    const where = `${name} (${describeAddress(target)})`;
    let missing: MissingIdentityFact[];
    try {
      missing = await withSession(target, (session) => findMissingIdentityFacts(session, wanted));
    } catch (error) {
      checks.push({
        verdict: 'fail',
        message: `the identity schema changes could not be checked in ${where}: ${errorMessage(error)}`,
      });
      continue;
    }
    if (missing.length === 0) {
      checks.push({
        verdict: 'pass',
        message: `${where} has the ${wanted.length} tables and columns checked that the identity migration ${hops} adds`,
      });
      continue;
    }
    for (const { fact, tableMissing } of missing) {
      const absent = fact.kind === 'column' && tableMissing ? ` (the table ${fact.table} itself is not there)` : '';
      checks.push({
        verdict: 'fail',
        message:
          `${identityFactName(fact)} (added by the identity migration ${fact.hop}) is missing from ${where}${absent}: ` +
          'the identity migration did not run or did not finish: run the identity stage again (after a failed attempt it ' +
          'restores its backup first; after a succeeded one, run `restore --stage identity` first, then identity and the stages after it)',
      });
    }
  }
  if (targetVersion !== '6.1.0') {
    checks.push({
      verdict: 'pass',
      message: `${IDENTITY_610_FACTS.map(identityFactName).join(', ')} (added by 6.0.0 -> 6.1.0) not checked: identity.targetVersion is ${targetVersion}`,
    });
  }
  return reportChecks(context, checks);
}

/**
 * The registry versioning removal must leave no mapping row of an older version in the tables whose versioning flag
 * was on in the old registry.xml, in every database that holds the registry (shared_db, and config when it is
 * another database that has REG_RESOURCE, as the registry-scripts stage does). Tables whose flag was off are left
 * alone on purpose and not checked.
 */
async function checkRegistryVersions(context: StageContext): Promise<StepOutput> {
  const { config } = context;
  const registryXml = registryXmlPath(config.oldApimHome);
  const { flags } = await readRegistryVersioningFlags(registryXml);
  const on = VERSIONED_METADATA.filter((meta) => flags[meta.flag]);
  const off = VERSIONED_METADATA.filter((meta) => !flags[meta.flag]);
  const checks: Check[] = [];
  if (off.length > 0) {
    checks.push({
      verdict: 'pass',
      message: `${off.map((meta) => meta.mappingTable).join(', ')}: versioning was off in ${registryXml} (${off.map((meta) => meta.element).join(', ')} not true), so the removal left ${off.length === 1 ? 'it' : 'them'} alone on purpose; not checked`,
    });
  }
  if (on.length === 0) return reportChecks(context, checks);
  const { databases, without } = await findRegistryDatabases(config);
  for (const db of without) {
    checks.push({
      verdict: 'pass',
      message: `${describeDatabase(db)} has no registry tables (no REG_RESOURCE): not checked`,
    });
  }
  for (const db of databases) {
    const where = describeDatabase(db);
    try {
      const counts = await withSession(db.target, (session) => countOldVersionMappingRows(session, flags));
      for (const count of counts) {
        const element = VERSIONED_METADATA.find((meta) => meta.flag === count.flag)?.element ?? count.flag;
        checks.push(
          count.rows === 0
            ? {
                verdict: 'pass',
                message: `${count.mappingTable} in ${where}: no row refers to an older version of its resource (${element} was true)`,
              }
            : {
                verdict: 'fail',
                message:
                  `${count.mappingTable}: ${count.rows} row${count.rows === 1 ? '' : 's'} in ${where} refer${count.rows === 1 ? 's' : ''} to an older version of ${count.rows === 1 ? 'its' : 'their'} resource, ` +
                  `though ${element} was true in ${registryXml}: the registry versioning removal did not run there or did not finish; ` +
                  'run the registry-scripts stage (if it already succeeded, something wrote these rows since: was API-M 3.1.0 started on these databases again?)',
              },
        );
      }
    } catch (error) {
      checks.push({
        verdict: 'fail',
        message: `the registry mapping tables could not be checked in ${where}: ${errorMessage(error)}`,
      });
    }
  }
  return reportChecks(context, checks);
}

// ---------------------------------------------------------------------------------------------------------------
// What came through

/** The stages whose backup holds every database, in pipeline order: the first one that ran took the first full backup. */
const FULL_BACKUP_STAGES: readonly string[] = [identityStage, apimStage]
  .filter((stage) => stage.touches === 'all')
  .map((stage) => stage.name);

/**
 * The first backup in the ledger that holds every database (taken before identity, or before apim when identity was
 * skipped), as a restore would find it: recorded, with the manifest digest the ledger pinned.
 */
async function findFullBackup(context: StageContext): Promise<{ ref: BackupRef; stage: string } | undefined> {
  const reading = await withDatabase(context.config, 'shared_db', (session) => readLedger(session));
  const entry = (reading.exists ? reading.entries : []).find(
    (candidate) =>
      FULL_BACKUP_STAGES.includes(candidate.stage) &&
      candidate.backupName !== null &&
      candidate.backupRunId !== null &&
      candidate.backupSha256 !== null,
  );
  if (!entry?.backupName || !entry.backupRunId || !entry.backupSha256) return undefined;
  return {
    ref: { name: entry.backupName, runId: entry.backupRunId, recorded: true, manifestSha256: entry.backupSha256 },
    stage: entry.stage,
  };
}

/**
 * The business tables' rows now against the first full backup's manifest, trusted as a restore trusts it: fewer rows
 * fail (a warning where a WSO2 step is documented to delete some), more rows are a warning.
 */
async function checkRowCounts(context: StageContext): Promise<StepOutput> {
  const { config } = context;
  const found = await findFullBackup(context);
  if (found === undefined) {
    return reportChecks(context, [
      {
        verdict: 'warn',
        message: `the ledger in shared_db records no backup of ${FULL_BACKUP_STAGES.join(' or ')}, so the business tables' row counts cannot be compared with the data before the migration (were these databases migrated without apim-migrate?)`,
      },
    ]);
  }
  const { ref: backup, stage } = found;
  let manifest: BackupManifest;
  try {
    // A recorded backup is trusted through the ledger's digest; no key is needed to read its manifest.
    const trust = await trustBackup(backup, { trustUnrecordedRun: false, decryption: { kind: 'none' } }, context);
    manifest = await readTrustedManifest({
      artifactName: backup.name,
      runId: backup.runId,
      store: context.deps.store,
      logger: context.deps.logger,
      workDir: path.join(context.workDir, 'verify'),
      ...trust,
    });
  } catch (error) {
    return reportChecks(context, [
      {
        verdict: 'fail',
        message: `the row counts were not compared: ${errorMessage(error)}`,
      },
    ]);
  }
  const configured = config.databases.map((db) => db.name);
  const byDatabase = new Map<DatabaseName, BusinessTable[]>();
  for (const table of BUSINESS_TABLES) {
    const name = table.schema === 'um' ? realmDatabase(configured) : 'apim_db';
    byDatabase.set(name, [...(byDatabase.get(name) ?? []), table]);
  }
  const from = `${backup.name} of run ${backup.runId}`;
  const checks: Check[] = [];
  for (const [name, tables] of byDatabase) {
    const target = configuredDatabase(config, name);
    const where = `${name} (${describeAddress(target)})`;
    const entry = manifest.databases.find((db) => db.names.includes(name));
    if (entry === undefined) {
      checks.push({ verdict: 'warn', message: `${from} holds no dump of ${where}: its row counts are not compared` });
      continue;
    }
    let counted: Awaited<ReturnType<typeof countTablesNow>>;
    try {
      counted = await withSession(target, (session) =>
        countTablesNow(
          session,
          tables.map((table) => table.table),
        ),
      );
    } catch (error) {
      checks.push({ verdict: 'fail', message: `the row counts could not be read in ${where}: ${errorMessage(error)}` });
      continue;
    }
    for (const table of tables) {
      const now = counted.find((found) => found.table === table.table);
      const beforeKey = now?.key ?? manifestKey(entry.rowCounts, table.table);
      const before = beforeKey === undefined ? undefined : entry.rowCounts[beforeKey];
      checks.push(compareBusinessCount({ table, before, now: now?.rows, where, from, stage }));
    }
  }
  return reportChecks(context, checks);
}

/** The manifest's key of a table that is not there now: the one whose table part has its name in any case. */
function manifestKey(rowCounts: Record<string, number>, table: string): string | undefined {
  return Object.keys(rowCounts).find(
    (key) => key.slice(key.lastIndexOf('.') + 1).toLowerCase() === table.toLowerCase(),
  );
}

/** One business table's verdict: its rows in the backup against its rows now. */
export function compareBusinessCount(options: {
  table: BusinessTable;
  before: number | undefined;
  now: number | undefined;
  where: string;
  /** The backup, for messages, and the stage it was taken before. */
  from: string;
  stage: string;
}): Check {
  const { table, before, now, where, from, stage } = options;
  const what = `${table.table} (${table.holds}) in ${where}`;
  if (before === undefined) {
    return now === undefined
      ? { verdict: 'pass', message: `${what}: neither in ${from} nor now; not compared` }
      : { verdict: 'warn', message: `${what}: not in ${from}, ${rows(now)} now` };
  }
  if (now === undefined || now < before) {
    const lost =
      now === undefined
        ? `${rows(before)} in ${from}, and the table is gone now`
        : `${rows(before)} in ${from}, ${now} now`;
    if (table.shrinksBy !== undefined)
      return { verdict: 'warn', message: `${what}: ${lost}; fewer rows may be right: ${table.shrinksBy}` };
    return {
      verdict: 'fail',
      message: `${what}: ${lost}: rows were lost in the migration, and no WSO2 step is known to delete them. Compare with the backup before starting API-M 4.2.0 (restore it with \`restore --stage ${stage}\` if the data is needed)`,
    };
  }
  if (now > before)
    return {
      verdict: 'warn',
      message: `${what}: ${rows(before)} in ${from}, ${now} now (more than before the migration)`,
    };
  return { verdict: 'pass', message: `${what}: ${rows(now)}, as in ${from}` };
}

function rows(count: number): string {
  return `${count} row${count === 1 ? '' : 's'}`;
}

/** Names of APIs listed in one finding, at most. */
const LISTED = 20;

/**
 * That each published API got the revision and deployment the API-M migration 3.2.0 -> 4.0.0 creates. A warning only:
 * the client deploys a revision only to the gateway environments it finds, and an API may be published on purpose
 * without one.
 */
async function checkRevisions(context: StageContext): Promise<StepOutput> {
  const source =
    'am-client MigrateFrom320.apiRevisionRelatedMigration: the API-M migration 3.2.0 -> 4.0.0 adds a revision to every API whose status is not CREATED or RETIRED and deploys it to the gateway environments';
  let reading: Awaited<ReturnType<typeof readPublishedApiRevisions>>;
  try {
    reading = await withDatabase(context.config, 'apim_db', (session) => readPublishedApiRevisions(session));
  } catch (error) {
    return reportChecks(context, [
      { verdict: 'warn', message: `the revisions of published APIs could not be checked: ${errorMessage(error)}` },
    ]);
  }
  if (!reading.readable) {
    return reportChecks(context, [
      {
        verdict: 'warn',
        message: `the revisions of published APIs are not checked: apim_db lacks ${reading.missing.join(', ')} (${source})`,
      },
    ]);
  }
  const name = (api: { name: string; version: string; provider: string }) =>
    `${api.name} ${api.version} (${api.provider})`;
  const list = (apis: readonly { name: string; version: string; provider: string }[]) =>
    apis.slice(0, LISTED).map(name).join(', ') + (apis.length > LISTED ? ` and ${apis.length - LISTED} more` : '');
  const noRevision = reading.lacking.filter((api) => !api.hasRevision);
  const notDeployed = reading.lacking.filter((api) => api.hasRevision && !api.hasDeployedRevision);
  const checks: Check[] = [];
  if (noRevision.length > 0)
    checks.push({
      verdict: 'warn',
      message: `${noRevision.length} of ${reading.published} published APIs have no revision in AM_REVISION: ${list(noRevision)} (${source})`,
    });
  if (notDeployed.length > 0)
    checks.push({
      verdict: 'warn',
      message: `${notDeployed.length} of ${reading.published} published APIs have no deployed revision in AM_DEPLOYMENT_REVISION_MAPPING: ${list(notDeployed)} (${source})`,
    });
  if (checks.length === 0)
    checks.push({
      verdict: 'pass',
      message: `each of the ${reading.published} published APIs has a revision and a deployed revision`,
    });
  return reportChecks(context, checks);
}

/** That each tenant has its resident Key Manager in AM_KEY_MANAGER. A warning: when 4.2.0 adds it is not sourced here. */
async function checkKeyManagers(context: StageContext): Promise<StepOutput> {
  const { config } = context;
  const source = `carbon-apimgt APIConstants.KeyManager.DEFAULT_KEY_MANAGER "${RESIDENT_KEY_MANAGER}"; API-M 4.2.0 may also add it when a tenant first loads`;
  const realm = realmDatabase(config.databases.map((db) => db.name));
  let tenants: string[] | undefined;
  let withResident: string[] | undefined;
  try {
    tenants = await withDatabase(config, realm, (session) => readTenantDomains(session));
    withResident = await withDatabase(config, 'apim_db', (session) => readResidentKeyManagerDomains(session));
  } catch (error) {
    return reportChecks(context, [
      { verdict: 'warn', message: `the resident Key Managers could not be checked: ${errorMessage(error)}` },
    ]);
  }
  if (tenants === undefined || withResident === undefined) {
    const lacking = [
      tenants === undefined ? `UM_TENANT in ${realm}` : '',
      withResident === undefined ? 'AM_KEY_MANAGER in apim_db' : '',
    ]
      .filter(Boolean)
      .join(' and ');
    return reportChecks(context, [
      { verdict: 'warn', message: `the resident Key Managers are not checked: there is no ${lacking} (${source})` },
    ]);
  }
  const have = new Set(withResident);
  const without = tenants.filter((domain) => !have.has(domain));
  return reportChecks(context, [
    without.length === 0
      ? {
          verdict: 'pass',
          message: `each of the ${tenants.length} tenants has its ${RESIDENT_KEY_MANAGER} in AM_KEY_MANAGER`,
        }
      : {
          verdict: 'warn',
          message: `${without.length} of ${tenants.length} tenants have no ${RESIDENT_KEY_MANAGER} in AM_KEY_MANAGER: ${without.slice(0, LISTED).join(', ')}${without.length > LISTED ? ` and ${without.length - LISTED} more` : ''} (${source})`,
        },
  ]);
}
