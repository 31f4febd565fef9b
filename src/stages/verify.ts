import { readFile } from 'node:fs/promises';
import type { Check } from '../check.js';
import { deploymentTomlPath } from '../config/load-config.js';
import { readDeploymentDatabases } from '../config/deployment-toml.js';
import { parseJdbcUrl } from '../config/jdbc-url.js';
import { APIM_420_TABLES, findMissingRegistryIndices, findMissingTables } from '../db/verify-probes.js';
import { errorMessage } from '../errors.js';
import { findInstalledMigrationArtifacts } from '../wso2/kit-install.js';
import { PG_STATEMENT_CACHE_PARAM } from '../wso2/registry.js';
import { parse as parseToml } from 'smol-toml';
import { reportChecks } from './check-step.js';
import { withDatabase } from './databases.js';
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
    const type = userStoreType(text);
    checks.push(
      type === 'database_unique_id'
        ? { verdict: 'pass', message: '[user_store] type = "database_unique_id"' }
        : {
            verdict: 'fail',
            message: `[user_store] type is ${type === undefined ? 'not set' : `"${type}"`} in ${file}, but identity.uniqueIdUserStore is true: set type = "database_unique_id"`,
          },
    );
  }
  return reportChecks(context, checks);
}

function checkStatementCache(name: string, url: string, file: string): Check {
  let engine: string;
  let value: string | undefined;
  try {
    const parsed = parseJdbcUrl(url);
    engine = parsed.engine;
    value = parsed.params[PG_STATEMENT_CACHE_PARAM];
  } catch (error) {
    return { verdict: 'warn', message: `[database.${name}] url could not be read: ${errorMessage(error)}` };
  }
  if (engine !== 'postgresql')
    return { verdict: 'pass', message: `[database.${name}] is not PostgreSQL: no URL edit needed` };
  return value === '0'
    ? { verdict: 'pass', message: `[database.${name}] url has ${PG_STATEMENT_CACHE_PARAM}=0` }
    : {
        verdict: 'fail',
        message: `[database.${name}] url in ${file} lacks ${PG_STATEMENT_CACHE_PARAM}=0, which API-M 4.2.0 needs on PostgreSQL`,
      };
}

function userStoreType(text: string): string | undefined {
  const parsed = parseToml(text) as { user_store?: { type?: unknown } };
  const type = parsed.user_store?.type;
  return typeof type === 'string' ? type : undefined;
}

async function checkRegistryIndices(context: StageContext): Promise<StepOutput> {
  const missing = await withDatabase(context.config, 'shared_db', (session) => findMissingRegistryIndices(session));
  const checks: Check[] =
    missing.length === 0
      ? [{ verdict: 'pass', message: 'both registry indices of carbon-kernel 4.8.1 exist in shared_db' }]
      : missing.map((index) => ({
          verdict: 'fail' as const,
          message: `registry index ${index.name} on ${index.table} (${index.columns.join(', ')}) is missing in shared_db: run the registry-scripts stage`,
        }));
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
