/**
 * The API-M 3.1.0 registry tables (carbon-kernel 4.6.0) as WSO2's dbscripts create them, and a deterministic generator
 * of realistic registry data with versioning details, for the registry-scripts tests and benchmarks.
 *
 * The generator decides the fate of every row as it writes it, from what the row is (a mapping row of a current
 * version, of an old version, written with versioning off; an entity kept by a current mapping row, referenced only by
 * old versions, already orphaned, ...), never by asking the database. It keeps no rows: it feeds each row into a
 * checksum of the table as seeded and, when the row survives the removal, into a checksum of the table as the removal
 * must leave it (see table-checksums.ts). So millions of rows cost no memory, and {@link expectedAfterRemoval} says
 * exactly what every table must hold for any set of flags.
 */

import type { RegistryVersioningFlags } from '../config/types.js';
import type { VersioningRemovalCount } from '../db/registry-scripts.js';
import { dialectOf } from '../db/dialects.js';
import type { DbSession } from '../db/session.js';
import { VERSIONED_METADATA } from '../wso2/registry.js';
import {
  registryIdCounterStatements,
  registrySchemaStatements,
  registryTableColumns,
  type ColumnType,
} from './registry-schema.js';
import {
  canonicalBytes,
  canonicalTimestamp,
  ChecksumAccumulator,
  withUtcTimeZone,
  type TableChecksum,
} from '../db/table-checksums.js';

export type MetadataKind = keyof RegistryVersioningFlags;
export const METADATA_KINDS: readonly MetadataKind[] = VERSIONED_METADATA.map((metadata) => metadata.flag);

/** Every table the fixture creates, parents before children (the order rows are inserted in). */
export const REGISTRY_TABLES = [
  'REG_PATH',
  'REG_CONTENT',
  'REG_CONTENT_HISTORY',
  'REG_RESOURCE',
  'REG_RESOURCE_HISTORY',
  'REG_TAG',
  'REG_COMMENT',
  'REG_RATING',
  'REG_PROPERTY',
  'REG_RESOURCE_TAG',
  'REG_RESOURCE_COMMENT',
  'REG_RESOURCE_RATING',
  'REG_RESOURCE_PROPERTY',
] as const;
export type RegistryTable = (typeof REGISTRY_TABLES)[number];

/** Each table's columns in order, with the type the checksums read them as (from the one schema description). */
const TABLE_COLUMNS = registryTableColumns() as Record<RegistryTable, ReadonlyArray<readonly [string, ColumnType]>>;

const KIND_TABLES: Record<MetadataKind, { entity: RegistryTable; mapping: RegistryTable }> = {
  tags: { entity: 'REG_TAG', mapping: 'REG_RESOURCE_TAG' },
  comments: { entity: 'REG_COMMENT', mapping: 'REG_RESOURCE_COMMENT' },
  ratings: { entity: 'REG_RATING', mapping: 'REG_RESOURCE_RATING' },
  properties: { entity: 'REG_PROPERTY', mapping: 'REG_RESOURCE_PROPERTY' },
};

export function kindTables(kind: MetadataKind): { entity: RegistryTable; mapping: RegistryTable } {
  return KIND_TABLES[kind];
}

// ---------------------------------------------------------------------------------------------------------------
// Schema

/** Creates the registry tables, foreign keys and indices of carbon-kernel 4.6.0 (without the two that 4.2.0 adds). */
export async function createRegistrySchema(session: DbSession): Promise<void> {
  for (const statement of registrySchemaStatements(dialectOf(session.engine))) await session.query(statement);
}

// ---------------------------------------------------------------------------------------------------------------
// Data

export interface RegistrySeedOptions {
  /** PRNG seed: the same options give the same rows, on both DBMSs. */
  seed: number;
  /** Current resources (about 10% of them collections), spread round-robin over the tenants. */
  resources: number;
  /** Versions per resource, the current one included: each resource gets 1 to this many. */
  versionsPerResource: number;
  /** Number of tenants: the super tenant -1234, then 1, 2, ... */
  tenants: number;
  /** Per mapping table of a versioned kind: rows written with versioning off (REG_VERSION NULL). */
  versioningOffRows: number;
  /** Per entity table: entities no mapping row refers to at all. */
  orphanEntities: number;
  /**
   * Per entity table: entities that reuse the REG_ID of an entity of another tenant that a current mapping row keeps,
   * with no mapping row of their own (orphans by (REG_ID, tenant), not by REG_ID alone). Needs two tenants.
   */
  crossTenantIdReuse?: number;
  /** Average mapping rows per current version and kind. Default tags 2, comments 0.5, ratings 0.4, properties 3. */
  mappingsPerVersion?: Partial<Record<MetadataKind, number>>;
  /** Kinds whose rows were all written with versioning off (no REG_VERSION, no old versions). */
  writtenWithVersioningOff?: Partial<Record<MetadataKind, boolean>>;
  /** Resources generated and inserted per transaction. Default 500. */
  chunkResources?: number;
  /** Rows per INSERT statement (fewer when the table has many columns). Default 1000. */
  batchRows?: number;
}

