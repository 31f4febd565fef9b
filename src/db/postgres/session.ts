/** Sessions over `pg`, with TLS and the search path as the JDBC URL asks. */

import type { ConnectionOptions as TlsOptions } from 'node:tls';
import pg from 'pg';
import { isJdbcTrue, jdbcParam } from '../../config/jdbc-url.js';
import type { DatabaseTarget } from '../../config/types.js';
import { APIM_MIGRATE_CLIENT_NAME, toConnectError, type DbSession } from '../session.js';

export async function openPostgresSession(target: DatabaseTarget, timeoutMs: number): Promise<DbSession> {
  const searchPath = jdbcParam(target, 'currentSchema');
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.username,
    password: target.password,
    connectionTimeoutMillis: timeoutMs,
    application_name: APIM_MIGRATE_CLIENT_NAME,
    ssl: mapPostgresSsl(target),
    // JDBC's currentSchema decides which schema unqualified WSO2 table names resolve to.
    ...(searchPath ? { options: `-c search_path=${escapeStartupOption(searchPath)}` } : {}),
  });
  // A server that drops an idle connection must not crash the process; the next query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw toConnectError(target, error);
  }
  return {
    target,
    engine: target.engine,
    async query<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
      const result = await client.query(sql, params ? [...params] : undefined);
      return (result.rows ?? []) as T[];
    },
    async close(): Promise<void> {
      await client.end();
    },
  };
}

/** pgJDBC: `ssl=true` or `sslmode=require|verify-ca|verify-full`; only the verify modes check the certificate. */
export function mapPostgresSsl(target: Pick<DatabaseTarget, 'engine' | 'params'>): false | TlsOptions {
  const mode = jdbcParam(target, 'sslmode')?.toLowerCase();
  if (mode === 'verify-full') return { rejectUnauthorized: true };
  // verify-ca trusts the chain but not the host name, as libpq does.
  if (mode === 'verify-ca') return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
  if (mode === 'require') return { rejectUnauthorized: false };
  if (mode === 'disable' || mode === 'allow' || mode === 'prefer') return false;
  // pgJDBC's bare ssl=true means verify-full.
  return isJdbcTrue(jdbcParam(target, 'ssl')) ? { rejectUnauthorized: true } : false;
}

/** libpq startup options split on spaces; a backslash keeps a space or backslash literal. */
function escapeStartupOption(value: string): string {
  return value.replace(/([\\ ])/g, '\\$1');
}
