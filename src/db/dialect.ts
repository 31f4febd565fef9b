/**
 * One dialect per DBMS family, behind one interface: what the engine can do and how it names things, how it quotes
 * identifiers, what its catalog holds, and how its client tools dump and restore a database. The rest of the code
 * asks the dialect instead of comparing engine names.
 */

import type { Readable } from 'node:stream';
import type { DatabaseTarget } from '../config/types.js';
import type { SecretMasker } from '../core/secrets.js';
import type { Logger } from '../log/logger.js';
import type { ResolvedTool } from './client-process.js';
import type { ServerInfo } from './server-info.js';
import type { DbSession } from './session.js';

/**
 * How a dump file is written: PostgreSQL's custom archive compressed by pg_dump itself (`pg_dump -Fc`) or
 * uncompressed (`-Z0`) inside a zstd frame, or SQL text compressed with gzip or zstd. Backups of every format restore.
 */
export const DUMP_FORMATS = ['pg-custom', 'pg-custom-zstd', 'sql-gzip', 'sql-zstd'] as const;
export type DumpFormat = (typeof DUMP_FORMATS)[number];

/**
 * What compresses a dump on its way to the file: the dump tool itself (`tool`), gzip on several of Node's threads
 * (backup/parallel-gzip.ts), or zstd's command-line tool on every core.
 */
export type DumpCompression = 'tool' | 'gzip' | 'zstd';

/** One way a dialect writes its dumps. */
export interface DumpVariant {
  format: DumpFormat;
  /** The file name's ending (before `.age`). */
  extension: string;
  compression: DumpCompression;
}

/** One key column of an index, as the catalog gives it (`column` is null for an expression). */
export interface IndexColumn {
  index: string;
  table: string;
  column: string | null;
}

/** A base table of the session's current schema(s). */
export interface TableRef {
  /** The key in manifests: `schema.table` on PostgreSQL, `table` on MySQL/MariaDB. */
  key: string;
  /** Quoted for use in SQL. */
  quoted: string;
}

/** What a dump of one database produced. */
export interface DumpResult {
  bytes: number;
  sha256: string;
  /** Rows of every table, counted beside the dump (see `Dialect.rowCountSnapshot`). */
  rowCounts: Record<string, number>;
}

export interface DumpRequest {
  /** A session of its own on the database, for the snapshot the dump and the counts share where the engine can. */
  session: DbSession;
  target: DatabaseTarget;
  tool: ResolvedTool;
  server: ServerInfo;
  /** The variant being written: with `compression` other than `tool`, the dump tool must not compress. */
  variant: DumpVariant;
  /**
   * Starts the dump tool with these arguments and environment, streams its output into the backup file and counts
   * the rows of every table in `session` meanwhile. Nothing secret may be in `args`.
   */
  run(args: string[], env: NodeJS.ProcessEnv): Promise<DumpResult>;
}

/** What checking a dump file found out, for its restore. */
export interface CheckedDump {
  /** PostgreSQL: the relations the archive creates (`schema.name`), from `pg_restore --list`. */
  relations?: ReadonlySet<string>;
}

export interface DumpCheckRequest {
  /**
   * The decrypted, decompressed dump (a pg_dump archive, or SQL text): bytes of the read that is hashed against the
   * manifest, or of the private copy made from it. The check reads as much of it as it needs.
   */
  input: Readable;
  /** Its name in the backup, for messages. */
  name: string;
  tool: ResolvedTool;
  masker: SecretMasker;
  /** Read all of it, not only its start: when nothing else vouches for its last byte. */
  whole: boolean;
  /** The version of the tool that wrote it, for the advice when this tool cannot read it. */
  dumpToolVersion: string;
}

export interface RestoreRequest {
  target: DatabaseTarget;
  tool: ResolvedTool;
  /** Opens the decrypted, decompressed, checked dump, once: the restore tool reads it from its stdin. */
  openDump: () => Readable;
  checked: CheckedDump;
  /** The configured names of the database, for messages: `apim_db = shared_db`. */
  label: string;
  masker: SecretMasker;
  logger: Logger;
}

/**
 * For each name asked for, the stored table of that name in any case; where several spellings exist, the one
 * `natural` gives (how an unquoted name is stored) wins. Names without a table are left out.
 */
