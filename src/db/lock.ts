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

import type { DatabaseName } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/format.js';
import type { LockHolder, StageLockOptions } from './dialect.js';
import { dialectOf } from './dialects.js';
import { describeAddress, type DbSession } from './session.js';

export interface StageLock {
  /** One line for logs, e.g. `advisory lock 123 on shared_db (db:5432/shared)`. */
  readonly description: string;
  /** Releases the lock; calling it again does nothing. Closing the session releases it too. */
  release(): Promise<void>;
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

/**
 * Takes the stage lock on the session's database, waiting up to `waitMs` for another run to release it;
 * throws StageLockError when it stays taken. Keep the session open until `release()`.
 */
export async function acquireStageLock(session: DbSession, options: StageLockOptions): Promise<StageLock> {
  const started = Date.now();
  const mechanism = dialectOf(session.engine).stageLock;
  if (!(await mechanism.acquire(session, options))) {
    const holder = await mechanism.findHolder(session).catch(() => undefined);
    throw new StageLockError(session, holder, Date.now() - started);
  }
  const description = `${mechanism.describe(session)} on ${session.target.name} (${describeAddress(session.target)})`;
  let released = false;
  return {
    description,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      let held: boolean;
      try {
        held = await mechanism.release(session);
      } catch (error) {
        throw new Error(
          `could not release the ${description}: ${errorMessage(error)}; closing the session releases it`,
          { cause: error },
        );
      }
      if (!held) {
        throw new Error(
          `the ${description} was no longer held by this session when it was released; ` +
            'another run may have taken it meanwhile (was the connection reset?)',
        );
      }
    },
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
  const who = dialectOf(session.engine).stageLock.connectionLabel(holder.connectionId);
  return `held by ${who}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

function lingeringAdvice(session: DbSession, holder: LockHolder | undefined): string {
  const end = dialectOf(session.engine).stageLock.endConnection(holder?.connectionId);
  return `If that run is gone but its connection lingers, end the connection (${end}); that releases the lock.`;
}
