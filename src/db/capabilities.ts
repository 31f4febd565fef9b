/**
 * What each supported DBMS can do, declared once, so that stages decide from data (not from engine names
 * scattered through the code) what they can roll back and how they lock.
 */

import type { DbEngine } from '../config/types.js';

export interface DbCapabilities {
  /**
   * DDL (CREATE/ALTER/DROP, CREATE INDEX) takes part in transactions and rolls back with them. False on
   * MySQL/MariaDB: every DDL statement commits the open transaction implicitly, before and after itself, so a
   * stage that changes the schema there can only be undone by restoring its backup.
   */
  transactionalDdl: boolean;
  /** How `acquireStageLock` locks: a session-level advisory lock (PostgreSQL) or a named user lock (`GET_LOCK`). */
  stageLock: 'advisory-lock' | 'get-lock';
  /** Statement placeholders of the driver: `$1, $2, ...` (numbered) or `?` (positional). */
  placeholders: 'numbered' | 'positional';
  /** Longest identifier (and, on MySQL/MariaDB, `GET_LOCK` name) the server accepts, in characters. */
  maxIdentifierLength: number;
}

const POSTGRESQL: Readonly<DbCapabilities> = Object.freeze({
  transactionalDdl: true,
  stageLock: 'advisory-lock',
  placeholders: 'numbered',
  // NAMEDATALEN - 1; longer names are truncated by the server.
  maxIdentifierLength: 63,
});

const MYSQL: Readonly<DbCapabilities> = Object.freeze({
  transactionalDdl: false,
  stageLock: 'get-lock',
  placeholders: 'positional',
  maxIdentifierLength: 64,
});

export function capabilitiesOf(engine: DbEngine): Readonly<DbCapabilities> {
  switch (engine) {
    case 'postgresql':
      return POSTGRESQL;
    case 'mysql':
    case 'mariadb':
      return MYSQL;
  }
}
