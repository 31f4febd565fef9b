/**
 * The read-only probes of the verify stage on the machine's real PostgreSQL and MariaDB.
 * Needs `bash scripts/ensure-services.sh` first.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { createMissingRegistryIndices } from '../../src/db/registry-scripts.js';
import { openSession, type DbSession } from '../../src/db/session.js';
import { APIM_420_TABLES, findMissingRegistryIndices, findMissingTables } from '../../src/db/verify-probes.js';
import { REGISTRY_INDICES } from '../../src/wso2/registry.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';
import { createRegistrySchema } from '../../src/demo/registry-seed.js';

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
