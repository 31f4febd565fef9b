/**
 * The stage lock of design.md ("Locking"): while a stage runs, it holds a lock on every database it touches, so
 * that two runs never migrate the same databases at once.
 *
 * - PostgreSQL: a session-level advisory lock on one fixed 64-bit key derived from "apim-migrate". PostgreSQL
 *   scopes advisory locks per database, so runs on different databases of one server do not block each other.
 *   The lock is polled with `pg_try_advisory_lock` until the deadline.
 * - MySQL/MariaDB: `GET_LOCK(name, seconds)`. User locks are server-wide, so the name carries the database name
 *   (and stays within the 64 characters the server allows). The server itself waits up to the deadline.
 *
 * Both locks belong to the connection: the session that took the lock must stay open for the whole stage, and
 * closing it (or losing it) releases the lock. Take the lock on the session the stage keeps open anyway, not on
 * a short-lived one, and not through a transaction-mode pooler (PgBouncer), which hands the session to others.
 * Take it once per physical database (see `groupPhysicalDatabases`): two sessions of the same run on one
 * database would wait for each other.
 */

import { createHash } from 'node:crypto';
import type { DatabaseName } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/format.js';
import { dialectOf } from './dialects.js';
import { describeAddress, type DbSession } from './session.js';

export interface StageLockOptions {
  /** How long to wait for a run that holds the lock; 0 tries once. */
  waitMs: number;
  /** PostgreSQL: how often to try again while waiting (default 1000 ms). MySQL/MariaDB wait inside GET_LOCK. */
  pollMs?: number;
  /**
   * Who takes the lock, e.g. "registry-scripts run 123 attempt 1". On PostgreSQL it becomes the session's
   * application_name, so that a run that finds the lock taken can name the holder.
   */
  holder: string;
}

export interface StageLock {
  /** One line for logs, e.g. `advisory lock 123 on shared_db (db:5432/shared)`. */
  readonly description: string;
  /** Releases the lock; calling it again does nothing. Closing the session releases it too. */
  release(): Promise<void>;
}

/** The session that holds the lock, as far as the server tells this login. */
export interface LockHolder {
  /** PostgreSQL backend pid, or MySQL/MariaDB connection id. */
  connectionId: number;
  /** PostgreSQL: application_name, which apim-migrate sets to `apim-migrate: <holder>`. */
  applicationName?: string;
  user?: string;
  /** Client address (PostgreSQL client_addr; MySQL host:port). */
  client?: string;
  /** PostgreSQL: when the holder connected (UTC, ISO 8601). */
  connectedAt?: string;
  /** MySQL/MariaDB: seconds the holder's connection has been in its current state. */
  secondsInState?: number;
}

/** Another run holds the stage lock on this database. The stage fails (exit code 1); nothing was changed. */
export class StageLockError extends Error {
  readonly exitCode = 1;
  readonly databaseName: DatabaseName;
  readonly address: string;
  readonly holder: LockHolder | undefined;
  readonly waitedMs: number;

  constructor(session: DbSession, holder: LockHolder | undefined, waitedMs: number) {
    const address = describeAddress(session.target);
    super(
      [
        `another apim-migrate run holds the stage lock on ${session.target.name} (${address}): ${describeHolder(session, holder)};`,
        `waited ${formatDuration(waitedMs)}.`,
        'Wait for that run to finish and run this stage again, or stop that run (cancel its workflow run or process).',
        lingeringAdvice(session, holder),
        '`apim-migrate status` shows what the ledger records of the runs on these databases.',
      ].join(' '),
    );
    this.name = 'StageLockError';
    this.databaseName = session.target.name;
    this.address = address;
    this.holder = holder;
    this.waitedMs = waitedMs;
  }
}

const DEFAULT_POLL_MS = 1_000;
const LOCK_NAME_PREFIX = 'apim-migrate:';

/**
 * The PostgreSQL advisory lock key: the first 8 bytes of sha256("apim-migrate") with the sign bit cleared, so
 * that it reads the same as a bigint and as pg_locks' (classid, objid) pair.
 */
export const ADVISORY_LOCK_KEY: bigint =
  createHash('sha256').update('apim-migrate').digest().readBigInt64BE(0) & 0x7fff_ffff_ffff_ffffn;

