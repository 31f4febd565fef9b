/**
 * Read-only questions the `verify` stage asks after the migration: does apim_db have the tables of API-M 4.2.0, does
 * shared_db have the registry indices of carbon-kernel 4.8.1, are the identity migration's schema changes there, did
 * the registry versioning removal leave no rows of older versions. Nothing here changes a database.
 */

import type { DatabaseName, IdentityTargetVersion, RegistryVersioningFlags } from '../config/types.js';
import {
  IDENTITY_MIGRATORS_TO_REMOVE,
  REGISTRY_INDICES,
  type RegistryIndex,
  type VersionedMetadata,
} from '../wso2/registry.js';
import { findExistingRegistryIndices, selectVersionedMetadata } from './registry-scripts.js';
import type { DbSession } from './session.js';
import { dialectOf } from './dialects.js';

/**
 * Tables that API-M 4.2.0's apim_db has and 3.1.0's lacks: those that WSO2's API-M migration scripts for the hops
 * from 3.1.0 to 4.2.0 create as new tables (apim-migration-resources, `migration-scripts/migration-<from>_to_<to>/`
 * `mysql.sql` and `postgresql.sql`), grouped by the hop that adds them. Tables that a hop drops and re-creates with
 * another shape (AM_GW_API_ARTIFACTS, AM_GW_PUBLISHED_API_DETAILS, AM_SCOPE) are left out: they do not tell the
 * versions apart.
 */
export const APIM_420_TABLES: readonly string[] = [
  // 3.1.0 → 3.2.0: multiple key managers, shared scopes, GraphQL query analysis.
  'AM_KEY_MANAGER',
  'AM_API_RESOURCE_SCOPE_MAPPING',
  'AM_SHARED_SCOPE',
  'AM_GRAPHQL_COMPLEXITY',
  // 3.2.0 → 4.0.0: API revisions and their deployments, gateway environments, service catalog, webhooks.
  'AM_REVISION',
  'AM_API_REVISION_METADATA',
  'AM_DEPLOYMENT_REVISION_MAPPING',
  'AM_GW_API_DEPLOYMENTS',
  'AM_SERVICE_CATALOG',
  'AM_API_SERVICE_MAPPING',
  'AM_WEBHOOKS_SUBSCRIPTION',
  'AM_WEBHOOKS_UNSUBSCRIPTION',
  'AM_GATEWAY_ENVIRONMENT',
  'AM_GW_VHOST',
  // 4.0.0 → 4.1.0: operation policies, system configs, deployed revisions.
  'AM_SYSTEM_CONFIGS',
  'AM_OPERATION_POLICY',
  'AM_OPERATION_POLICY_DEFINITION',
  'AM_COMMON_OPERATION_POLICY',
  'AM_API_OPERATION_POLICY',
  'AM_API_OPERATION_POLICY_MAPPING',
  'AM_DEPLOYED_REVISION',
  // 4.1.0 → 4.2.0: correlation logs.
  'AM_CORRELATION_CONFIGS',
  'AM_CORRELATION_PROPERTIES',
];

/** Whether the database holds the registry tables (a `[database.config]` of its own may not). */
export async function holdsRegistryTables(session: DbSession): Promise<boolean> {
  return (await findMissingTables(session, ['REG_RESOURCE'])).length === 0;
}

/**
 * The names among `tables` that the database lacks, as given and in the order given (duplicates once). Only base
 * tables count, not views. The lookup follows how WSO2's unquoted SQL finds a table:
 * - PostgreSQL: the lower-case name in the current schema (unquoted names fold to lower case, so a table created
 *   quoted as "AM_REVISION" is not found by the server and counts as missing);
 * - MySQL/MariaDB: the current database, names compared case-insensitively (tables stay as created).
 */
export async function findMissingTables(session: DbSession, tables: readonly string[]): Promise<string[]> {
  const wanted = [...new Set(tables)];
  if (wanted.length === 0) return [];
  const found = await dialectOf(session.engine).tablesUnquotedSqlFinds(session, wanted);
  const present = new Set(found.map((name) => name.toLowerCase()));
  return wanted.filter((name) => !present.has(name.toLowerCase()));
}

