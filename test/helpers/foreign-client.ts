/**
 * A client of a test database that is not apim-migrate: a raw driver connection with a name of its own, as an API-M
 * node's connection pool would hold, for the connected-clients guard and the run monitor.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { MigrationSetup, SetupEngine } from './migration-setup.js';
import { MARIADB_HOST, MARIADB_PORT, POSTGRES_HOST, POSTGRES_PORT } from './databases.js';

export interface ForeignClient {
  /** Runs a statement and leaves the session idle after it (PostgreSQL keeps it as the last statement). */
  query(sql: string): Promise<void>;
  /** Starts a statement and does not wait for it; what it gives is ignored. */
  start(sql: string): Promise<unknown>;
  /** Its server-side id (PostgreSQL backend pid, MariaDB connection id). */
  id: number;
  close(): Promise<void>;
}

/** The PostgreSQL application_name of the foreign client. */
export const FOREIGN_APPLICATION = 'API-M 3.1.0 node (test)';

export async function connectForeign(
  engine: SetupEngine,
  database: string,
  login: { username: string; password: string },
): Promise<ForeignClient> {
  if (engine === 'postgresql') {
    const client = new pg.Client({
      host: POSTGRES_HOST,
      port: POSTGRES_PORT,
      database,
      user: login.username,
      password: login.password,
      application_name: FOREIGN_APPLICATION,
    });
    client.on('error', () => undefined);
    await client.connect();
    const { rows } = await client.query<{ id: number }>('SELECT pg_backend_pid() AS id');
    return {
      id: Number(rows[0]?.id),
      query: async (sql) => void (await client.query(sql)),
      start: (sql) => client.query(sql).catch(() => undefined),
      close: () => client.end(),
    };
  }
  const connection = await mysql.createConnection({
    host: MARIADB_HOST,
    port: MARIADB_PORT,
    database,
    user: login.username,
    password: login.password,
  });
  connection.on('error', () => undefined);
  const [rows] = await connection.query('SELECT CONNECTION_ID() AS id');
  return {
    id: Number((rows as Array<{ id: unknown }>)[0]?.id),
    query: async (sql) => void (await connection.query(sql)),
    start: (sql) => connection.query(sql).catch(() => undefined),
    close: () => connection.end(),
  };
}

/** Ends a connection from the server's side, as an operator stopping a client would: its statement ends now. */
export async function endConnection(setup: MigrationSetup, id: number): Promise<void> {
  const session = await setup.adminSession();
  try {
    await session.query(setup.engine === 'postgresql' ? `SELECT pg_terminate_backend(${id})` : `KILL ${id}`);
  } finally {
    await session.close();
  }
}
