/**
 * Step 1 on the machine's real PostgreSQL and MariaDB: the missing registry indices and the removal of registry
 * versioning details, checked row for row against what the fixture's generator says must remain.
 * Needs `bash scripts/ensure-services.sh` first.
 */

import { afterEach, describe, expect, it } from 'vitest';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import {
  countVersioningRemoval,
  createMissingRegistryIndices,
  findExistingRegistryIndices,
  removeVersioningDetails,
  type VersioningRemovalCount,
  type VersioningRemovalTableResult,
} from '../../src/db/registry-scripts.js';
import { openSession, type DbSession } from '../../src/db/session.js';
import { REGISTRY_INDICES } from '../../src/wso2/registry.js';
import {
  createScratchMariadb,
  createScratchPostgres,
  mariadbAdminTarget,
  postgresAdminTarget,
  type ScratchDatabase,
} from '../helpers/databases.js';
import { withGlobalSqlSafeUpdates } from '../helpers/migration-setup.js';
import {
  createRegistrySchema,
  expectedAfterRemoval,
  expectedRemovalCounts,
  kindTables,
  METADATA_KINDS,
  seedRegistry,
  type RegistrySeedOptions,
  type SeededRegistry,
} from '../../src/demo/registry-seed.js';
import { tableChecksums } from '../../src/db/table-checksums.js';

type Engine = 'postgresql' | 'mariadb';
const ENGINES: readonly Engine[] = ['postgresql', 'mariadb'];

const ALL_ON: RegistryVersioningFlags = { tags: true, comments: true, properties: true, ratings: true };

/** All 16 combinations of the four flags. */
const FLAG_SETS: Array<[string, RegistryVersioningFlags]> = Array.from({ length: 16 }, (_, bits) => {
  const flags: RegistryVersioningFlags = {
    tags: (bits & 1) !== 0,
    comments: (bits & 2) !== 0,
    properties: (bits & 4) !== 0,
    ratings: (bits & 8) !== 0,
  };
  const on = METADATA_KINDS.filter((kind) => flags[kind]);
  return [on.length === 0 ? 'none' : on.join('+'), flags];
});

/** Small, but with every kind of row in every table (checked below). */
const SMALL: RegistrySeedOptions = {
  seed: 20240601,
  resources: 150,
  versionsPerResource: 4,
  tenants: 3,
  versioningOffRows: 12,
  orphanEntities: 5,
  crossTenantIdReuse: 2,
  mappingsPerVersion: { tags: 2, comments: 1, ratings: 1, properties: 3 },
  chunkResources: 40,
  batchRows: 97,
};

/** Big enough that the removal takes real work before it reaches the second table. */
const LARGE: RegistrySeedOptions = {
  seed: 7,
  resources: 8000,
  versionsPerResource: 5,
  tenants: 4,
  versioningOffRows: 500,
  orphanEntities: 300,
  crossTenantIdReuse: 5,
};

function placeholders(engine: Engine, count: number): string {
  return Array.from({ length: count }, (_, index) => (engine === 'postgresql' ? `$${index + 1}` : '?')).join(', ');
}

/** The removal's result in the shape of the counts, to compare the two. */
function asCounts(outcome: VersioningRemovalTableResult[]): VersioningRemovalCount[] {
  return outcome.map((table) => ({
    flag: table.flag,
    mappingTable: table.mappingTable,
    mappingRowsToDelete: table.mappingRowsDeleted,
    entityTable: table.entityTable,
    entityRowsToDelete: table.entityRowsDeleted,
    mappingRowsToUpdate: table.mappingRowsUpdated,
  }));
}

