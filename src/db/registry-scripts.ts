/**
 * Step 1 of the migration, on `shared_db` (wso2-facts.md, Step 1a and 1b):
 *
 * - the two registry indices that carbon-kernel 4.8.1 (API-M 4.2.0) has and 4.6.0 (3.1.0) lacks, created when missing;
 * - the removal of registry versioning details, for the kinds of metadata whose versioning flag was on.
 *
 * The removal has the end result of WSO2's four phases (path from REG_RESOURCE by REG_VERSION, delete the rows whose
 * path became NULL, delete orphan entities, resource name from REG_RESOURCE), done set-based:
 *
 * 1. one anti-join DELETE of the mapping rows whose (REG_VERSION, REG_TENANT_ID) matches no REG_RESOURCE row: the
 *    rows phase 1 would set to a NULL path and phase 2 would delete (old versions, and rows without a REG_VERSION);
 * 2. one join UPDATE that gives every remaining row the REG_PATH_ID and REG_NAME of its REG_RESOURCE row (phases 1
 *    and 4 for the rows that are kept), writing only rows whose values differ;
 * 3. one DELETE ... WHERE NOT EXISTS of the entities no mapping row of their table refers to (phase 3).
 *
 * Matching rules (documented choices):
 * - A mapping row belongs to the REG_RESOURCE row with the same REG_VERSION and the same REG_TENANT_ID (REG_RESOURCE's
 *   primary key). WSO2's script matches REG_VERSION alone; the two agree whenever REG_VERSION is unique across tenants,
 *   which the registry's sequence / AUTO_INCREMENT guarantees. Where it is not, WSO2's scalar subquery fails ("more
 *   than one row") or takes another tenant's path; here a row never takes a path from another tenant.
 * - An entity is an orphan when no mapping row of its table refers to it by (REG_ID, REG_TENANT_ID), which is what the
 *   schema's foreign key (REG_<X>_ID, REG_TENANT_ID) → (REG_ID, REG_TENANT_ID) means by "refers to". WSO2's script
 *   compares REG_ID alone and so keeps an entity whose REG_ID is only used by another tenant's mapping row; such a
 *   row is unreachable (the registry reads entities by id and tenant) and is deleted here. With REG_IDs from one
 *   sequence per table, as the registry writes them, the two never differ.
 * - As in WSO2's script, entities that were already orphans before the migration are deleted too.
 *
 * Danger (wso2-facts.md): rows written with versioning off have no REG_VERSION and are deleted by the removal. The
 * caller must gate each table on its flag and never run the removal twice on the same data (the ledger records it).
 *
 * All of one call runs in ONE transaction (InnoDB DML is transactional; the tables are checked to be InnoDB first), so
 * a failure or a lost connection leaves the tables as they were. Do not call it inside an open transaction: MySQL's
 * START TRANSACTION would commit it. On MySQL/MariaDB the session's sql_safe_updates is turned off for the call (the
 * statements are unkeyed by design) and restored afterwards; the GLOBAL value is never touched.
 *
 * PostgreSQL: deleting an entity makes PostgreSQL check the foreign key of its mapping table, one lookup per deleted
 * row. REG_RESOURCE_TAG and REG_RESOURCE_PROPERTY have an index for it once {@link createMissingRegistryIndices} ran
 * (run it first); for a mapping table without one (REG_RESOURCE_COMMENT, REG_RESOURCE_RATING in WSO2's schema) an
 * index lives inside the transaction only (see transientForeignKeyIndex): no schema change survives the call.
 */

import { performance } from 'node:perf_hooks';
import type { RegistryVersioningFlags } from '../config/types.js';
import { REGISTRY_INDICES, VERSIONED_METADATA, type RegistryIndex, type VersionedMetadata } from '../wso2/registry.js';
import type { DbSession } from './session.js';
import { dialectOf } from './dialects.js';

// ---------------------------------------------------------------------------------------------------------------
// Step 1a: the missing indices