/**
 * The registry indices of carbon-kernel 4.8.1 ({@link REGISTRY_INDICES}) that shared_db lacks by name, in that order.
 * An index that exists under the name with other columns is not missing (the registry-scripts stage reports it).
 */
export async function findMissingRegistryIndices(session: DbSession): Promise<RegistryIndex[]> {
  const existing = await findExistingRegistryIndices(session);
  return REGISTRY_INDICES.filter((index) => !existing.some((found) => found.index.name === index.name));
}

// ---------------------------------------------------------------------------------------------------------------
// The identity migration's schema changes

/** A hop of WSO2's identity migration client (its `VersionMigration` from one version to the next). */
export type IdentityHop = '5.10.0 -> 5.11.0' | '5.11.0 -> 6.0.0' | '6.0.0 -> 6.1.0';

/**
 * The client's schema folder whose script makes the change, and so the datasource the script runs on: `identity`
 * (identity.xml's datasource) and `consent` (consent-mgt-config.xml's) are jdbc/WSO2AM_DB in API-M, i.e. apim_db;
 * `um` is the user-mgt realm's datasource, shared_db in a normal setup (`[database.user]` when that is configured).
 */
export type IdentitySchema = 'identity' | 'consent' | 'um';

interface IdentitySchemaFactBase {
  table: string;
  /** Where it lives in a normal API-M setup (one shared_db for the user store and the registry). */
  database: 'apim_db' | 'shared_db';
  schema: IdentitySchema;
  hop: IdentityHop;
  /** The script's folder: `migration-resources/<version>/dbscripts/<step>/<schema>/` (postgresql.sql, mysql.sql). */
  version: '5.11.0' | '6.0.0' | '6.1.0';
  step: string;
}

/** A table the identity migration creates, or a column it adds to a table (3.1.0 lacks both). */
export type IdentitySchemaFact = IdentitySchemaFactBase & ({ kind: 'table' } | { kind: 'column'; column: string });

/**
 * Where the facts come from: wso2-extensions/identity-migration-resources at the Release 1.0.225 commit
 * 7e7230c743067b60d2e8d73d670380dcd3e7ece4, `components/org.wso2.is.migration/migration-resources/<version>/
 * dbscripts/<step>/<schema>/postgresql.sql` and `mysql.sql` (the same names in both). 6.1.0 is not in 1.0.225: its
 * step1/identity script is in the client releases 1.0.226 to 1.0.229 (commit beab776f).
 */
export const IDENTITY_MIGRATION_RESOURCES =
  'wso2-extensions/identity-migration-resources@7e7230c743067b60d2e8d73d670380dcd3e7ece4 (Release 1.0.225), components/org.wso2.is.migration/migration-resources';

/**
 * Tables and columns that the identity migration 5.10.0 -> 5.11.0 -> 6.0.0 adds with a plain CREATE TABLE or ALTER
 * TABLE ... ADD in both the PostgreSQL and the MySQL script, so that their absence means the step did not run or was
 * rolled back. Left out on purpose: IDN_CONFIG_* (5.11.0 step1 skips them when IDN_CONFIG_TYPE exists), indices and
 * constraints, and the changes of data. A fresh 4.2.0 schema has all of them too: they tell the versions apart only
 * on a database that started from 3.1.0.
 */
