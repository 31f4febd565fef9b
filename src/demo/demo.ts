/**
 * `apim-migrate demo`: the whole migration in a throw-away sandbox (see sandbox.ts). It runs the plan, every stage
 * in order with the local store, the status, and a rollback of registry-scripts, and checks the registry tables
 * against what the seed generator says they must hold after the versioning removal and after the rollback. Every
 * line it prints is labelled as a simulation: the API-M server is a stand-in and the data is generated.
 */
import { randomUUID } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeAddress, withSession, type DbSession } from '../db/session.js';
import { tableChecksums, type TableChecksum } from '../db/table-checksums.js';
import {
  APIM_420_TABLES,
  findMissingIdentityFacts,
  identityFactName,
  identityFactsToCheck,
  type IdentitySchemaFact,
} from '../db/verify-probes.js';
import { errorMessage, InputError } from '../core/errors.js';
import { createConsoleLogger } from '../log/logger.js';
import { renderPlanText } from '../plan/render-plan.js';
import { renderStageText } from '../report/stage-summary.js';
import { renderStatusText } from '../report/status-text.js';
import {
  planOperation,
  restoreOperation,
  runStageOperation,
  statusOperation,
  type OperationOptions,
} from '../stages/operations.js';
import { STAGE_NAMES, type StageResult } from '../core/results.js';
import { expectedAfterRemoval, REGISTRY_TABLES, type RegistryTable } from './registry-seed.js';
import {
  createSandbox,
  localPostgres,
  sandboxTenantDomain,
  SANDBOX_ENV,
  SANDBOX_FLAGS,
  type Sandbox,
} from './sandbox.js';

export const SIMULATION_LABEL = '[simulation]';

export interface DemoOptions {
  /** Keep the sandbox (folder and database) instead of removing it at the end. */
  keep: boolean;
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  /** Prints lines; the demo labels each one. */
  out: (text: string) => void;
  debug?: boolean;
}

