import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/db/ledger.js';
import { tablesAlreadyCleaned } from '../../src/stages/registry-scripts.js';

function entry(state: LedgerEntry['state'], versioningRemoved: unknown, stage = 'registry-scripts'): LedgerEntry {
  return {
    id: 1,
    stage,
    state,
    runId: 'run-1',
    attempt: 1,
    backupName: null,
    backupId: null,
    backupRunId: null,
    backupSha256: null,
    toolVersion: '0.1.0',
    startedAt: '2026-12-01T10:00:00.000Z',
    finishedAt: '2026-12-01T10:05:00.000Z',
    details: { versioningRemoved },
    backupBytes: null,
    backupSeconds: null,
    dataBytes: null,
  } as LedgerEntry;
}

describe('tablesAlreadyCleaned', () => {
  it("reads an older record's list as shared_db's", () => {
    const entries = [entry('succeeded', ['tags', 'properties'])];
    expect([...tablesAlreadyCleaned(entries, 'shared_db')]).toEqual(['tags', 'properties']);
    expect([...tablesAlreadyCleaned(entries, 'config')]).toEqual([]);
  });

  it('reads the record of each registry database apart, across attempts', () => {
    const entries = [
      entry('succeeded', { shared_db: ['tags'], config: ['ratings'] }),
      entry('succeeded', { config: ['comments'] }),
    ];
    expect([...tablesAlreadyCleaned(entries, 'shared_db')]).toEqual(['tags']);
    expect([...tablesAlreadyCleaned(entries, 'config')].sort()).toEqual(['comments', 'ratings']);
  });

  it('ignores failed attempts, other stages and unknown names', () => {
    const entries = [
      entry('failed', { shared_db: ['tags'] }),
      entry('succeeded', { shared_db: ['tags'] }, 'identity'),
      entry('succeeded', { shared_db: ['bogus', 'ratings'] }),
    ];
    expect([...tablesAlreadyCleaned(entries, 'shared_db')]).toEqual(['ratings']);
  });
});