export const IDENTITY_SCHEMA_FACTS: readonly IdentitySchemaFact[] = [
  // 5.10.0 -> 5.11.0
  fact('apim_db', 'identity', '5.11.0', 'step2', 'IDN_CORS_ORIGIN'),
  fact('apim_db', 'identity', '5.11.0', 'step3', 'IDN_USER_FUNCTIONALITY_MAPPING'),
  fact('apim_db', 'identity', '5.11.0', 'step5', 'IDN_REMOTE_FETCH_REVISIONS'),
  fact('shared_db', 'um', '5.11.0', 'step1', 'UM_HYBRID_GROUP_ROLE'),
  fact('shared_db', 'um', '5.11.0', 'step6', 'UM_TENANT', 'UM_TENANT_UUID'),
  // 5.11.0 -> 6.0.0
  fact('apim_db', 'identity', '6.0.0', 'step2', 'IDN_OAUTH2_USER_CONSENT'),
  fact('apim_db', 'identity', '6.0.0', 'step5', 'SP_SHARED_APP'),
  fact('apim_db', 'identity', '6.0.0', 'step6', 'IDN_SECRET'),
  fact('apim_db', 'identity', '6.0.0', 'step7', 'IDN_OAUTH2_ACCESS_TOKEN', 'CONSENTED_TOKEN'),
  fact('apim_db', 'identity', '6.0.0', 'step7', 'IDN_FED_AUTH_SESSION_MAPPING', 'TENANT_ID'),
  fact('apim_db', 'identity', '6.0.0', 'step7', 'IDN_OAUTH2_SCOPE_BINDING', 'ID'),
  fact('apim_db', 'consent', '6.0.0', 'step3', 'CM_SP_PURPOSE_PII_CAT_ASSOC', 'IS_CONSENTED'),
  fact('shared_db', 'um', '6.0.0', 'step5', 'UM_TENANT', 'UM_ORG_UUID'),
  fact('shared_db', 'um', '6.0.0', 'step5', 'UM_ORG'),
  fact('shared_db', 'um', '6.0.0', 'step5', 'UM_GROUP_UUID_DOMAIN_MAPPER'),
  fact('shared_db', 'um', '6.0.0', 'step7', 'REG_RESOURCE_PROPERTY', 'ID'),
];

/** Only with `identity.targetVersion: 6.1.0` (client 1.0.226 to 1.0.229, 6.1.0/dbscripts/step1/identity). */
export const IDENTITY_610_FACTS: readonly IdentitySchemaFact[] = [
  fact('apim_db', 'identity', '6.1.0', 'step1', 'SP_SHARED_APP', 'SHARE_WITH_ALL_CHILDREN'),
];

function fact(
  database: IdentitySchemaFactBase['database'],
  schema: IdentitySchema,
  version: IdentitySchemaFactBase['version'],
  step: string,
  table: string,
  column?: string,
): IdentitySchemaFact {
  const hop: IdentityHop =
    version === '5.11.0' ? '5.10.0 -> 5.11.0' : version === '6.0.0' ? '5.11.0 -> 6.0.0' : '6.0.0 -> 6.1.0';
  const base = { table, database, schema, hop, version, step };
  return column === undefined ? { ...base, kind: 'table' } : { ...base, kind: 'column', column };
}

/** `TABLE` or `TABLE.COLUMN`. */
export function identityFactName(fact: IdentitySchemaFact): string {
  return fact.kind === 'column' ? `${fact.table}.${fact.column}` : fact.table;
}

/** The script that makes the change, relative to {@link IDENTITY_MIGRATION_RESOURCES}. */
export function identityFactScript(fact: IdentitySchemaFact): string {
  return `${fact.version}/dbscripts/${fact.step}/${fact.schema}/{postgresql,mysql}.sql`;
}

/**
 * The identity stage removes some SchemaMigrators from migration-config.yaml, as WSO2's API-M guide says
 * ({@link IDENTITY_MIGRATORS_TO_REMOVE}): their changes are never made, and verify must not ask for them. This is
 * the 6.0.0 step3/consent script, the one that adds CM_SP_PURPOSE_PII_CAT_ASSOC.IS_CONSENTED.
 */
export function isRemovedForApim(fact: IdentitySchemaFact): boolean {
  return IDENTITY_MIGRATORS_TO_REMOVE.some(
    (removal) =>
      removal.name === 'SchemaMigrator' &&
      removal.version === fact.version &&
      removal.parameters?.['location'] === fact.step &&
      removal.parameters['schema'] === fact.schema,
  );
}

