/**
 * The data profile against the machine's real PostgreSQL and MariaDB: scratch databases with WSO2-shaped tables
 * (the columns of WSO2's scripts that the profile reads), exact counts, the catalog's estimate above a (lowered)
 * threshold, OAuth tokens by state and expired, tables left out when absent, and the token-cleanup hint.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readDataProfile } from '../../src/db/data-profile.js';
import type { CharacterSetFacts } from '../../src/db/dialect.js';
import { dialectOf } from '../../src/db/dialects.js';
import { checkCharacterSets } from '../../src/db/index-widths.js';
import { openSession, type DbSession } from '../../src/db/session.js';
import { renderProfileLines, tokenCleanupHint } from '../../src/plan/data-profile.js';
import { TOKEN_CLEANUP_DOCS } from '../../src/wso2/workload-figures.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';

type Engine = 'postgresql' | 'mariadb';

/** WSO2-shaped tables: the names of WSO2's scripts and the columns the profile reads (plus a key). */
function schema(engine: Engine): string[] {
  const timestamp = engine === 'postgresql' ? 'TIMESTAMP' : 'TIMESTAMP NULL DEFAULT NULL';
  const text = engine === 'postgresql' ? 'TEXT' : 'LONGTEXT';
  return [
    'CREATE TABLE UM_TENANT (UM_ID INTEGER PRIMARY KEY, UM_DOMAIN_NAME VARCHAR(255) NOT NULL)',
    'CREATE TABLE AM_API (API_ID INTEGER PRIMARY KEY, API_NAME VARCHAR(255))',
    'CREATE TABLE AM_APPLICATION (APPLICATION_ID INTEGER PRIMARY KEY, NAME VARCHAR(100))',
    'CREATE TABLE AM_SUBSCRIPTION (SUBSCRIPTION_ID INTEGER PRIMARY KEY, API_ID INTEGER)',
    `CREATE TABLE IDN_OAUTH2_ACCESS_TOKEN (TOKEN_ID VARCHAR(255) PRIMARY KEY, ACCESS_TOKEN ${text},
       TIME_CREATED ${timestamp}, VALIDITY_PERIOD BIGINT, TOKEN_STATE VARCHAR(25) DEFAULT 'ACTIVE')`,
    'CREATE TABLE IDN_OAUTH2_AUTHORIZATION_CODE (CODE_ID VARCHAR(255) PRIMARY KEY)',
    'CREATE TABLE REG_LOG (REG_LOG_ID INTEGER PRIMARY KEY, REG_PATH VARCHAR(750))',
  ];
}

/** Now minus `seconds`, in UTC, as each DBMS writes it into a zone-less column. */
function utcAgo(engine: Engine, seconds: number): string {
  return engine === 'postgresql'
    ? `(CURRENT_TIMESTAMP AT TIME ZONE 'UTC') - INTERVAL '${seconds} seconds'`
    : `UTC_TIMESTAMP() - INTERVAL ${seconds} SECOND`;
}

const HOUR_MS = 3_600_000;

