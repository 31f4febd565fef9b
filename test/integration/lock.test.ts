import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireStageLock, StageLockError } from '../../src/db/lock.js';
import { mysqlLockName } from '../../src/db/mysql/lock.js';
import { describeAddress, openSession, type DbSession } from '../../src/db/session.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';

type Engine = 'postgresql' | 'mariadb';

const HOLDER = 'registry-scripts run 4711 attempt 2';

describe.each<[string, Engine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('stage lock on %s', (_label, engine) => {
  let first: ScratchDatabase;
  let second: ScratchDatabase;
  const open: DbSession[] = [];

  beforeAll(async () => {
    const create = engine === 'postgresql' ? createScratchPostgres : createScratchMariadb;
    first = await create('lock_a');
    second = await create('lock_b');
  });
  afterEach(async () => {
    for (const session of open.splice(0)) await session.close().catch(() => undefined);
  });
  afterAll(async () => {
    await first?.drop();
    await second?.drop();
  });

  async function session(scratch: ScratchDatabase): Promise<DbSession> {
    const opened = await openSession(scratch.target);
    open.push(opened);
    return opened;
  }

  async function connectionId(of: DbSession): Promise<number> {
    const [row] = await of.query<{ id: number | string }>(
      engine === 'postgresql' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id',
    );
    return Number(row?.id);
  }

  it('makes a second session on the same database wait, then fail naming the holder', async () => {
    const holder = await session(first);
    const waiter = await session(first);
    const lock = await acquireStageLock(holder, { waitMs: 0, holder: HOLDER });
    expect(lock.description).toContain(describeAddress(first.target));

    const started = Date.now();
    const error = await acquireStageLock(waiter, { waitMs: 700, pollMs: 100, holder: 'identity run 9 attempt 1' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    const waited = Date.now() - started;

    expect(error).toBeInstanceOf(StageLockError);
    const lockError = error as StageLockError;
    expect(waited).toBeGreaterThanOrEqual(650);
    expect(lockError.exitCode).toBe(1);
    expect(lockError.databaseName).toBe('shared_db');
    expect(lockError.message).toContain(
      `another apim-migrate run holds the stage lock on shared_db (${describeAddress(first.target)})`,
    );
    expect(lockError.message).toMatch(/Wait for that run to finish/);
    expect(lockError.message).toMatch(/or stop that run/);
    const holderId = await connectionId(holder);
    expect(lockError.holder?.connectionId).toBe(holderId);
    if (engine === 'postgresql') {
      expect(lockError.holder?.applicationName).toBe(`apim-migrate: ${HOLDER}`);
      expect(lockError.message).toContain(`backend pid ${holderId}`);
      expect(lockError.message).toContain(`"apim-migrate: ${HOLDER}"`);
      expect(lockError.message).toContain(`pg_terminate_backend(${holderId})`);
    } else {
      expect(lockError.holder?.user).toBe('root');
      expect(lockError.message).toContain(`connection ${holderId}`);
      expect(lockError.message).toContain(`KILL ${holderId}`);
    }
    await lock.release();
  });

  it('gives the lock to the waiting session once the holder releases it', async () => {
    const holder = await session(first);
    const waiter = await session(first);
    const lock = await acquireStageLock(holder, { waitMs: 0, holder: HOLDER });
    const waiting = acquireStageLock(waiter, { waitMs: 10_000, pollMs: 50, holder: 'identity run 9 attempt 1' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const released = Date.now();
    await lock.release();
    const second = await waiting;
    // It got the lock as soon as it was free, not at the end of its wait.
    expect(Date.now() - released).toBeLessThan(2_000);
    // Now the first session is the one that waits.
    await expect(acquireStageLock(holder, { waitMs: 0, holder: HOLDER })).rejects.toBeInstanceOf(StageLockError);
    await second.release();
    await second.release();
    const again = await acquireStageLock(holder, { waitMs: 0, holder: HOLDER });
    await again.release();
  });

  it('does not block a run on another database of the same server', async () => {
    const onFirst = await session(first);
    const onSecond = await session(second);
    const lockFirst = await acquireStageLock(onFirst, { waitMs: 0, holder: HOLDER });
    const lockSecond = await acquireStageLock(onSecond, { waitMs: 0, holder: 'apim run 1 attempt 1' });
    await lockSecond.release();
    await lockFirst.release();
  });

  it('is released when the holding session closes', async () => {
    const holder = await openSession(first.target);
    const waiter = await session(first);
    await acquireStageLock(holder, { waitMs: 0, holder: HOLDER });
    await expect(acquireStageLock(waiter, { waitMs: 0, holder: 'x' })).rejects.toBeInstanceOf(StageLockError);
    await holder.close();
    // The server ends the backend (and its locks) right after the client leaves.
    const lock = await acquireStageLock(waiter, { waitMs: 5_000, pollMs: 50, holder: 'identity run 9 attempt 1' });
    await lock.release();
  });

  it('says so when a lock is released from a session that lost it', async () => {
    const holder = await openSession(first.target);
    const lock = await acquireStageLock(holder, { waitMs: 0, holder: HOLDER });
    await holder.close();
    await expect(lock.release()).rejects.toThrow(/could not release the .*closing the session releases it/);
  });
});

describe('mysqlLockName', () => {
  it('carries the database name and stays within 64 characters', () => {
    expect(mysqlLockName('apim_shared')).toBe('apim-migrate:apim_shared');
    const long = `wso2_${'x'.repeat(59)}`;
    const longer = `wso2_${'x'.repeat(58)}y`;
    expect([...mysqlLockName(long)].length).toBeLessThanOrEqual(64);
    expect(mysqlLockName(long)).toMatch(/^apim-migrate:wso2_x+~[0-9a-f]{8}$/);
    expect(mysqlLockName(long)).not.toBe(mysqlLockName(longer));
    expect([...mysqlLockName('ü'.repeat(64))].length).toBe(64);
  });
});