/** The facts verify checks for this target version, in list order: those of the removed migrators left out. */
export function identityFactsToCheck(targetVersion: IdentityTargetVersion): IdentitySchemaFact[] {
  return [...IDENTITY_SCHEMA_FACTS, ...(targetVersion === '6.1.0' ? IDENTITY_610_FACTS : [])].filter(
    (candidate) => !isRemovedForApim(candidate),
  );
}

/**
 * The logical database that holds the fact in this configuration: the identity and consent datasources are apim_db;
 * the scripts of the `um` schema run on the user-mgt realm's datasource, which is `[database.user]` when that is
 * configured and shared_db otherwise. REG_RESOURCE_PROPERTY.ID is such a change too: it lands in the realm's
 * database, which also holds the registry in a normal setup (a separate `[database.config]` does not get it).
 */
export function identityFactDatabase(fact: IdentitySchemaFact, configured: readonly DatabaseName[]): DatabaseName {
  return fact.schema === 'um' ? realmDatabase(configured) : 'apim_db';
}

/** The user-mgt realm's database: `[database.user]` when that is configured, shared_db otherwise. */
export function realmDatabase(configured: readonly DatabaseName[]): DatabaseName {
  return configured.includes('user') ? 'user' : 'shared_db';
}

/** A missing fact; for a column, whether its table is missing altogether. */
export interface MissingIdentityFact {
  fact: IdentitySchemaFact;
  tableMissing: boolean;
}

/** The facts this database lacks, in the order given. Tables and columns are looked up as {@link findMissingTables} and {@link findMissingColumns} do. */
export async function findMissingIdentityFacts(
  session: DbSession,
  facts: readonly IdentitySchemaFact[],
): Promise<MissingIdentityFact[]> {
  const missingTables = new Set(await findMissingTables(session, [...new Set(facts.map((entry) => entry.table))]));
  const columns = facts.flatMap((entry) =>
    entry.kind === 'column' && !missingTables.has(entry.table) ? [{ table: entry.table, column: entry.column }] : [],
  );
  const missingColumns = new Set(
    (await findMissingColumns(session, columns)).map((entry) => `${entry.table}.${entry.column}`),
  );
  const missing: MissingIdentityFact[] = [];
  for (const entry of facts) {
    if (missingTables.has(entry.table)) missing.push({ fact: entry, tableMissing: true });
    else if (entry.kind === 'column' && missingColumns.has(`${entry.table}.${entry.column}`))
      missing.push({ fact: entry, tableMissing: false });
  }
  return missing;
}

export interface TableColumn {
  table: string;
  column: string;
}

/**
 * The columns among `columns` that the database lacks, as given and in the order given (duplicates once); a column of
 * a missing table is missing. Only base tables count, looked up as {@link findMissingTables} does, and the column as
 * WSO2's unquoted DDL creates it:
 * - PostgreSQL: the lower-case column of the lower-case table in the current schema (a column created quoted as "ID"
 *   is not the one unquoted SQL finds, and counts as missing);
 * - MySQL/MariaDB: the current database, table and column names compared case-insensitively.
 */
export async function findMissingColumns(session: DbSession, columns: readonly TableColumn[]): Promise<TableColumn[]> {
  const key = (table: string, column: string) => `${table.toLowerCase()}.${column.toLowerCase()}`;
  const wanted = new Map<string, TableColumn>();
  for (const entry of columns) {
    const id = key(entry.table, entry.column);
    if (!wanted.has(id)) wanted.set(id, entry);
  }
  if (wanted.size === 0) return [];
  const tables = [...new Set([...wanted.values()].map((entry) => entry.table))];
  const present = new Set(await dialectOf(session.engine).columnsUnquotedSqlFinds(session, tables));
  return [...wanted.entries()].filter(([id]) => !present.has(id)).map(([, entry]) => entry);
}

// ---------------------------------------------------------------------------------------------------------------
// What the registry versioning removal leaves

/** Mapping rows of one table that still refer to an older version of their resource. */
export interface OldVersionRows {
  flag: keyof RegistryVersioningFlags;
  mappingTable: string;
  rows: number;
}

