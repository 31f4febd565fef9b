/**
 * The read-only probes of the verify stage on the machine's real PostgreSQL and MariaDB.
 * Needs `bash scripts/ensure-services.sh` first.
 */

import { afterEach, describe, expect, it } from 'vitest';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import { createMissingRegistryIndices, removeVersioningDetails } from '../../src/db/registry-scripts.js';
import { openSession, type DbSession } from '../../src/db/session.js';
import {
  APIM_420_TABLES,
  countOldVersionMappingRows,
  findMissingColumns,
  findMissingIdentityFacts,
  findMissingRegistryIndices,
  findMissingTables,
  IDENTITY_610_FACTS,
  IDENTITY_SCHEMA_FACTS,
  identityFactDatabase,
  identityFactName,
  identityFactScript,
  identityFactsToCheck,
  type IdentitySchemaFact,
} from '../../src/db/verify-probes.js';
import { addIdentitySchemaChanges } from '../../src/demo/demo.js';
import { REGISTRY_INDICES } from '../../src/wso2/registry.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';
import {
  createRegistrySchema,
  METADATA_KINDS,
  seedRegistry,
  type RegistrySeedOptions,
  type SeededRegistry,
} from '../../src/demo/registry-seed.js';

type Engine = 'postgresql' | 'mariadb';
const ENGINES: readonly Engine[] = ['postgresql', 'mariadb'];

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A scratch database of the engine and an open admin session on it, both removed after the test. */
async function scratchSession(engine: Engine): Promise<DbSession> {
  const scratch: ScratchDatabase =
    engine === 'postgresql'
      ? await createScratchPostgres('verify_probes')
      : await createScratchMariadb('verify_probes');
  cleanups.push(() => scratch.drop());
  const session = await openSession(scratch.target);
  cleanups.push(() => session.close());
  return session;
}

async function run(session: DbSession, statements: string[]): Promise<void> {
  for (const statement of statements) await session.query(statement);
}

describe('APIM_420_TABLES', () => {
  it('lists unique upper-case table names, among them the ones the verify stage relies on', () => {
    expect(new Set(APIM_420_TABLES).size).toBe(APIM_420_TABLES.length);
    for (const name of APIM_420_TABLES) expect(name).toMatch(/^AM_[A-Z0-9_]+$/);
    expect(APIM_420_TABLES).toEqual(
      expect.arrayContaining([
        'AM_REVISION',
        'AM_GATEWAY_ENVIRONMENT',
        'AM_OPERATION_POLICY',
        'AM_DEPLOYMENT_REVISION_MAPPING',
        'AM_API_REVISION_METADATA',
      ]),
    );
  });
});

describe.each(ENGINES)('findMissingTables on %s', (engine) => {
  it('finds every table missing in an empty database, in the order given, each once', async () => {
    const session = await scratchSession(engine);
    expect(await findMissingTables(session, ['AM_REVISION', 'AM_GW_VHOST', 'AM_REVISION'])).toEqual([
      'AM_REVISION',
      'AM_GW_VHOST',
    ]);
    expect(await findMissingTables(session, [])).toEqual([]);
  });

  it('finds nothing missing once the 4.2.0 tables are created as WSO2 creates them (unquoted)', async () => {
    const session = await scratchSession(engine);
    await run(
      session,
      APIM_420_TABLES.map((name) => `CREATE TABLE ${name} (ID INTEGER)`),
    );
    expect(await findMissingTables(session, [...APIM_420_TABLES])).toEqual([]);
    // Names are matched whatever case the caller spells them in.
    expect(await findMissingTables(session, ['am_revision', 'Am_Gw_Vhost', 'AM_NOT_THERE'])).toEqual(['AM_NOT_THERE']);
  });

  it('reports only the tables that are missing, and does not count views', async () => {
    const session = await scratchSession(engine);
    await run(session, [
      'CREATE TABLE AM_REVISION (ID INTEGER)',
      'CREATE TABLE AM_GW_VHOST (ID INTEGER)',
      'CREATE VIEW AM_OPERATION_POLICY AS SELECT ID FROM AM_REVISION',
    ]);
    expect(
      await findMissingTables(session, ['AM_REVISION', 'AM_OPERATION_POLICY', 'AM_GW_VHOST', 'AM_SYSTEM_CONFIGS']),
    ).toEqual(['AM_OPERATION_POLICY', 'AM_SYSTEM_CONFIGS']);
  });
});

