import { describe, expect, it } from 'vitest';
import { decideStageRun, type LedgerDetails, type LedgerEntry, type LedgerState } from '../../src/db/ledger.js';
import type { StageName } from '../../src/core/results.js';

const ORDER: readonly StageName[] = ['registry-scripts', 'identity', 'apim'];

interface EntrySpec {
  id: number;
  stage: StageName;
  state: LedgerState;
  /** The attempt's backup, by a short label; none when absent. */
  backup?: string;
  details?: LedgerDetails;
}

function entry(spec: EntrySpec): LedgerEntry {
  return {
    id: spec.id,
    stage: spec.stage,
    state: spec.state,
    runId: `run-${spec.id}`,
    attempt: 1,
    backupName: spec.backup === undefined ? null : `apim-migrate-${spec.stage}-backup-${spec.backup}`,
    backupId: spec.backup === undefined ? null : `id-${spec.backup}`,
    backupRunId: spec.backup === undefined ? null : `run-of-${spec.backup}`,
    backupSha256: spec.backup === undefined ? null : 'a'.repeat(64),
    toolVersion: '0.1.0',
    startedAt: '2024-05-01T10:00:00.000Z',
    finishedAt: spec.state === 'started' ? null : '2024-05-01T10:05:00.000Z',
    details: spec.details ?? {},
    backupBytes: null,
    backupSeconds: null,
    dataBytes: null,
  };
}

const registryDone = entry({ id: 1, stage: 'registry-scripts', state: 'succeeded', backup: 'r1' });
const identityDone = entry({ id: 2, stage: 'identity', state: 'succeeded', backup: 'i1' });

interface Case {
  name: string;
  stage: StageName;
  entries: Array<EntrySpec | LedgerEntry>;
  force?: boolean;
  skipped?: StageName[];
  /** The decision's kind and the fields that matter, entries named by id. */
  expected:
    | { kind: 'first-run'; earlierAttempts: number[] }
    | { kind: 'already-succeeded'; entry: number }
    | { kind: 'forced-rerun'; reason: 'succeeded' | 'nothing-to-restore'; entry: number }
    | { kind: 'resume-failed'; restoreFrom: number; latest: number; series: number[] }
    | { kind: 'nothing-to-restore'; entry: number; latest: number }
    | { kind: 'missing-predecessors'; missing: StageName[] };
}

function toEntries(list: Array<EntrySpec | LedgerEntry>): LedgerEntry[] {
  return list.map((item) => ('runId' in item ? item : entry(item)));
}