/**
 * For each mapping table whose flag is true (in the order of VERSIONED_METADATA), how many of its rows still refer to
 * a version of their resource that is not the current one. After the removal there are none: it deletes the rows
 * whose (REG_VERSION, REG_TENANT_ID) is no REG_RESOURCE row, and gives the others the path and name of theirs. A row
 * counts when its REG_VERSION is set and
 * - no REG_RESOURCE row of its tenant has that REG_VERSION (an old version: the versioned registry wrote such rows
 *   with the version alone, without path or name), or
 * - the REG_RESOURCE row of its REG_PATH_ID, REG_RESOURCE_NAME (= REG_NAME) and REG_TENANT_ID has another REG_VERSION.
 * Rows without a REG_VERSION (written with versioning off) are no old versions and never count.
 *
 * The tables are named unquoted, as WSO2's SQL and API-M 4.2.0 name them; a table that unquoted SQL does not find is
 * an error that names it (see {@link findMissingTables}).
 */
export async function countOldVersionMappingRows(
  session: DbSession,
  flags: RegistryVersioningFlags,
): Promise<OldVersionRows[]> {
  const selected = selectVersionedMetadata(flags);
  if (selected.length === 0) return [];
  const missing = await findMissingTables(session, ['REG_RESOURCE', ...selected.map((meta) => meta.mappingTable)]);
  if (missing.length > 0) {
    throw new Error(
      `registry table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in ${session.target.name} ` +
        `(${session.target.database})`,
    );
  }
  const counts: OldVersionRows[] = [];
  for (const meta of selected) {
    const rows = await session.query<{ n: number | string | bigint }>(oldVersionRowsSql(meta));
    counts.push({ flag: meta.flag, mappingTable: meta.mappingTable, rows: Number(rows[0]?.n ?? 0) });
  }
  return counts;
}

/** The same SQL on PostgreSQL and MySQL/MariaDB: plain comparisons, no engine-specific syntax. */
function oldVersionRowsSql(meta: VersionedMetadata): string {
  const mapping = plainName(meta.mappingTable);
  return (
    `SELECT COUNT(*) AS n FROM ${mapping} m WHERE m.REG_VERSION IS NOT NULL AND (` +
    'NOT EXISTS (SELECT 1 FROM REG_RESOURCE r WHERE r.REG_VERSION = m.REG_VERSION AND r.REG_TENANT_ID = m.REG_TENANT_ID) ' +
    'OR EXISTS (SELECT 1 FROM REG_RESOURCE r WHERE r.REG_PATH_ID = m.REG_PATH_ID ' +
    'AND r.REG_NAME = m.REG_RESOURCE_NAME AND r.REG_TENANT_ID = m.REG_TENANT_ID AND r.REG_VERSION <> m.REG_VERSION))'
  );
}

/** The names in VERSIONED_METADATA are plain upper-case identifiers that need no quoting; keep it that way. */
function plainName(name: string): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`internal: unexpected table name ${name}`);
  return name;
}

// ---------------------------------------------------------------------------------------------------------------
// What came through: the business tables, revisions, key managers

/** A table whose rows are the data an operator migrates for; verify compares its count with the backup's. */
export interface BusinessTable {
  table: string;
  /** What its rows are, for messages. */
  holds: string;
  /** `apim`: apim_db; `um`: the user-mgt realm's database ({@link realmDatabase}). */
  schema: 'apim' | 'um';
  /** The WSO2 migration step documented to delete rows of it (then fewer rows are a warning); absent when none is. */
  shrinksBy?: string;
}

/**
 * API products are AM_API rows too (their API_TYPE is `APIProduct`), and AM_API_PRODUCT_MAPPING maps their resources;
 * a manifest counts whole tables, so the products are compared through that table. Scopes: IDN_OAUTH2_SCOPE is in
 * both versions' apim_db (API-M 3.2.0 added AM_SCOPE for shared scopes, which 3.1.0 lacks).
 */