/** An index that exists under one of the names of {@link REGISTRY_INDICES}. */
export interface ExistingRegistryIndex {
  index: RegistryIndex;
  /** The name as the DBMS stores it (lower case on PostgreSQL when it was created unquoted). */
  storedName: string;
  /** The table it is on, as stored. */
  table: string;
  /** Its key columns in index order, as stored. */
  columns: string[];
  /** On the expected table with exactly the expected columns in the expected order (compared case-insensitively). */
  matchesDefinition: boolean;
}

export interface RegistryIndexOutcome {
  /** The indices this call created. */
  created: RegistryIndex[];
  /** The indices that existed already by name (and were therefore left alone, as WSO2's script does). */
  existing: ExistingRegistryIndex[];
}

/**
 * Which of {@link REGISTRY_INDICES} exist, looked up by name case-insensitively: on PostgreSQL among the indices of
 * the current schema (index names are unique per schema there), on MySQL/MariaDB in information_schema.statistics
 * of the current database on the index's own table (index names are unique per table there).
 */
export async function findExistingRegistryIndices(session: DbSession): Promise<ExistingRegistryIndex[]> {
  const dialect = dialectOf(session.engine);
  const rows = await dialect.indexColumns(
    session,
    REGISTRY_INDICES.map((index) => index.name),
  );

  const found: ExistingRegistryIndex[] = [];
  for (const index of REGISTRY_INDICES) {
    const mine = rows.filter(
      (row) =>
        row.index.toLowerCase() === index.name.toLowerCase() &&
        (dialect.indexNamesPer === 'schema' || row.table.toLowerCase() === index.table.toLowerCase()),
    );
    const first = mine[0];
    if (first === undefined) continue;
    // On PostgreSQL two spellings ("REG_X" quoted and reg_x) may coexist; report the one on the right table first.
    const preferred = mine.find((row) => row.table.toLowerCase() === index.table.toLowerCase()) ?? first;
    const same = mine.filter((row) => row.index === preferred.index && row.table === preferred.table);
    const columns = same.map((row) => row.column ?? '(expression)');
    found.push({
      index,
      storedName: preferred.index,
      table: preferred.table,
      columns,
      matchesDefinition:
        preferred.table.toLowerCase() === index.table.toLowerCase() && sameColumns(columns, index.columns),
    });
  }
  return found;
}

/**
 * Creates those of {@link REGISTRY_INDICES} that do not exist by name, with WSO2's names (unquoted, so PostgreSQL
 * stores them in lower case, as WSO2's script does) and WSO2's column order. An index that exists by name is left as
 * it is, even when its columns differ (`matchesDefinition` tells).
 */
export async function createMissingRegistryIndices(session: DbSession): Promise<RegistryIndexOutcome> {
  const existing = await findExistingRegistryIndices(session);
  const created: RegistryIndex[] = [];
  for (const index of REGISTRY_INDICES) {
    if (existing.some((entry) => entry.index.name === index.name)) continue;
    const table = requireTable(await resolveTables(session, [index.table]), index.table);
    await session.query(
      `CREATE INDEX ${identifier(index.name)} ON ${table.quoted} ` + `(${index.columns.map(identifier).join(', ')})`,
    );
    created.push(index);
  }
  return { created, existing };
}

// ---------------------------------------------------------------------------------------------------------------
// Step 1b: removing the versioning details

/** What the removal would do to one kind of metadata (for `plan` and `--dry-run`). */
export interface VersioningRemovalCount {
  flag: keyof RegistryVersioningFlags;
  mappingTable: string;
  /** Mapping rows of old versions, and rows without a REG_VERSION: phases 1-2 delete them. */
  mappingRowsToDelete: number;
  entityTable: string;
  /** Entities no remaining mapping row refers to: phase 3 deletes them. */
  entityRowsToDelete: number;
  /** Remaining mapping rows whose REG_PATH_ID or REG_RESOURCE_NAME is not yet that of their resource. */
  mappingRowsToUpdate: number;
}