/** Runs the demo and returns the exit code: 0 when every stage, the rollback and the checks succeeded. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const print = (text: string) => {
    for (const line of text.split('\n')) options.out(line === '' ? SIMULATION_LABEL : `${SIMULATION_LABEL} ${line}`);
  };
  const logger = createConsoleLogger({ debug: options.debug ?? false, out: print, err: print });
  const admin = localPostgres(options.env);
  logger.setSecret(admin.password);
  print(
    [
      'apim-migrate demo: a SIMULATION of the WSO2 API-M 3.1.0 to 4.2.0 data migration.',
      `It builds a throw-away sandbox: a scratch database in the PostgreSQL at ${admin.host}:${admin.port} (as ${admin.username}),`,
      'filled with generated API-M 3.1.0 registry data, and a stand-in API-M 4.2.0 home whose bin/api-manager.sh',
      'imitates the real server (same flags, same log lines). No real API-M and no real data are involved.',
      '',
    ].join('\n'),
  );

  let sandbox: Sandbox;
  try {
    sandbox = await createSandbox(options.env);
  } catch (error) {
    throw new InputError(
      {
        message: `the demo could not create its sandbox database in the PostgreSQL at ${admin.host}:${admin.port}: ${errorMessage(error)}; it needs a login that may create databases (set PGHOST, PGPORT, PGUSER and PGPASSWORD)`,
      },
      { cause: error },
    );
  }
  for (const value of Object.values(sandbox.env)) logger.setSecret(value);
  const rows = Object.values(sandbox.seeded.before).reduce((sum, table) => sum + table.rows, 0);
  print(
    [
      `Sandbox: ${sandbox.dir}`,
      `Database: ${describeAddress(sandbox.target)}, ${rows} registry rows in ${REGISTRY_TABLES.length} tables, ${sandbox.seeded.tenantIds.length} tenants`,
      `Versioning was on in the old registry.xml for ${flagList(true)}, off for ${flagList(false)}.`,
      `If the demo is interrupted, remove the sandbox with: ${removeCommand(sandbox)}`,
      '',
    ].join('\n'),
  );

  let code = 1;
  try {
    code = await walkThrough(sandbox, {
      configFile: sandbox.configFile,
      cwd: sandbox.dir,
      env: { ...options.env, ...sandbox.env, APIM_MIGRATE_RUN_ID: `demo-${compactUtc(new Date())}` },
      logger,
      platform: options.platform,
    });
  } finally {
    if (options.keep) await describeKeptSandbox(sandbox, print);
    else {
      await sandbox.remove();
      print(
        `Removed the sandbox: database ${sandbox.target.database} and ${sandbox.dir}. Run with --keep to look at it.`,
      );
    }
  }
  return code;
}

async function walkThrough(sandbox: Sandbox, base: OperationOptions): Promise<number> {
  const print = (text: string) => base.logger.info(text);
  print(renderPlanText(await planOperation(base)));
  for (const stage of STAGE_NAMES) {
    print(`\n######## apim-migrate run ${stage}`);
    const result = await runStageOperation({ ...base, stage, dryRun: false, force: false });
    if (!finished(result, print)) return 1;
    if (stage === 'registry-scripts') {
      const expected = expectedAfterRemoval(sandbox.seeded, SANDBOX_FLAGS);
      if (!(await registryMatches(sandbox, expected, 'what the versioning removal must leave', print))) return 1;
    }
    if (stage === 'identity') await addIdentitySchema(sandbox, print);
    if (stage === 'apim') await addApim420Tables(sandbox, print);
  }

  print('\n######## apim-migrate status');
  print(renderStatusText(await statusOperation(base)));

  print("\n######## apim-migrate restore --stage startup   (put back the home's solr and deployment.toml)");
  const homeBack = await restoreOperation({ ...base, stage: 'startup' });
  if (!finished(homeBack, print)) return 1;

  print('\n######## apim-migrate restore --stage registry-scripts   (roll the databases back to before the migration)');
  const rollback = await restoreOperation({ ...base, stage: 'registry-scripts' });
  if (!finished(rollback, print)) return 1;
  if (!(await registryMatches(sandbox, sandbox.seeded.before, 'the 3.1.0 data the demo started from', print))) return 1;

  print('\nThe demo ran every stage, rolled the migration back and found the registry exactly as it started.');
  return 0;
}

function finished(result: StageResult, print: (text: string) => void): boolean {
  print(renderStageText(result));
  if (result.status !== 'failed') return true;
  print(`\nThe demo stops here: ${result.stage} failed.`);
  return false;
}

/** Compares the registry tables with checksums of what they must hold, row for row. */
async function registryMatches(
  sandbox: Sandbox,
  expected: Record<RegistryTable, TableChecksum>,
  what: string,
  print: (text: string) => void,
): Promise<boolean> {
  const actual = await withSession(sandbox.target, (session) => tableChecksums(session, REGISTRY_TABLES));
  const wrong = REGISTRY_TABLES.filter(
    (table) => actual[table]?.rows !== expected[table].rows || actual[table]?.checksum !== expected[table].checksum,
  );
  if (wrong.length === 0) {
    print(`Check: the ${REGISTRY_TABLES.length} registry tables hold exactly ${what} (row checksums match).`);
    return true;
  }
  print(`Check FAILED: these registry tables do not hold ${what}:`);
  for (const table of wrong) {
    print(`  ${table}: ${actual[table]?.rows ?? 0} rows, expected ${expected[table].rows}, or other content`);
  }
  return false;
}

/**
 * The stand-in server changes no data, where the real API-M migration creates the 4.2.0 tables. The demo creates
 * them (empty) in its place, so that verify finds what it checks for.
 */
async function addApim420Tables(sandbox: Sandbox, print: (text: string) => void): Promise<void> {
  const domains = sandbox.seeded.tenantIds.map(sandboxTenantDomain);
  await withSession(sandbox.target, async (session) => {
    await addResidentKeyManagers(session, domains);
    await migrateApis(session);
    for (const table of APIM_420_TABLES) await session.query(`CREATE TABLE IF NOT EXISTS ${table} (ID INTEGER)`);
  });
  print(
    `The stand-in server changes no data; the demo created the ${APIM_420_TABLES.length} tables the real API-M migration adds (${APIM_420_TABLES.slice(0, 3).join(', ')}, ...), empty but for the Resident Key Manager of each of the ${domains.length} tenants in AM_KEY_MANAGER and a deployed revision of each API, and gave AM_API its 4.x columns (API_UUID, STATUS, ORGANIZATION), for verify and startup to find.`,
  );
}

