/**
 * Scratch databases for the benchmarks, shaped like an API-M 3.1.0 shared_db/apim_db: WSO2's registry schema
 * (createRegistrySchema) filled server-side in bulk, plus a few AM_* tables. Generation runs inside the server
 * (PostgreSQL generate_series, MariaDB's seq_1_to_N), so a gigabyte takes a minute or two, not an hour.
 *
 * The size is set by a scale: one unit is roughly 20 MB on PostgreSQL. Registry content (REG_CONTENT and its
 * history) is half text that compresses well (OpenAPI-like JSON) and half random bytes (icons, archives), so
 * that compression has real work to do, as on a real registry.
 */
import { randomBytes } from 'node:crypto';
import type { DatabaseTarget, DbEngine } from '../src/config/types.js';
import { createRegistrySchema } from '../src/demo/registry-seed.js';
import { listTables } from '../src/db/dialects.js';
import { openSession, type DbSession } from '../src/db/session.js';

export const BENCH_PREFIX = 'apim_migrate_bench_';

export type BenchEngine = Extract<DbEngine, 'postgresql' | 'mysql'>;

export interface BenchDatabase {
  engine: BenchEngine;
  /** The database, logged in as the server's admin (postgres / root). */
  target: DatabaseTarget;
  scale: number;
  /** Size on disk after generation (pg_database_size, or InnoDB data + index length). */
  bytes: number;
  /** Rows of the largest mapping table, REG_RESOURCE_PROPERTY. */
  propertyMappings: number;
  drop(): Promise<void>;
}

/** Row counts of one scale unit; every count grows linearly with the scale. */
export function rowCounts(scale: number) {
  const n = (perUnit: number) => Math.max(1, Math.round(perUnit * scale));
  return {
    paths: n(1_000),
    contents: n(2_000),
    contentHistory: n(1_000),
    resources: n(2_000),
    resourceHistory: n(1_000),
    tags: n(500),
    tagMappings: n(10_000),
    properties: n(20_000),
    propertyMappings: n(40_000),
    comments: n(200),
    ratings: n(200),
    apis: n(500),
    applications: n(500),
    subscriptions: n(5_000),
  };
}

export function adminTarget(engine: BenchEngine, database: string): DatabaseTarget {
  const postgres = engine === 'postgresql';
  const host = '127.0.0.1';
  const port = postgres ? 5432 : 3306;
  return {
    name: 'shared_db',
    engine,
    url: postgres ? `jdbc:postgresql://${host}:${port}/${database}` : `jdbc:mysql://${host}:${port}/${database}`,
    host,
    port,
    database,
    params: postgres ? {} : { useSSL: 'false' },
    username: postgres ? 'postgres' : 'root',
    password: '',
    source: 'config',
  };
}