/** What the removal did to one kind of metadata. */
export interface VersioningRemovalTableResult {
  flag: keyof RegistryVersioningFlags;
  mappingTable: string;
  mappingRowsDeleted: number;
  mappingRowsUpdated: number;
  entityTable: string;
  entityRowsDeleted: number;
  /** Wall time of this table's three statements (the transaction's BEGIN and COMMIT are not in it). */
  durationMs: number;
}

/** The kinds of metadata whose flag is true, in the order of VERSIONED_METADATA. */
export function selectVersionedMetadata(flags: RegistryVersioningFlags): VersionedMetadata[] {
  return VERSIONED_METADATA.filter((metadata) => flags[metadata.flag]);
}

/** Counts what {@link removeVersioningDetails} would delete and update, for the flags that are true. Changes nothing. */
export async function countVersioningRemoval(
  session: DbSession,
  flags: RegistryVersioningFlags,
): Promise<VersioningRemovalCount[]> {
  const selected = selectVersionedMetadata(flags);
  if (selected.length === 0) return [];
  const tables = await resolveTables(session, tablesOf(selected));
  const counts: VersioningRemovalCount[] = [];
  for (const metadata of selected) {
    const sql = new RemovalSql(session.engine, metadata, tables);
    counts.push({
      flag: metadata.flag,
      mappingTable: metadata.mappingTable,
      mappingRowsToDelete: await countOf(session, sql.countMappingRowsToDelete()),
      entityTable: metadata.entityTable,
      entityRowsToDelete: await countOf(session, sql.countEntityRowsToDelete()),
      mappingRowsToUpdate: await countOf(session, sql.countMappingRowsToUpdate()),
    });
  }
  return counts;
}

/**
 * Removes the registry versioning details of the kinds whose flag is true, in one transaction, and returns what it
 * deleted and updated per table: one entry per flag that was true, in the order of VERSIONED_METADATA (none when no
 * flag was true, and then nothing is touched). See the file comment for the rules and the danger of running it twice.
 */
