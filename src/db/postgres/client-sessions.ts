/**
 * PostgreSQL's client sessions: pg_stat_activity of the current database, client backends only, and for each one
 * that waits on a lock the sessions that block it (pg_blocking_pids). PostgreSQL documents both in "The Cumulative
 * Statistics System" (pg_stat_activity: backend_type, state, query_start, wait_event_type = 'Lock') and "System
 * Information Functions" (pg_blocking_pids).
 */

import type { ClientSession } from '../dialect.js';
import { isApimMigrateClientName, type DbSession } from '../session.js';

interface ActivityRow {
  pid: number;
  user_name: string | null;
  application_name: string | null;
  client_addr: string | null;
  client_port: number | null;
  connected_at: string | null;
  state: string | null;
  query: string | null;
  running_seconds: number | string | null;
  wait_event_type: string | null;
  wait_event: string | null;
  blocked_by: number[] | null;
}

export async function postgresClientSessions(session: DbSession): Promise<ClientSession[]> {
  const rows = await session.query<ActivityRow>(
    `SELECT a.pid AS pid, a.usename AS user_name, a.application_name AS application_name,
            host(a.client_addr) AS client_addr, a.client_port AS client_port,
            to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS connected_at,
            a.state AS state, a.query AS query,
            CASE WHEN a.state = 'active' THEN floor(EXTRACT(EPOCH FROM clock_timestamp() - a.query_start)) END
              AS running_seconds,
            a.wait_event_type AS wait_event_type, a.wait_event AS wait_event,
            CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END AS blocked_by
       FROM pg_stat_activity a
      WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
      ORDER BY a.backend_start, a.pid`,
  );
  return rows.map((row) => {
    const client = row.client_addr
      ? `${row.client_addr}${row.client_port && row.client_port > 0 ? `:${row.client_port}` : ''}`
      : row.client_port === -1
        ? 'local socket'
        : undefined;
    return {
      id: Number(row.pid),
      ...(row.user_name ? { user: row.user_name } : {}),
      ...(row.application_name ? { application: row.application_name } : {}),
      ...(client ? { client } : {}),
      ...(row.connected_at ? { connectedAt: row.connected_at } : {}),
      ...(row.state ? { state: row.state } : {}),
      ...(row.query ? { statement: row.query } : {}),
      ...(row.running_seconds === null ? {} : { runningSeconds: Number(row.running_seconds) }),
      ...(row.wait_event_type === 'Lock'
        ? { lockWait: { on: `a ${row.wait_event ?? 'lock'} lock`, blockedBy: (row.blocked_by ?? []).map(Number) } }
        : {}),
      ...(isApimMigrateClientName(row.application_name) ? { apimMigrate: 'named' as const } : {}),
    };
  });
}