const cases: Case[] = [
  // first runs
  {
    name: 'the first stage on an empty ledger',
    stage: 'registry-scripts',
    entries: [],
    expected: { kind: 'first-run', earlierAttempts: [] },
  },
  {
    name: 'a stage whose predecessors all succeeded',
    stage: 'apim',
    entries: [registryDone, identityDone],
    expected: { kind: 'first-run', earlierAttempts: [] },
  },
  {
    name: 'earlier attempts that said they changed nothing (backup failed) count as never run',
    stage: 'registry-scripts',
    entries: [
      { id: 1, stage: 'registry-scripts', state: 'failed', details: { dataChanged: false, message: 'disk full' } },
      { id: 2, stage: 'registry-scripts', state: 'failed', backup: 'r2', details: { dataChanged: false } },
    ],
    expected: { kind: 'first-run', earlierAttempts: [1, 2] },
  },
  {
    name: 'force changes nothing for a first run',
    stage: 'registry-scripts',
    entries: [],
    force: true,
    expected: { kind: 'first-run', earlierAttempts: [] },
  },

  // succeeded
  {
    name: 'a succeeded stage is a no-op without force',
    stage: 'registry-scripts',
    entries: [registryDone],
    expected: { kind: 'already-succeeded', entry: 1 },
  },
  {
    name: 'a succeeded stage runs again with force',
    stage: 'registry-scripts',
    entries: [registryDone],
    force: true,
    expected: { kind: 'forced-rerun', reason: 'succeeded', entry: 1 },
  },
  {
    name: 'a success after failed attempts ends their series',
    stage: 'registry-scripts',
    entries: [
      { id: 1, stage: 'registry-scripts', state: 'failed', backup: 'r1' },
      { id: 2, stage: 'registry-scripts', state: 'succeeded', backup: 'r1' },
    ],
    expected: { kind: 'already-succeeded', entry: 2 },
  },

  // resume
  {
    name: 'a failed attempt with a backup is restored from it',
    stage: 'registry-scripts',
    entries: [{ id: 1, stage: 'registry-scripts', state: 'failed', backup: 'r1', details: { message: 'boom' } }],
    expected: { kind: 'resume-failed', restoreFrom: 1, latest: 1, series: [1] },
  },
  {
    name: 'an attempt that never finished (runner died) is restored from its backup',
    stage: 'registry-scripts',
    entries: [{ id: 1, stage: 'registry-scripts', state: 'started', backup: 'r1' }],
    expected: { kind: 'resume-failed', restoreFrom: 1, latest: 1, series: [1] },
  },
  {
    name: 'several failed attempts restore the backup of the first one',
    stage: 'identity',
    entries: [
      registryDone,
      { id: 2, stage: 'identity', state: 'failed', backup: 'i1' },
      { id: 3, stage: 'identity', state: 'failed', backup: 'i1', details: { restoredFrom: 2 } },
      { id: 4, stage: 'identity', state: 'started', backup: 'i1' },
    ],
    expected: { kind: 'resume-failed', restoreFrom: 2, latest: 4, series: [2, 3, 4] },
  },
  {
    name: 'the first attempt that changed data counts, not one that failed before changing anything',
    stage: 'registry-scripts',
    entries: [
      { id: 1, stage: 'registry-scripts', state: 'failed', details: { dataChanged: false } },
      { id: 2, stage: 'registry-scripts', state: 'failed', backup: 'r2', details: { dataChanged: true } },
      { id: 3, stage: 'registry-scripts', state: 'failed', backup: 'r2' },
    ],
    expected: { kind: 'resume-failed', restoreFrom: 2, latest: 3, series: [1, 2, 3] },
  },
  {
    name: 'a forced re-run that failed restores its own backup, not the one before the old success',
    stage: 'registry-scripts',
    entries: [
      { id: 1, stage: 'registry-scripts', state: 'succeeded', backup: 'r1' },
      { id: 2, stage: 'registry-scripts', state: 'failed', backup: 'r2' },
    ],
    expected: { kind: 'resume-failed', restoreFrom: 2, latest: 2, series: [2] },
  },
  {
    name: 'force does not skip the restore of a failed attempt',
    stage: 'registry-scripts',
    entries: [{ id: 1, stage: 'registry-scripts', state: 'failed', backup: 'r1' }],
    force: true,
    expected: { kind: 'resume-failed', restoreFrom: 1, latest: 1, series: [1] },
  },

  // nothing to restore
  {
    name: 'an attempt started without a backup and never finished: nothing to restore, data unknown',
    stage: 'registry-scripts',
    entries: [{ id: 1, stage: 'registry-scripts', state: 'started' }],
    expected: { kind: 'nothing-to-restore', entry: 1, latest: 1 },
  },
  {
    name: 'a failed attempt without a backup that changed data: nothing to restore',
    stage: 'registry-scripts',
    entries: [
      { id: 1, stage: 'registry-scripts', state: 'failed', details: { dataChanged: true } },
      { id: 2, stage: 'registry-scripts', state: 'failed', backup: 'r2' },
    ],
    expected: { kind: 'nothing-to-restore', entry: 1, latest: 2 },
  },
  {
    name: 'with force, a series with nothing to restore runs again on the data as it is',
    stage: 'registry-scripts',
    entries: [{ id: 1, stage: 'registry-scripts', state: 'started' }],
    force: true,
    expected: { kind: 'forced-rerun', reason: 'nothing-to-restore', entry: 1 },
  },

  // order
  {
    name: 'identity before registry-scripts succeeded',
    stage: 'identity',
    entries: [],
    expected: { kind: 'missing-predecessors', missing: ['registry-scripts'] },
  },
  {
    name: 'apim names every missing predecessor, in order',
    stage: 'apim',
    entries: [],
    expected: { kind: 'missing-predecessors', missing: ['registry-scripts', 'identity'] },
  },
  {
    name: 'a predecessor skipped by config (IS as Key Manager) is not missing',
    stage: 'apim',
    entries: [registryDone],
    skipped: ['identity'],
    expected: { kind: 'first-run', earlierAttempts: [] },
  },
  {
    name: 'a skipped predecessor does not excuse another one',
    stage: 'apim',
    entries: [],
    skipped: ['identity'],
    expected: { kind: 'missing-predecessors', missing: ['registry-scripts'] },
  },
  {
    name: 'a predecessor that only failed is missing',
    stage: 'identity',
    entries: [{ id: 1, stage: 'registry-scripts', state: 'failed', backup: 'r1' }],
    expected: { kind: 'missing-predecessors', missing: ['registry-scripts'] },
  },
  {
    name: 'a predecessor whose re-run failed after a success is missing again',
    stage: 'apim',
    entries: [registryDone, identityDone, { id: 3, stage: 'registry-scripts', state: 'failed', backup: 'r3' }],
    expected: { kind: 'missing-predecessors', missing: ['registry-scripts'] },
  },
  {
    name: 'missing predecessors are named even when the stage itself once succeeded',
    stage: 'identity',
    entries: [registryDone, identityDone, { id: 3, stage: 'registry-scripts', state: 'started', backup: 'r3' }],
    force: true,
    expected: { kind: 'missing-predecessors', missing: ['registry-scripts'] },
  },
  {
    name: 'a later stage is no predecessor',
    stage: 'registry-scripts',
    entries: [{ id: 1, stage: 'apim', state: 'failed', backup: 'a1' }],
    expected: { kind: 'first-run', earlierAttempts: [] },
  },
  {
    name: 'entries are taken in id order whatever order they come in',
    stage: 'registry-scripts',
    entries: [
      { id: 3, stage: 'registry-scripts', state: 'failed', backup: 'r3' },
      { id: 1, stage: 'registry-scripts', state: 'succeeded', backup: 'r1' },
      { id: 2, stage: 'registry-scripts', state: 'failed', backup: 'r2' },
    ],
    expected: { kind: 'resume-failed', restoreFrom: 2, latest: 3, series: [2, 3] },
  },
];

