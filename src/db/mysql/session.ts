/** Sessions over `mysql2`, with TLS as the JDBC URL asks. */

import mysql, { type Connection as MysqlConnection, type SslOptions as MysqlSslOptions } from 'mysql2/promise';
import { isJdbcTrue, jdbcParam } from '../../config/jdbc-url.js';
import type { DatabaseTarget } from '../../config/types.js';
import { APIM_MIGRATE_CLIENT_NAME, toConnectError, type DbSession } from '../session.js';

/** The prefix of the user lock that marks an apim-migrate connection: the connection id follows it. */
export const MYSQL_SESSION_MARK = 'apim-migrate-session:';

export async function openMysqlSession(target: DatabaseTarget, timeoutMs: number): Promise<DbSession> {
  const ssl = mapMysqlSsl(target);
  let connection: MysqlConnection;
  try {
    connection = await mysql.createConnection({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.username,
      password: target.password,
      connectTimeout: timeoutMs,
      // Where the server records connection attributes (MySQL's performance_schema), this names the session ours.
      connectAttributes: { program_name: APIM_MIGRATE_CLIENT_NAME },
      ...(ssl ? { ssl } : {}),
    });
  } catch (error) {
    throw toConnectError(target, error);
  }
  connection.on('error', () => undefined);
  // A user lock named after the connection marks it as apim-migrate's to other sessions (IS_USED_LOCK), whether or
  // not the server records connection attributes; it goes with the connection. A server that refuses it only
  // loses the mark.
  await connection.query('SELECT GET_LOCK(CONCAT(?, CONNECTION_ID()), 0)', [MYSQL_SESSION_MARK]).catch(() => undefined);
  return {
    target,
    engine: target.engine,
    async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
      const [rows] = await connection.query(sql, params ? [...params] : []);
      // DDL and DML answer with a result header, not rows.
      return Array.isArray(rows) ? (rows as T[]) : [];
    },
    async close(): Promise<void> {
      await connection.end();
    },
  };
}

/**
 * Connector/J: `sslMode=REQUIRED|VERIFY_CA|VERIFY_IDENTITY`, or the older `useSSL`/`requireSSL` with
 * `verifyServerCertificate`. mysql2 checks the chain with rejectUnauthorized and the host with verifyIdentity.
 */
export function mapMysqlSsl(target: Pick<DatabaseTarget, 'engine' | 'params'>): MysqlSslOptions | undefined {
  const mode = jdbcParam(target, 'sslMode')?.toUpperCase();
  if (mode === 'VERIFY_IDENTITY') return { rejectUnauthorized: true, verifyIdentity: true };
  if (mode === 'VERIFY_CA') return { rejectUnauthorized: true };
  if (mode === 'REQUIRED') return { rejectUnauthorized: false };
  if (mode === 'DISABLED' || mode === 'PREFERRED') return undefined;
  if (isJdbcTrue(jdbcParam(target, 'useSSL')) || isJdbcTrue(jdbcParam(target, 'requireSSL'))) {
    return { rejectUnauthorized: isJdbcTrue(jdbcParam(target, 'verifyServerCertificate')) };
  }
  return undefined;
}