export function pickStoredNames(
  names: readonly string[],
  stored: readonly string[],
  natural: (name: string) => string,
): Map<string, string> {
  const picked = new Map<string, string>();
  for (const name of names) {
    const candidates = stored.filter((table) => table.toLowerCase() === name.toLowerCase());
    const chosen = candidates.includes(natural(name)) ? natural(name) : candidates[0];
    if (chosen !== undefined) picked.set(name, chosen);
  }
  return picked;
}

/** The dump file is not what its manifest says: `why` completes "<file> of <backup> ...". Nothing was changed. */
export class DumpFormatError extends Error {
  constructor(
    readonly why: string,
    /** What to do besides restoring another backup. */
    readonly advice?: string,
    options?: { cause?: unknown },
  ) {
    super(why, options);
    this.name = 'DumpFormatError';
  }
}

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

/** How a DBMS takes, gives back and explains the stage lock of db/lock.ts. */
export interface StageLockMechanism {
  /** The lock as a log names it: `advisory lock 123`, `GET_LOCK('apim-migrate:wso2')`. */
  describe(session: DbSession): string;
  /** Tries to take the lock, waiting up to `options.waitMs`; false when another session still holds it. */
  acquire(session: DbSession, options: StageLockOptions): Promise<boolean>;
  /** Gives it back; false when this session no longer held it. */
  release(session: DbSession): Promise<boolean>;
  /** The session that holds it, as far as the server tells this login. */
  findHolder(session: DbSession): Promise<LockHolder | undefined>;
  /** How the server names a connection: `backend pid 123`, `connection 123`. */
  connectionLabel(id: number): string;
  /** The statement that ends a connection, for the advice about one left behind. */
  endConnection(id: number | undefined): string;
}

/** A base table of the current schema(s), with what the catalog says of its size. */
export interface TableStatistics extends TableRef {
  /**
   * The catalog's row estimate: PostgreSQL `pg_class.reltuples`, MySQL/MariaDB `information_schema.TABLES.TABLE_ROWS`
   * (an estimate for InnoDB). Null when the catalog has none (PostgreSQL before the table's first VACUUM or ANALYZE).
   */
  estimatedRows: number | null;
  /** The table with its indices: `pg_total_relation_size` (TOAST too), or `DATA_LENGTH + INDEX_LENGTH`. */
  bytes: number;
}

/** The character sets a MySQL/MariaDB database and its tables use, for the index-width check of preflight. */
export interface CharacterSetFacts {
  database: { characterSet: string; collation: string };
  /** The row format InnoDB gives a table created without one (`innodb_default_row_format`), lower case. */
  defaultRowFormat: string | null;
  /** Bytes per character of every character set the server has (`information_schema.CHARACTER_SETS.MAXLEN`). */
  maxBytesPerChar: Readonly<Record<string, number>>;
  tables: Array<{
    table: string;
    /** From the table's collation, whose name starts with its character set's. */
    characterSet: string | null;
    collation: string | null;
    /** Lower case: `dynamic`, `compact`, `redundant`, `compressed`. */
    rowFormat: string | null;
  }>;
}

/** How fast and how large a backup of this engine was on a reference machine (docs/benchmarks.md). */
export interface BackupRate {
  /** Backup bytes per byte of database (`databaseSizeSql`). */
  bytesPerDataByte: number;
  /** Bytes of database backed up per second, the whole backup step (dump, store, verify). */
  dataBytesPerSecond: number;
}

/** What the data profile asks of the catalog (db/data-profile.ts). */
export interface ProfileCatalog {
  /** The base tables of the current schema(s) with the catalog's row estimate and bytes. */
  tableStatistics(session: DbSession): Promise<TableStatistics[]>;
  /** An expression for the milliseconds from a zone-less UTC timestamp column to now (run it inside `inUtc`). */
  millisSinceSql(column: string): string;
  /** The character sets of the database and its tables; undefined where the engine has no such limit to check. */
  characterSets(session: DbSession): Promise<CharacterSetFacts | undefined>;
  /** The rate a backup estimate uses when the ledger has no record of an earlier backup. */
  readonly defaultBackupRate: BackupRate;
}

/**
 * A client session on a database, as the server shows it to this login (`Dialect.clientSessions`). Everything but
 * the id is the server's text or figures, from outside: neutralise and mask it before printing.
 */
