/**
 * What the data profile means for the migration (pure): the backup each data-changing stage will take, estimated
 * from the ledger's records of earlier backups of these databases or from a default rate, the token-cleanup hint,
 * and the profile as text for plan and preflight.
 */

import type { BackupEstimate, DatabaseProfile, RowCount, WorkloadFigure } from '../core/data-profile.js';
import { formatBytes, formatDuration } from '../core/format.js';
import type { BackupRate } from '../db/dialect.js';
import type { LedgerEntry } from '../db/ledger.js';
import { TOKEN_CLEANUP_DOCS } from '../wso2/workload-figures.js';

/** How many of the last recorded backups a rate is taken from. */
export const ESTIMATE_RECORDS = 3;
/** How many of the largest tables the text lists (JSON has them all). */
export const TEXT_TOP_TABLES = 10;
/** Above this share of a database's bytes in the token tables, run WSO2's token cleanup first. */
export const TOKEN_SHARE_HINT = 0.5;

/** One database a stage backs up: its bytes now, and the rate its engine's default gives. */
export interface EstimateInput {
  dataBytes: number;
  defaultRate: BackupRate;
}

/**
 * The likely size and duration of a backup of these databases: from the last {@link ESTIMATE_RECORDS} backups the
 * ledger measured (bytes of backup and seconds per byte of database), else from each engine's default rate.
 */
export function estimateBackup(databases: readonly EstimateInput[], entries: readonly LedgerEntry[]): BackupEstimate {
  const dataBytes = databases.reduce((sum, db) => sum + db.dataBytes, 0);
  const records = [...entries]
    .filter((entry) => entry.backupBytes !== null && entry.backupSeconds !== null && (entry.dataBytes ?? 0) > 0)
    .sort((a, b) => a.id - b.id)
    .slice(-ESTIMATE_RECORDS);
  if (records.length > 0) {
    const measured = records.reduce((sum, entry) => sum + (entry.dataBytes ?? 0), 0);
    const bytes = records.reduce((sum, entry) => sum + (entry.backupBytes ?? 0), 0);
    const seconds = records.reduce((sum, entry) => sum + (entry.backupSeconds ?? 0), 0);
    return {
      dataBytes,
      bytes: Math.round((dataBytes * bytes) / measured),
      seconds: (dataBytes * seconds) / measured,
      basis: 'ledger',
      records: records.length,
    };
  }
  return {
    dataBytes,
    bytes: Math.round(databases.reduce((sum, db) => sum + db.dataBytes * db.defaultRate.bytesPerDataByte, 0)),
    seconds: databases.reduce((sum, db) => sum + db.dataBytes / db.defaultRate.dataBytesPerSecond, 0),
    basis: 'default',
    records: 0,
  };
}

export function describeEstimate(estimate: BackupEstimate): string {
  const what = `backup of ${formatBytes(estimate.dataBytes)} of data: about ${formatBytes(estimate.bytes)} in about ${formatDuration(estimate.seconds * 1000)}`;
  return estimate.basis === 'ledger'
    ? `${what} (estimated from the last ${estimate.records === 1 ? 'backup' : `${estimate.records} backups`} the ledger measured on these databases)`
    : `${what} (rough estimate: no backup of these databases is measured in the ledger yet, so a default rate measured on one machine is used; see README "The data profile")`;
}

/** The hint when the OAuth token and authorization-code tables hold more than half of the database's bytes. */
export function tokenCleanupHint(profile: DatabaseProfile): string | undefined {
  if (profile.tokenTables.share <= TOKEN_SHARE_HINT) return undefined;
  const percent = Math.round(profile.tokenTables.share * 100);
  return (
    `${profile.label}: the OAuth token and authorization-code tables (IDN_OAUTH2_ACCESS_TOKEN, IDN_OAUTH2_AUTHORIZATION_CODE) ` +
    `hold ${percent}% of the database's bytes (${formatBytes(profile.tokenTables.bytes)} of ${formatBytes(profile.totalBytes)}): ` +
    `run WSO2's token cleanup before the migration, which otherwise migrates and locks every unused token (${TOKEN_CLEANUP_DOCS})`
  );
}

export function formatCount(count: RowCount): string {
  return count.estimate ? `~${count.rows} (estimate)` : String(count.rows);
}

function describeFigure(figure: WorkloadFigure): string {
  const parts = [`${figure.label}: ${formatCount(figure.count)}`];
  if (figure.byValue) {
    const states = Object.entries(figure.byValue).map(([value, rows]) => `${value} ${rows}`);
    if (states.length > 0) parts.push(`by state: ${states.join(', ')}`);
  }
  if (figure.expired !== undefined) parts.push(`expired: ${figure.expired}`);
  if (figure.note) parts.push(figure.note);
  return parts.join('; ');
}

/** The profile as text: per database its size, its largest tables and the WSO2 figures, then the hints. */
export function renderProfileLines(profiles: readonly DatabaseProfile[], top = TEXT_TOP_TABLES): string[] {
  const lines: string[] = [];
  for (const profile of profiles) {
    lines.push(
      `${profile.label} (${profile.engine}, ${profile.address}): ${formatBytes(profile.totalBytes)} in ${profile.tables.length} tables`,
    );
    const largest = profile.tables.slice(0, top);
    if (largest.length > 0) {
      lines.push(
        `  the ${largest.length === 1 ? 'largest table' : `${largest.length} largest tables`} (rows, bytes with indices):`,
      );
      for (const table of largest)
        lines.push(`    ${table.table}: ${formatCount(table.rows)} rows, ${formatBytes(table.bytes)}`);
    }
    for (const figure of profile.figures) lines.push(`  ${describeFigure(figure)}`);
    const hint = tokenCleanupHint(profile);
    if (hint) lines.push(`  WARNING: ${hint}`);
  }
  return lines;
}