/** Creates and fills a scratch database; the caller drops it (also when something later fails). */
export async function createBenchDatabase(
  engine: BenchEngine,
  scale: number,
  log: (line: string) => void,
): Promise<BenchDatabase> {
  const name = `${BENCH_PREFIX}${engine === 'postgresql' ? 'pg' : 'maria'}_${randomBytes(3).toString('hex')}`;
  const server = adminTarget(engine, engine === 'postgresql' ? 'postgres' : 'mysql');
  await runStatements(server, [`CREATE DATABASE ${name}`]);
  const target = adminTarget(engine, name);
  const drop = () =>
    runStatements(server, [
      engine === 'postgresql' ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${name}`,
    ]);
  try {
    const started = Date.now();
    const session = await openSession(target);
    try {
      await createRegistrySchema(session);
      if (engine === 'postgresql') await fillPostgres(session, scale);
      else await fillMariadb(session, scale);
    } finally {
      await session.close();
    }
    const bytes = await databaseSize(target);
    log(
      `generated ${name}: scale ${scale}, ${(bytes / 1024 / 1024).toFixed(0)} MiB on disk in ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return { engine, target, scale, bytes, propertyMappings: rowCounts(scale).propertyMappings, drop };
  } catch (error) {
    await drop().catch(() => undefined);
    throw error;
  }
}

/** Drops scratch databases left behind by an interrupted bench run. */
export async function dropLeftovers(engine: BenchEngine): Promise<void> {
  const server = adminTarget(engine, engine === 'postgresql' ? 'postgres' : 'mysql');
  const session = await openSession(server);
  try {
    const rows =
      engine === 'postgresql'
        ? await session.query<{ name: string }>(
            `SELECT datname AS name FROM pg_database WHERE datname LIKE '${BENCH_PREFIX}%'`,
          )
        : await session.query<{ name: string }>(
            `SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE '${BENCH_PREFIX}%'`,
          );
    for (const row of rows) {
      await session.query(
        engine === 'postgresql'
          ? `DROP DATABASE IF EXISTS ${row.name} WITH (FORCE)`
          : `DROP DATABASE IF EXISTS ${row.name}`,
      );
    }
  } finally {
    await session.close();
  }
}

export async function databaseSize(target: DatabaseTarget): Promise<number> {
  const session = await openSession(target);
  try {
    // InnoDB's sizes in information_schema are its statistics, which it refreshes in the background after bulk
    // inserts: read at once they said 772 MiB for a database of 1.08 GiB. ANALYZE TABLE refreshes them first.
    if (target.engine !== 'postgresql') {
      for (const table of await listTables(session)) await session.query(`ANALYZE TABLE ${table.quoted}`);
    }
    const [row] =
      target.engine === 'postgresql'
        ? await session.query<{ bytes: string }>('SELECT pg_database_size(current_database()) AS bytes')
        : await session.query<{ bytes: string }>(
            `SELECT SUM(data_length + index_length) AS bytes FROM information_schema.tables WHERE table_schema = DATABASE()`,
          );
    return Number(row?.bytes ?? 0);
  } finally {
    await session.close();
  }
}

export async function runStatements(target: DatabaseTarget, statements: string[]): Promise<void> {
  const session = await openSession(target);
  try {
    for (const statement of statements) await session.query(statement);
  } finally {
    await session.close();
  }
}

const AM_TABLES_PG = [
  `CREATE TABLE AM_API (API_ID INTEGER PRIMARY KEY, API_UUID VARCHAR(256), API_PROVIDER VARCHAR(200), API_NAME VARCHAR(200),
     API_VERSION VARCHAR(30), CONTEXT VARCHAR(256), API_TIER VARCHAR(256), API_TYPE VARCHAR(10), STATUS VARCHAR(30),
     CREATED_BY VARCHAR(100), CREATED_TIME TIMESTAMP, UPDATED_TIME TIMESTAMP)`,
  `CREATE TABLE AM_APPLICATION (APPLICATION_ID INTEGER PRIMARY KEY, NAME VARCHAR(100), SUBSCRIBER_ID INTEGER,
     APPLICATION_TIER VARCHAR(50), CALLBACK_URL VARCHAR(512), DESCRIPTION VARCHAR(512), APPLICATION_STATUS VARCHAR(50),
     UUID VARCHAR(256), TOKEN_TYPE VARCHAR(10), CREATED_TIME TIMESTAMP)`,
  `CREATE TABLE AM_SUBSCRIPTION (SUBSCRIPTION_ID INTEGER PRIMARY KEY, TIER_ID VARCHAR(50), API_ID INTEGER REFERENCES AM_API(API_ID),
     APPLICATION_ID INTEGER REFERENCES AM_APPLICATION(APPLICATION_ID), SUB_STATUS VARCHAR(50), UUID VARCHAR(256),
     CREATED_TIME TIMESTAMP)`,
  'CREATE INDEX IDX_AM_SUBSCRIPTION_API ON AM_SUBSCRIPTION (API_ID)',
  'CREATE INDEX IDX_AM_SUBSCRIPTION_APP ON AM_SUBSCRIPTION (APPLICATION_ID)',
];

/** One OpenAPI-like path entry: text that compresses well but not trivially (it varies per row). */
function openApiEntry(engine: BenchEngine, row: string, part: string): string {
  const concat = (...parts: string[]) => (engine === 'postgresql' ? parts.join(' || ') : `CONCAT(${parts.join(', ')})`);
  const text = (value: string) => `'${value}'`;
  const cast = (value: string) => (engine === 'postgresql' ? `${value}::text` : value);
  return concat(
    text('"/resource'),
    cast(part),
    text('/{id}":{"get":{"x-auth-type":"Application & Application User","x-throttling-tier":"Unlimited",'),
    text('"x-scope":"scope-'),
    `md5(${concat(cast(row), text('-'), cast(part))})`,
    text('","responses":{"200":{"description":"OK"}},"parameters":[{"name":"id","in":"path","required":true}]}},'),
  );
}

async function fillPostgres(session: DbSession, scale: number): Promise<void> {
  const c = rowCounts(scale);
  const entries = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((part) => openApiEntry('postgresql', 'i', String(part)));
  // ~3.3 KB of JSON-like text and 4 KiB of random bytes per row.
  const content = `convert_to(${entries.join(' || ')}, 'UTF8') || gen_random_bytes(1024) || gen_random_bytes(1024) || gen_random_bytes(1024) || gen_random_bytes(1024)`;
  const statements = [
    'CREATE EXTENSION IF NOT EXISTS pgcrypto',
    // Bulk load without per-row foreign key triggers; the data is consistent, and a restore validates it.
    'SET session_replication_role = replica',
    ...AM_TABLES_PG,
    `INSERT INTO REG_PATH (REG_PATH_ID, REG_PATH_VALUE, REG_PATH_PARENT_ID, REG_TENANT_ID)
       SELECT i, '/_system/governance/apimgt/applicationdata/provider/admin/API-' || i || '/1.0.0', GREATEST(i - 1, 1), 0
         FROM generate_series(1, ${c.paths}) i`,
    `INSERT INTO REG_CONTENT (REG_CONTENT_ID, REG_CONTENT_DATA, REG_TENANT_ID)
       SELECT i, ${content}, 0 FROM generate_series(1, ${c.contents}) i`,
    `INSERT INTO REG_CONTENT_HISTORY (REG_CONTENT_ID, REG_CONTENT_DATA, REG_DELETED, REG_TENANT_ID)
       SELECT i, ${content}, 0, 0 FROM generate_series(1, ${c.contentHistory}) i`,
    `INSERT INTO REG_RESOURCE (REG_PATH_ID, REG_NAME, REG_VERSION, REG_MEDIA_TYPE, REG_CREATOR, REG_CREATED_TIME,
         REG_LAST_UPDATOR, REG_LAST_UPDATED_TIME, REG_DESCRIPTION, REG_CONTENT_ID, REG_TENANT_ID, REG_UUID)
       SELECT (i - 1) % ${c.paths} + 1, 'swagger.json', i, 'application/json', 'admin', now() - i * interval '1 minute',
              'admin', now(), 'API definition ' || i, (i - 1) % ${c.contents} + 1, 0, md5(i::text)::uuid::text
         FROM generate_series(1, ${c.resources}) i`,
    `INSERT INTO REG_RESOURCE_HISTORY (REG_PATH_ID, REG_NAME, REG_VERSION, REG_MEDIA_TYPE, REG_CREATOR, REG_CREATED_TIME,
         REG_LAST_UPDATOR, REG_LAST_UPDATED_TIME, REG_DESCRIPTION, REG_CONTENT_ID, REG_DELETED, REG_TENANT_ID, REG_UUID)
       SELECT (i - 1) % ${c.paths} + 1, 'swagger.json', ${c.resources} + i, 'application/json', 'admin', now(), 'admin',
              now(), 'older version', (i - 1) % ${c.contentHistory} + 1, 0, 0, md5('h' || i)::uuid::text
         FROM generate_series(1, ${c.resourceHistory}) i`,
    `INSERT INTO REG_TAG (REG_ID, REG_TAG_NAME, REG_USER_ID, REG_TAGGED_TIME, REG_TENANT_ID)
       SELECT i, 'tag-' || i, 'admin', now(), 0 FROM generate_series(1, ${c.tags}) i`,
    `INSERT INTO REG_PROPERTY (REG_ID, REG_NAME, REG_VALUE, REG_TENANT_ID)
       SELECT i, (ARRAY['overview_name', 'overview_version', 'overview_context', 'overview_provider', 'overview_status'])[i % 5 + 1],
              'value-' || md5(i::text), 0
         FROM generate_series(1, ${c.properties}) i`,
    `INSERT INTO REG_COMMENT (REG_ID, REG_COMMENT_TEXT, REG_USER_ID, REG_COMMENTED_TIME, REG_TENANT_ID)
       SELECT i, 'comment ' || i, 'admin', now(), 0 FROM generate_series(1, ${c.comments}) i`,
    `INSERT INTO REG_RATING (REG_ID, REG_RATING, REG_USER_ID, REG_RATED_TIME, REG_TENANT_ID)
       SELECT i, i % 5 + 1, 'admin', now(), 0 FROM generate_series(1, ${c.ratings}) i`,
    ...mappingInserts('postgresql', c),
    `INSERT INTO AM_API SELECT i, md5('api' || i), 'admin', 'API-' || i, '1.0.0', '/api' || i, 'Unlimited', 'HTTP',
       'PUBLISHED', 'admin', now(), now() FROM generate_series(1, ${c.apis}) i`,
    `INSERT INTO AM_APPLICATION SELECT i, 'app-' || i, 1, 'Unlimited', 'https://example.com/cb', 'bench application', 'APPROVED',
       md5('app' || i), 'JWT', now() FROM generate_series(1, ${c.applications}) i`,
    `INSERT INTO AM_SUBSCRIPTION SELECT i, 'Gold', (i - 1) % ${c.apis} + 1, (i - 1) % ${c.applications} + 1, 'UNBLOCKED',
       md5('sub' || i), now() FROM generate_series(1, ${c.subscriptions}) i`,
    'RESET session_replication_role',
    // The generator is not part of an API-M database.
    'DROP EXTENSION pgcrypto',
    ...['REG_PATH', 'REG_CONTENT', 'REG_RESOURCE', 'REG_TAG', 'REG_PROPERTY', 'REG_COMMENT', 'REG_RATING'].map(
      (table) =>
        `SELECT setval('${table}_PK_SEQ', ${Math.max(c.paths, c.contents, c.resources + c.resourceHistory, c.properties)})`,
    ),
    'ANALYZE',
  ];
  for (const statement of statements) await session.query(statement);
}

function mappingInserts(engine: BenchEngine, c: ReturnType<typeof rowCounts>): string[] {
  const series = (count: number) =>
    engine === 'postgresql' ? `generate_series(1, ${count}) AS s(i)` : `seq_1_to_${count} AS s`;
  const i = engine === 'postgresql' ? 'i' : 's.seq';
  const mapping = (table: string, idColumn: string, entities: number, count: number) =>
    `INSERT INTO ${table} (${idColumn}, REG_VERSION, REG_PATH_ID, REG_RESOURCE_NAME, REG_TENANT_ID)
       SELECT (${i} - 1) % ${entities} + 1, (${i} - 1) % ${c.resources} + 1, (${i} - 1) % ${c.paths} + 1, 'swagger.json', 0
         FROM ${series(count)}`;
  return [
    mapping('REG_RESOURCE_TAG', 'REG_TAG_ID', c.tags, c.tagMappings),
    mapping('REG_RESOURCE_PROPERTY', 'REG_PROPERTY_ID', c.properties, c.propertyMappings),
    mapping('REG_RESOURCE_COMMENT', 'REG_COMMENT_ID', c.comments, c.comments),
    mapping('REG_RESOURCE_RATING', 'REG_RATING_ID', c.ratings, c.ratings),
  ];
}

async function fillMariadb(session: DbSession, scale: number): Promise<void> {
  const c = rowCounts(scale);
  const entries = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((part) => openApiEntry('mysql', 's.seq', `'${part}'`));
  const content = `CONCAT(${entries.join(', ')}, RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024), RANDOM_BYTES(1024))`;
  const statements = [
    'SET SESSION foreign_key_checks = 0',
    'SET SESSION unique_checks = 0',
    `CREATE TABLE AM_API (API_ID INTEGER PRIMARY KEY, API_UUID VARCHAR(256), API_PROVIDER VARCHAR(200), API_NAME VARCHAR(200),
       API_VERSION VARCHAR(30), CONTEXT VARCHAR(256), API_TIER VARCHAR(256), API_TYPE VARCHAR(10), STATUS VARCHAR(30),
       CREATED_BY VARCHAR(100), CREATED_TIME TIMESTAMP NULL, UPDATED_TIME TIMESTAMP NULL) ENGINE INNODB`,
    `CREATE TABLE AM_APPLICATION (APPLICATION_ID INTEGER PRIMARY KEY, NAME VARCHAR(100), SUBSCRIBER_ID INTEGER,
       APPLICATION_TIER VARCHAR(50), CALLBACK_URL VARCHAR(512), DESCRIPTION VARCHAR(512), APPLICATION_STATUS VARCHAR(50),
       UUID VARCHAR(256), TOKEN_TYPE VARCHAR(10), CREATED_TIME TIMESTAMP NULL) ENGINE INNODB`,
    `CREATE TABLE AM_SUBSCRIPTION (SUBSCRIPTION_ID INTEGER PRIMARY KEY, TIER_ID VARCHAR(50), API_ID INTEGER, APPLICATION_ID INTEGER,
       SUB_STATUS VARCHAR(50), UUID VARCHAR(256), CREATED_TIME TIMESTAMP NULL,
       FOREIGN KEY (API_ID) REFERENCES AM_API (API_ID), FOREIGN KEY (APPLICATION_ID) REFERENCES AM_APPLICATION (APPLICATION_ID)) ENGINE INNODB`,
    `INSERT INTO REG_PATH (REG_PATH_ID, REG_PATH_VALUE, REG_PATH_PARENT_ID, REG_TENANT_ID)
       SELECT s.seq, CONCAT('/_system/governance/apimgt/applicationdata/provider/admin/API-', s.seq, '/1.0.0'), GREATEST(s.seq - 1, 1), 0
         FROM seq_1_to_${c.paths} AS s`,
    `INSERT INTO REG_CONTENT (REG_CONTENT_ID, REG_CONTENT_DATA, REG_TENANT_ID)
       SELECT s.seq, ${content}, 0 FROM seq_1_to_${c.contents} AS s`,
    `INSERT INTO REG_CONTENT_HISTORY (REG_CONTENT_ID, REG_CONTENT_DATA, REG_DELETED, REG_TENANT_ID)
       SELECT s.seq, ${content}, 0, 0 FROM seq_1_to_${c.contentHistory} AS s`,
    `INSERT INTO REG_RESOURCE (REG_PATH_ID, REG_NAME, REG_VERSION, REG_MEDIA_TYPE, REG_CREATOR, REG_CREATED_TIME,
         REG_LAST_UPDATOR, REG_LAST_UPDATED_TIME, REG_DESCRIPTION, REG_CONTENT_ID, REG_TENANT_ID, REG_UUID)
       SELECT (s.seq - 1) % ${c.paths} + 1, 'swagger.json', s.seq, 'application/json', 'admin', NOW(), 'admin', NOW(),
              CONCAT('API definition ', s.seq), (s.seq - 1) % ${c.contents} + 1, 0, MD5(s.seq)
         FROM seq_1_to_${c.resources} AS s`,
    `INSERT INTO REG_RESOURCE_HISTORY (REG_PATH_ID, REG_NAME, REG_VERSION, REG_MEDIA_TYPE, REG_CREATOR, REG_CREATED_TIME,
         REG_LAST_UPDATOR, REG_LAST_UPDATED_TIME, REG_DESCRIPTION, REG_CONTENT_ID, REG_DELETED, REG_TENANT_ID, REG_UUID)
       SELECT (s.seq - 1) % ${c.paths} + 1, 'swagger.json', ${c.resources} + s.seq, 'application/json', 'admin', NOW(), 'admin',
              NOW(), 'older version', (s.seq - 1) % ${c.contentHistory} + 1, 0, 0, MD5(CONCAT('h', s.seq))
         FROM seq_1_to_${c.resourceHistory} AS s`,
    `INSERT INTO REG_TAG (REG_ID, REG_TAG_NAME, REG_USER_ID, REG_TAGGED_TIME, REG_TENANT_ID)
       SELECT s.seq, CONCAT('tag-', s.seq), 'admin', NOW(), 0 FROM seq_1_to_${c.tags} AS s`,
    `INSERT INTO REG_PROPERTY (REG_ID, REG_NAME, REG_VALUE, REG_TENANT_ID)
       SELECT s.seq, ELT(s.seq % 5 + 1, 'overview_name', 'overview_version', 'overview_context', 'overview_provider', 'overview_status'),
              CONCAT('value-', MD5(s.seq)), 0
         FROM seq_1_to_${c.properties} AS s`,
    `INSERT INTO REG_COMMENT (REG_ID, REG_COMMENT_TEXT, REG_USER_ID, REG_COMMENTED_TIME, REG_TENANT_ID)
       SELECT s.seq, CONCAT('comment ', s.seq), 'admin', NOW(), 0 FROM seq_1_to_${c.comments} AS s`,
    `INSERT INTO REG_RATING (REG_ID, REG_RATING, REG_USER_ID, REG_RATED_TIME, REG_TENANT_ID)
       SELECT s.seq, s.seq % 5 + 1, 'admin', NOW(), 0 FROM seq_1_to_${c.ratings} AS s`,
    ...mappingInserts('mysql', c),
    `INSERT INTO AM_API SELECT s.seq, MD5(CONCAT('api', s.seq)), 'admin', CONCAT('API-', s.seq), '1.0.0', CONCAT('/api', s.seq),
       'Unlimited', 'HTTP', 'PUBLISHED', 'admin', NOW(), NOW() FROM seq_1_to_${c.apis} AS s`,
    `INSERT INTO AM_APPLICATION SELECT s.seq, CONCAT('app-', s.seq), 1, 'Unlimited', 'https://example.com/cb', 'bench application',
       'APPROVED', MD5(CONCAT('app', s.seq)), 'JWT', NOW() FROM seq_1_to_${c.applications} AS s`,
    `INSERT INTO AM_SUBSCRIPTION SELECT s.seq, 'Gold', (s.seq - 1) % ${c.apis} + 1, (s.seq - 1) % ${c.applications} + 1, 'UNBLOCKED',
       MD5(CONCAT('sub', s.seq)), NOW() FROM seq_1_to_${c.subscriptions} AS s`,
    'SET SESSION foreign_key_checks = 1',
    'SET SESSION unique_checks = 1',
  ];
  for (const statement of statements) await session.query(statement);
}
