/**
 * MySQL's and MariaDB's client sessions: information_schema.PROCESSLIST of the current database (MySQL 8.0
 * Reference Manual 28.3.23, MariaDB KB "Information Schema PROCESSLIST Table"), without the server's own threads.
 * apim-migrate's are the holder of its GET_LOCK lock (IS_USED_LOCK gives the holder's connection id), a run that
 * waits in GET_LOCK for it (state "User lock", its statement in INFO), connections that hold the user lock named
 * after their own id that every apim-migrate session takes (mysql/session.ts), and connections whose program_name
 * attribute names apim-migrate (performance_schema.session_connect_attrs, which MariaDB fills only with
 * performance_schema on, off by default). Lock waits: the state, and InnoDB's row-lock waits from information_schema.INNODB_LOCK_WAITS with
 * INNODB_TRX (MariaDB; MySQL 5.7) or performance_schema.data_lock_waits (MySQL 8.0, which dropped INNODB_LOCK_WAITS).
 */

import type { ClientSession } from '../dialect.js';
import { isApimMigrateClientName, type DbSession } from '../session.js';
import { mysqlLockName } from './lock.js';
import { MYSQL_SESSION_MARK } from './session.js';

interface ProcessRow {
  id: number | string;
  user_name: string | null;
  host: string | null;
  command: string | null;
  seconds: number | string | null;
  state: string | null;
  info: string | null;
  marked: number | string | null;
}

/** The server's own threads, never a client: MariaDB's and MySQL's system users and replication senders. */
const SERVER_USERS = ['system user', 'event_scheduler'];
const SERVER_COMMANDS = ['Daemon', 'Binlog Dump', 'Binlog Dump GTID'];

export async function mysqlClientSessions(session: DbSession): Promise<ClientSession[]> {
  const rows = await session.query<ProcessRow>(
    `SELECT ID AS id, USER AS user_name, HOST AS host, COMMAND AS command, TIME AS seconds, STATE AS state,
            INFO AS info, IS_USED_LOCK(CONCAT(?, ID)) = ID AS marked
       FROM information_schema.PROCESSLIST
      WHERE DB = DATABASE() AND ID <> CONNECTION_ID()
        AND (USER IS NULL OR USER NOT IN (?, ?)) AND (COMMAND IS NULL OR COMMAND NOT IN (?, ?, ?))
      ORDER BY ID`,
    [MYSQL_SESSION_MARK, ...SERVER_USERS, ...SERVER_COMMANDS],
  );
  if (rows.length === 0) return [];
  const lockName = mysqlLockName(session.target.database);
  const [used] = await session.query<{ holder: number | string | null }>('SELECT IS_USED_LOCK(?) AS holder', [
    lockName,
  ]);
  const holder = used?.holder === null || used?.holder === undefined ? undefined : Number(used.holder);
  const programs = await programNames(session);
  const rowWaits = await innodbLockWaits(session);
  return rows.map((row) => {
    const id = Number(row.id);
    const command = row.command ?? '';
    const state = [command, row.state].filter((part) => part !== null && part !== '').join(', ');
    const seconds = row.seconds === null ? undefined : Number(row.seconds);
    const application = programs.get(id);
    const innodb = rowWaits.get(id);
    const waitsInState = row.state !== null && /lock/i.test(row.state) && command === 'Query';
    const waitsForOurLock =
      row.state === 'User lock' && (row.info ?? '').includes('GET_LOCK(') && (row.info ?? '').includes(`'${lockName}'`);
    const apimMigrate: ClientSession['apimMigrate'] =
      id === holder
        ? 'lock-holder'
        : waitsForOurLock
          ? 'lock-waiter'
          : Number(row.marked) === 1 || isApimMigrateClientName(application)
            ? 'named'
            : undefined;
    return {
      id,
      ...(row.user_name ? { user: row.user_name } : {}),
      ...(application ? { application } : {}),
      ...(row.host ? { client: row.host } : {}),
      ...(state ? { state } : {}),
      ...(row.info ? { statement: row.info } : {}),
      ...(command === 'Query' && seconds !== undefined ? { runningSeconds: seconds } : {}),
      ...(innodb
        ? { lockWait: { on: 'an InnoDB row lock', blockedBy: innodb } }
        : waitsInState
          ? { lockWait: { on: `a lock (${row.state ?? ''})`, blockedBy: [] } }
          : {}),
      ...(apimMigrate ? { apimMigrate } : {}),
    };
  });
}

/** The program_name connection attribute of each connection, where the server records it; none where it cannot. */
async function programNames(session: DbSession): Promise<Map<number, string>> {
  const rows = await session
    .query<{ id: number | string; value: string | null }>(
      `SELECT PROCESSLIST_ID AS id, ATTR_VALUE AS value
         FROM performance_schema.session_connect_attrs WHERE ATTR_NAME = 'program_name'`,
    )
    .catch(() => []);
  return new Map(rows.filter((row) => row.value).map((row) => [Number(row.id), String(row.value)]));
}

/** For each connection that waits for an InnoDB row lock, the connections that hold it; empty where unknown. */
async function innodbLockWaits(session: DbSession): Promise<Map<number, number[]>> {
  const queries = [
    // MariaDB, MySQL 5.7.
    `SELECT r.trx_mysql_thread_id AS waiting, b.trx_mysql_thread_id AS blocking
       FROM information_schema.INNODB_LOCK_WAITS w
       JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
       JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id`,
    // MySQL 8.0.
    `SELECT r.trx_mysql_thread_id AS waiting, b.trx_mysql_thread_id AS blocking
       FROM performance_schema.data_lock_waits w
       JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
       JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID`,
  ];
  for (const sql of queries) {
    const rows = await session
      .query<{ waiting: number | string; blocking: number | string }>(sql)
      .catch(() => undefined);
    if (rows === undefined) continue;
    const waits = new Map<number, number[]>();
    for (const row of rows) {
      const waiting = Number(row.waiting);
      waits.set(waiting, [...(waits.get(waiting) ?? []), Number(row.blocking)]);
    }
    return waits;
  }
  return new Map();
}
