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
  countOldVersionMappingRows,
  findMissingIdentityFacts,
  findMissingRegistryIndices,
  findMissingTables,
  IDENTITY_610_FACTS,
  identityFactDatabase,
  identityFactName,
  identityFactsToCheck,
  type MissingIdentityFact,
} from '../db/verify-probes.js';
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
