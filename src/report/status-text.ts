import { formatBytes, formatDuration } from '../core/format.js';
import type { LedgerEntry } from '../db/ledger.js';
import type { StatusReport } from '../stages/operations.js';

/** What `apim-migrate status` prints: the ledger, oldest entry first. */
export function renderStatusText(status: StatusReport): string {
  if (!status.ledger.exists) {
    return `No ledger in ${status.database}: apim-migrate has recorded no stage on these databases.`;
  }
  return [
    `Ledger in ${status.database}:`,
    ...status.ledger.entries.map((entry) => `  ${formatLedgerEntry(entry)}`),
  ].join('\n');
}

function formatLedgerEntry(entry: LedgerEntry): string {
  const when = entry.finishedAt ? `${entry.startedAt} to ${entry.finishedAt}` : `since ${entry.startedAt}`;
  const measure =
    entry.backupBytes !== null && entry.backupSeconds !== null
      ? ` (${formatBytes(entry.backupBytes)} in ${formatDuration(entry.backupSeconds * 1000)})`
      : '';
  const backup = entry.backupName ? `, backup ${entry.backupName} of run ${entry.backupRunId ?? '?'}${measure}` : '';
  const message = entry.details.message ? `: ${entry.details.message}` : '';
  // A rollback of the home (restore --stage startup) is an attempt of its own that changed nothing.
  const state = entry.details['rolledBack'] === true ? 'rolled back' : entry.state;
  return `#${entry.id} ${entry.stage} ${state} (run ${entry.runId}, attempt ${entry.attempt}, ${when}${backup})${message}`;
}