describe.each<[string, Engine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('the data profile on %s', (_label, engine) => {
  let scratch: ScratchDatabase | undefined;
  let session: DbSession | undefined;

  afterEach(async () => {
    await session?.close();
    session = undefined;
    await scratch?.drop();
    scratch = undefined;
  });

  async function seeded(): Promise<DbSession> {
    scratch = await (engine === 'postgresql' ? createScratchPostgres : createScratchMariadb)('profile');
    session = await openSession(scratch.target);
    // MariaDB's TIMESTAMP is stored from the session's zone: write UTC, as WSO2 does.
    if (engine === 'mariadb') await session.query("SET SESSION time_zone = '+00:00'");
    for (const statement of schema(engine)) await session.query(statement);
    await session.query("INSERT INTO UM_TENANT VALUES (1, 'a.example'), (2, 'b.example')");
    await session.query("INSERT INTO AM_API VALUES (1, 'PizzaShack'), (2, 'Weather'), (3, 'Maps')");
    await session.query("INSERT INTO AM_APPLICATION VALUES (1, 'DefaultApplication')");
    await session.query('INSERT INTO AM_SUBSCRIPTION VALUES (1, 1), (2, 2)');
    const tokens: Array<[string, number, number, string]> = [
      // id, seconds ago, validity (ms), state
      ['t-expired-active', 2 * 3600, HOUR_MS, 'ACTIVE'],
      ['t-valid', 60, HOUR_MS, 'ACTIVE'],
      ['t-forever', 10 * 24 * 3600, -1, 'ACTIVE'],
      ['t-expired-state', 3 * 3600, HOUR_MS, 'EXPIRED'],
      ['t-revoked-valid', 60, HOUR_MS, 'REVOKED'],
    ];
    for (const [id, ago, validity, state] of tokens) {
      await session.query(
        `INSERT INTO IDN_OAUTH2_ACCESS_TOKEN (TOKEN_ID, ACCESS_TOKEN, TIME_CREATED, VALIDITY_PERIOD, TOKEN_STATE) VALUES ('${id}', 'x', ${utcAgo(engine, ago)}, ${validity}, '${state}')`,
      );
    }
    await session.query("INSERT INTO IDN_OAUTH2_AUTHORIZATION_CODE VALUES ('c1'), ('c2')");
    await session.query("INSERT INTO REG_LOG VALUES (1, '/_system/governance/apimgt')");
    return session;
  }

  it('counts every table exactly below the threshold and gives the WSO2 figures of the tables present', async () => {
    const db = await seeded();
    const profile = await readDataProfile(db, { label: 'apim_db = shared_db' });
    const names = profile.tables.map((table) => (table.table.split('.').pop() ?? '').toUpperCase());
    expect(names.sort()).toEqual(
      [
        'AM_API',
        'AM_APPLICATION',
        'AM_SUBSCRIPTION',
        'IDN_OAUTH2_ACCESS_TOKEN',
        'IDN_OAUTH2_AUTHORIZATION_CODE',
        'REG_LOG',
        'UM_TENANT',
      ].sort(),
    );
    // Largest first, and the total is their sum.
    const bytes = profile.tables.map((table) => table.bytes);
    expect(bytes).toEqual([...bytes].sort((a, b) => b - a));
    expect(profile.totalBytes).toBe(bytes.reduce((sum, value) => sum + value, 0));
    expect(profile.databaseBytes).toBeGreaterThan(0);
    for (const table of profile.tables) expect(table.rows.estimate).toBe(false);

    const figures = Object.fromEntries(profile.figures.map((figure) => [figure.id, figure]));
    // REG_RESOURCE_HISTORY and REG_CONTENT_HISTORY are not there: left out, not an error.
    expect(Object.keys(figures).sort()).toEqual(
      [
        'access-tokens',
        'apis',
        'applications',
        'authorization-codes',
        'registry-log',
        'subscriptions',
        'tenants',
      ].sort(),
    );
    expect(figures['tenants']?.count).toEqual({ rows: 3, estimate: false });
    expect(figures['apis']?.count.rows).toBe(3);
    expect(figures['applications']?.count.rows).toBe(1);
    expect(figures['subscriptions']?.count.rows).toBe(2);
    expect(figures['authorization-codes']?.count.rows).toBe(2);
    expect(figures['registry-log']?.count.rows).toBe(1);
    const tokens = figures['access-tokens'];
    expect(tokens?.count).toEqual({ rows: 5, estimate: false });
    expect(tokens?.byValue).toEqual({ ACTIVE: 3, EXPIRED: 1, REVOKED: 1 });
    // Past TIME_CREATED + VALIDITY_PERIOD: the expired ACTIVE one and the one marked EXPIRED; -1 never expires.
    expect(tokens?.expired).toBe(2);

    const text = renderProfileLines([profile]).join('\n');
    expect(text).toContain(
      'OAuth access tokens (IDN_OAUTH2_ACCESS_TOKEN): 5; by state: ACTIVE 3, EXPIRED 1, REVOKED 1; expired: 2',
    );
    expect(text).toContain('tenants (UM_TENANT, plus the super tenant): 3');
  });

  it("gives the catalog's estimate, marked, above the threshold, and does not scan such a table for states", async () => {
    const db = await seeded();
    // The catalogs' estimates as ANALYZE leaves them.
    for (const table of ['IDN_OAUTH2_ACCESS_TOKEN', 'AM_API', 'UM_TENANT']) {
      await db.query(engine === 'postgresql' ? `ANALYZE ${table}` : `ANALYZE TABLE ${table}`);
    }
    const profile = await readDataProfile(db, { label: 'apim_db', exactCountBelowRows: 3 });
    const row = (name: string) => profile.tables.find((table) => table.table.toUpperCase().endsWith(name));
    expect(row('IDN_OAUTH2_ACCESS_TOKEN')?.rows).toEqual({ rows: 5, estimate: true });
    expect(row('AM_API')?.rows).toEqual({ rows: 3, estimate: true });
    expect(row('AM_SUBSCRIPTION')?.rows).toEqual({ rows: 2, estimate: false });
    const tokens = profile.figures.find((figure) => figure.id === 'access-tokens');
    expect(tokens?.count.estimate).toBe(true);
    expect(tokens?.byValue).toBeUndefined();
    expect(tokens?.expired).toBeUndefined();
    expect(tokens?.note).toMatch(/above 3 rows/);
    // UM_TENANT's 2 rows are below the threshold: counted, plus the super tenant.
    expect(profile.figures.find((figure) => figure.id === 'tenants')?.count).toEqual({ rows: 3, estimate: false });
    expect(renderProfileLines([profile]).join('\n')).toMatch(/IDN_OAUTH2_ACCESS_TOKEN: ~5 \(estimate\) rows/i);
  });

  it('keeps the catalog estimate for a real table above 1 million rows, at the default threshold', async () => {
    const db = await seeded();
    // Cheap on both: a server-side series (MariaDB's Sequence engine), not rows sent from here.
    await db.query(
      engine === 'postgresql'
        ? 'INSERT INTO AM_SUBSCRIPTION SELECT g, 1 FROM generate_series(3, 1200002) g'
        : 'INSERT INTO AM_SUBSCRIPTION SELECT seq, 1 FROM seq_3_to_1200002',
    );
    await db.query(engine === 'postgresql' ? 'ANALYZE AM_SUBSCRIPTION' : 'ANALYZE TABLE AM_SUBSCRIPTION');
    const profile = await readDataProfile(db, { label: 'apim_db' });
    const subscriptions = profile.figures.find((figure) => figure.id === 'subscriptions');
    expect(subscriptions?.count.estimate).toBe(true);
    // An estimate: near the 1,200,002 rows, not necessarily equal (InnoDB samples pages).
    expect(subscriptions?.count.rows).toBeGreaterThan(1_000_000);
    expect(subscriptions?.count.rows).toBeLessThan(1_500_000);
    expect(profile.tables[0]?.table.toUpperCase()).toMatch(/AM_SUBSCRIPTION$/);
    // The small tables are still counted exactly.
    expect(profile.figures.find((figure) => figure.id === 'apis')?.count).toEqual({ rows: 3, estimate: false });
  }, 60_000);

  it('points at WSO2 token cleanup once the token tables hold more than half of the bytes', async () => {
    const db = await seeded();
    const before = await readDataProfile(db, { label: 'apim_db' });
    expect(before.tokenTables.share).toBeLessThan(0.5);
    expect(tokenCleanupHint(before)).toBeUndefined();

    // Incompressible token text, as real tokens are: a few MB in the token table outweigh the small others.
    const token =
      engine === 'postgresql'
        ? "(SELECT string_agg(md5(random()::text || g::text), '') FROM generate_series(1, 64) g)"
        : 'CONCAT(' + Array.from({ length: 64 }, () => 'MD5(RAND())').join(', ') + ')';
    for (let batch = 0; batch < 20; batch += 1) {
      const values = Array.from(
        { length: 100 },
        (_, index) => `('bulk-${batch}-${index}', ${token}, ${utcAgo(engine, 30)}, ${HOUR_MS}, 'INACTIVE')`,
      );
      await db.query(
        `INSERT INTO IDN_OAUTH2_ACCESS_TOKEN (TOKEN_ID, ACCESS_TOKEN, TIME_CREATED, VALIDITY_PERIOD, TOKEN_STATE) VALUES ${values.join(', ')}`,
      );
    }
    if (engine === 'mariadb') await db.query('ANALYZE TABLE IDN_OAUTH2_ACCESS_TOKEN');
    const after = await readDataProfile(db, { label: 'apim_db' });
    expect(after.tokenTables.share).toBeGreaterThan(0.5);
    const hint = tokenCleanupHint(after);
    expect(hint).toContain(TOKEN_CLEANUP_DOCS);
    expect(hint).toMatch(/hold \d+% of the database's bytes/);
    expect(renderProfileLines([after]).join('\n')).toContain(`WARNING: ${hint ?? ''}`);
  });
});

describe('the character-set check on MariaDB', () => {
  let scratch: ScratchDatabase | undefined;
  let session: DbSession | undefined;

  afterEach(async () => {
    await session?.close();
    session = undefined;
    await scratch?.drop();
    scratch = undefined;
  });

  async function database(characterSet: string): Promise<DbSession> {
    scratch = await createScratchMariadb('charset');
    session = await openSession(scratch.target);
    await session.query(`ALTER DATABASE ${scratch.target.database} CHARACTER SET ${characterSet}`);
    return session;
  }

  it('warns where utf8mb4 meets a WSO2 key column, and MariaDB indeed refuses that index', async () => {
    const db = await database('utf8mb4');
    await db.query(
      'CREATE TABLE IDN_OAUTH2_ACCESS_TOKEN (TOKEN_ID VARCHAR(255), TOKEN_STATE VARCHAR(25)) ROW_FORMAT=COMPACT',
    );
    const facts = await dialectOf('mariadb').characterSets(db);
    expect(facts?.database.characterSet).toBe('utf8mb4');
    expect(facts?.tables).toEqual([
      expect.objectContaining({ table: 'IDN_OAUTH2_ACCESS_TOKEN', characterSet: 'utf8mb4', rowFormat: 'compact' }),
    ]);
    const checks = checkCharacterSets('apim_db', facts ?? ({} as CharacterSetFacts));
    const warnings = checks.filter((check) => check.verdict === 'warn').map((check) => check.message);
    expect(warnings).toHaveLength(2);
    expect(warnings.join('\n')).toContain('known problem mysql-key-too-long');
    expect(warnings[1]).toContain('IDN_OAUTH2_ACCESS_TOKEN (utf8mb4, compact)');
    // What the warning is about: a key on WSO2's VARCHAR(255) TOKEN_ID is over InnoDB's limit here (MariaDB says
    // error 1071 in a CREATE TABLE, 1709 for an index on an existing table).
    await expect(db.query('CREATE INDEX IDX_TOKEN_ID ON IDN_OAUTH2_ACCESS_TOKEN (TOKEN_ID)')).rejects.toThrow(
      /(Specified key was too long; max key length|Index column size too large\. The maximum column size) is 767 bytes/,
    );
    await expect(
      db.query('CREATE TABLE AM_API (API_ID VARCHAR(255), PRIMARY KEY (API_ID)) ROW_FORMAT=COMPACT'),
    ).rejects.toThrow(/(Specified key was too long|Index column size too large)/);
  });

  it('passes a latin1 database, naming its character set and collation', async () => {
    const db = await database('latin1');
    await db.query('CREATE TABLE AM_API (API_ID INTEGER PRIMARY KEY, API_NAME VARCHAR(255), KEY (API_NAME))');
    const facts = await dialectOf('mariadb').characterSets(db);
    const checks = checkCharacterSets('apim_db', facts ?? ({} as CharacterSetFacts));
    expect(checks.map((check) => check.verdict)).toEqual(['pass']);
    expect(checks[0]?.message).toMatch(
      /database character set latin1, collation latin1_\w+; .*latin1\/latin1_\w+ 1 \(AM_API\)/,
    );
  });

  it('has nothing to check on PostgreSQL', async () => {
    expect(await dialectOf('postgresql').characterSets(undefined as unknown as DbSession)).toBeUndefined();
  });
});
