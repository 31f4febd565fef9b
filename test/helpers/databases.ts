/**
 * Scratch databases, roles and WSO2-shaped user-store tables on the machine's real PostgreSQL
 * and MariaDB, for integration tests. Everything is created through the admin logins
 * (postgres on PostgreSQL, root on MariaDB) and removed again by `drop()`.
 */

import { randomBytes } from 'node:crypto';
import type { DatabaseName, DatabaseTarget, DbEngine } from '../../src/config/types.js';
import { openSession, type DbSession } from '../../src/db/session.js';

export const POSTGRES_HOST = '127.0.0.1';
export const POSTGRES_PORT = 5432;
export const MARIADB_HOST = '127.0.0.1';
export const MARIADB_PORT = 3306;

/** The password-checked PostgreSQL login that `scripts/ensure-services.sh` prepares. */
export const PG_PASSWORD_TEST_ROLE = { username: 'apim_migrate_pwtest', password: 'apim-migrate-pwtest' } as const;

export interface ScratchDatabase {
  /** Points at the scratch database with the admin login. */
  target: DatabaseTarget;
  drop(): Promise<void>;
}

export interface ScratchLogin {
  username: string;
  password: string;
  /** Points at the scratch database with this login. */
  target: DatabaseTarget;
  drop(): Promise<void>;
}

interface TargetFields {
  engine: DbEngine;
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  name?: DatabaseName;
}

export function buildTarget(fields: TargetFields): DatabaseTarget {
  const scheme = fields.engine === 'postgresql' ? 'postgresql' : fields.engine;
  return {
    name: fields.name ?? 'shared_db',
    engine: fields.engine,
    url: `jdbc:${scheme}://${fields.host}:${fields.port}/${fields.database}`,
    host: fields.host,
    port: fields.port,
    database: fields.database,
    params: {},
    username: fields.username,
    password: fields.password,
    source: 'config',
  };
}

export function postgresAdminTarget(database = 'postgres'): DatabaseTarget {
  return buildTarget({
    engine: 'postgresql',
    host: POSTGRES_HOST,
    port: POSTGRES_PORT,
    database,
    username: 'postgres',
    password: '',
  });
}

export function mariadbAdminTarget(database = 'mysql'): DatabaseTarget {
  return buildTarget({
    engine: 'mariadb',
    host: MARIADB_HOST,
    port: MARIADB_PORT,
    database,
    username: 'root',
    password: '',
  });
}

/** Lower-case and unique across parallel test files, so no quoting is needed on either DBMS. */
export function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  return `${clean}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Runs statements over a short-lived admin session. */
async function runAsAdmin(target: DatabaseTarget, statements: string[]): Promise<void> {
  const session = await openSession(target);
  try {
    for (const statement of statements) await session.query(statement);
  } finally {
    await session.close();
  }
}

/** Doubling quotes is right on both DBMSs; the values quoted here never hold backslashes. */
function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export async function createScratchPostgres(prefix: string): Promise<ScratchDatabase> {
  const database = uniqueName(prefix);
  await runAsAdmin(postgresAdminTarget(), [`CREATE DATABASE ${database}`]);
  return {
    target: postgresAdminTarget(database),
    // WITH (FORCE) ends sessions a failed test left open.
    drop: () => runAsAdmin(postgresAdminTarget(), [`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]),
  };
}

export async function createScratchMariadb(prefix: string): Promise<ScratchDatabase> {
  const database = uniqueName(prefix);
  await runAsAdmin(mariadbAdminTarget(), [`CREATE DATABASE ${database}`]);
  return {
    target: mariadbAdminTarget(database),
    drop: () => runAsAdmin(mariadbAdminTarget(), [`DROP DATABASE IF EXISTS ${database}`]),
  };
}

function generatePassword(): string {
  return `pw-${randomBytes(9).toString('base64url')}`;
}

/** A PostgreSQL role with LOGIN but not SUPERUSER, owner of nothing, allowed into the scratch database. */
export async function createPostgresRole(scratch: ScratchDatabase, prefix = 'apim_role'): Promise<ScratchLogin> {
  const username = uniqueName(prefix);
  const password = generatePassword();
  await runAsAdmin(postgresAdminTarget(), [
    `CREATE ROLE ${username} LOGIN NOSUPERUSER PASSWORD ${quoteLiteral(password)}`,
    `GRANT ALL ON DATABASE ${scratch.target.database} TO ${username}`,
  ]);
  return {
    username,
    password,
    target: { ...scratch.target, username, password },
    drop: () =>
      runAsAdmin(postgresAdminTarget(), [
        `REVOKE ALL ON DATABASE ${scratch.target.database} FROM ${username}`,
        `DROP ROLE IF EXISTS ${username}`,
      ]),
  };
}