export interface ClientSession {
  /** PostgreSQL backend pid, MySQL/MariaDB connection id. */
  id: number;
  user?: string;
  /** PostgreSQL application_name; MySQL/MariaDB the client's `program_name` connection attribute, where recorded. */
  application?: string;
  /** PostgreSQL client address and port; MySQL/MariaDB HOST (host:port). */
  client?: string;
  /** PostgreSQL: when it connected (UTC, ISO 8601). MySQL/MariaDB do not show it. */
  connectedAt?: string;
  /** PostgreSQL: state (active, idle, idle in transaction); MySQL/MariaDB: COMMAND, and STATE where there is one. */
  state?: string;
  /** The statement it runs (PostgreSQL: also the last one it ran, when idle). */
  statement?: string;
  /** How long the statement has run: PostgreSQL since query_start when active; MySQL/MariaDB TIME while a Query runs. */
  runningSeconds?: number;
  /** It waits for a lock: on what, and the sessions that hold it, where the server says. */
  lockWait?: { on: string; blockedBy: number[] };
  /**
   * apim-migrate's own session: named so (PostgreSQL application_name, MySQL/MariaDB program_name), the holder of
   * the stage lock, or a run that waits for it.
   */
  apimMigrate?: 'named' | 'lock-holder' | 'lock-waiter';
}

export interface Dialect extends ProfileCatalog {
  /** The DBMS family; MySQL and MariaDB share a dialect and differ only in the data below. */
  readonly family: 'postgresql' | 'mysql';
  /** The DBMS as people name it, for messages. */
  readonly product: string;
  /** How `acquireStageLock` locks: a session-level advisory lock (PostgreSQL) or a named user lock (`GET_LOCK`). */
  readonly stageLock: StageLockMechanism;
  /** Longest identifier (and, on MySQL/MariaDB, `GET_LOCK` name) the server accepts, in characters. */
  readonly maxIdentifierLength: number;
  /**
   * How the JDBC driver jars that take this engine's URLs are named, by prefix (`<prefix><version>.jar`); one of them
   * must be in `<API-M home>/repository/components/lib`. The engine follows the URL's scheme, and each driver takes
   * only its own: MySQL Connector/J `jdbc:mysql:` (a MariaDB server too), MariaDB Connector/J `jdbc:mariadb:`.
   */
  readonly jdbcDriverJars: readonly string[];
  /**
   * Whether two database names that differ only in case are two databases. PostgreSQL: yes, the name in a JDBC URL
   * is taken as written. MySQL/MariaDB follow `lower_case_table_names`, which the server is not asked about here:
   * taken as no, so that one database is never locked twice.
   */
  readonly caseSensitiveDatabaseNames: boolean;
  /** What WSO2's migration needs of the login, as the plan lists it (preflight checks it, db/probes.ts). */
  readonly migrationPrivilege: string;
  /**
   * API-M 4.2.0 needs the driver's prepared-statement cache off in the URLs of `shared_db` and `config`
   * (PgJDBC's `preparedStatementCacheQueries=0`, wso2-facts.md); MySQL's drivers need nothing.
   */
  readonly disablesStatementCache: boolean;
  /** The dump and restore tools' names, in order of preference (a server's own client first). */
  readonly clientToolNames: Readonly<Record<'dump' | 'restore', readonly string[]>>;
  /** The Debian package that brings the client tools. */
  readonly clientPackage: string;

