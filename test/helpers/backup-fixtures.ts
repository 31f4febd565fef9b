/**
 * WSO2-shaped scratch data for backup and restore tests, and a fingerprint of a database
 * (every table's rows, columns, sequences, routines, triggers and views) to compare before and after.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { DatabaseTarget } from '../../src/config/types.js';
import { listTables } from '../../src/db/dialects.js';
import { openSession, type DbSession } from '../../src/db/session.js';

/** A value that appears in the data and nowhere else, to look for plaintext in backup files. */
export const DISTINCTIVE_VALUE = 'Quokka-Marmalade-Zeppelin-4471';

export async function withSession<T>(target: DatabaseTarget, work: (session: DbSession) => Promise<T>): Promise<T> {
  const session = await openSession(target);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

/** Every byte value, then random bytes: binary data that must come back exactly. */
function binaryValue(seed: number): Buffer {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  return Buffer.concat([all, randomBytes(64 + seed * 7)]);
}

/**
 * Tables am_api (with a trigger), reg_content (binary), am_empty (no rows) and "Mixed Case"
 * (a name that needs quoting); on MySQL/MariaDB also a function and a procedure.
 */
export async function seedBackupFixture(target: DatabaseTarget): Promise<void> {
  await withSession(target, async (session) => {
    const pg = session.engine === 'postgresql';
    const p = (n: number) => (pg ? `$${n}` : '?');
    const statements = pg
      ? [
          `CREATE TABLE am_api (api_id SERIAL PRIMARY KEY, api_name VARCHAR(100) NOT NULL, context VARCHAR(200),
            created TIMESTAMP DEFAULT now(), revision INTEGER DEFAULT 0)`,
          `CREATE TABLE reg_content (reg_content_id SERIAL PRIMARY KEY, reg_content_data BYTEA, reg_tenant_id INTEGER)`,
          `CREATE TABLE am_empty (id INTEGER PRIMARY KEY)`,
          `CREATE TABLE "Mixed Case" (id INTEGER, note TEXT)`,
          `CREATE FUNCTION am_api_bump() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN NEW.revision := OLD.revision + 1; RETURN NEW; END $$`,
          `CREATE TRIGGER am_api_bump BEFORE UPDATE ON am_api FOR EACH ROW EXECUTE FUNCTION am_api_bump()`,
        ]
      : [
          `CREATE TABLE AM_API (API_ID INTEGER AUTO_INCREMENT PRIMARY KEY, API_NAME VARCHAR(100) NOT NULL,
            CONTEXT VARCHAR(200), CREATED TIMESTAMP DEFAULT CURRENT_TIMESTAMP, REVISION INTEGER DEFAULT 0)
            ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
          `CREATE TABLE REG_CONTENT (REG_CONTENT_ID INTEGER AUTO_INCREMENT PRIMARY KEY, REG_CONTENT_DATA LONGBLOB,
            REG_TENANT_ID INTEGER) ENGINE=InnoDB`,
          `CREATE TABLE AM_EMPTY (ID INTEGER PRIMARY KEY) ENGINE=InnoDB`,
          'CREATE TABLE `Mixed Case` (id INTEGER, note TEXT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
          `CREATE TRIGGER AM_API_BUMP BEFORE UPDATE ON AM_API FOR EACH ROW SET NEW.REVISION = OLD.REVISION + 1`,
          `CREATE FUNCTION AM_DOUBLE(x INT) RETURNS INT DETERMINISTIC RETURN x * 2`,
          `CREATE PROCEDURE AM_TOUCH() UPDATE AM_API SET CONTEXT = CONTEXT`,
        ];
    for (const statement of statements) await session.query(statement);
    const api = pg ? 'am_api (api_name, context)' : 'AM_API (API_NAME, CONTEXT)';
    const content = pg
      ? 'reg_content (reg_content_data, reg_tenant_id)'
      : 'REG_CONTENT (REG_CONTENT_DATA, REG_TENANT_ID)';
    for (let i = 1; i <= 40; i += 1) {
      const name = i === 7 ? DISTINCTIVE_VALUE : `api-${i} Ünïcødé ✓ 🦘 'quoted' "double" \\ back`;
      await session.query(`INSERT INTO ${api} VALUES (${p(1)}, ${p(2)})`, [name, `/api/${i}`]);
      await session.query(`INSERT INTO ${content} VALUES (${p(1)}, ${p(2)})`, [binaryValue(i), -1234]);
    }
    await session.query(`INSERT INTO ${content} VALUES (NULL, 1)`);
    const mixed = pg ? '"Mixed Case"' : '`Mixed Case`';
    await session.query(`INSERT INTO ${mixed} VALUES (1, ${p(1)}), (2, NULL)`, ['line one\nline two\ttab']);
  });
}

/**
 * What a migration stage might do: change, delete and add rows, drop a table and a routine,
 * create a table (with a foreign key to an old one) and a view after the backup.
 */
export async function changeFixture(target: DatabaseTarget): Promise<void> {
  await withSession(target, async (session) => {
    const statements =
      session.engine === 'postgresql'
        ? [
            `UPDATE am_api SET api_name = 'changed' WHERE api_id <= 5`,
            `DELETE FROM reg_content WHERE reg_content_id % 2 = 0`,
            `INSERT INTO am_api (api_name) VALUES ('added after the backup')`,
            `DROP TABLE am_empty`,
            `CREATE TABLE am_api_revision (id INTEGER PRIMARY KEY, api_id INTEGER REFERENCES am_api (api_id))`,
            `INSERT INTO am_api_revision VALUES (1, 1)`,
            `CREATE VIEW am_api_names AS SELECT api_name FROM am_api`,
            `DROP TRIGGER am_api_bump ON am_api`,
          ]
        : [
            `UPDATE AM_API SET API_NAME = 'changed' WHERE API_ID <= 5`,
            `DELETE FROM REG_CONTENT WHERE REG_CONTENT_ID % 2 = 0`,
            `INSERT INTO AM_API (API_NAME) VALUES ('added after the backup')`,
            `DROP TABLE AM_EMPTY`,
            `CREATE TABLE AM_API_REVISION (ID INTEGER PRIMARY KEY, API_ID INTEGER,
              FOREIGN KEY (API_ID) REFERENCES AM_API (API_ID)) ENGINE=InnoDB`,
            `INSERT INTO AM_API_REVISION VALUES (1, 1)`,
            `CREATE VIEW AM_API_NAMES AS SELECT API_NAME FROM AM_API`,
            `DROP TRIGGER AM_API_BUMP`,
            `DROP FUNCTION AM_DOUBLE`,
          ];
    for (const statement of statements) await session.query(statement);
  });
}

/** A table of `rows` rows of ~200 bytes each, so that a dump runs long enough to be watched. */
export async function fillBigTable(target: DatabaseTarget, rows: number): Promise<void> {
  await withSession(target, async (session) => {
    if (session.engine === 'postgresql') {
      await session.query('CREATE TABLE big_table (id INTEGER PRIMARY KEY, payload TEXT)');
      await session.query(
        `INSERT INTO big_table SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, ${rows}) AS g`,
      );
    } else {
      await session.query('CREATE TABLE big_table (id INTEGER PRIMARY KEY, payload TEXT) ENGINE=InnoDB');
      await session.query(`INSERT INTO big_table SELECT seq, REPEAT(MD5(seq), 6) FROM seq_1_to_${rows}`);
    }
  });
}

function hash(value: unknown): string {
  return createHash('sha256')
    .update(
      JSON.stringify(value, (_key, item: unknown) => {
        if (item instanceof Date) return item.toISOString();
        if (Buffer.isBuffer(item)) return `hex:${item.toString('hex')}`;
        if (typeof item === 'bigint') return item.toString();
        return item;
      }),
    )
    .digest('hex');
}

/** Buffers arrive as `{ type: 'Buffer', data }` once JSON.stringify has called toJSON; normalise first. */
function normaliseRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = Buffer.isBuffer(value) ? `hex:${value.toString('hex')}` : value;
  }
  return out;
}

/** A checksum of every table's rows and of the schema objects around them, by object. */
export async function databaseChecksums(target: DatabaseTarget): Promise<Record<string, string>> {
  return withSession(target, async (session) => {
    const sums: Record<string, string> = {};
    for (const table of await listTables(session)) {
      const rows = await session.query(`SELECT * FROM ${table.quoted}`);
      const lines = rows.map((row) => JSON.stringify(normaliseRow(row))).sort();
      sums[`table ${table.key}`] = `${rows.length} rows ${hash(lines)}`;
    }
    const pg = session.engine === 'postgresql';
    const queries: Array<[string, string]> = pg
      ? [
          [
            'columns',
            `SELECT table_name, column_name, data_type, column_default, is_nullable FROM information_schema.columns
              WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
          ],
          ['sequences', `SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1`],
          [
            'routines',
            `SELECT p.proname, pg_get_functiondef(p.oid) AS def FROM pg_proc p
               JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1`,
          ],
          [
            'triggers',
            `SELECT tgname, pg_get_triggerdef(oid) AS def FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`,
          ],
          ['views', `SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = 'public'`],
        ]
      : [
          [
            'columns',
            `SELECT table_name AS t, column_name AS c, column_type AS ty, column_default AS d, is_nullable AS n
               FROM information_schema.columns WHERE table_schema = DATABASE() ORDER BY t, ordinal_position`,
          ],
          [
            'sequences',
            `SELECT table_name AS t, auto_increment AS a FROM information_schema.tables
              WHERE table_schema = DATABASE() ORDER BY t`,
          ],
          [
            'routines',
            `SELECT routine_name AS n, routine_type AS t, routine_definition AS d FROM information_schema.routines
              WHERE routine_schema = DATABASE() ORDER BY n`,
          ],
          [
            'triggers',
            `SELECT trigger_name AS n, action_statement AS s FROM information_schema.triggers
              WHERE trigger_schema = DATABASE() ORDER BY n`,
          ],
          [
            'views',
            `SELECT table_name AS n, view_definition AS d FROM information_schema.views
              WHERE table_schema = DATABASE() ORDER BY n`,
          ],
        ];
    for (const [name, sql] of queries) {
      const rows = await session.query(sql);
      sums[name] = `${rows.length} ${hash(rows.map(normaliseRow))}`;
    }
    return sums;
  });
}