/** What the removal of one kind must do when its flag is on, counted by the generator. */
export interface ExpectedRemoval {
  mappingRowsToDelete: number;
  entityRowsToDelete: number;
  mappingRowsToUpdate: number;
}

/** A current, non-collection resource, for tests that add rows of their own. */
export interface SampleResource {
  tenantId: number;
  pathId: number;
  name: string;
  version: number;
  /** Entities of a versioned kind that current mapping rows of this resource keep. */
  keptEntityIds: Record<MetadataKind, number[]>;
}

export interface SeededRegistry {
  options: RegistrySeedOptions;
  tenantIds: number[];
  /** Every table as seeded. */
  before: Record<RegistryTable, TableChecksum>;
  /** The mapping and entity tables of each kind as the removal must leave them when that kind's flag is on. */
  afterRemoval: Record<MetadataKind, { mapping: TableChecksum; entity: TableChecksum }>;
  removal: Record<MetadataKind, ExpectedRemoval>;
  samples: SampleResource[];
  /** The next free id of each entity table (ids are unique across tenants, as the registry's sequences make them). */
  nextEntityId: Record<MetadataKind, number>;
  durationMs: number;
}

const DEFAULT_MAPPINGS: Record<MetadataKind, number> = { tags: 2, comments: 0.5, ratings: 0.4, properties: 3 };

/** The state every table must be in after `removeVersioningDetails(flags)` on the seeded data. */
export function expectedAfterRemoval(
  seeded: SeededRegistry,
  flags: RegistryVersioningFlags,
): Record<RegistryTable, TableChecksum> {
  const expected = { ...seeded.before };
  for (const kind of METADATA_KINDS) {
    if (!flags[kind]) continue;
    const tables = KIND_TABLES[kind];
    expected[tables.mapping] = seeded.afterRemoval[kind].mapping;
    expected[tables.entity] = seeded.afterRemoval[kind].entity;
  }
  return expected;
}

/** What `countVersioningRemoval(flags)` must report on the seeded data (and the removal then do). */
export function expectedRemovalCounts(
  seeded: SeededRegistry,
  flags: RegistryVersioningFlags,
): VersioningRemovalCount[] {
  return VERSIONED_METADATA.filter((metadata) => flags[metadata.flag]).map((metadata) => ({
    flag: metadata.flag,
    mappingTable: metadata.mappingTable,
    mappingRowsToDelete: seeded.removal[metadata.flag].mappingRowsToDelete,
    entityTable: metadata.entityTable,
    entityRowsToDelete: seeded.removal[metadata.flag].entityRowsToDelete,
    mappingRowsToUpdate: seeded.removal[metadata.flag].mappingRowsToUpdate,
  }));
}

type Value = number | string | Buffer | null;
type Row = Value[];

const SUPER_TENANT = -1234;
const BASE_TIME = Date.UTC(2019, 0, 1);
const RESOURCE_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['api', 'application/vnd.wso2-api+xml'],
  ['swagger.json', 'application/json'],
  ['api.wsdl', 'application/wsdl+xml'],
  ['schema.graphql', 'text/plain'],
  ['icon', 'image/png'],
  ['Overview', 'text/plain'],
  ['résumé-doc', 'application/vnd.wso2-document+xml'],
  ['doc_✓', 'text/markdown'],
];
const USERS = ['admin', 'publisher1', 'creator', 'Ünal.k', 'dev@carbon.super'];
const TAG_NAMES = ['pizza', 'finance', 'weather', 'beta', 'internal', 'Public', 'gold', 'médical', '日本'];
const PROPERTY_NAMES = [
  'registry.lifecycle.APILifeCycle.state',
  'overview_status',
  'registry.LC.name',
  'STATUS',
  'api.visibility',
];

