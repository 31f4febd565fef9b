/**
 * PostgreSQL's stage lock: a session-level advisory lock on one fixed 64-bit key derived from "apim-migrate".
 * PostgreSQL scopes advisory locks per database, so runs on different databases of one server do not block each
 * other. The lock is polled with `pg_try_advisory_lock` until the deadline.
 */

import { createHash } from 'node:crypto';
import type { LockHolder, StageLockMechanism, StageLockOptions } from '../dialect.js';
import type { DbSession } from '../session.js';

const DEFAULT_POLL_MS = 1_000;

/**
 * The PostgreSQL advisory lock key: the first 8 bytes of sha256("apim-migrate") with the sign bit cleared, so
 * that it reads the same as a bigint and as pg_locks' (classid, objid) pair.
 */
export const ADVISORY_LOCK_KEY: bigint =
  createHash('sha256').update('apim-migrate').digest().readBigInt64BE(0) & 0x7fff_ffff_ffff_ffffn;

async function acquire(session: DbSession, options: StageLockOptions): Promise<boolean> {
  const waitMs = Math.max(0, options.waitMs);
  // application_name is how a waiting run names this one (pg_stat_activity); the server keeps 63 bytes.
  const applicationName = truncateUtf8(`apim-migrate: ${options.holder}`, 63);
  await session.query("SELECT set_config('application_name', $1, false)", [applicationName]);
  const pollMs = Math.max(10, options.pollMs ?? DEFAULT_POLL_MS);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const [row] = await session.query<{ acquired: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS acquired', [
      ADVISORY_LOCK_KEY.toString(),
    ]);
    if (row?.acquired === true) return true;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    await sleep(Math.min(pollMs, remaining));
  }
}

interface PostgresHolderRow {
  pid: number;
  application_name: string | null;
  user_name: string | null;
  client_addr: string | null;
  connected_at: string | null;
}

async function findHolder(session: DbSession): Promise<LockHolder | undefined> {
  // A bigint advisory key shows in pg_locks as classid = high 32 bits, objid = low 32 bits, objsubid = 1.
  const classId = (ADVISORY_LOCK_KEY >> 32n).toString();
  const objId = (ADVISORY_LOCK_KEY & 0xffff_ffffn).toString();
  const [row] = await session.query<PostgresHolderRow>(
    `SELECT l.pid AS pid, a.application_name AS application_name, a.usename AS user_name,
            host(a.client_addr) AS client_addr,
            to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS connected_at
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.classid = $1::oid AND l.objid = $2::oid
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LIMIT 1`,
    [classId, objId],
  );
  if (!row) return undefined;
  return {
    connectionId: Number(row.pid),
    ...(row.application_name ? { applicationName: row.application_name } : {}),
    ...(row.user_name ? { user: row.user_name } : {}),
    ...(row.client_addr ? { client: row.client_addr } : {}),
    ...(row.connected_at ? { connectedAt: row.connected_at } : {}),
  };
}

function truncateUtf8(text: string, maxBytes: number): string {
  let result = '';
  for (const char of text) {
    if (Buffer.byteLength(result + char) > maxBytes) break;
    result += char;
  }
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const POSTGRES_STAGE_LOCK: StageLockMechanism = {
  describe: () => `advisory lock ${ADVISORY_LOCK_KEY}`,
  acquire,
  async release(session) {
    const [row] = await session.query<{ released: unknown }>('SELECT pg_advisory_unlock($1::bigint) AS released', [
      ADVISORY_LOCK_KEY.toString(),
    ]);
    return row?.released === true;
  },
  findHolder,
  connectionLabel: (id) => `backend pid ${id}`,
  endConnection: (id) => (id === undefined ? 'pg_terminate_backend(<pid>)' : `SELECT pg_terminate_backend(${id})`),
};
