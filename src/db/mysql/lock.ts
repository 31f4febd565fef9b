/**
 * MySQL's and MariaDB's stage lock: `GET_LOCK(name, seconds)`. User locks are server-wide, so the name carries the
 * database name (and stays within the 64 characters the server allows). The server itself waits up to the deadline.
 */

import { createHash } from 'node:crypto';
import type { LockHolder, StageLockMechanism, StageLockOptions } from '../dialect.js';
import { describeAddress, type DbSession } from '../session.js';

const LOCK_NAME_PREFIX = 'apim-migrate:';
/** The longest `GET_LOCK` name the server accepts. */
const MAX_LOCK_NAME = 64;

/** The MySQL/MariaDB `GET_LOCK` name for a database: readable, unique per database, at most 64 characters. */
export function mysqlLockName(database: string): string {
  const max = MAX_LOCK_NAME;
  const full = `${LOCK_NAME_PREFIX}${database}`;
  if ([...full].length <= max) return full;
  // A long name keeps its start for people and gains a hash so that two long names stay apart.
  const hash = createHash('sha256').update(database).digest('hex').slice(0, 8);
  const room = max - LOCK_NAME_PREFIX.length - hash.length - 1;
  return `${LOCK_NAME_PREFIX}${[...database].slice(0, room).join('')}~${hash}`;
}

async function acquire(session: DbSession, options: StageLockOptions): Promise<boolean> {
  const waitMs = Math.max(0, options.waitMs);
  const name = mysqlLockName(session.target.database);
  // GET_LOCK takes fractional seconds; a negative timeout would mean "forever".
  const [row] = await session.query<{ acquired: number | string | null }>('SELECT GET_LOCK(?, ?) AS acquired', [
    name,
    waitMs / 1000,
  ]);
  const acquired = row?.acquired;
  if (acquired === null || acquired === undefined) {
    throw new Error(
      `GET_LOCK('${name}') failed on ${session.target.name} (${describeAddress(session.target)}): ` +
        'the server returned NULL (out of memory, or the connection was killed while waiting)',
    );
  }
  return Number(acquired) === 1;
}

interface MysqlProcessRow {
  user_name: string | null;
  host: string | null;
  seconds: number | string | null;
}

async function findHolder(session: DbSession): Promise<LockHolder | undefined> {
  const [used] = await session.query<{ holder: number | string | null }>('SELECT IS_USED_LOCK(?) AS holder', [
    mysqlLockName(session.target.database),
  ]);
  if (used?.holder === null || used?.holder === undefined) return undefined;
  const connectionId = Number(used.holder);
  // Without the PROCESS privilege a login sees only its own user's connections; the id is known anyway.
  const [process] = await session
    .query<MysqlProcessRow>(
      'SELECT USER AS user_name, HOST AS host, TIME AS seconds FROM information_schema.PROCESSLIST WHERE ID = ?',
      [connectionId],
    )
    .catch(() => []);
  return {
    connectionId,
    ...(process?.user_name ? { user: process.user_name } : {}),
    ...(process?.host ? { client: process.host } : {}),
    ...(process?.seconds === null || process?.seconds === undefined ? {} : { secondsInState: Number(process.seconds) }),
  };
}

export const MYSQL_STAGE_LOCK: StageLockMechanism = {
  describe: (session) => `GET_LOCK('${mysqlLockName(session.target.database)}')`,
  acquire,
  async release(session) {
    const [row] = await session.query<{ released: unknown }>('SELECT RELEASE_LOCK(?) AS released', [
      mysqlLockName(session.target.database),
    ]);
    return Number(row?.released) === 1;
  },
  findHolder,
  connectionLabel: (id) => `connection ${id}`,
  endConnection: (id) => (id === undefined ? 'KILL <connection id>' : `KILL ${id}`),
};