export const BUSINESS_TABLES: readonly BusinessTable[] = [
  { table: 'AM_API', holds: 'APIs and API products', schema: 'apim' },
  { table: 'AM_APPLICATION', holds: 'applications', schema: 'apim' },
  { table: 'AM_SUBSCRIPTION', holds: 'subscriptions', schema: 'apim' },
  { table: 'UM_USER', holds: 'users', schema: 'um' },
  { table: 'UM_TENANT', holds: 'tenants', schema: 'um' },
  { table: 'IDN_OAUTH_CONSUMER_APPS', holds: 'OAuth apps', schema: 'apim' },
  { table: 'AM_API_PRODUCT_MAPPING', holds: 'API products (their resources)', schema: 'apim' },
  {
    table: 'IDN_OAUTH2_SCOPE',
    holds: 'scopes',
    schema: 'apim',
    shrinksBy:
      'the API-M migration 3.1.0 -> 3.2.0 deletes duplicate scope entries from IDN_OAUTH2_SCOPE (am-client MigrateFrom310, APIMgtDAO.removeDuplicateScopeEntries)',
  },
];

/** A table unquoted SQL finds: its name as asked, its key in backup manifests, and its rows now. */
export interface CountedTable {
  table: string;
  key: string;
  rows: number;
}

/** The rows of each of `tables` that unquoted SQL finds (see {@link findMissingTables}); tables it does not find are left out. */
export async function countTablesNow(session: DbSession, tables: readonly string[]): Promise<CountedTable[]> {
  const refs = await dialectOf(session.engine).tableRefsUnquotedSqlFinds(session, tables);
  const counted: CountedTable[] = [];
  for (const table of tables) {
    const ref = refs.find((candidate) => tablePart(candidate.key).toLowerCase() === table.toLowerCase());
    if (!ref) continue;
    const [row] = await session.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${ref.quoted}`);
    counted.push({ table, key: ref.key, rows: Number(row?.n ?? 0) });
  }
  return counted;
}

function tablePart(key: string): string {
  return key.slice(key.lastIndexOf('.') + 1);
}

/** A published API (or product) of apim_db, and what of its revisions is there. */
export interface PublishedApi {
  name: string;
  version: string;
  provider: string;
  hasRevision: boolean;
  hasDeployedRevision: boolean;
}

export type RevisionReading =
  { readable: false; missing: string[] } | { readable: true; published: number; lacking: PublishedApi[] };

/**
 * The APIs the API-M migration 3.2.0 -> 4.0.0 gives a first revision and deploys (am-client MigrateFrom320,
 * apiRevisionRelatedMigration: every API and product whose status is neither CREATED nor RETIRED, compared without
 * case), and those of them that lack a row in AM_REVISION or in AM_DEPLOYMENT_REVISION_MAPPING. Needs AM_API's
 * STATUS and API_UUID (added by that hop's script) and both revision tables.
 */
export async function readPublishedApiRevisions(session: DbSession): Promise<RevisionReading> {
  const missingTables = await findMissingTables(session, ['AM_API', 'AM_REVISION', 'AM_DEPLOYMENT_REVISION_MAPPING']);
  const missingColumns = missingTables.includes('AM_API')
    ? []
    : (
        await findMissingColumns(session, [
          { table: 'AM_API', column: 'STATUS' },
          { table: 'AM_API', column: 'API_UUID' },
        ])
      ).map((entry) => `${entry.table}.${entry.column}`);
  const missing = [...missingTables, ...missingColumns];
  if (missing.length > 0) return { readable: false, missing };
  const published = "UPPER(a.STATUS) NOT IN ('CREATED', 'RETIRED')";
  const [total] = await session.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM AM_API a WHERE ${published}`);
  const rows = await session.query<{
    name: string;
    version: string;
    provider: string;
    revisions: number | string;
    deployed: number | string;
  }>(
    'SELECT name, version, provider, revisions, deployed FROM (' +
      'SELECT a.API_NAME AS name, a.API_VERSION AS version, a.API_PROVIDER AS provider, ' +
      '(SELECT COUNT(*) FROM AM_REVISION r WHERE r.API_UUID = a.API_UUID) AS revisions, ' +
      '(SELECT COUNT(*) FROM AM_REVISION r JOIN AM_DEPLOYMENT_REVISION_MAPPING d ON d.REVISION_UUID = r.REVISION_UUID ' +
      'WHERE r.API_UUID = a.API_UUID) AS deployed ' +
      `FROM AM_API a WHERE ${published}) x WHERE revisions = 0 OR deployed = 0 ORDER BY provider, name, version`,
  );
  return {
    readable: true,
    published: Number(total?.n ?? 0),
    lacking: rows.map((row) => ({
      name: String(row.name),
      version: String(row.version),
      provider: String(row.provider),
      hasRevision: Number(row.revisions) > 0,
      hasDeployedRevision: Number(row.deployed) > 0,
    })),
  };
}