function zeroCounts(flags: RegistryVersioningFlags, seeded: SeededRegistry): VersioningRemovalCount[] {
  return expectedRemovalCounts(seeded, flags).map((count) => ({
    ...count,
    mappingRowsToDelete: 0,
    entityRowsToDelete: 0,
    mappingRowsToUpdate: 0,
  }));
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls every 200 ms: MariaDB refreshes its INNODB_TRX cache only when the previous read is more than 100 ms old, so
 * faster polling would read the same stale rows forever.
 */
async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe.each(ENGINES)('registry scripts on %s', (engine) => {
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    const errors: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  });

  async function scratchDatabase(): Promise<ScratchDatabase> {
    const scratch =
      engine === 'postgresql'
        ? await createScratchPostgres('regscripts_pg')
        : await createScratchMariadb('regscripts_m');
    cleanups.push(() => scratch.drop());
    return scratch;
  }

  async function session(scratch: ScratchDatabase): Promise<DbSession> {
    const opened = await openSession(scratch.target);
    // A killed session cannot close cleanly; that is fine.
    cleanups.push(() => opened.close().catch(() => undefined));
    return opened;
  }

  async function adminSession(): Promise<DbSession> {
    const opened = await openSession(engine === 'postgresql' ? postgresAdminTarget() : mariadbAdminTarget());
    cleanups.push(() => opened.close().catch(() => undefined));
    return opened;
  }

  /** A scratch database with the 3.1.0 registry tables, seeded when asked. */
  async function registryDatabase(seed?: RegistrySeedOptions): Promise<{
    scratch: ScratchDatabase;
    db: DbSession;
    seeded: SeededRegistry | undefined;
  }> {
    const scratch = await scratchDatabase();
    const db = await session(scratch);
    await createRegistrySchema(db);
    const seeded = seed ? await seedRegistry(db, seed) : undefined;
    return { scratch, db, seeded };
  }

  async function seededDatabase(seed: RegistrySeedOptions) {
    const made = await registryDatabase(seed);
    if (!made.seeded) throw new Error('not seeded');
    return { ...made, seeded: made.seeded };
  }

  /** The index's table and key columns, read from the catalog directly. */
  async function catalogIndex(db: DbSession, name: string): Promise<{ table: string; columns: string[] } | undefined> {
    if (engine === 'postgresql') {
      const rows = await db.query<{ tablename: string; indexdef: string }>(
        'SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1',
        [name],
      );
      const row = rows[0];
      if (!row) return undefined;
      const columns = /\(([^)]*)\)\s*$/.exec(row.indexdef)?.[1]?.split(',') ?? [];
      return { table: row.tablename, columns: columns.map((column) => column.trim()) };
    }
    const rows = await db.query<{ table_name: string; column_name: string }>(
      'SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name FROM information_schema.statistics ' +
        'WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = ? ORDER BY SEQ_IN_INDEX',
      [name],
    );
    const first = rows[0];
    return first ? { table: first.table_name, columns: rows.map((row) => row.column_name) } : undefined;
  }

  async function indexNames(db: DbSession): Promise<string[]> {
    const rows =
      engine === 'postgresql'
        ? await db.query<{ name: string }>(
            'SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1',
          )
        : await db.query<{ name: string }>(
            "SELECT DISTINCT CONCAT(TABLE_NAME, '.', INDEX_NAME) AS name FROM information_schema.statistics " +
              'WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1',
          );
    return rows.map((row) => row.name);
  }

  /** How the DBMS stores an unquoted name: PostgreSQL folds it to lower case. */
  const stored = (name: string) => (engine === 'postgresql' ? name.toLowerCase() : name);

  describe('missing indices (step 1a)', () => {
    it("creates both with WSO2's columns in WSO2's order, and nothing when run again", async () => {
      const { db } = await registryDatabase();
      expect(await findExistingRegistryIndices(db)).toEqual([]);

      const first = await createMissingRegistryIndices(db);
      expect(first.created.map((index) => index.name)).toEqual(REGISTRY_INDICES.map((index) => index.name));
      expect(first.existing).toEqual([]);
      expect(await catalogIndex(db, stored('REG_RESOURCE_TAG_IND_BY_REG_TAG_ID'))).toEqual({
        table: stored('REG_RESOURCE_TAG'),
        columns: ['REG_TAG_ID', 'REG_TENANT_ID'].map(stored),
      });
      expect(await catalogIndex(db, stored('REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID'))).toEqual({
        table: stored('REG_RESOURCE_PROPERTY'),
        columns: ['REG_TENANT_ID', 'REG_PROPERTY_ID'].map(stored),
      });

      const indicesAfterFirst = await indexNames(db);
      const second = await createMissingRegistryIndices(db);
      expect(second.created).toEqual([]);
      expect(
        second.existing.map((entry) => [entry.index.name, entry.storedName, entry.table, entry.matchesDefinition]),
      ).toEqual(REGISTRY_INDICES.map((index) => [index.name, stored(index.name), stored(index.table), true]));
      expect(await indexNames(db)).toEqual(indicesAfterFirst);
    });

    it('skips an index that exists under its name in another case, and reports one with other columns', async () => {
      const { db } = await registryDatabase();
      // The tag index in another case than an unquoted name would get; the property index with its columns swapped.
      const tagName =
        engine === 'postgresql' ? '"REG_RESOURCE_TAG_IND_BY_REG_TAG_ID"' : 'reg_resource_tag_ind_by_reg_tag_id';
      await db.query(`CREATE INDEX ${tagName} ON REG_RESOURCE_TAG (REG_TAG_ID, REG_TENANT_ID)`);
      await db.query(
        'CREATE INDEX Reg_Resource_Property_Ind_By_Reg_Prop_Id ON REG_RESOURCE_PROPERTY (REG_PROPERTY_ID, REG_TENANT_ID)',
      );
      const before = await indexNames(db);

      const outcome = await createMissingRegistryIndices(db);
      expect(outcome.created).toEqual([]);
      expect(
        outcome.existing.map((entry) => ({
          name: entry.index.name,
          storedName: entry.storedName,
          columns: entry.columns,
          matchesDefinition: entry.matchesDefinition,
        })),
      ).toEqual([
        {
          name: 'REG_RESOURCE_TAG_IND_BY_REG_TAG_ID',
          storedName:
            engine === 'postgresql' ? 'REG_RESOURCE_TAG_IND_BY_REG_TAG_ID' : 'reg_resource_tag_ind_by_reg_tag_id',
          columns: ['REG_TAG_ID', 'REG_TENANT_ID'].map(stored),
          matchesDefinition: true,
        },
        {
          name: 'REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID',
          storedName:
            engine === 'postgresql'
              ? 'reg_resource_property_ind_by_reg_prop_id'
              : 'Reg_Resource_Property_Ind_By_Reg_Prop_Id',
          columns: ['REG_PROPERTY_ID', 'REG_TENANT_ID'].map(stored),
          matchesDefinition: false,
        },
      ]);
      expect(await indexNames(db)).toEqual(before);
    });

    it('creates only the index that is missing', async () => {
      const { db } = await registryDatabase();
      await db.query(
        'CREATE INDEX REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID ON REG_RESOURCE_PROPERTY (REG_TENANT_ID, REG_PROPERTY_ID)',
      );
      const outcome = await createMissingRegistryIndices(db);
      expect(outcome.created.map((index) => index.name)).toEqual(['REG_RESOURCE_TAG_IND_BY_REG_TAG_ID']);
      expect(outcome.existing.map((entry) => [entry.index.name, entry.matchesDefinition])).toEqual([
        ['REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID', true],
      ]);
      expect(await catalogIndex(db, stored('REG_RESOURCE_TAG_IND_BY_REG_TAG_ID'))).toEqual({
        table: stored('REG_RESOURCE_TAG'),
        columns: ['REG_TAG_ID', 'REG_TENANT_ID'].map(stored),
      });
    });
  });

  describe('versioning removal (step 1b)', () => {
    it('seeds every kind of row, and the tables checksum to what the generator wrote', async () => {
      const { db, seeded } = await seededDatabase(SMALL);
      for (const kind of METADATA_KINDS) {
        const removal = seeded.removal[kind];
        expect(removal.mappingRowsToDelete, kind).toBeGreaterThan(0);
        expect(removal.entityRowsToDelete, kind).toBeGreaterThan(0);
        expect(removal.mappingRowsToUpdate, kind).toBeGreaterThan(0);
        // Something is kept too, or "exactly these rows" would prove little.
        expect(seeded.afterRemoval[kind].mapping.rows, kind).toBeGreaterThan(0);
        expect(seeded.afterRemoval[kind].entity.rows, kind).toBeGreaterThan(0);
      }
      expect(await tableChecksums(db)).toEqual(seeded.before);
    });

    it.each(FLAG_SETS)('flags %s: counts, then deletes exactly those rows and changes no other', async (_, flags) => {
      const { db, seeded } = await seededDatabase(SMALL);
      // As the stage does: the indices first (PostgreSQL checks the foreign keys of deleted entities through them).
      await createMissingRegistryIndices(db);
      const indices = await indexNames(db);
      const expected = expectedRemovalCounts(seeded, flags);

      expect(await countVersioningRemoval(db, flags)).toEqual(expected);
      expect(await tableChecksums(db)).toEqual(seeded.before);

      const removing = performance.now();
      const outcome = await removeVersioningDetails(db, flags);
      const elapsed = performance.now() - removing;
      expect(asCounts(outcome)).toEqual(expected);
      // Each table's time is a part of the whole removal's.
      for (const table of outcome) expect(table.durationMs).toBeLessThanOrEqual(elapsed);
      expect(outcome.reduce((sum, table) => sum + table.durationMs, 0)).toBeLessThanOrEqual(elapsed);
      // Tables whose flag is off, and every table other than the mapping and entity tables, are byte-identical.
      const cleaned = await tableChecksums(db);
      expect(cleaned).toEqual(expectedAfterRemoval(seeded, flags));
      // No DDL survives (on PostgreSQL an index may live inside the transaction for the foreign-key checks).
      expect(await indexNames(db)).toEqual(indices);

      // On the cleaned data there is nothing left to do: a second run deletes and updates nothing.
      expect(await countVersioningRemoval(db, flags)).toEqual(zeroCounts(flags, seeded));
      expect(asCounts(await removeVersioningDetails(db, flags))).toEqual(zeroCounts(flags, seeded));
      expect(await tableChecksums(db)).toEqual(cleaned);
    });

    it('a second run destroys what API-M 4.2.0 wrote since: rows without REG_VERSION, and their entities', async () => {
      const { db, seeded } = await seededDatabase(SMALL);
      await removeVersioningDetails(db, ALL_ON);
      const cleaned = await tableChecksums(db);

      // 4.2.0 has no registry versioning: it writes mapping rows with a path and a name and no REG_VERSION.
      const sample = seeded.samples.find(
        (resource) => resource.keptEntityIds.tags.length > 0 && resource.keptEntityIds.properties.length > 0,
      );
      if (!sample) throw new Error('the seed has no resource with kept tags and properties');
      const newTag = seeded.nextEntityId.tags;
      const newProperty = seeded.nextEntityId.properties;
      await db.query(
        `INSERT INTO REG_TAG (REG_ID, REG_TAG_NAME, REG_USER_ID, REG_TAGGED_TIME, REG_TENANT_ID) VALUES (${placeholders(engine, 5)})`,
        [newTag, 'written-by-4.2.0', 'admin', '2024-01-02 03:04:05', sample.tenantId],
      );
      await db.query(
        `INSERT INTO REG_PROPERTY (REG_ID, REG_NAME, REG_VALUE, REG_TENANT_ID) VALUES (${placeholders(engine, 4)})`,
        [newProperty, 'overview_status', 'PUBLISHED', sample.tenantId],
      );
      const mappingRow = (id: number) => [id, null, sample.pathId, sample.name, sample.tenantId];
      const insertMapping = (table: string, column: string, id: number) =>
        db.query(
          `INSERT INTO ${table} (${column}, REG_VERSION, REG_PATH_ID, REG_RESOURCE_NAME, REG_TENANT_ID) ` +
            `VALUES (${placeholders(engine, 5)})`,
          mappingRow(id),
        );
      await insertMapping('REG_RESOURCE_TAG', 'REG_TAG_ID', newTag);
      // The same tag on the resource again, now without a version: the tag itself stays (its old row keeps it).
      await insertMapping('REG_RESOURCE_TAG', 'REG_TAG_ID', sample.keptEntityIds.tags[0] ?? 0);
      await insertMapping('REG_RESOURCE_PROPERTY', 'REG_PROPERTY_ID', newProperty);

      const danger = await countVersioningRemoval(db, ALL_ON);
      const byFlag = Object.fromEntries(danger.map((count) => [count.flag, count]));
      expect(byFlag['tags']).toMatchObject({ mappingRowsToDelete: 2, entityRowsToDelete: 1, mappingRowsToUpdate: 0 });
      expect(byFlag['properties']).toMatchObject({
        mappingRowsToDelete: 1,
        entityRowsToDelete: 1,
        mappingRowsToUpdate: 0,
      });
      expect(byFlag['comments']).toMatchObject({ mappingRowsToDelete: 0, entityRowsToDelete: 0 });
      expect(byFlag['ratings']).toMatchObject({ mappingRowsToDelete: 0, entityRowsToDelete: 0 });

      // Why the stage must never run the removal twice: the second run deletes all of 4.2.0's new rows.
      const second = await removeVersioningDetails(db, ALL_ON);
      expect(asCounts(second)).toEqual(danger);
      expect(await tableChecksums(db)).toEqual(cleaned);
    });

    it('ends where WSO2 four phases, run literally, end', async () => {
      // The literal script matches REG_ID alone in phase 3; without REG_IDs reused across tenants both agree.
      const seed: RegistrySeedOptions = { ...SMALL, crossTenantIdReuse: 0 };
      const literal = await seededDatabase(seed);
      const setBased = await seededDatabase(seed);
      // The literal statements are unkeyed: another test file may have the GLOBAL sql_safe_updates on right now.
      if (engine === 'mariadb') await literal.db.query('SET SESSION sql_safe_updates = 0');
      await literal.db.query(engine === 'postgresql' ? 'BEGIN' : 'START TRANSACTION');
      for (const kind of METADATA_KINDS) {
        const { mapping, entity } = kindTables(kind);
        const column = `REG_${entity.slice('REG_'.length)}_ID`;
        const byVersion = `(SELECT REG_PATH_ID FROM REG_RESOURCE WHERE REG_RESOURCE.REG_VERSION = ${mapping}.REG_VERSION)`;
        const nameByVersion = `(SELECT REG_NAME FROM REG_RESOURCE WHERE REG_RESOURCE.REG_VERSION = ${mapping}.REG_VERSION)`;
        await literal.db.query(`UPDATE ${mapping} SET REG_PATH_ID = ${byVersion}`);
        await literal.db.query(`DELETE FROM ${mapping} WHERE REG_PATH_ID IS NULL`);
        await literal.db.query(`DELETE FROM ${entity} WHERE REG_ID NOT IN (SELECT ${column} FROM ${mapping})`);
        await literal.db.query(`UPDATE ${mapping} SET REG_RESOURCE_NAME = ${nameByVersion}`);
      }
      await literal.db.query('COMMIT');

      await removeVersioningDetails(setBased.db, ALL_ON);
      const expected = await tableChecksums(literal.db);
      expect(await tableChecksums(setBased.db)).toEqual(expected);
      expect(expected).toEqual(expectedAfterRemoval(setBased.seeded, ALL_ON));
    });

    // sql_safe_updates is a MySQL/MariaDB setting: PostgreSQL has no such test.
    if (engine === 'mariadb') {
      it('works when the GLOBAL sql_safe_updates is 1, and leaves the session setting as it was', async () => {
        const { scratch, seeded } = await seededDatabase(SMALL);
        await withGlobalSqlSafeUpdates(async () => {
          // A new session starts from the GLOBAL value, as the stage's own would.
          const db = await session(scratch);
          const safe = async () =>
            Number((await db.query<{ v: number }>('SELECT @@SESSION.sql_safe_updates AS v'))[0]?.v);
          expect(await safe()).toBe(1);
          // WSO2's literal statements are refused in such a session.
          await expect(
            db.query(
              'UPDATE REG_RESOURCE_TAG SET REG_PATH_ID = (SELECT REG_PATH_ID FROM REG_RESOURCE ' +
                'WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_TAG.REG_VERSION)',
            ),
          ).rejects.toThrow(/safe update/i);

          const outcome = await removeVersioningDetails(db, ALL_ON);
          expect(asCounts(outcome)).toEqual(expectedRemovalCounts(seeded, ALL_ON));
          expect(await safe()).toBe(1);
          expect(await tableChecksums(db)).toEqual(expectedAfterRemoval(seeded, ALL_ON));
        });
      });
    }

    it('rolls everything back when its connection is killed in the middle', { timeout: 180_000 }, async () => {
      const { scratch, db, seeded } = await seededDatabase(LARGE);
      await createMissingRegistryIndices(db);
      expect(seeded.removal.tags.mappingRowsToDelete).toBeGreaterThan(10_000);
      const admin = await adminSession();
      const blocker = await session(scratch);
      const [idRow] = await db.query<{ id: number | string }>(
        engine === 'postgresql' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id',
      );
      const backend = Number(idRow?.id);

      // Hold the second table (comments) so that the removal, tags done, waits there; then kill it.
      if (engine === 'postgresql') {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE REG_RESOURCE_COMMENT IN EXCLUSIVE MODE');
      } else {
        await blocker.query('START TRANSACTION');
        await blocker.query('SELECT REG_COMMENT_ID FROM REG_RESOURCE_COMMENT FOR UPDATE');
      }
      const kill = () =>
        engine === 'postgresql'
          ? admin.query('SELECT pg_terminate_backend($1)', [backend])
          : admin.query(`KILL ${backend}`);
      let settled: { error?: unknown } | undefined;
      const removal = removeVersioningDetails(db, ALL_ON).then(
        () => (settled = {}),
        (error: unknown) => (settled = { error }),
      );
      try {
        await waitFor('the removal to wait on REG_RESOURCE_COMMENT', async () => {
          if (settled)
            throw new Error(`the removal ended before it was killed: ${String(settled.error ?? 'no error')}`);
          if (engine === 'postgresql') {
            const rows = await admin.query<{ query: string; wait: string | null }>(
              'SELECT query, wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1',
              [backend],
            );
            return rows.some((row) => row.wait === 'Lock' && /reg_resource_comment/i.test(row.query));
          }
          const rows = await admin.query<{ info: string | null; state: string | null }>(
            'SELECT trx_query AS info, trx_state AS state FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?',
            [backend],
          );
          return rows.some((row) => row.state === 'LOCK WAIT' && /REG_RESOURCE_COMMENT/i.test(row.info ?? ''));
        });
        // The tags are done in the open transaction by now.
        if (engine === 'postgresql') {
          // pg_class is per database: ask from a session on the scratch database.
          const locks = await blocker.query<{ n: string }>(
            'SELECT COUNT(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = $1 ' +
              "AND c.relname IN ('reg_resource_tag', 'reg_tag') AND l.mode = 'RowExclusiveLock' AND l.granted",
            [backend],
          );
          expect(Number(locks[0]?.n)).toBe(2);
        } else {
          const trx = await admin.query<{ modified: number | string }>(
            'SELECT trx_rows_modified AS modified FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?',
            [backend],
          );
          expect(Number(trx[0]?.modified)).toBeGreaterThan(seeded.removal.tags.mappingRowsToDelete);
        }
      } finally {
        // Killed on success; killed anyway when an assertion failed, so that nothing keeps the database busy.
        await kill().catch(() => undefined);
        await removal;
        await blocker.query('ROLLBACK');
      }
      expect(settled?.error).toBeInstanceOf(Error);
      await waitFor('the killed session to end', async () => {
        const rows =
          engine === 'postgresql'
            ? await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [backend])
            : await admin.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [backend]);
        return rows.length === 0;
      });

      const fresh = await session(scratch);
      expect(await tableChecksums(fresh)).toEqual(seeded.before);
    });
  });
});

describe('the checksums across the two DBMSs', () => {
  it('are the same for the same seed on PostgreSQL and MariaDB', async () => {
    const scratches = [await createScratchPostgres('regsum_pg'), await createScratchMariadb('regsum_m')];
    try {
      const sums = [];
      for (const scratch of scratches) {
        const db = await openSession(scratch.target);
        try {
          await createRegistrySchema(db);
          const seeded = await seedRegistry(db, { ...SMALL, seed: 99 });
          const checksums = await tableChecksums(db);
          expect(checksums).toEqual(seeded.before);
          sums.push(checksums);
        } finally {
          await db.close();
        }
      }
      expect(sums[0]).toEqual(sums[1]);
    } finally {
      for (const scratch of scratches) await scratch.drop();
    }
  });
});
