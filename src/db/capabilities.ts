/**
 * What each supported DBMS can do and how it names things, declared once, so that the code decides from data (not
 * from engine names scattered through it) how to lock, which JDBC driver it needs and how database names compare.
 */

import type { DbEngine } from '../config/types.js';

export interface DbCapabilities {
  /** How `acquireStageLock` locks: a session-level advisory lock (PostgreSQL) or a named user lock (`GET_LOCK`). */
  stageLock: 'advisory-lock' | 'get-lock';
  /** Statement placeholders of the driver: `$1, $2, ...` (numbered) or `?` (positional). */
  placeholders: 'numbered' | 'positional';
  /** Longest identifier (and, on MySQL/MariaDB, `GET_LOCK` name) the server accepts, in characters. */
  maxIdentifierLength: number;
  /**
   * How the JDBC driver jars that take this engine's URLs are named, by prefix (`<prefix><version>.jar`); one of them
   * must be in `<API-M home>/repository/components/lib`. The engine follows the URL's scheme, and each driver takes
   * only its own: MySQL Connector/J `jdbc:mysql:` (a MariaDB server too), MariaDB Connector/J `jdbc:mariadb:`.
   */
  jdbcDriverJars: readonly string[];
  /** The DBMS as people name it, for messages. */
  product: string;
  /**
   * Whether two database names that differ only in case are two databases. PostgreSQL: yes, the name in a JDBC URL
   * is taken as written. MySQL/MariaDB follow `lower_case_table_names`, which the server is not asked about here:
   * taken as no, so that one database is never locked twice.
   */
  caseSensitiveDatabaseNames: boolean;
}

const POSTGRESQL: Readonly<DbCapabilities> = Object.freeze({
  stageLock: 'advisory-lock',
  placeholders: 'numbered',
  // NAMEDATALEN - 1; longer names are truncated by the server.
  maxIdentifierLength: 63,
  jdbcDriverJars: ['postgresql-'],
  product: 'PostgreSQL',
  caseSensitiveDatabaseNames: true,
});

const MYSQL: Readonly<DbCapabilities> = Object.freeze({
  stageLock: 'get-lock',
  placeholders: 'positional',
  maxIdentifierLength: 64,
  // mysql-connector-java-8.0.x.jar and, from 8.0.31, mysql-connector-j-8.x.jar.
  jdbcDriverJars: ['mysql-connector-'],
  product: 'MySQL',
  caseSensitiveDatabaseNames: false,
});

const MARIADB: Readonly<DbCapabilities> = Object.freeze({
  ...MYSQL,
  jdbcDriverJars: ['mariadb-java-client-'],
  product: 'MariaDB',
});

export function capabilitiesOf(engine: DbEngine): Readonly<DbCapabilities> {
  switch (engine) {
    case 'postgresql':
      return POSTGRESQL;
    case 'mysql':
      return MYSQL;
    case 'mariadb':
      return MARIADB;
  }
}
