/**
 * The ledger of design.md: what apim-migrate has done to these databases, kept in shared_db as the table
 * APIM_MIGRATE_LEDGER, one row per attempt of a stage. It lives in the database that the backups restore, so
 * after a restore it says exactly what the restored data has been through.
 *
 * The table is created by the first write, never by a read. Writes are meant to happen under the stage lock
 * (`acquireStageLock`), which is what keeps two runs from interleaving them. Times are UTC: the database server's
 * clock unless the caller passes one. What the rows mean for the next run is decided by `decideStageRun`, a pure function below.
 */

import { TOOL_VERSION } from '../core/version.js';
import { dialectOf } from './dialects.js';
import type { DbSession } from './session.js';

export const LEDGER_TABLE = 'APIM_MIGRATE_LEDGER';

export const LEDGER_STATES = ['started', 'succeeded', 'failed'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

/** The backup artifact taken before the attempt changed data. */
export interface LedgerBackup {
  /** Artifact name, e.g. `apim-migrate-registry-scripts-backup-a1`. */
  name: string;
  /** The store's id of the artifact. */
  id: string;
  /** The run that stored it. */
  runId: string;
  /** sha256 of the backup's manifest.json, checked before a restore. */
  sha256: string;
}

/**
 * Free-form facts about an attempt, stored as JSON. Two keys have a meaning for the rules:
 * - `dataChanged`: whether the attempt may have changed data. Absent means "not known", which the rules treat
 *   as changed; only an explicit `false` lets a failed attempt without a backup count as never having run.
 * - `message`: why an attempt failed.
 * Stages add their own, e.g. `versioningRemoved: ['tags']`, `restoredFrom: 12`, or `rolledBack: true` (see
 * recordRollback).
 */
export interface LedgerDetails {
  dataChanged?: boolean;
  message?: string;
  [key: string]: unknown;
}

export interface LedgerEntry {
  id: number;
  /** A stage name; a name this version does not know (written by a newer one) comes through as written. */
  stage: string;
  state: LedgerState;
  runId: string;
  attempt: number;
  /** The backup artifact taken before the attempt changed data (all four are set together, or none). */
  backupName: string | null;
  /** The store's id of the backup artifact. */
  backupId: string | null;
  /** The run that stored the backup. */
  backupRunId: string | null;
  /** sha256 of the backup's manifest.json, checked before a restore. */
  backupSha256: string | null;
  toolVersion: string;
  /** UTC, ISO 8601 with milliseconds, e.g. `2024-05-01T12:00:00.123Z`. */
  startedAt: string;
  finishedAt: string | null;
  details: LedgerDetails;
  /** What the backup of this attempt took (null when it took none here, or the ledger predates these columns). */
  backupBytes: number | null;
  backupSeconds: number | null;
  /** Bytes of the databases it backed up, as their catalogs said just before (`Dialect.databaseSizeSql`). */
  dataBytes: number | null;
}

/** How large and how long a backup was, and how large the data it backed up: what backup estimates start from. */
export interface BackupMeasure {
  bytes: number;
  seconds: number;
  dataBytes: number;
}

/** An entry whose backup was stored: what a restore starts from. */
export type LedgerEntryWithBackup = LedgerEntry & {
  backupName: string;
  backupId: string;
  backupRunId: string;
  backupSha256: string;
};

export type LedgerReading =
  | { exists: false }
  | {
      exists: true;
      /** Ordered by id, i.e. in the order the attempts started. */
      entries: LedgerEntry[];
    };

export interface StageStartedRecord {
  stage: string;
  runId: string;
  attempt: number;
  /** The backup taken before this attempt changes data; attach it later with `recordStageProgress` if need be. */
  backup?: LedgerBackup | null;
  /** The size and duration of the backup this attempt took (not of a restored one). */
  backupMeasure?: BackupMeasure;
  /** Default: this tool's version. */
  toolVersion?: string;
  details?: LedgerDetails;
  /** Default: the database server's clock. */
  at?: Date;
}

export interface StageProgressRecord {
  backup?: LedgerBackup;
  /** Merged (shallowly) into the entry's details. */
  details?: LedgerDetails;
}

export interface StageFinishedRecord {
  state: 'succeeded' | 'failed';
  /** Merged (shallowly) into the entry's details. */
  details?: LedgerDetails;
  /** Default: the database server's clock. */
  at?: Date;
}

/** Reads the ledger if it exists; it is created by the first write, never by a read. */
export async function readLedger(session: DbSession): Promise<LedgerReading> {
  const columns = await ledgerColumns(session);
  if (columns.size === 0) return { exists: false };
  const rows = await session.query<LedgerRow>(
    `SELECT ${selectList(session, columns)} FROM ${LEDGER_TABLE} ORDER BY ${columns.has('ID') ? 'ID' : '1'}`,
  );
  const entries = rows.map(toEntry);
  return { exists: true, entries };
}

/** Records that an attempt of a stage started (creating the ledger on its first write); returns the entry's id. */
export async function recordStageStarted(session: DbSession, record: StageStartedRecord): Promise<number> {
  if (!Number.isInteger(record.attempt) || record.attempt < 1) {
    throw new Error(`ledger: attempt must be a positive whole number, not ${record.attempt}`);
  }
  if (record.stage.length === 0 || record.stage.length > 40) {
    throw new Error(`ledger: a stage name has 1 to 40 characters, not "${record.stage}"`);
  }
  if (record.backup) checkBackup(record.backup);
  await ensureLedger(session);
  const backup = record.backup ?? null;
  const values: unknown[] = [
    record.stage,
    'started',
    record.runId,
    record.attempt,
    backup?.name ?? null,
    backup?.id ?? null,
    backup?.runId ?? null,
    backup?.sha256.toLowerCase() ?? null,
    record.toolVersion ?? TOOL_VERSION,
    JSON.stringify(record.details ?? {}),
    record.backupMeasure?.bytes ?? null,
    record.backupMeasure?.seconds ?? null,
    record.backupMeasure?.dataBytes ?? null,
  ];
  const startedAt =
    record.at === undefined ? nowUtc(session) : parameter(session, values.push(toSqlTimestamp(record.at)));
  const insert =
    `INSERT INTO ${LEDGER_TABLE} (STAGE, STATE, RUN_ID, ATTEMPT, BACKUP_NAME, BACKUP_ID, BACKUP_RUN_ID, ` +
    `BACKUP_SHA256, TOOL_VERSION, DETAILS, BACKUP_BYTES, BACKUP_SECONDS, DATA_BYTES, STARTED_AT) ` +
    `VALUES (${placeholders(session, 13)}, ${startedAt})`;
  return dialectOf(session.engine).insertReturningId(session, insert, values);
}

/** Attaches the backup and/or more details to an attempt that is still running. */
export async function recordStageProgress(
  session: DbSession,
  id: number,
  progress: StageProgressRecord,
): Promise<void> {
  const entry = await startedEntry(session, id);
  const assignments: string[] = [];
  const values: unknown[] = [];
  if (progress.backup) {
    checkBackup(progress.backup);
    const { name, id: backupId, runId, sha256 } = progress.backup;
    for (const [column, value] of [
      ['BACKUP_NAME', name],
      ['BACKUP_ID', backupId],
      ['BACKUP_RUN_ID', runId],
      ['BACKUP_SHA256', sha256.toLowerCase()],
    ] as const) {
      assignments.push(`${column} = ${parameter(session, values.push(value))}`);
    }
  }
  if (progress.details) {
    const details = JSON.stringify({ ...entry.details, ...progress.details });
    assignments.push(`DETAILS = ${parameter(session, values.push(details))}`);
  }
  if (assignments.length === 0) return;
  const where = parameter(session, values.push(id));
  await session.query(`UPDATE ${LEDGER_TABLE} SET ${assignments.join(', ')} WHERE ID = ${where}`, values);
}

/** Records how an attempt ended. An entry ends once: finishing it again is an error. */
export async function recordStageFinished(session: DbSession, id: number, finish: StageFinishedRecord): Promise<void> {
  if (finish.state !== 'succeeded' && finish.state !== 'failed') {
    throw new Error(`ledger: an attempt finishes as succeeded or failed, not ${String(finish.state)}`);
  }
  const entry = await startedEntry(session, id);
  const values: unknown[] = [finish.state, JSON.stringify({ ...entry.details, ...finish.details })];
  const finishedAt =
    finish.at === undefined ? nowUtc(session) : parameter(session, values.push(toSqlTimestamp(finish.at)));
  const where = parameter(session, values.push(id));
  await session.query(
    `UPDATE ${LEDGER_TABLE} SET STATE = ${parameter(session, 1)}, DETAILS = ${parameter(session, 2)}, ` +
      `FINISHED_AT = ${finishedAt} WHERE ID = ${where}`,
    values,
  );
}

/** A rollback of a stage whose changes are outside the databases (startup: the API-M home), which a restore records. */
export interface RollbackRecord {
  stage: string;
  runId: string;
  attempt: number;
  message: string;
}

/**
 * Records that a stage was rolled back outside the databases: an attempt of its own that ends as not succeeded and
 * left no change (`rolledBack: true`, `dataChanged: false`), so that the rules below let the stage run again from
 * the start. (A database restore needs no such row: it puts the ledger back with the data.)
 */
export async function recordRollback(session: DbSession, record: RollbackRecord): Promise<number> {
  const details: LedgerDetails = { rolledBack: true, dataChanged: false };
  const id = await recordStageStarted(session, {
    stage: record.stage,
    runId: record.runId,
    attempt: record.attempt,
    details,
  });
  await recordStageFinished(session, id, { state: 'failed', details: { message: record.message } });
  return id;
}

// ---------------------------------------------------------------------------------------------------------------
// What the ledger means for the next run of a stage (design.md, "Behaviours that matter"): pure rules over the
// entries `readLedger` returns. Decide under the stage lock, so that the entries cannot change meanwhile.
//
// A stage's attempts form series: a series is the attempts after the stage's last success (all of them when it
// never succeeded). While the latest series is unfinished (its last attempt started or failed), a re-run restores
// the backup taken before the series' first attempt that changed data, then runs again without a new backup.
// ---------------------------------------------------------------------------------------------------------------

export interface DecideStageRunOptions<S extends string> {
  stage: S;
  /** The pipeline order of the mutating stages, e.g. `['registry-scripts', 'identity', 'apim']`. */
  order: readonly S[];
  /** Every ledger entry, of any stage, in any order. */
  entries: readonly LedgerEntry[];
  force: boolean;
  /** Stages the config skips (identity when IS is the Key Manager): never a missing predecessor. */
  skippedStages?: readonly S[];
}

export type StageRunDecision<S extends string = string> =
  /**
   * Run it: back up, record the attempt, change data. `earlierAttempts` lists the attempts of an unfinished
   * series that recorded `dataChanged: false` (e.g. failed while taking the backup); usually empty.
   */
  | { kind: 'first-run'; earlierAttempts: LedgerEntry[] }
  /** The latest attempt succeeded: a no-op with a notice. */
  | { kind: 'already-succeeded'; entry: LedgerEntry }
  /**
   * Run again on the data as it is, after a new backup, because of `force`: after a success (`entry` is that
   * success), or when an unfinished series has nothing to restore (`entry` is the attempt without a backup).
   */
  | { kind: 'forced-rerun'; reason: 'succeeded' | 'nothing-to-restore'; entry: LedgerEntry }
  /**
   * The latest series is unfinished: restore every database the stage touches from `restoreFrom`'s backup (the
   * one taken before the series' first attempt that changed data; check its sha256), then run again without a
   * new backup. `latest` is the series' last attempt; `series` all of them, oldest first.
   */
  | { kind: 'resume-failed'; restoreFrom: LedgerEntryWithBackup; latest: LedgerEntry; series: LedgerEntry[] }
  /**
   * The latest series is unfinished and its first attempt that changed data (or may have: a crash leaves it
   * unknown) stored no backup. There is nothing to restore and the data may be half-changed, so the stage
   * refuses: the operator restores a backup of their own, or checks the data and runs again with `force`.
   */
  | { kind: 'nothing-to-restore'; entry: LedgerEntry; latest: LedgerEntry }
  /** Earlier stages in the order whose latest attempt on these databases is not a success (or that never ran). */
  | { kind: 'missing-predecessors'; missing: S[] };

export function decideStageRun<S extends string>(options: DecideStageRunOptions<S>): StageRunDecision<S> {
  const { stage, order, force } = options;
  const position = order.indexOf(stage);
  if (position < 0) throw new Error(`decideStageRun: ${stage} is not in the stage order (${order.join(', ')})`);
  const entries = [...options.entries].sort((a, b) => a.id - b.id);
  const skipped = new Set<string>(options.skippedStages ?? []);

  // A predecessor counts when its latest attempt succeeded: one that is being re-run and failed does not.
  const missing = order
    .slice(0, position)
    .filter((earlier) => !skipped.has(earlier) && latestOf(entries, earlier)?.state !== 'succeeded');
  if (missing.length > 0) return { kind: 'missing-predecessors', missing };

  const own = entries.filter((entry) => entry.stage === stage);
  const lastSuccessIndex = own.map((entry) => entry.state).lastIndexOf('succeeded');
  const lastSuccess = own[lastSuccessIndex];
  const series = own.slice(lastSuccessIndex + 1);
  const latest = series.at(-1);

  if (!latest) {
    if (!lastSuccess) return { kind: 'first-run', earlierAttempts: [] };
    return force
      ? { kind: 'forced-rerun', reason: 'succeeded', entry: lastSuccess }
      : { kind: 'already-succeeded', entry: lastSuccess };
  }
  // Only an explicit `dataChanged: false` says an attempt left the data alone.
  const firstChanging = series.find((entry) => entry.details.dataChanged !== false);
  if (!firstChanging) return { kind: 'first-run', earlierAttempts: series };
  if (hasBackup(firstChanging)) return { kind: 'resume-failed', restoreFrom: firstChanging, latest, series };
  return force
    ? { kind: 'forced-rerun', reason: 'nothing-to-restore', entry: firstChanging }
    : { kind: 'nothing-to-restore', entry: firstChanging, latest };
}

function latestOf(entries: readonly LedgerEntry[], stage: string): LedgerEntry | undefined {
  return entries.filter((entry) => entry.stage === stage).at(-1);
}

function hasBackup(entry: LedgerEntry): entry is LedgerEntryWithBackup {
  return (
    entry.backupName !== null && entry.backupId !== null && entry.backupRunId !== null && entry.backupSha256 !== null
  );
}

/** The row as the SELECT of `readLedger` returns it: lower-case aliases on both DBMSs. */
interface LedgerRow {
  id: unknown;
  stage: unknown;
  state: unknown;
  run_id: unknown;
  attempt: unknown;
  backup_name: unknown;
  backup_id: unknown;
  backup_run_id: unknown;
  backup_sha256: unknown;
  tool_version: unknown;
  started_at: unknown;
  finished_at: unknown;
  details: unknown;
  backup_bytes: unknown;
  backup_seconds: unknown;
  data_bytes: unknown;
}

/**
 * Columns added after the first release of the ledger, nullable: `ensureLedger` adds them to a ledger that lacks
 * them, and a ledger without them still reads (as NULL).
 */
const MEASURE_COLUMNS = [
  { name: 'BACKUP_BYTES', type: 'BIGINT' },
  { name: 'BACKUP_SECONDS', type: 'DOUBLE PRECISION' },
  { name: 'DATA_BYTES', type: 'BIGINT' },
] as const;

const COLUMNS = [
  'ID',
  'STAGE',
  'STATE',
  'RUN_ID',
  'ATTEMPT',
  'BACKUP_NAME',
  'BACKUP_ID',
  'BACKUP_RUN_ID',
  'BACKUP_SHA256',
  'TOOL_VERSION',
  'STARTED_AT',
  'FINISHED_AT',
  'DETAILS',
  ...MEASURE_COLUMNS.map((column) => column.name),
] as const;

const TIMESTAMP_COLUMNS = new Set<string>(['STARTED_AT', 'FINISHED_AT']);

/**
 * Selects every known column with a lower-case alias, timestamps formatted as UTC text by the server (the
 * drivers would read a zone-less timestamp in the runner's local zone). A column the table lacks reads as NULL,
 * so a ledger from another version still reads.
 */
function selectList(session: DbSession, present: Set<string>): string {
  return COLUMNS.map((column) => {
    const alias = column.toLowerCase();
    if (!present.has(column)) return `NULL AS ${alias}`;
    if (!TIMESTAMP_COLUMNS.has(column)) return `${column} AS ${alias}`;
    return `${dialectOf(session.engine).utcIsoText(column)} AS ${alias}`;
  }).join(', ');
}

function createTableStatement(session: DbSession): string {
  // Zone-less timestamps that always hold UTC.
  const { identity, utcTimestamp: timestamp, longText: text, tableOptions } = dialectOf(session.engine).ownTableTypes;
  return `CREATE TABLE ${LEDGER_TABLE} (
    ID ${identity},
    STAGE VARCHAR(40) NOT NULL,
    STATE VARCHAR(20) NOT NULL,
    RUN_ID VARCHAR(100) NOT NULL,
    ATTEMPT INTEGER NOT NULL,
    BACKUP_NAME VARCHAR(255),
    BACKUP_ID VARCHAR(255),
    BACKUP_RUN_ID VARCHAR(100),
    BACKUP_SHA256 CHAR(64),
    TOOL_VERSION VARCHAR(40) NOT NULL,
    STARTED_AT ${timestamp} NOT NULL,
    FINISHED_AT ${timestamp},
    DETAILS ${text},
${MEASURE_COLUMNS.map((column) => `    ${column.name} ${column.type},`).join('\n')}
    PRIMARY KEY (ID),
    CONSTRAINT APIM_MIGRATE_LEDGER_STATE CHECK (STATE IN ('started', 'succeeded', 'failed'))
  )${tableOptions}`;
}

/**
 * Creates the table when it is missing. Checked first rather than `CREATE TABLE IF NOT EXISTS`: on MySQL/MariaDB
 * any DDL statement commits the session's open transaction, even one that ends up doing nothing.
 */
async function ensureLedger(session: DbSession): Promise<void> {
  const columns = await ledgerColumns(session);
  if (columns.size === 0) {
    await session.query(createTableStatement(session));
    return;
  }
  // The upgrade of a ledger written by an earlier version: one nullable column at a time, both DBMSs' syntax.
  for (const column of MEASURE_COLUMNS) {
    if (!columns.has(column.name))
      await session.query(`ALTER TABLE ${LEDGER_TABLE} ADD COLUMN ${column.name} ${column.type}`);
  }
}

/** The ledger table's column names in upper case; empty when there is no ledger. */
async function ledgerColumns(session: DbSession): Promise<Set<string>> {
  const columns = await dialectOf(session.engine).tableColumns(session, LEDGER_TABLE);
  return new Set(columns.map((name) => name.toUpperCase()));
}

async function startedEntry(session: DbSession, id: number): Promise<LedgerEntry> {
  const columns = await ledgerColumns(session);
  if (columns.size === 0) throw new Error(`ledger: there is no ${LEDGER_TABLE} in this database, so no entry ${id}`);
  const [row] = await session.query<LedgerRow>(
    `SELECT ${selectList(session, columns)} FROM ${LEDGER_TABLE} WHERE ID = ${parameter(session, 1)}`,
    [id],
  );
  if (!row) throw new Error(`ledger: there is no entry ${id}`);
  const entry = toEntry(row);
  if (entry.state !== 'started') {
    throw new Error(
      `ledger: entry ${id} (${entry.stage}, run ${entry.runId} attempt ${entry.attempt}) already ${entry.state}`,
    );
  }
  return entry;
}

function toEntry(row: LedgerRow): LedgerEntry {
  const state = String(row.state);
  if (!(LEDGER_STATES as readonly string[]).includes(state)) {
    throw new Error(
      `ledger: entry ${String(row.id)} has the unknown state "${state}" (written by a newer apim-migrate?)`,
    );
  }
  return {
    id: Number(row.id),
    stage: String(row.stage),
    state: state as LedgerState,
    runId: text(row.run_id) ?? '',
    attempt: Number(row.attempt ?? 0),
    ...(row.backup_name === null || row.backup_name === undefined
      ? { backupName: null, backupId: null, backupRunId: null, backupSha256: null }
      : {
          backupName: String(row.backup_name),
          backupId: text(row.backup_id) ?? '',
          backupRunId: text(row.backup_run_id) ?? '',
          backupSha256: (text(row.backup_sha256) ?? '').trim(),
        }),
    toolVersion: text(row.tool_version) ?? '',
    startedAt: text(row.started_at) ?? '',
    finishedAt: text(row.finished_at),
    details: parseDetails(row.details),
    backupBytes: numberOrNull(row.backup_bytes),
    backupSeconds: numberOrNull(row.backup_seconds),
    dataBytes: numberOrNull(row.data_bytes),
  };
}

/** Both drivers may return 64-bit integers and decimals as strings. */
function numberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

function text(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function parseDetails(value: unknown): LedgerDetails {
  if (value === null || value === undefined || value === '') return {};
  const raw = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as LedgerDetails)
      : { value: parsed };
  } catch {
    // Someone edited the row by hand; keep what is there rather than failing `status`.
    return { unparsed: raw };
  }
}

function checkBackup(backup: LedgerBackup): void {
  if (!/^[0-9a-f]{64}$/i.test(backup.sha256)) {
    throw new Error(`ledger: backup ${backup.name} needs the sha256 of its manifest as 64 hex digits`);
  }
  if (!backup.name || !backup.id || !backup.runId) {
    throw new Error('ledger: a backup needs its artifact name, id and run id');
  }
}

function nowUtc(session: DbSession): string {
  return dialectOf(session.engine).nowUtcSql;
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC, which both DBMSs read into a zone-less timestamp unchanged. */
function toSqlTimestamp(at: Date): string {
  return at.toISOString().replace('T', ' ').replace('Z', '');
}

function parameter(session: DbSession, index: number): string {
  return dialectOf(session.engine).placeholder(index);
}

function placeholders(session: DbSession, count: number): string {
  return Array.from({ length: count }, (_, index) => parameter(session, index + 1)).join(', ');
}
