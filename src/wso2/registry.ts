import type { RegistryVersioningFlags } from '../config/types.js';

/** The two registry indices that carbon-kernel 4.8.1 (API-M 4.2.0) has and 4.6.0 (3.1.0) lacks. */
export interface RegistryIndex {
  table: string;
  /** The name on MySQL, MariaDB and PostgreSQL (Oracle and DB2 use other names; they are not supported). */
  name: string;
  /** Column order differs between the two, as in WSO2's scripts. */
  columns: readonly string[];
}

export const REGISTRY_INDICES: readonly RegistryIndex[] = [
  { table: 'REG_RESOURCE_TAG', name: 'REG_RESOURCE_TAG_IND_BY_REG_TAG_ID', columns: ['REG_TAG_ID', 'REG_TENANT_ID'] },
  {
    table: 'REG_RESOURCE_PROPERTY',
    name: 'REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID',
    columns: ['REG_TENANT_ID', 'REG_PROPERTY_ID'],
  },
];

/** A kind of registry metadata whose versioning details are removed separately, by its own flag. */
export interface VersionedMetadata {
  flag: keyof RegistryVersioningFlags;
  /** The registry.xml element that holds the flag. */
  element: string;
  mappingTable: string;
  entityTable: string;
  /** The mapping table's column that refers to the entity's REG_ID. */
  entityColumn: string;
}

export const VERSIONED_METADATA: readonly VersionedMetadata[] = [
  {
    flag: 'tags',
    element: 'versioningTags',
    mappingTable: 'REG_RESOURCE_TAG',
    entityTable: 'REG_TAG',
    entityColumn: 'REG_TAG_ID',
  },
  {
    flag: 'comments',
    element: 'versioningComments',
    mappingTable: 'REG_RESOURCE_COMMENT',
    entityTable: 'REG_COMMENT',
    entityColumn: 'REG_COMMENT_ID',
  },
  {
    flag: 'properties',
    element: 'versioningProperties',
    mappingTable: 'REG_RESOURCE_PROPERTY',
    entityTable: 'REG_PROPERTY',
    entityColumn: 'REG_PROPERTY_ID',
  },
  {
    flag: 'ratings',
    element: 'versioningRatings',
    mappingTable: 'REG_RESOURCE_RATING',
    entityTable: 'REG_RATING',
    entityColumn: 'REG_RATING_ID',
  },
];

/** The identity migration client's `migration-config.yaml` edits of WSO2's guide. */
export const IDENTITY_CURRENT_VERSION = '5.10.0';

export interface MigratorRemoval {
  version: string;
  name: string;
  /** The parameters that single the migrator out when the version holds several of that name. */
  parameters?: Readonly<Record<string, string>>;
  /** The order in client 1.0.225, for messages only: orders shift between client releases. */
  usualOrder: number;
}

export const IDENTITY_MIGRATORS_TO_REMOVE: readonly MigratorRemoval[] = [
  { version: '5.11.0', name: 'EncryptionAdminFlowMigrator', usualOrder: 1 },
  { version: '5.11.0', name: 'EncryptionUserFlowMigrator', usualOrder: 2 },
  { version: '5.11.0', name: 'SCIMGroupRoleMigrator', usualOrder: 18 },
  { version: '6.0.0', name: 'SchemaMigrator', parameters: { location: 'step3', schema: 'consent' }, usualOrder: 4 },
];

export const PG_STATEMENT_CACHE_PARAM = 'preparedStatementCacheQueries';