/** Seeds the registry tables (see the file comment); the tables must exist and be empty. */
export async function seedRegistry(session: DbSession, options: RegistrySeedOptions): Promise<SeededRegistry> {
  const started = performance.now();
  const generator = new RegistryGenerator(options);
  const writer = new BatchWriter(session, options.batchRows ?? 1000);
  const chunk = Math.max(1, options.chunkResources ?? 500);
  await withUtcTimeZone(session, async () => {
    let resource = 0;
    while (resource < options.resources) {
      const end = Math.min(options.resources, resource + chunk);
      if (resource === 0) generator.tenantRoots();
      for (; resource < end; resource += 1) generator.resource(resource);
      if (end === options.resources) generator.leftovers();
      await writer.write(generator.drain());
    }
    if (options.resources === 0) {
      generator.tenantRoots();
      generator.leftovers();
      await writer.write(generator.drain());
    }
  });
  // Explicit ids leave PostgreSQL's sequences behind; move them on, as the registry's own inserts would have.
  const next: Record<string, number> = {
    REG_PATH: generator.nextPathId,
    REG_CONTENT: generator.nextContentId,
    REG_RESOURCE: generator.nextVersion,
    REG_TAG: generator.kinds.tags.nextId,
    REG_COMMENT: generator.kinds.comments.nextId,
    REG_RATING: generator.kinds.ratings.nextId,
    REG_PROPERTY: generator.kinds.properties.nextId,
  };
  for (const statement of registryIdCounterStatements(dialectOf(session.engine), next)) {
    await session.query(statement.sql, statement.params);
  }
  return generator.result(performance.now() - started);
}

/** Multi-row INSERTs in dependency order, one transaction per drained chunk. */
class BatchWriter {
  constructor(
    private readonly session: DbSession,
    private readonly batchRows: number,
  ) {}

