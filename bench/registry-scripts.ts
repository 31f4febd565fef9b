/**
 * Benchmark 3: the removal of registry versioning details (Step 1b) on a registry with many mapping rows.
 *
 * Subject: apim-migrate's `removeVersioningDetails` (set-based, one transaction) on a DbSession, all four flags on.
 * Reference: the four phases of wso2-facts.md as plain correlated SQL (bench/reference-sql/), run by psql / mysql.
 * Both start from the same seeded state after Step 1a (the two missing indices exist): seeded once into a pristine
 * database, copied before every run (PostgreSQL: CREATE DATABASE ... TEMPLATE; MariaDB: the schema again, then
 * INSERT ... SELECT), the copy not measured. The first run of each contender is checked against the generator's
 * checksums of what every table must hold (expectedAfterRemoval): a benchmark of a wrong result is worthless.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { DatabaseTarget, DbEngine, RegistryVersioningFlags } from '../src/config/types.js';
import { createMissingRegistryIndices, removeVersioningDetails } from '../src/db/registry-scripts.js';
import { openSession, type DbSession } from '../src/db/session.js';
import { tableChecksums } from '../src/db/table-checksums.js';
import {
  createRegistrySchema,
  expectedAfterRemoval,
  REGISTRY_TABLES,
  seedRegistry,
  type RegistrySeedOptions,
  type SeededRegistry,
} from '../src/demo/registry-seed.js';
import {
  compare,
  formatMs,
  timeCommand,
  type BenchContext,
  type BenchSection,
  type ComparisonResult,
  type Figure,
  type Sample,
} from './harness.js';

const SECTION = 'registry-scripts';
const ALL_ON: RegistryVersioningFlags = { tags: true, comments: true, properties: true, ratings: true };

/** Quick: seeding and three rounds per DBMS well inside a minute. Full: several million mapping rows. */
const QUICK_SEED: RegistrySeedOptions = {
  seed: 31,
  resources: 4_000,
  versionsPerResource: 5,
  tenants: 3,
  versioningOffRows: 300,
  orphanEntities: 200,
  chunkResources: 1_000,
};
const FULL_SEED: RegistrySeedOptions = {
  ...QUICK_SEED,
  resources: 200_000,
  versioningOffRows: 5_000,
  orphanEntities: 2_000,
  chunkResources: 2_000,
};

/** A statement of the reference that runs longer than this is stopped, and the reference reported as "over". */
const QUICK_STATEMENT_CAP_S = 60;
const FULL_STATEMENT_CAP_S = 300;

interface Engine {
  engine: Extract<DbEngine, 'postgresql' | 'mariadb'>;
  label: string;
  target(database: string): DatabaseTarget;
  /** The reference: the client tool on the SQL file, capped per statement. */
  reference(database: string, sqlFile: string, capS: number): Promise<Sample>;
}

const POSTGRES: Engine = {
  engine: 'postgresql',
  label: 'PostgreSQL',
  target: (database) =>
    target('postgresql', process.env['PGHOST'] ?? '127.0.0.1', Number(process.env['PGPORT'] ?? 5432), database, {
      username: process.env['PGUSER'] ?? 'postgres',
      password: process.env['PGPASSWORD'] ?? '',
    }),
  reference: (database, sqlFile, capS) => {
    const admin = POSTGRES.target(database);
    return timeCommand(
      'psql',
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', admin.host, '-p', String(admin.port)].concat([
        '-U',
        admin.username,
        '-d',
        database,
        '-f',
        sqlFile,
      ]),
      {
        env: {
          ...process.env,
          PGPASSWORD: admin.password,
          PGOPTIONS: `-c statement_timeout=${capS * 1000}`,
        },
      },
    );
  },
};

let mariadbClient: string | undefined;

const MARIADB: Engine = {
  engine: 'mariadb',
  label: 'MariaDB',
  target: (database) => target('mariadb', '127.0.0.1', 3306, database, { username: 'root', password: '' }),
  reference: async (database, sqlFile, capS) => {
    mariadbClient ??= (await exists('/usr/bin/mariadb')) ? 'mariadb' : 'mysql';
    const admin = MARIADB.target(database);
    // max_statement_time is MariaDB's per-statement cap (seconds); MySQL would need max_execution_time (SELECT only).
    return timeCommand('bash', [
      '-o',
      'pipefail',
      '-c',
      `exec ${mariadbClient} -h ${admin.host} -P ${admin.port} -u ${admin.username} ` +
        `--init-command="SET SESSION max_statement_time = ${capS}" ${database} < "$1"`,
      'reference',
      sqlFile,
    ]);
  },
};