/** carbon-apimgt `APIConstants.KeyManager.DEFAULT_KEY_MANAGER`: the name of each tenant's resident Key Manager. */
export const RESIDENT_KEY_MANAGER = 'Resident Key Manager';
/** Carbon's super tenant, which has no UM_TENANT row. */
export const SUPER_TENANT_DOMAIN = 'carbon.super';

/** The tenant domains of the realm's UM_TENANT, and the super tenant's; undefined when there is no UM_TENANT. */
export async function readTenantDomains(session: DbSession): Promise<string[] | undefined> {
  if ((await findMissingTables(session, ['UM_TENANT'])).length > 0) return undefined;
  const rows = await session.query<{ domain: string }>(
    'SELECT UM_DOMAIN_NAME AS domain FROM UM_TENANT ORDER BY UM_DOMAIN_NAME',
  );
  return [SUPER_TENANT_DOMAIN, ...rows.map((row) => String(row.domain))];
}

/**
 * The tenant domains AM_KEY_MANAGER has a resident Key Manager of; undefined when there is no AM_KEY_MANAGER. The
 * 3.2.0 table names the tenant in TENANT_DOMAIN, later 4.x databases in ORGANIZATION (docs/wso2-compatibility.md):
 * the column the table has is read.
 */
export async function readResidentKeyManagerDomains(session: DbSession): Promise<string[] | undefined> {
  if ((await findMissingTables(session, ['AM_KEY_MANAGER'])).length > 0) return undefined;
  const organization = { table: 'AM_KEY_MANAGER', column: 'ORGANIZATION' };
  const column = (await findMissingColumns(session, [organization])).length === 0 ? 'ORGANIZATION' : 'TENANT_DOMAIN';
  const rows = await session.query<{ domain: string }>(
    `SELECT ${column} AS domain FROM AM_KEY_MANAGER WHERE NAME = ${dialectOf(session.engine).placeholder(1)}`,
    [RESIDENT_KEY_MANAGER],
  );
  return rows.map((row) => String(row.domain));
}

/**
 * The super tenant's APIs in the migrated AM_API, as the Publisher API's `GET /apis` counts them: the rows whose
 * ORGANIZATION is `carbon.super` (set by am-client's 4.0.0 -> 4.1.0 step from each provider's tenant), without the
 * API Products, which are AM_API rows with API_TYPE 'APIProduct' that the listing's registry search leaves out
 * (docs/wso2-compatibility.md, "Server Startup").
 */
export async function countSuperTenantApis(session: DbSession): Promise<number> {
  const missing = await findMissingColumns(session, [
    { table: 'AM_API', column: 'ORGANIZATION' },
    { table: 'AM_API', column: 'API_TYPE' },
  ]);
  if (missing.length > 0) {
    throw new Error(
      `AM_API lacks ${missing.map((entry) => entry.column).join(', ')}: this apim_db was not migrated to 4.2.0 (run the apim stage)`,
    );
  }
  const [row] = await session.query<{ n: number | string }>(
    "SELECT COUNT(*) AS n FROM AM_API WHERE ORGANIZATION = 'carbon.super' AND (API_TYPE IS NULL OR API_TYPE <> 'APIProduct')",
  );
  return Number(row?.n ?? 0);
}