  /** An identifier quoted for SQL. */
  quote(identifier: string): string;
  /** The driver's placeholder for the `index`th parameter (1-based): `$1` or `?`. */
  placeholder(index: number): string;
  /** An expression for the current time in UTC, as a zone-less timestamp. */
  readonly nowUtcSql: string;
  /** An expression that formats a zone-less UTC timestamp column as ISO 8601 text with milliseconds and `Z`. */
  utcIsoText(column: string): string;
  /** The column types of apim-migrate's own tables: an identity, a zone-less UTC timestamp, long text. */
  readonly ownTableTypes: { identity: string; utcTimestamp: string; longText: string; tableOptions: string };
  /** Runs an INSERT into a table with an identity column `ID` and gives back the new row's id. */
  insertReturningId(session: DbSession, insert: string, values: readonly unknown[]): Promise<number>;
  /** The column names of a table of the current schema, as the catalog gives them; empty when there is none. */
  tableColumns(session: DbSession, table: string): Promise<string[]>;
  /**
   * The tables of the current schema with these names in any case, by the name asked for, as stored. Where two
   * spellings exist, the one an unquoted name resolves to wins (lower case on PostgreSQL, as written on MySQL).
   */
  storedTableNames(session: DbSession, names: readonly string[]): Promise<Map<string, string>>;
  /**
   * The base tables among `names` that unquoted SQL finds (by its name in lower case), as stored: on PostgreSQL
   * the lower-case name in the current schema (a table created quoted as "AM_REVISION" is not found), on
   * MySQL/MariaDB the current database's tables in any case.
   */
  tablesUnquotedSqlFinds(session: DbSession, names: readonly string[]): Promise<string[]>;
  /**
   * The same tables as {@link tablesUnquotedSqlFinds}, each with its key in backup manifests (`schema.table` on
   * PostgreSQL, `table` on MySQL/MariaDB) and its name quoted for SQL.
   */
  tableRefsUnquotedSqlFinds(session: DbSession, names: readonly string[]): Promise<TableRef[]>;
  /** The columns of those tables that unquoted SQL finds, as `table.column` in lower case. */
  columnsUnquotedSqlFinds(session: DbSession, tables: readonly string[]): Promise<string[]>;
  /**
   * The key columns, in order, of the indices of the current schema with these names in any case. Index names are
   * unique per schema on PostgreSQL and per table on MySQL/MariaDB (`indexNamesPer`).
   */
  indexColumns(session: DbSession, names: readonly string[]): Promise<IndexColumn[]>;
  readonly indexNamesPer: 'schema' | 'table';
  /** Where the tables are, for messages: `the current schema of` / `database`, followed by the database name. */
  readonly tablesLive: string;
  /** The product and version of the server, as it reports them (a MySQL URL may reach a MariaDB server). */
  readServerInfo(session: DbSession): Promise<ServerInfo>;
  /** A query whose one row's `size` is the bytes of the current database (tables and indices). */
  readonly databaseSizeSql: string;
  /** Runs `work` with the session reading and writing timestamps in UTC, and puts the session back after. */
  inUtc<T>(session: DbSession, work: () => Promise<T>): Promise<T>;
  /** The base tables of the current schema(s): search_path on PostgreSQL, the current database on MySQL. */
  listTables(session: DbSession): Promise<TableRef[]>;
  /**
   * What the server says identifies it, whatever address reached it: PostgreSQL's `system_identifier`, MySQL's
   * `@@server_uuid`, MariaDB's host name, port and data directory (it has no server UUID). Two sessions with the
   * same identity are on one server, so `localhost` and `127.0.0.1` name the same databases.
   */
  serverIdentity(session: DbSession): Promise<string>;
  /**
   * The client sessions on the session's database other than this one, without the server's own processes
   * (PostgreSQL backend_type other than `client backend`; MySQL/MariaDB system users, the event scheduler,
   * replication threads), apim-migrate's marked. What a login without the privilege to see others' sessions
   * (PostgreSQL pg_read_all_stats, MySQL PROCESS) is shown is only its own user's.
   */
  clientSessions(session: DbSession): Promise<ClientSession[]>;

  /**
   * The ways this dialect writes a dump, the fastest first: a backup uses the first one whose compressor this machine
   * has (zstd must be on PATH), the last needs nothing. A restore takes every one of them.
   */
  readonly dumpVariants: readonly [DumpVariant, ...DumpVariant[]];
  /**
   * Where the restore tool reads the dump from. `stream`: as the stored file is read again and each block proved to
   * be one that was checked, inside a transaction that an input cut short rolls back (pg_restore
   * --single-transaction). `private-copy`: the restore changes the database before the tool has read the dump (MySQL
   * and MariaDB drop and recreate it), so the dump is copied into the private work folder in the read that is hashed,
   * and the copy is checked and restored.
   */
  readonly restoreInput: 'stream' | 'private-copy';
  /** `dump-snapshot`: counted inside the snapshot the dump used. `separate-snapshot`: see `rowCountNote`. */
  readonly rowCountSnapshot: 'dump-snapshot' | 'separate-snapshot';
  /** What the counts mean when they come from a snapshot of their own. */
  readonly rowCountNote?: string;
  dump(request: DumpRequest): Promise<DumpResult>;
  /** Checks that a decrypted dump is a complete one this dialect restores; throws DumpFormatError when not. */
  checkDump(request: DumpCheckRequest): Promise<CheckedDump>;
  /** Puts the database back to the dump's state. */
  restore(request: RestoreRequest): Promise<void>;
}