function target(
  engine: DbEngine,
  host: string,
  port: number,
  database: string,
  login: { username: string; password: string },
): DatabaseTarget {
  return {
    name: 'shared_db',
    engine,
    url: `jdbc:${engine}://${host}:${port}/${database}`,
    host,
    port,
    database,
    params: {},
    username: login.username,
    password: login.password,
    source: 'config',
  };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function withSession<T>(target: DatabaseTarget, work: (session: DbSession) => Promise<T>): Promise<T> {
  const session = await openSession(target);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

/** Where bench/reference-sql is: next to the repository of the built CLI, or under the current folder. */
async function referenceSqlDir(context: BenchContext): Promise<string> {
  const candidates = [
    path.resolve(path.dirname(context.cli), '..', '..', 'bench', 'reference-sql'),
    path.resolve('bench', 'reference-sql'),
  ];
  for (const candidate of candidates) if (await exists(path.join(candidate, 'postgresql.sql'))) return candidate;
  throw new Error(`bench/reference-sql not found (looked in ${candidates.join(', ')})`);
}

/** The pristine copy, seeded once, and the work copy every run starts from. */
class RegistryCopies {
  readonly pristine: string;
  readonly work: string;
  private readonly admin: DatabaseTarget;

  constructor(
    readonly engine: Engine,
    prefix: string,
  ) {
    this.pristine = `${prefix}_pristine`;
    this.work = `${prefix}_work`;
    this.admin = engine.target(engine.engine === 'postgresql' ? 'postgres' : 'mysql');
  }

  /** Creates and seeds the pristine database, with Step 1a's indices, statistics up to date. */
  async seed(options: RegistrySeedOptions): Promise<SeededRegistry> {
    await this.drop();
    await this.adminQuery([`CREATE DATABASE ${this.pristine}`]);
    return withSession(this.engine.target(this.pristine), async (session) => {
      await createRegistrySchema(session);
      const seeded = await seedRegistry(session, options);
      await createMissingRegistryIndices(session);
      await analyze(session);
      return seeded;
    });
  }

  /** The work database as the pristine one is. */
  async reset(): Promise<void> {
    if (this.engine.engine === 'postgresql') {
      await this.adminQuery([
        `DROP DATABASE IF EXISTS ${this.work} WITH (FORCE)`,
        `CREATE DATABASE ${this.work} TEMPLATE ${this.pristine}`,
      ]);
      return;
    }
    await this.adminQuery([`DROP DATABASE IF EXISTS ${this.work}`, `CREATE DATABASE ${this.work}`]);
    await withSession(this.engine.target(this.work), async (session) => {
      // The same DDL (foreign keys included, which CREATE TABLE ... LIKE would not copy), then the rows.
      await createRegistrySchema(session);
      await createMissingRegistryIndices(session);
      await session.query('SET SESSION foreign_key_checks = 0');
      for (const table of REGISTRY_TABLES) {
        await session.query(`INSERT INTO ${table} SELECT * FROM ${this.pristine}.${table}`);
      }
      await session.query('SET SESSION foreign_key_checks = 1');
      await analyze(session);
    });
  }

  async drop(): Promise<void> {
    const force = this.engine.engine === 'postgresql' ? ' WITH (FORCE)' : '';
    await this.adminQuery([
      `DROP DATABASE IF EXISTS ${this.work}${force}`,
      `DROP DATABASE IF EXISTS ${this.pristine}${force}`,
    ]);
  }

  private async adminQuery(statements: string[]): Promise<void> {
    await withSession(this.admin, async (session) => {
      for (const statement of statements) await session.query(statement);
    });
  }
}

async function analyze(session: DbSession): Promise<void> {
  if (session.engine === 'postgresql') await session.query('ANALYZE');
  else await session.query(`ANALYZE TABLE ${REGISTRY_TABLES.join(', ')}`);
}

/** Compares every table with what the generator says it must hold after the removal; throws on a difference. */
async function checkResult(engine: Engine, database: string, seeded: SeededRegistry, who: string): Promise<void> {
  const actual = await withSession(engine.target(database), (session) => tableChecksums(session, REGISTRY_TABLES));
  const expected = expectedAfterRemoval(seeded, ALL_ON);
  const wrong = REGISTRY_TABLES.filter(
    (table) => actual[table]?.rows !== expected[table].rows || actual[table]?.checksum !== expected[table].checksum,
  ).map(
    (table) =>
      `${table}: ${actual[table]?.rows ?? 'no'} rows (${actual[table]?.checksum}), expected ${expected[table].rows} (${expected[table].checksum})`,
  );
  if (wrong.length > 0) {
    throw new Error(`${engine.label}: the ${who} left the registry wrong:\n  ${wrong.join('\n  ')}`);
  }
}

export async function run(context: BenchContext): Promise<BenchSection> {
  const seedOptions = context.quick ? QUICK_SEED : FULL_SEED;
  const capS = context.quick ? QUICK_STATEMENT_CAP_S : FULL_STATEMENT_CAP_S;
  const runs = 3;
  const sqlDir = await referenceSqlDir(context);
  const comparisons: ComparisonResult[] = [];
  const figures: Figure[] = [];
  const capped: string[] = [];

  for (const engine of [POSTGRES, MARIADB]) {
    const copies = new RegistryCopies(engine, `apim_bench_reg_${process.pid}`);
    try {
      context.log(`${SECTION}: seeding ${engine.label} (${seedOptions.resources} resources)`);
      const seeded = await copies.seed(seedOptions);
      const before = seeded.before;
      const mappingRows =
        before.REG_RESOURCE_TAG.rows +
        before.REG_RESOURCE_COMMENT.rows +
        before.REG_RESOURCE_PROPERTY.rows +
        before.REG_RESOURCE_RATING.rows;
      const entityRows =
        before.REG_TAG.rows + before.REG_COMMENT.rows + before.REG_PROPERTY.rows + before.REG_RATING.rows;
      const deleted = Object.values(seeded.removal).reduce((sum, kind) => sum + kind.mappingRowsToDelete, 0);
      const name = `${engine.label}, ${(mappingRows / 1e6).toFixed(2)} M mapping rows`;
      figures.push({
        section: SECTION,
        name: `${engine.label}: registry seeded`,
        value:
          `${seedOptions.resources} resources, ${mappingRows} mapping rows (${deleted} of them old versions or ` +
          `unversioned), ${entityRows} entity rows; seeded in ${formatMs(seeded.durationMs)}`,
      });

      const checked = { subject: false, reference: false };
      const sqlFile = path.join(sqlDir, engine.engine === 'postgresql' ? 'postgresql.sql' : 'mysql.sql');
      const result = await compare(
        {
          section: SECTION,
          name,
          runs,
          goal: { maxRatio: 1, text: 'faster than the correlated SQL (ratio < 1)' },
          beforeEach: () => copies.reset(),
          subject: {
            label: 'apim-migrate removeVersioningDetails',
            run: async () => {
              const started = performance.now();
              await withSession(engine.target(copies.work), (session) => removeVersioningDetails(session, ALL_ON));
              const sample: Sample = { wallMs: performance.now() - started };
              if (!checked.subject) {
                await checkResult(engine, copies.work, seeded, 'subject');
                checked.subject = true;
              }
              return sample;
            },
          },
          reference: {
            label: `correlated SQL via ${engine.engine === 'postgresql' ? 'psql' : 'mysql client'}`,
            run: async () => {
              const started = performance.now();
              let sample: Sample;
              try {
                sample = await engine.reference(copies.work, sqlFile, capS);
              } catch (error) {
                if (!/statement timeout|max_statement_time|Query execution was interrupted/i.test(String(error))) {
                  throw error;
                }
                const wallMs = performance.now() - started;
                capped.push(
                  `${engine.label}: a statement of the reference ran into the ${capS} s cap after ${formatMs(wallMs)}`,
                );
                return { wallMs, capped: true };
              }
              if (!checked.reference) {
                await checkResult(engine, copies.work, seeded, 'reference');
                checked.reference = true;
              }
              return sample;
            },
          },
        },
        context.log,
      );
      comparisons.push(result);
    } finally {
      await copies.drop().catch((error: unknown) => context.log(`${SECTION}: cleanup failed: ${String(error)}`));
    }
  }

  const notes = [
    "Registry scripts: apim-migrate's removal of registry versioning details (`removeVersioningDetails`, all four " +
      'flags on, one transaction of three set-based statements per table: anti-join DELETE, join UPDATE of the rows ' +
      "that differ, NOT EXISTS DELETE of the orphans) against the four phases of WSO2's guide written as plain " +
      'correlated SQL (`bench/reference-sql/`, statement by statement, autocommit) run by `psql` and the MariaDB ' +
      'client. Both start from the same seeded registry after Step 1a (the two indices exist), copied before every ' +
      'run and not timed (PostgreSQL: `CREATE DATABASE ... TEMPLATE`; MariaDB: the same DDL, then `INSERT ... ' +
      "SELECT`, then `ANALYZE TABLE`). The first run of each is checked table by table against the generator's " +
      "checksums of what the removal must leave. The subject's time includes opening and closing its connection, " +
      "as the reference's includes starting the client.",
    `Every statement of the reference is capped at ${capS} s (PostgreSQL \`statement_timeout\`, MariaDB ` +
      '`max_statement_time`); a capped reference is reported with the time at which it was stopped, so its ratio ' +
      'is an upper bound, and it is not run again in the later rounds.' +
      (capped.length > 0
        ? ` In this run: ${[...new Set(capped)].join('; ')}.`
        : ' No statement reached the cap in this run.'),
    'Why the reference is slow on PostgreSQL: deleting an entity makes PostgreSQL check the foreign key of its ' +
      "mapping table; WSO2's schema has no index on `REG_RESOURCE_COMMENT (REG_COMMENT_ID, ...)` or " +
      '`REG_RESOURCE_RATING (REG_RATING_ID, ...)`, so each deleted comment or rating scans the whole mapping table ' +
      '(quadratic). apim-migrate adds such an index inside its transaction and drops it before COMMIT. The ' +
      "correlated UPDATEs themselves are index lookups on REG_RESOURCE's primary key, one per row, on both DBMSs; " +
      'the reference also writes every remaining row twice (phases 1 and 4), where apim-migrate writes each row ' +
      'that differs once.',
  ];
  return { title: 'Registry scripts', comparisons, figures, notes };
}
