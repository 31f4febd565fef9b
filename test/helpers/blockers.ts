/**
 * Holds a lock on a table of a setup's database from a session of the test, so that the tool's next statement on
 * that table waits: the moment to kill the tool, or its connection, in the middle of a backup or a statement.
 */
import type { DbSession } from '../../src/db/session.js';
import type { MigrationSetup } from './migration-setup.js';
import { waitFor } from './runner.js';

export interface TableBlock {
  /** Waits until another session waits for this lock and returns its id (PostgreSQL pid, MariaDB connection id). */
  waiter(timeoutMs?: number): Promise<number>;
  /** Ends the other session's connection (the server side of it): its statement fails, its transaction rolls back. */
  killWaiter(id: number): Promise<void>;
  /** Lets the waiting statement go on. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * `reads`: every reader waits too (PostgreSQL ACCESS EXCLUSIVE, MariaDB LOCK TABLES ... WRITE), so a dump stops at
 * the table. `rows`: only writers wait (the rows are locked FOR UPDATE); a dump reads past them.
 */
export type BlockKind = 'reads' | 'rows';

export async function blockTable(setup: MigrationSetup, table: string, kind: BlockKind): Promise<TableBlock> {
  const holder = await setup.adminSession();
  const watcher = await setup.adminSession();
  const postgres = setup.engine === 'postgresql';
  try {
    if (postgres) {
      await holder.query('BEGIN');
      await holder.query(
        kind === 'reads' ? `LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE` : `SELECT 1 FROM ${table} FOR UPDATE`,
      );
    } else if (kind === 'reads') {
      await holder.query(`LOCK TABLES ${table} WRITE`);
    } else {
      await holder.query('START TRANSACTION');
      await holder.query(`SELECT 1 FROM ${table} FOR UPDATE`);
    }
  } catch (error) {
    await holder.close();
    await watcher.close();
    throw error;
  }
  const holderId = await sessionId(holder, postgres);
  let released = false;
  return {
    waiter: (timeoutMs = 30_000) =>
      waitFor(`a statement waiting for the lock on ${table}`, () => findWaiter(watcher, postgres, holderId), timeoutMs),
    async killWaiter(id) {
      if (postgres) await watcher.query('SELECT pg_terminate_backend($1)', [id]);
      else await watcher.query(`KILL CONNECTION ${Number(id)}`);
    },
    async release() {
      if (released) return;
      released = true;
      try {
        if (postgres) await holder.query('ROLLBACK');
        else await holder.query(kind === 'reads' ? 'UNLOCK TABLES' : 'ROLLBACK');
      } finally {
        await holder.close();
        await watcher.close();
      }
    },
  };
}

async function sessionId(session: DbSession, postgres: boolean): Promise<number> {
  const [row] = await session.query<{ id: number | string }>(
    postgres ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id',
  );
  return Number(row?.id);
}

async function findWaiter(session: DbSession, postgres: boolean, holderId: number): Promise<number | undefined> {
  const rows = postgres
    ? await session.query<{ id: number | string }>(
        "SELECT pid AS id FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1",
        [holderId],
      )
    : await session.query<{ id: number | string }>(
        "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> ? AND (STATE LIKE 'Waiting for table%' OR STATE LIKE '%lock%' OR ID IN (SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'))",
        [holderId],
      );
  const first = rows[0];
  return first === undefined ? undefined : Number(first.id);
}