/** A MariaDB user with a password and all privileges on the scratch database only. */
export async function createMariadbUser(scratch: ScratchDatabase, prefix = 'apim_user'): Promise<ScratchLogin> {
  // MariaDB user names are limited to 80 characters; keep them short anyway.
  const username = uniqueName(prefix).slice(0, 60);
  const password = generatePassword();
  const account = `${quoteLiteral(username)}@'%'`;
  await runAsAdmin(mariadbAdminTarget(), [
    `CREATE USER ${account} IDENTIFIED BY ${quoteLiteral(password)}`,
    `GRANT ALL PRIVILEGES ON \`${scratch.target.database}\`.* TO ${account}`,
  ]);
  return {
    username,
    password,
    target: { ...scratch.target, username, password },
    drop: () => runAsAdmin(mariadbAdminTarget(), [`DROP USER IF EXISTS ${account}`]),
  };
}

export interface UserStoreSeed {
  adminInUmRole: boolean;
  adminInHybridRole: boolean;
  /** How `admin` is spelled in the rows; the conflict check ignores case. Default `admin`. */
  adminName?: string;
  /** Default -1234, the super tenant. */
  tenantId?: number;
}

/**
 * Creates UM_ROLE and UM_HYBRID_ROLE as WSO2's scripts do (unquoted names, so lower case on
 * PostgreSQL and upper case on MariaDB) with a few ordinary roles and, as asked, an admin row.
 */
export async function seedUserStoreTables(session: DbSession, seed: UserStoreSeed): Promise<void> {
  const tenantId = seed.tenantId ?? -1234;
  const admin = seed.adminName ?? 'admin';
  for (const statement of createUserStoreTableStatements(session.engine)) await session.query(statement);
  const placeholders = session.engine === 'postgresql' ? '($1, $2)' : '(?, ?)';
  const insertRole = `INSERT INTO UM_ROLE (UM_ROLE_NAME, UM_TENANT_ID) VALUES ${placeholders}`;
  const insertHybrid = `INSERT INTO UM_HYBRID_ROLE (UM_ROLE_NAME, UM_TENANT_ID) VALUES ${placeholders}`;
  await session.query(insertRole, ['publisher', tenantId]);
  await session.query(insertHybrid, ['everyone', tenantId]);
  await session.query(insertHybrid, ['subscriber', tenantId]);
  if (seed.adminInUmRole) await session.query(insertRole, [admin, tenantId]);
  if (seed.adminInHybridRole) await session.query(insertHybrid, [admin, tenantId]);
}

function createUserStoreTableStatements(engine: DbEngine): string[] {
  if (engine === 'postgresql') {
    return [
      `CREATE TABLE UM_ROLE (UM_ID SERIAL, UM_ROLE_NAME VARCHAR(255) NOT NULL, UM_TENANT_ID INTEGER DEFAULT 0,
        UM_SHARED_ROLE SMALLINT DEFAULT 0, PRIMARY KEY (UM_ID, UM_TENANT_ID), UNIQUE (UM_ROLE_NAME, UM_TENANT_ID))`,
      `CREATE TABLE UM_HYBRID_ROLE (UM_ID SERIAL, UM_ROLE_NAME VARCHAR(255), UM_TENANT_ID INTEGER DEFAULT 0,
        PRIMARY KEY (UM_ID, UM_TENANT_ID))`,
    ];
  }
  return [
    `CREATE TABLE UM_ROLE (UM_ID INTEGER NOT NULL AUTO_INCREMENT, UM_ROLE_NAME VARCHAR(255) NOT NULL,
      UM_TENANT_ID INTEGER DEFAULT 0, UM_SHARED_ROLE BOOLEAN DEFAULT FALSE, PRIMARY KEY (UM_ID, UM_TENANT_ID),
      UNIQUE (UM_ROLE_NAME, UM_TENANT_ID)) ENGINE INNODB`,
    `CREATE TABLE UM_HYBRID_ROLE (UM_ID INTEGER NOT NULL AUTO_INCREMENT, UM_ROLE_NAME VARCHAR(255),
      UM_TENANT_ID INTEGER DEFAULT 0, PRIMARY KEY (UM_ID, UM_TENANT_ID)) ENGINE INNODB`,
  ];
}