/**
 * What the API-M client's hops do to AM_API that verify and startup read (docs/wso2-compatibility.md): 3.2.0 -> 4.0.0
 * adds API_UUID and STATUS and gives every published API an initial revision, deployed (AM_REVISION,
 * AM_DEPLOYMENT_REVISION_MAPPING); 4.0.0 -> 4.1.0 adds ORGANIZATION, the tenant domain of each API_PROVIDER.
 */
async function migrateApis(session: DbSession): Promise<void> {
  for (const column of ['API_UUID VARCHAR(256)', 'STATUS VARCHAR(30)', 'ORGANIZATION VARCHAR(100)']) {
    await session.query(`ALTER TABLE AM_API ADD COLUMN ${column}`);
  }
  await session.query(
    "UPDATE AM_API SET API_UUID = md5(API_PROVIDER || API_NAME || API_VERSION), STATUS = 'PUBLISHED', " +
      "ORGANIZATION = CASE WHEN POSITION('@' IN API_PROVIDER) > 0 THEN SUBSTRING(API_PROVIDER FROM POSITION('@' IN API_PROVIDER) + 1) ELSE 'carbon.super' END",
  );
  await session.query(
    'CREATE TABLE AM_REVISION (ID INTEGER NOT NULL, API_UUID VARCHAR(256) NOT NULL, REVISION_UUID VARCHAR(255) NOT NULL, ' +
      'DESCRIPTION VARCHAR(255), CREATED_TIME TIMESTAMP, CREATED_BY VARCHAR(255), PRIMARY KEY (ID, API_UUID))',
  );
  await session.query(
    'CREATE TABLE AM_DEPLOYMENT_REVISION_MAPPING (NAME VARCHAR(255) NOT NULL, VHOST VARCHAR(255), ' +
      'REVISION_UUID VARCHAR(255) NOT NULL, DISPLAY_ON_DEVPORTAL BOOLEAN DEFAULT FALSE, DEPLOYED_TIME TIMESTAMP, ' +
      'PRIMARY KEY (NAME, REVISION_UUID))',
  );
  await session.query(
    "INSERT INTO AM_REVISION (ID, API_UUID, REVISION_UUID, DESCRIPTION, CREATED_TIME, CREATED_BY) SELECT 1, API_UUID, md5(API_UUID || 'r1'), " +
      "'Initial revision created in migration process', NOW(), API_PROVIDER FROM AM_API",
  );
  await session.query(
    "INSERT INTO AM_DEPLOYMENT_REVISION_MAPPING (NAME, VHOST, REVISION_UUID, DISPLAY_ON_DEVPORTAL, DEPLOYED_TIME) SELECT 'Default', 'localhost', REVISION_UUID, TRUE, NOW() FROM AM_REVISION",
  );
}

/**
 * AM_KEY_MANAGER as a 4.x database has it (the tenant in ORGANIZATION; docs/wso2-compatibility.md) with each tenant's
 * `Resident Key Manager` (carbon-apimgt APIConstants.KeyManager.DEFAULT_KEY_MANAGER, type `default`).
 */
async function addResidentKeyManagers(session: DbSession, domains: readonly string[]): Promise<void> {
  await session.query(
    'CREATE TABLE AM_KEY_MANAGER (UUID VARCHAR(50) NOT NULL, NAME VARCHAR(100) NOT NULL, DISPLAY_NAME VARCHAR(100), ' +
      'DESCRIPTION VARCHAR(256), TYPE VARCHAR(45), CONFIGURATION BYTEA, ENABLED BOOLEAN DEFAULT TRUE, ' +
      'ORGANIZATION VARCHAR(100), TOKEN_TYPE VARCHAR(45), EXTERNAL_REFERENCE_ID VARCHAR(100), PRIMARY KEY (UUID), ' +
      'UNIQUE (NAME, ORGANIZATION))',
  );
  for (const domain of domains) {
    await session.query(
      "INSERT INTO AM_KEY_MANAGER (UUID, NAME, DISPLAY_NAME, TYPE, ORGANIZATION) VALUES ($1, 'Resident Key Manager', 'Resident Key Manager', 'default', $2)",
      [randomUUID(), domain],
    );
  }
}

