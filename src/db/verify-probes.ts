/**
 * Read-only questions the `verify` stage asks after the migration: does apim_db have the tables of API-M 4.2.0, does
 * shared_db have the registry indices of carbon-kernel 4.8.1. Nothing here changes a database.
 */

import { REGISTRY_INDICES, type RegistryIndex } from '../wso2/registry.js';
import { findExistingRegistryIndices } from './registry-scripts.js';
import type { DbSession } from './session.js';

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
  const lower = [...new Set(wanted.map((name) => name.toLowerCase()))];
  const rows =
    session.engine === 'postgresql'
      ? await session.query<{ name: string }>(
          'SELECT tablename AS name FROM pg_catalog.pg_tables ' +
            'WHERE schemaname = current_schema() AND tablename = ANY($1::text[])',
          [lower],
        )
      : await session.query<{ name: string }>(
          'SELECT TABLE_NAME AS name FROM information_schema.tables ' +
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' " +
            `AND LOWER(TABLE_NAME) IN (${lower.map(() => '?').join(', ')})`,
          lower,
        );
  const present = new Set(rows.map((row) => row.name.toLowerCase()));
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