  async write(rows: Map<RegistryTable, Row[]>): Promise<void> {
    const dialect = dialectOf(this.session.engine);
    await this.session.query('START TRANSACTION');
    try {
      for (const table of REGISTRY_TABLES) {
        const tableRows = rows.get(table) ?? [];
        const columns = TABLE_COLUMNS[table].map(([name]) => name);
        const perStatement = Math.max(1, Math.min(this.batchRows, Math.floor(30_000 / columns.length)));
        for (let start = 0; start < tableRows.length; start += perStatement) {
          const batch = tableRows.slice(start, start + perStatement);
          const params: Value[] = [];
          const tuples = batch.map((row) => {
            const marks = row.map((value) => {
              params.push(value);
              return dialect.placeholder(params.length);
            });
            return `(${marks.join(', ')})`;
          });
          await this.session.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
        }
      }
      await this.session.query('COMMIT');
    } catch (error) {
      await this.session.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}

interface KindState {
  kind: MetadataKind;
  entity: RegistryTable;
  mapping: RegistryTable;
  average: number;
  offOnly: boolean;
  nextId: number;
  entityBefore: ChecksumAccumulator;
  entityAfter: ChecksumAccumulator;
  mappingBefore: ChecksumAccumulator;
  mappingAfter: ChecksumAccumulator;
  removal: ExpectedRemoval;
  /** Entities with a tenant, for the cross-tenant REG_ID reuse: kept ones (or any, for kinds written unversioned). */
  reusable: Array<{ id: number; tenantId: number }>;
}

interface CurrentResource {
  tenantId: number;
  pathId: number;
  parentPathId: number;
  name: string | null;
  version: number;
  oldVersions: number[];
}

class RegistryGenerator {
  readonly random: () => number;
  readonly tenantIds: number[];
  readonly kinds: Record<MetadataKind, KindState>;
  nextPathId = 1;
  nextContentId = 1;
  nextVersion = 1;
  private readonly before = new Map<RegistryTable, ChecksumAccumulator>();
  private pending = new Map<RegistryTable, Row[]>();
  /** Per tenant: the path id of .../applicationdata/provider, the parent of every resource path. */
  private readonly providerPath = new Map<number, number>();
  private readonly samples: SampleResource[] = [];

  constructor(private readonly options: RegistrySeedOptions) {
    if (options.tenants < 1) throw new Error('seedRegistry needs at least one tenant');
    if (options.versionsPerResource < 1) throw new Error('seedRegistry needs versionsPerResource >= 1');
    this.random = mulberry32(options.seed);
    this.tenantIds = [SUPER_TENANT, ...Array.from({ length: options.tenants - 1 }, (_, index) => index + 1)];
    for (const table of REGISTRY_TABLES) this.before.set(table, new ChecksumAccumulator());
    const kind = (name: MetadataKind): KindState => ({
      kind: name,
      entity: KIND_TABLES[name].entity,
      mapping: KIND_TABLES[name].mapping,
      average: options.mappingsPerVersion?.[name] ?? DEFAULT_MAPPINGS[name],
      offOnly: options.writtenWithVersioningOff?.[name] ?? false,
      nextId: 1,
      entityBefore: this.accumulator(KIND_TABLES[name].entity),
      entityAfter: new ChecksumAccumulator(),
      mappingBefore: this.accumulator(KIND_TABLES[name].mapping),
      mappingAfter: new ChecksumAccumulator(),
      removal: { mappingRowsToDelete: 0, entityRowsToDelete: 0, mappingRowsToUpdate: 0 },
      reusable: [],
    });
    this.kinds = {
      tags: kind('tags'),
      comments: kind('comments'),
      ratings: kind('ratings'),
      properties: kind('properties'),
    };
  }

  drain(): Map<RegistryTable, Row[]> {
    const rows = this.pending;
    this.pending = new Map();
    return rows;
  }

  /** The path tree every tenant has down to the API provider collection. */
  tenantRoots(): void {
    for (const tenantId of this.tenantIds) {
      let parent: number | null = null;
      for (const value of [
        '/',
        '/_system',
        '/_system/governance',
        '/_system/governance/apimgt',
        '/_system/governance/apimgt/applicationdata',
        '/_system/governance/apimgt/applicationdata/provider',
      ]) {
        const id: number = this.nextPathId++;
        this.emit('REG_PATH', [id, value, parent, tenantId]);
        parent = id;
      }
      this.providerPath.set(tenantId, parent ?? 0);
    }
  }

  resource(index: number): void {
    const tenantId = this.tenantIds[index % this.tenantIds.length] ?? SUPER_TENANT;
    const parentPathId = this.providerPath.get(tenantId) ?? 0;
    const pathId = this.nextPathId++;
    const provider = this.pick(USERS).replace(/[^A-Za-z0-9]/g, '-');
    this.emit('REG_PATH', [
      pathId,
      `/_system/governance/apimgt/applicationdata/provider/${provider}/API${index}/1.0.${index % 3}`,
      parentPathId,
      tenantId,
    ]);
    const collection = this.random() < 0.1;
    const [name, mediaType] = collection ? [null, null] : this.pick(RESOURCE_NAMES);
    const uuid = this.uuid();
    const creator = this.pick(USERS);
    const oldVersions: number[] = [];
    const oldCount = Math.floor(this.random() * this.options.versionsPerResource);
    let time = BASE_TIME + Math.floor(this.random() * 300 * 86_400_000);
    for (let version = 0; version < oldCount; version += 1) {
      const regVersion = this.nextVersion++;
      oldVersions.push(regVersion);
      const contentId = collection ? null : this.nextContentId++;
      if (contentId !== null) this.emit('REG_CONTENT_HISTORY', [contentId, this.bytes(), 0, tenantId]);
      const updated = time + Math.floor(this.random() * 86_400_000);
      this.emit('REG_RESOURCE_HISTORY', [
        pathId,
        name,
        regVersion,
        mediaType,
        creator,
        formatTime(time),
        this.pick(USERS),
        formatTime(updated),
        this.description(index, version),
        contentId,
        0,
        tenantId,
        uuid,
      ]);
      time = updated;
    }
    const version = this.nextVersion++;
    const contentId = collection ? null : this.nextContentId++;
    if (contentId !== null) this.emit('REG_CONTENT', [contentId, this.bytes(), tenantId]);
    this.emit('REG_RESOURCE', [
      pathId,
      name,
      version,
      mediaType,
      creator,
      formatTime(time),
      this.pick(USERS),
      formatTime(time + Math.floor(this.random() * 86_400_000)),
      this.description(index, oldCount),
      contentId,
      tenantId,
      uuid,
    ]);

    const current: CurrentResource = { tenantId, pathId, parentPathId, name, version, oldVersions };
    const kept = { tags: [], comments: [], ratings: [], properties: [] } as Record<MetadataKind, number[]>;
    for (const kind of METADATA_KINDS) kept[kind] = this.metadata(this.kinds[kind], current, index);
    if (name !== null && this.samples.length < 8) {
      this.samples.push({ tenantId, pathId, name, version, keptEntityIds: kept });
    }
  }

  /** The mapping rows and entities of one kind for one resource; returns the entities its current version keeps. */
  private metadata(state: KindState, resource: CurrentResource, index: number): number[] {
    const { tenantId, pathId, name } = resource;
    const count = Math.floor(this.random() * (2 * state.average + 1));
    if (state.offOnly) {
      // Written with versioning off: path and name, no version. The removal deletes all of it.
      for (let n = 0; n < count; n += 1) {
        const id = this.entity(state, tenantId, false);
        this.mapping(state, [id, null, pathId, name, tenantId], null);
      }
      return [];
    }

    const keptIds: number[] = [];
    for (let n = 0; n < count; n += 1) {
      const id = this.entity(state, tenantId, true);
      keptIds.push(id);
      const after: Row = [id, resource.version, pathId, name, tenantId];
      const row = this.currentMappingRow(after, resource);
      this.mapping(state, row, after);
      // A few exact duplicates: mapping tables have no key.
      if (this.random() < 0.02) this.mapping(state, [...row], after);
    }
    // Old versions refer to some of the current entities (copied forward) and to entities removed later.
    resource.oldVersions.forEach((oldVersion) => {
      for (const id of keptIds) {
        if (this.random() < 0.6) this.mapping(state, this.oldMappingRow(id, oldVersion, resource), null);
      }
    });
    if (resource.oldVersions.length > 0) {
      const removed = Math.floor(this.random() * (state.average + 1));
      for (let n = 0; n < removed; n += 1) {
        const id = this.entity(state, tenantId, false);
        const lastVersion = Math.floor(this.random() * resource.oldVersions.length);
        for (let version = 0; version <= lastVersion; version += 1) {
          this.mapping(state, this.oldMappingRow(id, resource.oldVersions[version] ?? 0, resource), null);
        }
      }
    }
    // Rows written with versioning off (REG_VERSION NULL): spread evenly over the resources.
    const total = this.options.versioningOffRows;
    const resources = this.options.resources;
    const offRows = Math.floor(((index + 1) * total) / resources) - Math.floor((index * total) / resources);
    for (let n = 0; n < offRows; n += 1) {
      const shared = keptIds.length > 0 && this.random() < 0.5;
      const id = shared
        ? (keptIds[Math.floor(this.random() * keptIds.length)] ?? 0)
        : this.entity(state, tenantId, false);
      this.mapping(state, [id, null, pathId, name, tenantId], null);
    }
    return keptIds;
  }

  /**
   * A current version's row as the registry left it: with versioning on mostly without path and name (70%), some
   * already right (20%), some stale (10%): another path, a name in another case or with a trailing space.
   */
  private currentMappingRow(after: Row, resource: CurrentResource): Row {
    const [id, version, pathId, name, tenantId] = after;
    const draw = this.random();
    if (draw < 0.7) return [id ?? null, version ?? null, null, null, tenantId ?? null];
    if (draw < 0.9) return [...after];
    const variant = Math.floor(this.random() * 3);
    if (variant === 0) return [id ?? null, version ?? null, resource.parentPathId, name ?? null, tenantId ?? null];
    const text = typeof name === 'string' ? name : null;
    const staleName =
      variant === 1
        ? text === null
          ? 'stale'
          : text.toUpperCase() !== text
            ? text.toUpperCase()
            : `${text}X`
        : text === null
          ? ' '
          : `${text} `;
    return [id ?? null, version ?? null, pathId ?? null, staleName, tenantId ?? null];
  }

  private oldMappingRow(id: number, version: number, resource: CurrentResource): Row {
    const withPath = this.random() < 0.1;
    return [id, version, withPath ? resource.pathId : null, withPath ? resource.name : null, resource.tenantId];
  }

  /** Entities nothing refers to, and entities reusing another tenant's REG_ID. */
  leftovers(): void {
    for (const kind of METADATA_KINDS) {
      const state = this.kinds[kind];
      for (let n = 0; n < this.options.orphanEntities; n += 1) {
        this.entity(state, this.pick(this.tenantIds), false);
      }
      const reuse = this.options.crossTenantIdReuse ?? 0;
      if (reuse === 0) continue;
      if (this.tenantIds.length < 2) throw new Error('crossTenantIdReuse needs at least two tenants');
      if (state.reusable.length < reuse) {
        throw new Error(`crossTenantIdReuse ${reuse}: only ${state.reusable.length} ${kind} entities to reuse`);
      }
      for (const { id, tenantId } of state.reusable.slice(0, reuse)) {
        const other = this.tenantIds[(this.tenantIds.indexOf(tenantId) + 1) % this.tenantIds.length] ?? SUPER_TENANT;
        this.entity(state, other, false, id);
      }
    }
  }

  private entity(state: KindState, tenantId: number, kept: boolean, reuseId?: number): number {
    const id = reuseId ?? state.nextId++;
    const time = formatTime(BASE_TIME + Math.floor(this.random() * 400 * 86_400_000));
    const user = this.pick(USERS);
    let row: Row;
    switch (state.kind) {
      case 'tags':
        row = [id, `${this.pick(TAG_NAMES)}${this.random() < 0.3 ? `-${id % 17}` : ''}`, user, time, tenantId];
        break;
      case 'comments':
        row = [id, `Comment ${id}: looks good, ça marche ✓`, user, time, tenantId];
        break;
      case 'ratings':
        row = [id, 1 + Math.floor(this.random() * 5), user, time, tenantId];
        break;
      case 'properties':
        row = [id, this.pick(PROPERTY_NAMES), this.random() < 0.1 ? null : `value-${id}`, tenantId];
        break;
    }
    this.emit(state.entity, row);
    if (kept) state.entityAfter.add(canonical(state.entity, row));
    else state.removal.entityRowsToDelete += 1;
    if (reuseId === undefined && (kept || state.offOnly) && state.reusable.length < 64) {
      state.reusable.push({ id, tenantId });
    }
    return id;
  }

  /** A mapping row; `after` is the row once the removal ran, or null when the removal deletes it. */
  private mapping(state: KindState, row: Row, after: Row | null): void {
    this.emit(state.mapping, row);
    if (after === null) {
      state.removal.mappingRowsToDelete += 1;
      return;
    }
    state.mappingAfter.add(canonical(state.mapping, after));
    if (row[2] !== after[2] || row[3] !== after[3]) state.removal.mappingRowsToUpdate += 1;
  }

  private emit(table: RegistryTable, row: Row): void {
    const list = this.pending.get(table) ?? [];
    list.push(row);
    this.pending.set(table, list);
    this.before.get(table)?.add(canonical(table, row));
  }

  private accumulator(table: RegistryTable): ChecksumAccumulator {
    const accumulator = this.before.get(table);
    if (!accumulator) throw new Error(`internal: no accumulator for ${table}`);
    return accumulator;
  }

  private pick<T>(list: readonly T[]): T {
    const value = list[Math.floor(this.random() * list.length)];
    if (value === undefined) throw new Error('internal: empty list');
    return value;
  }

  private bytes(): Buffer {
    const length = 8 + Math.floor(this.random() * 40);
    return Buffer.from(Array.from({ length }, () => Math.floor(this.random() * 256)));
  }

  private uuid(): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(this.random() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  private description(index: number, version: number): string | null {
    return this.random() < 0.3 ? null : `API ${index} revision ${version} — déployée`;
  }

  result(durationMs: number): SeededRegistry {
    const before = {} as Record<RegistryTable, TableChecksum>;
    for (const table of REGISTRY_TABLES) before[table] = this.accumulator(table).result();
    const afterRemoval = {} as SeededRegistry['afterRemoval'];
    const removal = {} as SeededRegistry['removal'];
    const nextEntityId = {} as SeededRegistry['nextEntityId'];
    for (const kind of METADATA_KINDS) {
      const state = this.kinds[kind];
      afterRemoval[kind] = { mapping: state.mappingAfter.result(), entity: state.entityAfter.result() };
      removal[kind] = { ...state.removal };
      nextEntityId[kind] = state.nextId;
    }
    return {
      options: this.options,
      tenantIds: [...this.tenantIds],
      before,
      afterRemoval,
      removal,
      samples: this.samples,
      nextEntityId,
      durationMs,
    };
  }
}

/** The canonical values of a row for the checksums. */
export function canonical(table: RegistryTable, row: readonly Value[]): Array<string | null> {
  const columns = TABLE_COLUMNS[table];
  return row.map((value, position) => {
    if (value === null) return null;
    const type = columns[position]?.[1];
    if (type === 'b') return canonicalBytes(value as Buffer);
    if (type === 't') return canonicalTimestamp(String(value));
    return String(value);
  });
}

/** `YYYY-MM-DD HH:MM:SS` in UTC. */
function formatTime(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** A small, fast, seedable PRNG (mulberry32). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