export async function removeVersioningDetails(
  session: DbSession,
  flags: RegistryVersioningFlags,
): Promise<VersioningRemovalTableResult[]> {
  const selected = selectVersionedMetadata(flags);
  if (selected.length === 0) return [];
  const tables = await resolveTables(session, tablesOf(selected));
  if (session.engine !== 'postgresql') await requireInnodb(session, [...tables.keys()]);

  return withSafeUpdatesOff(session, () =>
    inTransaction(session, async () => {
      const done: VersioningRemovalTableResult[] = [];
      for (const metadata of selected) {
        const tableStarted = performance.now();
        const sql = new RemovalSql(session.engine, metadata, tables);
        // Order matters: the entities' orphan check must see the mapping rows that remain.
        const mappingRowsDeleted = await affectedBy(session, sql.deleteMappingRows());
        const mappingRowsUpdated = await affectedBy(session, sql.updateMappingRows());
        const helper = await transientForeignKeyIndex(session, metadata, requireTable(tables, metadata.mappingTable));
        if (helper) await session.query(helper.create);
        const entityRowsDeleted = await affectedBy(session, sql.deleteOrphanEntities());
        if (helper) await session.query(helper.drop);
        done.push({
          flag: metadata.flag,
          mappingTable: metadata.mappingTable,
          mappingRowsDeleted,
          mappingRowsUpdated,
          entityTable: metadata.entityTable,
          entityRowsDeleted,
          durationMs: performance.now() - tableStarted,
        });
      }
      return done;
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// SQL

/** A DML statement and how to learn how many rows it changed. */
interface CountedStatement {
  /** PostgreSQL: a statement that returns the count as `n`. MySQL: the DML itself, followed by ROW_COUNT(). */
  sql: string;
}

class RemovalSql {
  private readonly pg: boolean;
  private readonly resource: string;
  private readonly mapping: string;
  private readonly entity: string;
  private readonly entityColumn: string;

  constructor(engine: DbSession['engine'], metadata: VersionedMetadata, tables: ReadonlyMap<string, ResolvedTable>) {
    this.pg = engine === 'postgresql';
    this.resource = requireTable(tables, 'REG_RESOURCE').quoted;
    this.mapping = requireTable(tables, metadata.mappingTable).quoted;
    this.entity = requireTable(tables, metadata.entityTable).quoted;
    this.entityColumn = identifier(metadata.entityColumn);
  }

  /** The REG_RESOURCE row a mapping row `m` belongs to. */
  private get resourceOfMapping(): string {
    return 'r.REG_VERSION = m.REG_VERSION AND r.REG_TENANT_ID = m.REG_TENANT_ID';
  }

  /**
   * The mapping row `m` does not yet carry the path and name of its resource `r`. MySQL compares strings by
   * collation (case-insensitive, trailing spaces ignored): compare the bytes, so that `Api` becomes `api`.
   */
  private get differs(): string {
    return this.pg
      ? '(m.REG_PATH_ID IS DISTINCT FROM r.REG_PATH_ID OR m.REG_RESOURCE_NAME IS DISTINCT FROM r.REG_NAME)'
      : 'NOT (m.REG_PATH_ID <=> r.REG_PATH_ID AND ' +
          'CAST(m.REG_RESOURCE_NAME AS BINARY) <=> CAST(r.REG_NAME AS BINARY))';
  }

  countMappingRowsToDelete(): string {
    return (
      `SELECT COUNT(*) AS n FROM ${this.mapping} m ` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${this.resource} r WHERE ${this.resourceOfMapping})`
    );
  }

  countMappingRowsToUpdate(): string {
    return (
      `SELECT COUNT(*) AS n FROM ${this.mapping} m JOIN ${this.resource} r ON ${this.resourceOfMapping} ` +
      `WHERE ${this.differs}`
    );
  }

  /** Entities that no mapping row surviving the deletion refers to. */
  countEntityRowsToDelete(): string {
    return (
      `SELECT COUNT(*) AS n FROM ${this.entity} e WHERE NOT EXISTS (` +
      `SELECT 1 FROM ${this.mapping} m JOIN ${this.resource} r ON ${this.resourceOfMapping} ` +
      `WHERE m.${this.entityColumn} = e.REG_ID AND m.REG_TENANT_ID = e.REG_TENANT_ID)`
    );
  }

  /** Phases 1-2: the rows whose version is no REG_RESOURCE row (old versions, no version at all). */
  deleteMappingRows(): CountedStatement {
    if (this.pg) {
      // PostgreSQL plans NOT EXISTS as a hash anti-join.
      return counted(
        `DELETE FROM ${this.mapping} AS m ` +
          `WHERE NOT EXISTS (SELECT 1 FROM ${this.resource} r WHERE ${this.resourceOfMapping}) RETURNING 1`,
      );
    }
    return {
      sql:
        `DELETE m FROM ${this.mapping} m LEFT JOIN ${this.resource} r ON ${this.resourceOfMapping} ` +
        'WHERE r.REG_VERSION IS NULL',
    };
  }

  /** Phases 1 and 4 for the rows that remain: the path and name of their resource. */
  updateMappingRows(): CountedStatement {
    if (this.pg) {
      return counted(
        `UPDATE ${this.mapping} AS m SET REG_PATH_ID = r.REG_PATH_ID, REG_RESOURCE_NAME = r.REG_NAME ` +
          `FROM ${this.resource} r WHERE ${this.resourceOfMapping} AND ${this.differs} RETURNING 1`,
      );
    }
    return {
      sql:
        `UPDATE ${this.mapping} m JOIN ${this.resource} r ON ${this.resourceOfMapping} ` +
        `SET m.REG_PATH_ID = r.REG_PATH_ID, m.REG_RESOURCE_NAME = r.REG_NAME WHERE ${this.differs}`,
    };
  }

  /** Phase 3: entities no mapping row of their table refers to (by REG_ID and tenant). */
  deleteOrphanEntities(): CountedStatement {
    if (this.pg) {
      return counted(
        `DELETE FROM ${this.entity} AS e WHERE NOT EXISTS (SELECT 1 FROM ${this.mapping} m ` +
          `WHERE m.${this.entityColumn} = e.REG_ID AND m.REG_TENANT_ID = e.REG_TENANT_ID) RETURNING 1`,
      );
    }
    // No alias: MariaDB does not allow one in a single-table DELETE.
    return {
      sql:
        `DELETE FROM ${this.entity} WHERE NOT EXISTS (SELECT 1 FROM ${this.mapping} m ` +
        `WHERE m.${this.entityColumn} = ${this.entity}.REG_ID AND m.REG_TENANT_ID = ${this.entity}.REG_TENANT_ID)`,
    };
  }
}

/** PostgreSQL: wraps `... RETURNING 1` so that only the number of rows comes back. */
function counted(dml: string): CountedStatement {
  return { sql: `WITH changed AS (${dml}) SELECT COUNT(*) AS n FROM changed` };
}

async function affectedBy(session: DbSession, statement: CountedStatement): Promise<number> {
  if (session.engine === 'postgresql') return countOf(session, statement.sql);
  await session.query(statement.sql);
  // Same connection, next statement: the rows the DML changed (matched = changed: the WHERE skips equal rows).
  return countOf(session, 'SELECT ROW_COUNT() AS n');
}

async function countOf(session: DbSession, sql: string): Promise<number> {
  const rows = await session.query<{ n: number | string | bigint }>(sql);
  const value = rows[0]?.n;
  if (value === undefined || value === null) throw new Error(`no count returned by: ${sql}`);
  return Number(value);
}

/**
 * PostgreSQL checks the foreign key (REG_<X>_ID, REG_TENANT_ID) of every entity row the orphan phase deletes with a
 * lookup in the mapping table; without an index on those columns each lookup scans the whole table, and the phase
 * becomes quadratic. WSO2's schema has none on REG_RESOURCE_COMMENT and REG_RESOURCE_RATING (REG_RESOURCE_TAG and
 * REG_RESOURCE_PROPERTY get one from step 1a). When none is there, an index is created inside the removal's
 * transaction and dropped again before COMMIT: the schema is never left changed, and a rollback takes it away too.
 * MySQL/MariaDB need nothing: InnoDB has an index for every foreign key.
 */
async function transientForeignKeyIndex(
  session: DbSession,
  metadata: VersionedMetadata,
  mapping: ResolvedTable,
): Promise<{ create: string; drop: string } | undefined> {
  if (session.engine !== 'postgresql') return undefined;
  const rows = await session.query<{ first_column: string; second_column: string | null }>(
    'SELECT a0.attname AS first_column, a1.attname AS second_column FROM pg_catalog.pg_index x ' +
      'JOIN pg_catalog.pg_attribute a0 ON a0.attrelid = x.indrelid AND a0.attnum = x.indkey[0] ' +
      'LEFT JOIN pg_catalog.pg_attribute a1 ON a1.attrelid = x.indrelid AND a1.attnum = x.indkey[1] ' +
      'AND x.indnkeyatts > 1 ' +
      'WHERE x.indrelid = $1::regclass AND x.indisvalid',
    [mapping.quoted],
  );
  const entity = metadata.entityColumn.toLowerCase();
  const usable = rows.some((row) => {
    const first = row.first_column.toLowerCase();
    const second = row.second_column?.toLowerCase();
    return first === entity || (first === 'reg_tenant_id' && second === entity);
  });
  if (usable) return undefined;
  const name = dialectOf(session.engine).quote(`apim_migrate_tmp_${mapping.stored.toLowerCase()}_fk`.slice(0, 63));
  return {
    create: `CREATE INDEX ${name} ON ${mapping.quoted} (${identifier(metadata.entityColumn)}, REG_TENANT_ID)`,
    drop: `DROP INDEX ${name}`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions, transactions and names

async function inTransaction<T>(session: DbSession, work: () => Promise<T>): Promise<T> {
  await session.query(session.engine === 'postgresql' ? 'BEGIN' : 'START TRANSACTION');
  let result: T;
  try {
    result = await work();
  } catch (error) {
    // A lost connection cannot roll back: the server does that when the session ends.
    await session.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await session.query('COMMIT');
  return result;
}

/** MySQL/MariaDB: sql_safe_updates off for this session while `work` runs, then as it was. */
async function withSafeUpdatesOff<T>(session: DbSession, work: () => Promise<T>): Promise<T> {
  if (session.engine === 'postgresql') return work();
  const rows = await session.query<{ value: number | string }>('SELECT @@SESSION.sql_safe_updates AS value');
  const original = Number(rows[0]?.value ?? 0);
  if (original === 0) return work();
  await session.query('SET SESSION sql_safe_updates = 0');
  try {
    return await work();
  } finally {
    // After a lost connection there is no session left to restore.
    await session.query('SET SESSION sql_safe_updates = ?', [original]).catch(() => undefined);
  }
}

function tablesOf(selected: readonly VersionedMetadata[]): string[] {
  return ['REG_RESOURCE', ...selected.flatMap((metadata) => [metadata.mappingTable, metadata.entityTable])];
}

interface ResolvedTable {
  /** The name as the catalog has it. */
  stored: string;
  /** That name quoted for SQL. */
  quoted: string;
}

/**
 * Maps each WSO2 table name (upper case) to its name as stored: lower case on PostgreSQL (unquoted names fold),
 * upper case on MySQL/MariaDB as WSO2's scripts create them, whatever case the catalog has otherwise. A missing table
 * is an error that names it.
 */
async function resolveTables(session: DbSession, names: readonly string[]): Promise<Map<string, ResolvedTable>> {
  const dialect = dialectOf(session.engine);
  const wanted = [...new Set(names)];
  const stored = await dialect.storedTableNames(session, wanted);
  const resolved = new Map<string, ResolvedTable>();
  const missing: string[] = [];
  for (const name of wanted) {
    const table = stored.get(name);
    if (table === undefined) missing.push(name);
    else resolved.set(name, { stored: table, quoted: dialect.quote(table) });
  }
  if (missing.length > 0) {
    const where = dialect.tablesLive;
    throw new Error(
      `registry table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in ${where} ` +
        `${session.target.database} (${session.target.name}); is this the registry (shared_db) database?`,
    );
  }
  return resolved;
}

/** Only InnoDB tables roll back: refuse before changing anything on another engine (MyISAM, Aria). */
async function requireInnodb(session: DbSession, names: readonly string[]): Promise<void> {
  const lower = names.map((name) => name.toLowerCase());
  const rows = await session.query<{ name: string; engine: string | null }>(
    'SELECT TABLE_NAME AS name, ENGINE AS engine FROM information_schema.tables ' +
      `WHERE TABLE_SCHEMA = DATABASE() AND LOWER(TABLE_NAME) IN (${lower.map(() => '?').join(', ')})`,
    lower,
  );
  const other = rows.filter((row) => (row.engine ?? '').toLowerCase() !== 'innodb');
  if (other.length > 0) {
    throw new Error(
      `the registry versioning removal needs transactional tables, but ${other
        .map((row) => `${row.name} uses ${row.engine ?? 'no engine'}`)
        .join(', ')}; convert them to InnoDB first`,
    );
  }
}

function requireTable(tables: ReadonlyMap<string, ResolvedTable>, name: string): ResolvedTable {
  const table = tables.get(name);
  if (table === undefined) throw new Error(`internal: table ${name} was not resolved`);
  return table;
}

/** The names in REGISTRY_INDICES and VERSIONED_METADATA are plain upper-case identifiers; keep it that way. */
function identifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`internal: unexpected identifier ${name}`);
  return name;
}

function sameColumns(actual: readonly string[], expected: readonly string[]): boolean {
  return (
    actual.length === expected.length &&
    actual.every((column, position) => column.toLowerCase() === expected[position]?.toLowerCase())
  );
}
