import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/db/ledger.js';
import { renderStatusText } from '../../src/report/status-text.js';

const ENTRY: LedgerEntry = {
  id: 3,
  stage: 'identity',
  state: 'succeeded',
  runId: '77',
  attempt: 1,
  backupName: 'apim-migrate-identity-backup-a1',
  backupId: '9',
  backupRunId: '77',
  backupSha256: 'a'.repeat(64),
  toolVersion: '0.1.0',
  startedAt: '2026-12-01T10:00:00.000Z',
  finishedAt: '2026-12-01T10:05:00.000Z',
  details: {},
  backupBytes: 3 * 1024 ** 2,
  backupSeconds: 2.5,
  dataBytes: 8 * 1024 ** 2,
};

describe('renderStatusText', () => {
  it("names a backup's size and duration where the ledger measured them", () => {
    const text = renderStatusText({
      database: 'shared_db (db:5432/shared)',
      ledger: { exists: true, entries: [ENTRY] },
    });
    expect(text).toContain('backup apim-migrate-identity-backup-a1 of run 77 (3.0 MiB in 2.5 s)');
    const unmeasured = renderStatusText({
      database: 'shared_db',
      ledger: { exists: true, entries: [{ ...ENTRY, backupBytes: null, backupSeconds: null, dataBytes: null }] },
    });
    expect(unmeasured).toContain('backup apim-migrate-identity-backup-a1 of run 77)');
  });
});