describe('findMissingTables: case per DBMS', () => {
  it('PostgreSQL: a table created quoted in upper case is not the one unquoted SQL finds', async () => {
    const session = await scratchSession('postgresql');
    await run(session, ['CREATE TABLE AM_REVISION (ID INTEGER)', 'CREATE TABLE "AM_GATEWAY_ENVIRONMENT" (ID INTEGER)']);
    expect(await findMissingTables(session, ['AM_REVISION', 'AM_GATEWAY_ENVIRONMENT'])).toEqual([
      'AM_GATEWAY_ENVIRONMENT',
    ]);
  });

  it('PostgreSQL: only the current schema counts', async () => {
    const session = await scratchSession('postgresql');
    await run(session, [
      'CREATE TABLE AM_REVISION (ID INTEGER)',
      'CREATE SCHEMA apim',
      'CREATE TABLE apim.AM_DEPLOYED_REVISION (ID INTEGER)',
    ]);
    const tables = ['AM_REVISION', 'AM_DEPLOYED_REVISION'];
    expect(await findMissingTables(session, tables)).toEqual(['AM_DEPLOYED_REVISION']);
    await session.query('SET search_path TO apim');
    expect(await findMissingTables(session, tables)).toEqual(['AM_REVISION']);
  });

  it('MariaDB: tables stay as created and are compared case-insensitively', async () => {
    const session = await scratchSession('mariadb');
    await run(session, ['CREATE TABLE AM_REVISION (ID INTEGER)', 'CREATE TABLE am_gateway_environment (ID INTEGER)']);
    const rows = await session.query<{ name: string }>(
      'SELECT TABLE_NAME AS name FROM information_schema.tables WHERE TABLE_SCHEMA = DATABASE()',
    );
    expect(rows.map((row) => row.name).sort()).toEqual(['AM_REVISION', 'am_gateway_environment']);
    expect(await findMissingTables(session, ['AM_REVISION', 'AM_GATEWAY_ENVIRONMENT', 'AM_OPERATION_POLICY'])).toEqual([
      'AM_OPERATION_POLICY',
    ]);
  });

  it('MariaDB: only the current database counts', async () => {
    const session = await scratchSession('mariadb');
    const other = await createScratchMariadb('verify_probes_other');
    cleanups.push(() => other.drop());
    await session.query(`CREATE TABLE \`${other.target.database}\`.AM_REVISION (ID INTEGER)`);
    expect(await findMissingTables(session, ['AM_REVISION'])).toEqual(['AM_REVISION']);
  });
});

