import { describe, expect, it } from 'vitest';
import type { DatabaseProfile } from '../../src/core/data-profile.js';
import type { LedgerEntry } from '../../src/db/ledger.js';
import { buildPlan, withDataProfile, type PlanFacts } from '../../src/plan/build-plan.js';
import { describeEstimate, estimateBackup, renderProfileLines, tokenCleanupHint } from '../../src/plan/data-profile.js';
import { renderPlanText } from '../../src/plan/render-plan.js';
import { dialectOf } from '../../src/db/dialects.js';
import { TOKEN_CLEANUP_DOCS } from '../../src/wso2/workload-figures.js';
import { makeResolvedConfig } from '../helpers/config-fixtures.js';

const RATE = { bytesPerDataByte: 0.5, dataBytesPerSecond: 1000 };

function measured(id: number, bytes: number | null, seconds: number | null, dataBytes: number | null): LedgerEntry {
  return {
    id,
    stage: 'registry-scripts',
    state: 'succeeded',
    runId: `run-${id}`,
    attempt: 1,
    backupName: 'b',
    backupId: 'i',
    backupRunId: 'r',
    backupSha256: 'a'.repeat(64),
    toolVersion: '0.1.0',
    startedAt: '2026-12-01T10:00:00.000Z',
    finishedAt: '2026-12-01T10:05:00.000Z',
    details: {},
    backupBytes: bytes,
    backupSeconds: seconds,
    dataBytes,
  };
}

function profile(label: string, totalBytes: number, tokenBytes: number): DatabaseProfile {
  return {
    label,
    address: '127.0.0.1:5432/apim',
    engine: 'postgresql',
    totalBytes,
    databaseBytes: totalBytes + 1000,
    tables: [
      { table: 'public.idn_oauth2_access_token', rows: { rows: 2_500_000, estimate: true }, bytes: tokenBytes },
      { table: 'public.am_api', rows: { rows: 12, estimate: false }, bytes: totalBytes - tokenBytes },
    ],
    figures: [
      {
        id: 'access-tokens',
        label: 'OAuth access tokens (IDN_OAUTH2_ACCESS_TOKEN)',
        table: 'public.idn_oauth2_access_token',
        count: { rows: 2_500_000, estimate: true },
        note: 'above 1000000 rows: states and expiry not counted (that would read the whole table)',
      },
    ],
    tokenTables: { bytes: tokenBytes, share: tokenBytes / totalBytes },
  };
}

describe('estimateBackup', () => {
  it('uses the default rate, as a rough estimate, when the ledger measured no backup', () => {
    const estimate = estimateBackup([{ dataBytes: 10_000, defaultRate: RATE }], [measured(1, null, null, null)]);
    expect(estimate).toEqual({ dataBytes: 10_000, bytes: 5_000, seconds: 10, basis: 'default', records: 0 });
    expect(describeEstimate(estimate)).toMatch(/rough estimate/);
  });

  it('scales the last three measured backups by bytes of data', () => {
    const entries = [
      measured(1, 999_999, 999, 1000), // the oldest of four: left out
      measured(2, 300, 3, 1000),
      measured(3, 100, 1, 1000),
      measured(4, 200, 2, 1000),
      measured(5, null, null, null), // no measure (a restore, or an older version)
    ];
    const estimate = estimateBackup([{ dataBytes: 6000, defaultRate: RATE }], entries);
    // 600 bytes and 6 s per 3000 bytes of data, so 1200 bytes and 12 s for 6000.
    expect(estimate).toEqual({ dataBytes: 6000, bytes: 1200, seconds: 12, basis: 'ledger', records: 3 });
    expect(describeEstimate(estimate)).toContain('estimated from the last 3 backups the ledger measured');
  });
});

describe('tokenCleanupHint', () => {
  it('points at WSO2 token cleanup above half of the bytes, and only then', () => {
    expect(tokenCleanupHint(profile('shared_db', 1000, 500))).toBeUndefined();
    const hint = tokenCleanupHint(profile('shared_db', 1000, 501));
    expect(hint).toContain('hold 50% of the database');
    expect(hint).toContain(TOKEN_CLEANUP_DOCS);
  });
});

describe('the profile in the plan', () => {
  const facts: PlanFacts = {
    registryFlags: { properties: false, comments: false, tags: false, ratings: false },
    absentFlags: [],
    platform: 'linux',
    javaHome: { home: '/usr/lib/jvm/java-17', source: 'PATH', java: '/usr/lib/jvm/java-17/bin/java' },
  };

  it('lists the largest tables with estimates marked, and estimates the backup of every data-changing stage', () => {
    const config = makeResolvedConfig();
    const plan = buildPlan(config, facts);
    const labels = [...new Set(plan.stages.flatMap((stage) => stage.backups.map((db) => db.names.join(' = '))))];
    const withProfile = withDataProfile(
      plan,
      labels.map((label) => profile(label, 4000, 3000)),
      [],
    );
    const text = renderPlanText(withProfile);
    expect(text).toContain('Data profile:');
    expect(text).toContain('public.idn_oauth2_access_token: ~2500000 (estimate) rows');
    expect(text).toContain('WARNING: ');
    // startup backs up files of the home, not databases: no estimate.
    expect(withProfile.stages.find((stage) => stage.stage === 'startup')?.backupEstimate).toBeUndefined();
    for (const stage of withProfile.stages.filter((candidate) => candidate.backups.length > 0 && !candidate.skipped)) {
      expect(stage.backupEstimate?.basis, stage.stage).toBe('default');
      expect(stage.backupEstimate?.dataBytes).toBe(5000 * stage.backups.length);
    }
    expect(withProfile.stages.find((stage) => stage.stage === 'preflight')?.backupEstimate).toBeUndefined();
    const rate = dialectOf('postgresql').defaultBackupRate;
    const apim = withProfile.stages.find((stage) => stage.stage === 'apim');
    expect(apim?.backupEstimate?.seconds).toBeCloseTo((5000 * (apim?.backups.length ?? 0)) / rate.dataBytesPerSecond);
    // JSON carries every table under `profile`.
    expect(JSON.parse(JSON.stringify(withProfile)).profile[0].tables).toHaveLength(2);
    // A stage whose databases are not all profiled gets no estimate.
    const partial = withDataProfile(plan, [], []);
    expect(partial.stages.some((stage) => stage.backupEstimate !== undefined)).toBe(false);
  });

  it('prints at most the top tables in the text', () => {
    const many: DatabaseProfile = {
      ...profile('x', 100, 10),
      tables: Array.from({ length: 25 }, (_, index) => ({
        table: `t${index}`,
        rows: { rows: index, estimate: false },
        bytes: 100 - index,
      })),
    };
    const lines = renderProfileLines([many], 10);
    expect(lines.filter((line) => /^ {4}t\d+:/.test(line))).toHaveLength(10);
  });
});