/**
 * The stand-in server changes no data, where the real identity migration creates tables and adds columns. The demo
 * makes the ones verify checks for (identity.targetVersion 6.0.0 in the sandbox), empty, in its place.
 */
async function addIdentitySchema(sandbox: Sandbox, print: (text: string) => void): Promise<void> {
  const facts = identityFactsToCheck('6.0.0');
  await withSession(sandbox.target, (session) => addIdentitySchemaChanges(session, facts));
  const names = facts.map(identityFactName);
  print(
    `The stand-in server changes no data; the demo made the ${facts.length} tables and columns the real identity migration adds that verify checks for (${names.slice(0, 2).join(', ')}, ..., ${names.at(-1) ?? ''}), empty.`,
  );
}

/**
 * Makes the identity schema changes among `facts` that the session's database lacks, as a stand-in for the identity
 * migration (the demo's, and tests' that run the stand-in server): a missing table is created (empty, unquoted
 * names, with the facts' columns or an ID column), a missing column is added to its table. Returns what it made, as
 * `TABLE` and `TABLE.COLUMN`.
 */
export async function addIdentitySchemaChanges(
  session: DbSession,
  facts: readonly IdentitySchemaFact[],
): Promise<{ tablesCreated: string[]; columnsAdded: string[] }> {
  const missing = await findMissingIdentityFacts(session, facts);
  const tablesCreated: string[] = [];
  const columnsAdded: string[] = [];
  const newTables = new Map<string, string[]>();
  for (const { fact, tableMissing } of missing) {
    if (!tableMissing) continue;
    const columns = newTables.get(fact.table) ?? [];
    if (fact.kind === 'column') columns.push(fact.column);
    newTables.set(fact.table, columns);
  }
  for (const [table, columns] of newTables) {
    const definitions = columns.length > 0 ? columns.map((column) => `${column} VARCHAR(64)`) : ['ID INTEGER'];
    await session.query(`CREATE TABLE ${table} (${definitions.join(', ')})`);
    tablesCreated.push(table);
  }
  for (const { fact, tableMissing } of missing) {
    if (tableMissing || fact.kind !== 'column') continue;
    await session.query(`ALTER TABLE ${fact.table} ADD COLUMN ${fact.column} VARCHAR(64)`);
    columnsAdded.push(identityFactName(fact));
  }
  for (const { fact, tableMissing } of missing) {
    if (tableMissing && fact.kind === 'column') columnsAdded.push(identityFactName(fact));
  }
  return { tablesCreated, columnsAdded };
}

async function describeKeptSandbox(sandbox: Sandbox, print: (text: string) => void): Promise<void> {
  const envFile = path.join(sandbox.dir, 'demo.env');
  const lines = Object.entries(sandbox.env).map(([name, value]) => `export ${name}='${value.replace(/'/g, `'\\''`)}'`);
  await writeFile(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  await chmod(envFile, 0o600);
  const { target } = sandbox;
  print(
    [
      '',
      `Kept the sandbox in ${sandbox.dir} and the database ${target.database}.`,
      `Backups, logs and reports of the run are in ${path.join(sandbox.dir, '.apim-migrate')}.`,
      `${envFile} (mode 0600) holds ${SANDBOX_ENV.password}, ${SANDBOX_ENV.passphrase} and the admin's ${SANDBOX_ENV.adminUser} and ${SANDBOX_ENV.adminPassword}; to run more commands on the sandbox:`,
      `  cd ${sandbox.dir} && . ./demo.env && apim-migrate status`,
      'To remove it:',
      `  ${removeCommand(sandbox)}`,
    ].join('\n'),
  );
}

function removeCommand({ target, dir }: Sandbox): string {
  return `psql -h ${target.host} -p ${target.port} -U ${target.username} -d postgres -c 'DROP DATABASE IF EXISTS ${target.database} WITH (FORCE)' && rm -rf ${dir}`;
}

function flagList(on: boolean): string {
  return Object.entries(SANDBOX_FLAGS)
    .filter(([, value]) => value === on)
    .map(([flag]) => flag)
    .join(' and ');
}

/** `20261124T203300Z` */
function compactUtc(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}