describe.each(ENGINES)('findMissingRegistryIndices on %s', (engine) => {
  const [tagIndex, propertyIndex] = REGISTRY_INDICES;

  it('finds both indices missing in a 3.1.0 registry, one after one was added, none after the script', async () => {
    const session = await scratchSession(engine);
    await createRegistrySchema(session);
    expect(await findMissingRegistryIndices(session)).toEqual([tagIndex, propertyIndex]);

    await session.query(
      'CREATE INDEX REG_RESOURCE_TAG_IND_BY_REG_TAG_ID ON REG_RESOURCE_TAG (REG_TAG_ID, REG_TENANT_ID)',
    );
    expect(await findMissingRegistryIndices(session)).toEqual([propertyIndex]);

    await createMissingRegistryIndices(session);
    expect(await findMissingRegistryIndices(session)).toEqual([]);
  });

  it('does not count an index as missing when it exists by name with other columns', async () => {
    const session = await scratchSession(engine);
    await createRegistrySchema(session);
    await session.query('CREATE INDEX REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID ON REG_RESOURCE_PROPERTY (REG_VERSION)');
    expect(await findMissingRegistryIndices(session)).toEqual([tagIndex]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The identity migration's schema changes

const FLAGS_OFF: RegistryVersioningFlags = { properties: false, comments: false, tags: false, ratings: false };

/**
 * Creates what the identity migration adds for `facts`, except `except` (names as `TABLE` or `TABLE.COLUMN`), written
 * here without the code under test: each table once (unquoted, as WSO2's DDL), with the facts' columns, and an ID
 * column for tables that the facts name without columns.
 */
async function createIdentitySchema(
  session: DbSession,
  facts: readonly IdentitySchemaFact[],
  except: readonly string[] = [],
): Promise<void> {
  const tables = new Map<string, string[]>();
  for (const entry of facts) {
    const columns = tables.get(entry.table) ?? [];
    if (entry.kind === 'column' && !except.includes(identityFactName(entry))) columns.push(entry.column);
    tables.set(entry.table, columns);
  }
  for (const [table, columns] of tables) {
    if (except.includes(table)) continue;
    const definitions = [...new Set(['KEEP_ME', ...columns])].map((column) => `${column} VARCHAR(20)`);
    await session.query(`CREATE TABLE ${table} (${definitions.join(', ')})`);
  }
}

describe('IDENTITY_SCHEMA_FACTS', () => {
  it('lists the 16 facts of the research notes once each, in apim_db and shared_db, by hop', () => {
    const names = IDENTITY_SCHEMA_FACTS.map(identityFactName);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual([
      'IDN_CORS_ORIGIN',
      'IDN_USER_FUNCTIONALITY_MAPPING',
      'IDN_REMOTE_FETCH_REVISIONS',
      'UM_HYBRID_GROUP_ROLE',
      'UM_TENANT.UM_TENANT_UUID',
      'IDN_OAUTH2_USER_CONSENT',
      'SP_SHARED_APP',
      'IDN_SECRET',
      'IDN_OAUTH2_ACCESS_TOKEN.CONSENTED_TOKEN',
      'IDN_FED_AUTH_SESSION_MAPPING.TENANT_ID',
      'IDN_OAUTH2_SCOPE_BINDING.ID',
      'CM_SP_PURPOSE_PII_CAT_ASSOC.IS_CONSENTED',
      'UM_TENANT.UM_ORG_UUID',
      'UM_ORG',
      'UM_GROUP_UUID_DOMAIN_MAPPER',
      'REG_RESOURCE_PROPERTY.ID',
    ]);
    for (const entry of IDENTITY_SCHEMA_FACTS) {
      expect(entry.database).toBe(entry.schema === 'um' ? 'shared_db' : 'apim_db');
      expect(entry.hop).toBe(entry.version === '5.11.0' ? '5.10.0 -> 5.11.0' : '5.11.0 -> 6.0.0');
    }
    const corsOrigin = IDENTITY_SCHEMA_FACTS[0];
    expect(corsOrigin && identityFactScript(corsOrigin)).toBe('5.11.0/dbscripts/step2/identity/{postgresql,mysql}.sql');
    expect(IDENTITY_610_FACTS.map((entry) => [identityFactName(entry), entry.hop, entry.database])).toEqual([
      ['SP_SHARED_APP.SHARE_WITH_ALL_CHILDREN', '6.0.0 -> 6.1.0', 'apim_db'],
    ]);
  });

  it('checks the 6.1.0 column only for target 6.1.0, and never the change of the consent step the identity stage removes', () => {
    const for600 = identityFactsToCheck('6.0.0').map(identityFactName);
    const for610 = identityFactsToCheck('6.1.0').map(identityFactName);
    expect(for600).toHaveLength(15);
    expect(for600).not.toContain('SP_SHARED_APP.SHARE_WITH_ALL_CHILDREN');
    expect(for610).toEqual([...for600, 'SP_SHARED_APP.SHARE_WITH_ALL_CHILDREN']);
    // 6.0.0 step3/consent (IS_CONSENTED) is one of the SchemaMigrators the identity stage takes out of the config.
    expect(for610).not.toContain('CM_SP_PURPOSE_PII_CAT_ASSOC.IS_CONSENTED');
  });

  it('puts the um changes into user when it is configured, else shared_db; the others into apim_db', () => {
    const byName = (name: string) => {
      const found = IDENTITY_SCHEMA_FACTS.find((entry) => identityFactName(entry) === name);
      if (!found) throw new Error(`no fact ${name}`);
      return found;
    };
    const normal = ['apim_db', 'shared_db'] as const;
    const split = ['apim_db', 'shared_db', 'config', 'user'] as const;
    expect(identityFactDatabase(byName('UM_ORG'), normal)).toBe('shared_db');
    expect(identityFactDatabase(byName('UM_ORG'), split)).toBe('user');
    expect(identityFactDatabase(byName('REG_RESOURCE_PROPERTY.ID'), normal)).toBe('shared_db');
    expect(identityFactDatabase(byName('REG_RESOURCE_PROPERTY.ID'), split)).toBe('user');
    expect(identityFactDatabase(byName('IDN_CORS_ORIGIN'), split)).toBe('apim_db');
    expect(identityFactDatabase(byName('CM_SP_PURPOSE_PII_CAT_ASSOC.IS_CONSENTED'), split)).toBe('apim_db');
  });
});

describe.each(ENGINES)('findMissingIdentityFacts on %s', (engine) => {
  it('finds every fact missing in an empty database, with its hop', async () => {
    const session = await scratchSession(engine);
    const facts = identityFactsToCheck('6.0.0');
    const missing = await findMissingIdentityFacts(session, facts);
    expect(missing.map((entry) => entry.fact)).toEqual(facts);
    expect(missing.every((entry) => entry.tableMissing)).toBe(true);
  });

  it('finds nothing when every table and column is there', async () => {
    const session = await scratchSession(engine);
    await createIdentitySchema(session, identityFactsToCheck('6.0.0'));
    expect(await findMissingIdentityFacts(session, identityFactsToCheck('6.0.0'))).toEqual([]);
  });

  it('reports exactly the table and the column that are missing, with their hops', async () => {
    const session = await scratchSession(engine);
    const facts = identityFactsToCheck('6.0.0');
    await createIdentitySchema(session, facts, ['IDN_CORS_ORIGIN', 'UM_TENANT.UM_ORG_UUID']);
    const missing = await findMissingIdentityFacts(session, facts);
    expect(
      missing.map(({ fact, tableMissing }) => [identityFactName(fact), fact.hop, fact.database, tableMissing]),
    ).toEqual([
      ['IDN_CORS_ORIGIN', '5.10.0 -> 5.11.0', 'apim_db', true],
      ['UM_TENANT.UM_ORG_UUID', '5.11.0 -> 6.0.0', 'shared_db', false],
    ]);
  });

  it('says when a column is missing because its whole table is', async () => {
    const session = await scratchSession(engine);
    const facts = identityFactsToCheck('6.0.0');
    await createIdentitySchema(session, facts, ['IDN_OAUTH2_ACCESS_TOKEN']);
    const missing = await findMissingIdentityFacts(session, facts);
    expect(missing.map(({ fact, tableMissing }) => [identityFactName(fact), tableMissing])).toEqual([
      ['IDN_OAUTH2_ACCESS_TOKEN.CONSENTED_TOKEN', true],
    ]);
  });

  it('asks for SP_SHARED_APP.SHARE_WITH_ALL_CHILDREN only for target 6.1.0', async () => {
    const session = await scratchSession(engine);
    await createIdentitySchema(session, identityFactsToCheck('6.0.0'));
    expect(await findMissingIdentityFacts(session, identityFactsToCheck('6.0.0'))).toEqual([]);
    const for610 = await findMissingIdentityFacts(session, identityFactsToCheck('6.1.0'));
    expect(for610.map(({ fact, tableMissing }) => [identityFactName(fact), fact.hop, tableMissing])).toEqual([
      ['SP_SHARED_APP.SHARE_WITH_ALL_CHILDREN', '6.0.0 -> 6.1.0', false],
    ]);
    await session.query('ALTER TABLE SP_SHARED_APP ADD SHARE_WITH_ALL_CHILDREN BOOLEAN DEFAULT FALSE');
    expect(await findMissingIdentityFacts(session, identityFactsToCheck('6.1.0'))).toEqual([]);
  });

  it('the demo stand-in makes exactly what is missing, and leaves what is there', async () => {
    const session = await scratchSession(engine);
    const facts = identityFactsToCheck('6.0.0');
    // The registry's REG_RESOURCE_PROPERTY is there without ID, as in a 3.1.0 shared_db.
    await createRegistrySchema(session);
    const made = await addIdentitySchemaChanges(session, facts);
    expect(made.columnsAdded).toContain('REG_RESOURCE_PROPERTY.ID');
    expect(made.tablesCreated).not.toContain('REG_RESOURCE_PROPERTY');
    expect(made.tablesCreated).toContain('UM_TENANT');
    expect(await findMissingIdentityFacts(session, facts)).toEqual([]);
    expect(await addIdentitySchemaChanges(session, facts)).toEqual({ tablesCreated: [], columnsAdded: [] });
  });
});

describe.each(ENGINES)('findMissingColumns on %s', (engine) => {
  it('finds missing columns of present and absent tables, each once, in the order given; views do not count', async () => {
    const session = await scratchSession(engine);
    await run(session, [
      'CREATE TABLE UM_TENANT (UM_ID INTEGER, UM_TENANT_UUID VARCHAR(36))',
      'CREATE VIEW IDN_SECRET AS SELECT UM_ID AS ID FROM UM_TENANT',
    ]);
    expect(
      await findMissingColumns(session, [
        { table: 'UM_TENANT', column: 'UM_ORG_UUID' },
        { table: 'UM_TENANT', column: 'UM_TENANT_UUID' },
        { table: 'IDN_SECRET', column: 'ID' },
        { table: 'um_tenant', column: 'um_org_uuid' },
        { table: 'NOT_THERE', column: 'ID' },
      ]),
    ).toEqual([
      { table: 'UM_TENANT', column: 'UM_ORG_UUID' },
      { table: 'IDN_SECRET', column: 'ID' },
      { table: 'NOT_THERE', column: 'ID' },
    ]);
    expect(await findMissingColumns(session, [])).toEqual([]);
  });
});

describe('findMissingColumns: case per DBMS', () => {
  it('PostgreSQL: a column created quoted in upper case is not the one unquoted SQL finds', async () => {
    const session = await scratchSession('postgresql');
    await run(session, ['CREATE TABLE IDN_OAUTH2_SCOPE_BINDING (SCOPE_ID INTEGER, "ID" INTEGER, TENANT_ID INTEGER)']);
    expect(
      await findMissingColumns(session, [
        { table: 'IDN_OAUTH2_SCOPE_BINDING', column: 'ID' },
        { table: 'IDN_OAUTH2_SCOPE_BINDING', column: 'TENANT_ID' },
      ]),
    ).toEqual([{ table: 'IDN_OAUTH2_SCOPE_BINDING', column: 'ID' }]);
  });

  it('MariaDB: columns of a table in either case are found whatever case they were created in', async () => {
    const session = await scratchSession('mariadb');
    await run(session, ['CREATE TABLE um_tenant (um_tenant_uuid VARCHAR(36), UM_ORG_UUID VARCHAR(36))']);
    expect(
      await findMissingColumns(session, [
        { table: 'UM_TENANT', column: 'UM_TENANT_UUID' },
        { table: 'UM_TENANT', column: 'um_org_uuid' },
        { table: 'UM_TENANT', column: 'UM_ID' },
      ]),
    ).toEqual([{ table: 'UM_TENANT', column: 'UM_ID' }]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// What the registry versioning removal leaves

/** Small, fast seed: a few resources with older versions, rows written with versioning off in every kind. */
const SMALL_SEED: RegistrySeedOptions = {
  seed: 7,
  resources: 30,
  versionsPerResource: 3,
  tenants: 2,
  versioningOffRows: 4,
  orphanEntities: 1,
};

/** The mapping rows of older versions the generator wrote for a kind (its deletions minus the versionless rows). */
function oldVersionRows(seeded: SeededRegistry, kind: (typeof METADATA_KINDS)[number]): number {
  return seeded.removal[kind].mappingRowsToDelete - seeded.options.versioningOffRows;
}

async function seededRegistry(engine: Engine, options: RegistrySeedOptions = SMALL_SEED) {
  const session = await scratchSession(engine);
  await createRegistrySchema(session);
  const seeded = await seedRegistry(session, options);
  return { session, seeded };
}

/** Inserts one row with `?` placeholders turned into the engine's own. */
async function insert(session: DbSession, table: string, values: Record<string, unknown>): Promise<void> {
  const columns = Object.keys(values);
  const marks = columns.map((_, index) => (session.engine === 'postgresql' ? `$${index + 1}` : '?'));
  await session.query(
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${marks.join(', ')})`,
    Object.values(values),
  );
}

describe.each(ENGINES)('countOldVersionMappingRows on %s', (engine) => {
  it('counts the rows of older versions per table whose flag is on, and none after the removal', async () => {
    const { session, seeded } = await seededRegistry(engine);
    const flags: RegistryVersioningFlags = { properties: true, comments: false, tags: true, ratings: false };
    const before = await countOldVersionMappingRows(session, flags);
    expect(before).toEqual([
      { flag: 'tags', mappingTable: 'REG_RESOURCE_TAG', rows: oldVersionRows(seeded, 'tags') },
      { flag: 'properties', mappingTable: 'REG_RESOURCE_PROPERTY', rows: oldVersionRows(seeded, 'properties') },
    ]);
    expect(before.every((count) => count.rows > 0)).toBe(true);

    await removeVersioningDetails(session, flags);
    expect(await countOldVersionMappingRows(session, flags)).toEqual([
      { flag: 'tags', mappingTable: 'REG_RESOURCE_TAG', rows: 0 },
      { flag: 'properties', mappingTable: 'REG_RESOURCE_PROPERTY', rows: 0 },
    ]);
  });

  it('does not count rows without a REG_VERSION, which are no old versions', async () => {
    // One version per resource: no old versions, only current rows and rows written with versioning off.
    const { session, seeded } = await seededRegistry(engine, { ...SMALL_SEED, versionsPerResource: 1 });
    expect(seeded.removal.tags.mappingRowsToDelete).toBe(SMALL_SEED.versioningOffRows);
    const nulls = await session.query<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM REG_RESOURCE_TAG WHERE REG_VERSION IS NULL AND REG_PATH_ID IS NOT NULL',
    );
    expect(Number(nulls[0]?.n)).toBe(SMALL_SEED.versioningOffRows);
    const all = { properties: true, comments: true, tags: true, ratings: true };
    expect((await countOldVersionMappingRows(session, all)).map((count) => count.rows)).toEqual([0, 0, 0, 0]);
  });

  it('counts a row whose path and name belong to a resource with another current version', async () => {
    const { session, seeded } = await seededRegistry(engine, { ...SMALL_SEED, versionsPerResource: 1 });
    const [first, second] = seeded.samples.filter((sample) => sample.tenantId === seeded.tenantIds[0]);
    if (!first || !second) throw new Error('the seed has too few samples');
    const tagId = seeded.nextEntityId.tags;
    await insert(session, 'REG_TAG', {
      REG_ID: tagId,
      REG_TAG_NAME: 'stale',
      REG_USER_ID: 'admin',
      REG_TAGGED_TIME: '2020-01-01 00:00:00',
      REG_TENANT_ID: first.tenantId,
    });
    // The version is another resource's current one: only the path and name tell that it is not first's.
    await insert(session, 'REG_RESOURCE_TAG', {
      REG_TAG_ID: tagId,
      REG_VERSION: second.version,
      REG_PATH_ID: first.pathId,
      REG_RESOURCE_NAME: first.name,
      REG_TENANT_ID: first.tenantId,
    });
    // A version that no REG_RESOURCE row has (an older one), without path and name, as the versioned registry wrote it.
    await insert(session, 'REG_RESOURCE_TAG', {
      REG_TAG_ID: tagId,
      REG_VERSION: 987_654,
      REG_TENANT_ID: first.tenantId,
    });
    // First's own current version, and a row without a version: neither counts.
    await insert(session, 'REG_RESOURCE_TAG', {
      REG_TAG_ID: tagId,
      REG_VERSION: first.version,
      REG_PATH_ID: first.pathId,
      REG_RESOURCE_NAME: first.name,
      REG_TENANT_ID: first.tenantId,
    });
    await insert(session, 'REG_RESOURCE_TAG', {
      REG_TAG_ID: tagId,
      REG_PATH_ID: first.pathId,
      REG_RESOURCE_NAME: first.name,
      REG_TENANT_ID: first.tenantId,
    });
    expect(await countOldVersionMappingRows(session, { ...FLAGS_OFF, tags: true })).toEqual([
      { flag: 'tags', mappingTable: 'REG_RESOURCE_TAG', rows: 2 },
    ]);
  });

  it('does not look at the tables whose flag is off', async () => {
    const { session, seeded } = await seededRegistry(engine);
    expect(oldVersionRows(seeded, 'comments')).toBeGreaterThan(0);
    expect(await countOldVersionMappingRows(session, { ...FLAGS_OFF, tags: true })).toEqual([
      { flag: 'tags', mappingTable: 'REG_RESOURCE_TAG', rows: oldVersionRows(seeded, 'tags') },
    ]);
    expect(await countOldVersionMappingRows(session, FLAGS_OFF)).toEqual([]);
  });

  it('names the registry tables that are not there', async () => {
    const session = await scratchSession(engine);
    await run(session, ['CREATE TABLE REG_RESOURCE (REG_VERSION INTEGER)']);
    await expect(countOldVersionMappingRows(session, { ...FLAGS_OFF, ratings: true })).rejects.toThrow(
      /registry table REG_RESOURCE_RATING not found in shared_db/,
    );
  });
});
