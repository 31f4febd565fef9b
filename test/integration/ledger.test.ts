import { afterEach, describe, expect, it } from 'vitest';
import {
  decideStageRun,
  LEDGER_TABLE,
  readLedger,
  recordStageFinished,
  recordStageProgress,
  recordStageStarted,
  type LedgerBackup,
  type LedgerEntry,
} from '../../src/db/ledger.js';
import { openSession, type DbSession } from '../../src/db/session.js';
import { TOOL_VERSION } from '../../src/core/version.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';

type Engine = 'postgresql' | 'mariadb';

const BACKUP: LedgerBackup = {
  name: 'apim-migrate-registry-scripts-backup-a1',
  id: '4242',
  runId: '9001',
  sha256: 'ab'.repeat(32),
};

describe.each<[string, Engine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('ledger on %s', (_label, engine) => {
  let scratch: ScratchDatabase | undefined;
  let session: DbSession | undefined;

  afterEach(async () => {
    await session?.close();
    session = undefined;
    await scratch?.drop();
    scratch = undefined;
  });

  async function freshSession(): Promise<DbSession> {
    scratch = await (engine === 'postgresql' ? createScratchPostgres : createScratchMariadb)('ledger');
    session = await openSession(scratch.target);
    return session;
  }

  async function tableColumns(of: DbSession): Promise<string[]> {
    const rows = await of.query<{ name: string }>(
      engine === 'postgresql'
        ? 'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position'
        : 'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position',
      [engine === 'postgresql' ? LEDGER_TABLE.toLowerCase() : LEDGER_TABLE],
    );
    return rows.map((row) => row.name.toUpperCase());
  }

  async function entries(of: DbSession): Promise<LedgerEntry[]> {
    const reading = await readLedger(of);
    if (!reading.exists) throw new Error('expected a ledger');
    return reading.entries;
  }

  it('is not created by a read, and is created by the first write', async () => {
    const db = await freshSession();
    expect(await readLedger(db)).toEqual({ exists: false });
    expect(await readLedger(db)).toEqual({ exists: false });
    expect(await tableColumns(db)).toEqual([]);

    // A write that is refused before it starts creates nothing either.
    await expect(
      recordStageStarted(db, {
        stage: 'registry-scripts',
        runId: '1',
        attempt: 1,
        backup: { ...BACKUP, sha256: 'not-a-sha' },
      }),
    ).rejects.toThrow(/sha256 of its manifest/);
    expect(await tableColumns(db)).toEqual([]);

    const id = await recordStageStarted(db, { stage: 'registry-scripts', runId: '9001', attempt: 1, backup: BACKUP });
    expect(await tableColumns(db)).toEqual([
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
      'BACKUP_BYTES',
      'BACKUP_SECONDS',
      'DATA_BYTES',
    ]);
    const [entry, ...rest] = await entries(db);
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({
      id,
      stage: 'registry-scripts',
      state: 'started',
      runId: '9001',
      attempt: 1,
      backupName: BACKUP.name,
      backupId: BACKUP.id,
      backupRunId: BACKUP.runId,
      backupSha256: BACKUP.sha256,
      toolVersion: TOOL_VERSION,
      finishedAt: null,
      details: {},
    });
  });

  it('records the transitions of attempts: started, then succeeded or failed, once', async () => {
    const db = await freshSession();
    const failing = await recordStageStarted(db, { stage: 'identity', runId: '10', attempt: 1, backup: BACKUP });
    await recordStageFinished(db, failing, { state: 'failed', details: { message: 'the server exited early' } });
    const succeeding = await recordStageStarted(db, {
      stage: 'identity',
      runId: '10',
      attempt: 2,
      backup: BACKUP,
      details: { restoredFrom: failing },
    });
    await recordStageFinished(db, succeeding, { state: 'succeeded', details: { durationMs: 1234 } });

    const [first, second] = await entries(db);
    expect(first).toMatchObject({ id: failing, state: 'failed', details: { message: 'the server exited early' } });
    expect(first?.finishedAt).toMatch(/Z$/);
    // Details given when finishing are merged into those given when starting.
    expect(second).toMatchObject({
      id: succeeding,
      state: 'succeeded',
      attempt: 2,
      details: { restoredFrom: failing, durationMs: 1234 },
    });

    await expect(recordStageFinished(db, succeeding, { state: 'failed' })).rejects.toThrow(
      new RegExp(`entry ${succeeding} \\(identity, run 10 attempt 2\\) already succeeded`),
    );
    await expect(recordStageFinished(db, 999_999, { state: 'failed' })).rejects.toThrow(/no entry 999999/);
    await expect(recordStageProgress(db, failing, { details: { late: true } })).rejects.toThrow(/already failed/);
    expect((await entries(db)).map((entry) => entry.state)).toEqual(['failed', 'succeeded']);
  });

  it('attaches a backup and details to a running attempt', async () => {
    const db = await freshSession();
    const id = await recordStageStarted(db, {
      stage: 'registry-scripts',
      runId: '5',
      attempt: 1,
      details: { dataChanged: false },
    });
    expect((await entries(db))[0]).toMatchObject({ backupName: null, backupSha256: null });
    await recordStageProgress(db, id, { backup: { ...BACKUP, sha256: BACKUP.sha256.toUpperCase() } });
    await recordStageProgress(db, id, { details: { dataChanged: true } });
    const [entry] = await entries(db);
    expect(entry).toMatchObject({
      state: 'started',
      backupName: BACKUP.name,
      backupId: BACKUP.id,
      backupRunId: BACKUP.runId,
      backupSha256: BACKUP.sha256,
      details: { dataChanged: true },
    });
  });

  it('reads several attempts of several stages in the order they started', async () => {
    const db = await freshSession();
    const ids: number[] = [];
    const plan: Array<[string, number, 'succeeded' | 'failed' | undefined]> = [
      ['registry-scripts', 1, 'failed'],
      ['registry-scripts', 2, 'succeeded'],
      ['identity', 1, 'failed'],
      ['identity', 2, 'failed'],
      ['identity', 3, undefined],
    ];
    for (const [stage, attempt, state] of plan) {
      const id = await recordStageStarted(db, { stage, runId: '77', attempt, backup: { ...BACKUP, runId: '77' } });
      if (state) await recordStageFinished(db, id, { state });
      ids.push(id);
    }
    const read = await entries(db);
    expect(read.map((entry) => entry.id)).toEqual(ids);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(read.map((entry) => [entry.stage, entry.attempt, entry.state])).toEqual([
      ['registry-scripts', 1, 'failed'],
      ['registry-scripts', 2, 'succeeded'],
      ['identity', 1, 'failed'],
      ['identity', 2, 'failed'],
      ['identity', 3, 'started'],
    ]);
    // What the rules make of it: identity resumes from its first attempt's backup.
    const decision = decideStageRun({
      stage: 'identity',
      order: ['registry-scripts', 'identity', 'apim'],
      entries: read,
      force: false,
    });
    expect(decision.kind).toBe('resume-failed');
    expect(decision.kind === 'resume-failed' ? decision.restoreFrom.id : undefined).toBe(ids[2]);
  });

  it('keeps JSON details exactly', async () => {
    const db = await freshSession();
    const details = {
      dataChanged: true,
      versioningRemoved: ['tags', 'comments'],
      counts: { REG_RESOURCE_TAG: 1200, REG_RESOURCE_COMMENT: 0 },
      message:
        'ERROR: duplicate key value violates unique constraint "idx_reg_path"\nDETAIL: Key (path)=(\\x00) — ünïcödé 🚀',
      nested: { deep: [{ a: null, b: false, c: 1.5 }] },
      long: 'x'.repeat(100_000),
    };
    const id = await recordStageStarted(db, { stage: 'apim', runId: '1', attempt: 1, details });
    await recordStageFinished(db, id, { state: 'failed', details: { finishedBy: "it's done" } });
    expect((await entries(db))[0]?.details).toEqual({ ...details, finishedBy: "it's done" });
  });

  it('keeps times in UTC whatever the session and the runner think the time zone is', async () => {
    const db = await freshSession();
    const runnerZone = process.env['TZ'];
    process.env['TZ'] = 'America/St_Johns';
    try {
      await db.query(engine === 'postgresql' ? "SET TIME ZONE 'Pacific/Kiritimati'" : "SET time_zone = '+13:00'");
      const before = Date.now();
      const id = await recordStageStarted(db, { stage: 'apim', runId: '1', attempt: 1 });
      await recordStageFinished(db, id, { state: 'succeeded' });
      const after = Date.now();
      const [entry] = await entries(db);
      for (const at of [entry?.startedAt, entry?.finishedAt]) {
        expect(at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        const time = Date.parse(at ?? '');
        // The server's clock, so a little slack; an hour off would mean a time zone slipped in.
        expect(time).toBeGreaterThanOrEqual(before - 5_000);
        expect(time).toBeLessThanOrEqual(after + 5_000);
      }

      const given = await recordStageStarted(db, {
        stage: 'apim',
        runId: '1',
        attempt: 2,
        at: new Date('2024-02-29T23:59:58.123Z'),
      });
      await recordStageFinished(db, given, { state: 'failed', at: new Date('2024-03-01T00:00:01.007Z') });
      const [, second] = await entries(db);
      expect(second?.startedAt).toBe('2024-02-29T23:59:58.123Z');
      expect(second?.finishedAt).toBe('2024-03-01T00:00:01.007Z');
      // What an operator sees in SQL is UTC too.
      const [raw] = await db.query<{ text: string }>(
        engine === 'postgresql'
          ? `SELECT STARTED_AT::text AS text FROM ${LEDGER_TABLE} WHERE ID = $1`
          : `SELECT CAST(STARTED_AT AS CHAR) AS text FROM ${LEDGER_TABLE} WHERE ID = ?`,
        [given],
      );
      expect(raw?.text).toBe('2024-02-29 23:59:58.123');
    } finally {
      if (runnerZone === undefined) delete process.env['TZ'];
      else process.env['TZ'] = runnerZone;
    }
  });

  it('reads a ledger table that lacks columns (another version) without failing', async () => {
    const db = await freshSession();
    await db.query(`CREATE TABLE ${LEDGER_TABLE} (ID INTEGER, STAGE VARCHAR(40), STATE VARCHAR(20))`);
    await db.query(
      `INSERT INTO ${LEDGER_TABLE} VALUES (2, 'identity', 'failed'), (1, 'registry-scripts', 'succeeded')`,
    );
    const read = await entries(db);
    expect(read.map((entry) => [entry.id, entry.stage, entry.state])).toEqual([
      [1, 'registry-scripts', 'succeeded'],
      [2, 'identity', 'failed'],
    ]);
    expect(read[0]).toMatchObject({ backupName: null, finishedAt: null, details: {} });
  });

  it("records a backup's bytes, duration and the bytes of data it backed up", async () => {
    const db = await freshSession();
    const measure = { bytes: 5_000_000_123, seconds: 12.5, dataBytes: 9_000_000_456 };
    await recordStageStarted(db, {
      stage: 'registry-scripts',
      runId: '1',
      attempt: 1,
      backup: BACKUP,
      backupMeasure: measure,
    });
    await recordStageStarted(db, { stage: 'identity', runId: '1', attempt: 1, backup: BACKUP });
    const [measured, unmeasured] = await entries(db);
    expect(measured).toMatchObject({ backupBytes: measure.bytes, backupSeconds: 12.5, dataBytes: measure.dataBytes });
    expect(unmeasured).toMatchObject({ backupBytes: null, backupSeconds: null, dataBytes: null });
  });

  it('reads a ledger of the version before the backup measures, and adds their columns on its next write', async () => {
    const db = await freshSession();
    const oldId = await recordStageStarted(db, { stage: 'registry-scripts', runId: '1', attempt: 1, backup: BACKUP });
    // The ledger as the previous version made it: no measure columns.
    for (const column of ['BACKUP_BYTES', 'BACKUP_SECONDS', 'DATA_BYTES']) {
      await db.query(`ALTER TABLE ${LEDGER_TABLE} DROP COLUMN ${column}`);
    }
    expect(await tableColumns(db)).not.toContain('BACKUP_BYTES');
    const [old] = await entries(db);
    expect(old).toMatchObject({
      id: oldId,
      backupName: BACKUP.name,
      backupBytes: null,
      backupSeconds: null,
      dataBytes: null,
    });

    await recordStageFinished(db, oldId, { state: 'succeeded' });
    await recordStageStarted(db, {
      stage: 'identity',
      runId: '1',
      attempt: 1,
      backup: BACKUP,
      backupMeasure: { bytes: 10, seconds: 0.25, dataBytes: 40 },
    });
    expect(await tableColumns(db)).toEqual(expect.arrayContaining(['BACKUP_BYTES', 'BACKUP_SECONDS', 'DATA_BYTES']));
    const read = await entries(db);
    expect(
      read.map((entry) => [entry.stage, entry.state, entry.backupBytes, entry.backupSeconds, entry.dataBytes]),
    ).toEqual([
      ['registry-scripts', 'succeeded', null, null, null],
      ['identity', 'started', 10, 0.25, 40],
    ]);
  });

  it('refuses a write that makes no sense', async () => {
    const db = await freshSession();
    await expect(recordStageStarted(db, { stage: 'apim', runId: '1', attempt: 0 })).rejects.toThrow(/attempt/);
    await expect(recordStageFinished(db, 1, { state: 'failed' })).rejects.toThrow(/no APIM_MIGRATE_LEDGER/);
    const id = await recordStageStarted(db, { stage: 'apim', runId: '1', attempt: 1 });
    await expect(recordStageFinished(db, id, { state: 'started' as 'failed' })).rejects.toThrow(/succeeded or failed/);
    expect((await entries(db)).map((entry) => entry.state)).toEqual(['started']);
  });
});