/** The MySQL/MariaDB `GET_LOCK` name for a database: readable, unique per database, at most 64 characters. */
export function mysqlLockName(database: string): string {
  const max = dialectOf('mysql').maxIdentifierLength;
  const full = `${LOCK_NAME_PREFIX}${database}`;
  if ([...full].length <= max) return full;
  // A long name keeps its start for people and gains a hash so that two long names stay apart.
  const hash = createHash('sha256').update(database).digest('hex').slice(0, 8);
  const room = max - LOCK_NAME_PREFIX.length - hash.length - 1;
  return `${LOCK_NAME_PREFIX}${[...database].slice(0, room).join('')}~${hash}`;
}

/**
 * Takes the stage lock on the session's database, waiting up to `waitMs` for another run to release it;
 * throws StageLockError when it stays taken. Keep the session open until `release()`.
 */
export async function acquireStageLock(session: DbSession, options: StageLockOptions): Promise<StageLock> {
  const started = Date.now();
  const waitMs = Math.max(0, options.waitMs);
  const acquired =
    dialectOf(session.engine).stageLock === 'advisory-lock'
      ? await acquirePostgres(session, options, waitMs)
      : await acquireMysql(session, waitMs);
  if (!acquired) {
    const holder = await findHolder(session).catch(() => undefined);
    throw new StageLockError(session, holder, Date.now() - started);
  }
  return dialectOf(session.engine).stageLock === 'advisory-lock'
    ? releasable(session, `advisory lock ${ADVISORY_LOCK_KEY}`, 'SELECT pg_advisory_unlock($1::bigint) AS released', [
        ADVISORY_LOCK_KEY.toString(),
      ])
    : releasable(
        session,
        `GET_LOCK('${mysqlLockName(session.target.database)}')`,
        'SELECT RELEASE_LOCK(?) AS released',
        [mysqlLockName(session.target.database)],
      );
}

async function acquirePostgres(session: DbSession, options: StageLockOptions, waitMs: number): Promise<boolean> {
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

async function acquireMysql(session: DbSession, waitMs: number): Promise<boolean> {
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

function releasable(session: DbSession, what: string, sql: string, params: unknown[]): StageLock {
  const description = `${what} on ${session.target.name} (${describeAddress(session.target)})`;
  let released = false;
  return {
    description,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      let rows: Array<{ released: unknown }>;
      try {
        rows = await session.query<{ released: unknown }>(sql, params);
      } catch (error) {
        throw new Error(
          `could not release the ${description}: ${errorMessage(error)}; closing the session releases it`,
          { cause: error },
        );
      }
      const answer = rows[0]?.released;
      if (answer !== true && Number(answer) !== 1) {
        throw new Error(
          `the ${description} was no longer held by this session when it was released; ` +
            'another run may have taken it meanwhile (was the connection reset?)',
        );
      }
    },
  };
}

async function findHolder(session: DbSession): Promise<LockHolder | undefined> {
  return session.engine === 'postgresql' ? findPostgresHolder(session) : findMysqlHolder(session);
}

interface PostgresHolderRow {
  pid: number;
  application_name: string | null;
  user_name: string | null;
  client_addr: string | null;
  connected_at: string | null;
}

async function findPostgresHolder(session: DbSession): Promise<LockHolder | undefined> {
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

interface MysqlProcessRow {
  user_name: string | null;
  host: string | null;
  seconds: number | string | null;
}

async function findMysqlHolder(session: DbSession): Promise<LockHolder | undefined> {
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

function describeHolder(session: DbSession, holder: LockHolder | undefined): string {
  if (!holder) {
    return 'the holder could not be identified (it may have released the lock just now, or this login may not see other sessions)';
  }
  const parts: string[] = [];
  if (holder.applicationName) parts.push(`application_name "${holder.applicationName}"`);
  if (holder.user) parts.push(`user ${holder.user}`);
  if (holder.client) parts.push(`from ${holder.client}`);
  if (holder.connectedAt) parts.push(`connected since ${holder.connectedAt}`);
  if (holder.secondsInState !== undefined) parts.push(`in its current state for ${holder.secondsInState} s`);
  const who =
    session.engine === 'postgresql' ? `backend pid ${holder.connectionId}` : `connection ${holder.connectionId}`;
  return `held by ${who}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

function lingeringAdvice(session: DbSession, holder: LockHolder | undefined): string {
  const end =
    holder === undefined
      ? session.engine === 'postgresql'
        ? 'pg_terminate_backend(<pid>)'
        : 'KILL <connection id>'
      : session.engine === 'postgresql'
        ? `SELECT pg_terminate_backend(${holder.connectionId})`
        : `KILL ${holder.connectionId}`;
  return `If that run is gone but its connection lingers, end the connection (${end}); that releases the lock.`;
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