/** Replaces entries in the decision by their ids, so that the table stays readable. */
function summarize(decision: ReturnType<typeof decideStageRun<StageName>>): unknown {
  const ids = (list: LedgerEntry[]) => list.map((item) => item.id);
  switch (decision.kind) {
    case 'first-run':
      return { kind: decision.kind, earlierAttempts: ids(decision.earlierAttempts) };
    case 'already-succeeded':
      return { kind: decision.kind, entry: decision.entry.id };
    case 'forced-rerun':
      return { kind: decision.kind, reason: decision.reason, entry: decision.entry.id };
    case 'resume-failed':
      return {
        kind: decision.kind,
        restoreFrom: decision.restoreFrom.id,
        latest: decision.latest.id,
        series: ids(decision.series),
      };
    case 'nothing-to-restore':
      return { kind: decision.kind, entry: decision.entry.id, latest: decision.latest.id };
    case 'missing-predecessors':
      return decision;
  }
}

describe('decideStageRun', () => {
  it.each(cases)('$name', ({ stage, entries, force, skipped, expected }) => {
    const decision = decideStageRun({
      stage,
      order: ORDER,
      entries: toEntries(entries),
      force: force ?? false,
      ...(skipped ? { skippedStages: skipped } : {}),
    });
    expect(summarize(decision)).toEqual(expected);
  });

  it('hands over the backup to restore from, with its sha256', () => {
    const decision = decideStageRun({
      stage: 'registry-scripts',
      order: ORDER,
      entries: [entry({ id: 7, stage: 'registry-scripts', state: 'failed', backup: 'r7' })],
      force: false,
    });
    expect(decision.kind).toBe('resume-failed');
    if (decision.kind !== 'resume-failed') return;
    expect(decision.restoreFrom).toMatchObject({
      backupName: 'apim-migrate-registry-scripts-backup-r7',
      backupId: 'id-r7',
      backupRunId: 'run-of-r7',
      backupSha256: 'a'.repeat(64),
    });
  });

  it('refuses a stage that is not in the order', () => {
    expect(() => decideStageRun({ stage: 'verify' as StageName, order: ORDER, entries: [], force: false })).toThrow(
      /verify is not in the stage order/,
    );
  });
});
