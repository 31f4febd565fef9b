/**
 * The job summary within GitHub's limit: a step summary over 1 MiB is dropped whole, so the summary of a stage is cut
 * by bytes, its long lists ending with how many more the report holds, whatever the input; a summary of ordinary size
 * comes out as it always did.
 */
import { describe, expect, it } from 'vitest';
import type { DatabaseProfile } from '../../src/core/data-profile.js';
import type { StageResult } from '../../src/core/results.js';
import { renderRunErrorMarkdown, renderStageMarkdown, SUMMARY_MAX_BYTES } from '../../src/report/stage-summary.js';

/** A failed apim-validate of ordinary size: steps, checks, a known problem, invalid definitions, every artifact. */
function ordinaryResult(): StageResult {
  return {
    stage: 'apim-validate',
    status: 'failed',
    dryRun: false,
    runId: '6123456789',
    attempt: 1,
    startedAt: '2026-11-24T20:00:00.000Z',
    finishedAt: '2026-11-24T20:05:00.000Z',
    durationMs: 300_000,
    steps: [
      {
        id: 'earlier-definitions',
        title: 'Invalid definitions of earlier runs',
        outcome: 'skipped',
        durationMs: 3,
        summary: 'no invalid-swagger-definitions folder',
      },
      {
        id: 'install-kit',
        title: 'Install the migration kit',
        outcome: 'succeeded',
        durationMs: 1200,
        summary: 'installed org.wso2.carbon.apimgt.migrate.client-4.2.0.jar and migration-resources',
      },
      {
        id: 'server',
        title: 'Run the server',
        outcome: 'failed',
        durationMs: 250_000,
        summary:
          '2 invalid API definitions: fix them in API-M 3.1.0 (see the logs artifact), or set apim.allowInvalidDefinitions: true to go on',
        checks: [
          {
            verdict: 'warn',
            message:
              "ERROR of the server outside the migration client's run: [2026-11-24 20:01:00] ERROR {Foo} - <bar> | baz",
          },
          { verdict: 'fail', message: 'the migration client failed' },
        ],
      },
      {
        id: 'remove-kit',
        title: 'Remove the migration kit',
        outcome: 'succeeded',
        durationMs: 40,
        summary: 'removed org.wso2.carbon.apimgt.migrate.client-4.2.0.jar',
      },
      {
        id: 'logs',
        title: 'Gather the logs',
        outcome: 'succeeded',
        durationMs: 30,
        summary: '4 files for apim-migrate-apim-validate-logs-a1',
      },
    ],
    summary: 'API-M pre-migration validation failed in Run the server',
    exitCode: 1,
    toolVersion: '0.1.0',
    logArtifact: 'apim-migrate-apim-validate-logs-a1',
    reportArtifact: 'apim-migrate-apim-validate-report-a1',
    invalidDefinitions: 2,
    changes: {
      stage: 'apim-validate',
      invalidDefinitions: [
        { name: 'PizzaShack', version: '1.0.0', provider: 'admin', kind: 'swagger', message: 'paths | missing' },
        { name: 'Weather_API', version: '2.1', provider: 'ops@tenant.com', kind: 'graphql', message: 'bad *schema*' },
      ],
    },
    knownProblems: [
      {
        id: 'apim-4.2.0-example',
        source: 'server-log',
        cause: 'The example cause.',
        fix: 'Do the example fix.',
        reference: 'https://github.com/wso2/api-manager/issues/1',
        line: 'ERROR {org.example} - example <line>',
      },
    ],
  };
}

function ordinaryRegistryResult(): StageResult {
  const profile: DatabaseProfile = {
    label: 'apim_db = shared_db',
    address: '127.0.0.1:5432/apim',
    engine: 'postgresql',
    totalBytes: 5_000_000,
    databaseBytes: 6_000_000,
    tables: [
      { table: 'public.reg_resource', rows: { rows: 1200, estimate: false }, bytes: 2_000_000 },
      { table: 'public.idn_oauth2_access_token', rows: { rows: 90_000, estimate: true }, bytes: 1_500_000 },
    ],
    figures: [{ id: 'tenants', label: 'Tenants (UM_TENANT)', table: 'UM_TENANT', count: { rows: 3, estimate: false } }],
    tokenTables: { bytes: 1_500_000, share: 0.3 },
  };
  return {
    stage: 'registry-scripts',
    status: 'succeeded',
    dryRun: false,
    runId: '4242',
    attempt: 2,
    startedAt: '2026-11-24T20:00:00.000Z',
    finishedAt: '2026-11-24T20:00:03.000Z',
    durationMs: 3000,
    steps: [
      {
        id: 'indices',
        title: 'Registry indices',
        outcome: 'succeeded',
        durationMs: 1000,
        summary: 'added 1, 2 existed already',
      },
    ],
    summary: 'Registry scripts succeeded',
    exitCode: 0,
    toolVersion: '0.1.0',
    backupArtifact: 'apim-migrate-registry-scripts-backup-a2',
    logArtifact: 'apim-migrate-registry-scripts-logs-a2',
    reportArtifact: 'apim-migrate-registry-scripts-report-a2',
    changes: {
      stage: 'registry-scripts',
      indicesAdded: ['REG_RESOURCE_TAG_IND_BY_REG_TAG_ID'],
      versioningRemoval: [
        { mappingTable: 'REG_RESOURCE_TAG', mappingRowsDeleted: 347, entityTable: 'REG_TAG', entityRowsDeleted: 97 },
      ],
    },
    profile: [profile],
  };
}

/** What the renderer made of ordinaryResult() before the summary was cut by bytes. */
const ORDINARY_SUMMARY = [
  '## ❌ apim-migrate: API-M pre-migration validation failed in Run the server',
  '',
  'Run 6123456789, attempt 1, 5 min 0 s.',
  '',
  '| Step | Outcome | Duration | Details |',
  '| --- | --- | --- | --- |',
  '| Invalid definitions of earlier runs | skipped | 3 ms | no invalid-swagger-definitions folder |',
  '| Install the migration kit | succeeded | 1.2 s | installed org.wso2.carbon.apimgt.migrate.client-4.2.0.jar and migration-resources |',
  '| Run the server | FAILED | 4 min 10 s | 2 invalid API definitions: fix them in API-M 3.1.0 (see the logs artifact), or set apim.allowInvalidDefinitions: true to go on |',
  '| Remove the migration kit | succeeded | 40 ms | removed org.wso2.carbon.apimgt.migrate.client-4.2.0.jar |',
  '| Gather the logs | succeeded | 30 ms | 4 files for apim-migrate-apim-validate-logs-a1 |',
  '',
  '<details><summary>Checks</summary>',
  '',
  '| Step | Verdict | Check |',
  '| --- | --- | --- |',
  "| Run the server | WARN | ERROR of the server outside the migration client's run: \\[2026-11-24 20:01:00\\] ERROR \\{Foo\\} - \\<bar\\> \\| baz |",
  '| Run the server | FAIL | the migration client failed |',
  '',
  '</details>',
  '',
  '### Known problems',
  '',
  '- **apim-4.2.0-example**: The example cause. **Fix:** Do the example fix. (https://github.com/wso2/api-manager/issues/1)',
  '  <br>Seen in: <code>ERROR \\{org.example\\} - example \\<line\\></code>',
  '',
  '### What changed',
  '',
  '',
  '| API | Version | Provider | Definition | Message |',
  '| --- | --- | --- | --- | --- |',
  '| PizzaShack | 1.0.0 | admin | swagger | paths \\| missing |',
  '| Weather\\_API | 2.1 | ops@tenant.com | graphql | bad \\*schema\\* |',
  '',
  '- Logs artifact: `apim-migrate-apim-validate-logs-a1`',
  '- Report artifact: `apim-migrate-apim-validate-report-a1`',
  '',
  '```mermaid',
  'flowchart LR',
  '  preflight["preflight"]',
  '  registry_scripts["registry-scripts"]',
  '  identity["identity"]',
  '  apim_validate["apim-validate"]',
  '  apim["apim"]',
  '  verify["verify"]',
  '  startup["startup"]',
  '  preflight --> registry_scripts',
  '  registry_scripts --> identity',
  '  identity --> apim_validate',
  '  apim_validate --> apim',
  '  apim --> verify',
  '  verify --> startup',
  '  classDef succeeded fill:#d4edda,stroke:#28a745',
  '  classDef failed fill:#f8d7da,stroke:#dc3545',
  '  classDef skipped fill:#e2e3e5,stroke:#6c757d',
  '  class apim_validate failed',
  '```',
  '',
  '**Next:** fix what the failed steps say, then re-run this job.',
].join('\n');

/** What the renderer made of ordinaryRegistryResult() before the summary was cut by bytes. */
const ORDINARY_REGISTRY_SUMMARY = [
  '## ✅ apim-migrate: Registry scripts succeeded',
  '',
  'Run 4242, attempt 2, 3.0 s.',
  '',
  '| Step | Outcome | Duration | Details |',
  '| --- | --- | --- | --- |',
  '| Registry indices | succeeded | 1.0 s | added 1, 2 existed already |',
  '',
  '### What changed',
  '',
  '- Indices added: `REG_RESOURCE_TAG_IND_BY_REG_TAG_ID`',
  '- REG\\_RESOURCE\\_TAG: deleted 347 rows; REG\\_TAG: deleted 97 orphans',
  '',
  '<details><summary>Data profile</summary>',
  '',
  '- apim\\_db = shared\\_db (postgresql, 127.0.0.1:5432/apim): 4.8 MiB in 2 tables',
  '  - the 2 largest tables (rows, bytes with indices):',
  '    - public.reg\\_resource: 1200 rows, 1.9 MiB',
  '    - public.idn\\_oauth2\\_access\\_token: ~90000 (estimate) rows, 1.4 MiB',
  '  - Tenants (UM\\_TENANT): 3',
  '',
  '</details>',
  '',
  '- Backup artifact: `apim-migrate-registry-scripts-backup-a2`',
  '- Logs artifact: `apim-migrate-registry-scripts-logs-a2`',
  '- Report artifact: `apim-migrate-registry-scripts-report-a2`',
  '',
  '```mermaid',
  'flowchart LR',
  '  preflight["preflight"]',
  '  registry_scripts["registry-scripts"]',
  '  identity["identity"]',
  '  apim_validate["apim-validate"]',
  '  apim["apim"]',
  '  verify["verify"]',
  '  startup["startup"]',
  '  preflight --> registry_scripts',
  '  registry_scripts --> identity',
  '  identity --> apim_validate',
  '  apim_validate --> apim',
  '  apim --> verify',
  '  verify --> startup',
  '  classDef succeeded fill:#d4edda,stroke:#28a745',
  '  classDef failed fill:#f8d7da,stroke:#dc3545',
  '  classDef skipped fill:#e2e3e5,stroke:#6c757d',
  '  class registry_scripts succeeded',
  '```',
  '',
  '**Next:** run the next stage of the pipeline. To roll this stage back, run the action with `stage: restore`, `restore-stage: registry-scripts` and `restore-from-run: 4242` (CLI: `apim-migrate restore --stage registry-scripts --from-run 4242`).',
].join('\n');

const MIB = 1024 * 1024;

/** A text of `chars` characters that grows when escaped: Markdown characters, line breaks, a 3-byte character. */
function wide(chars: number, seed = ''): string {
  const unit = `${seed}|*_<br>\n€`;
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}

/** Every list of the summary far beyond 1 MiB, each of its texts far beyond the cut of one text too. */
function hugeResult(): StageResult {
  const base = ordinaryResult();
  const steps = Array.from({ length: 20_000 }, (_, index) => ({
    id: `step-${index}`,
    title: `Step ${index}`,
    outcome: 'failed' as const,
    durationMs: index,
    summary: wide(300, String(index)),
    checks: Array.from({ length: 5 }, (_, check) => ({
      verdict: 'warn' as const,
      message: wide(200, `${index}.${check}`),
    })),
  }));
  steps[0] = { ...steps[0]!, summary: wide(5_000_000) };
  const known = Array.from({ length: 20_000 }, (_, index) => ({
    ...base.knownProblems![0]!,
    id: `problem-${index}`,
    line: wide(500),
  }));
  const profile = ordinaryRegistryResult().profile![0]!;
  return {
    ...base,
    runId: wide(100_000),
    summary: wide(3_000_000),
    steps,
    knownProblems: known,
    changes: {
      stage: 'apim-validate',
      invalidDefinitions: Array.from({ length: 50_000 }, (_, index) => ({
        name: `API${index}`,
        version: '1.0.0',
        provider: 'admin',
        kind: 'swagger',
        message: wide(400),
      })),
    },
    profile: Array.from({ length: 5_000 }, (_, index) => ({ ...profile, label: `db${index}` })),
    reportArtifact: `apim-migrate-${'x'.repeat(10_000)}-report-a1`,
  };
}

describe('renderStageMarkdown within the 1 MiB of a step summary', () => {
  it('leaves a summary of ordinary size as it always was', () => {
    expect(renderStageMarkdown(ordinaryResult())).toBe(`${ORDINARY_SUMMARY}\n`);
    expect(renderStageMarkdown(ordinaryRegistryResult())).toBe(`${ORDINARY_REGISTRY_SUMMARY}\n`);
  });

  it('stays under 1 MiB whatever the input, each long list ending with how many more the report holds', () => {
    const markdown = renderStageMarkdown(hugeResult());
    const bytes = Buffer.byteLength(markdown);
    expect(bytes).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    expect(bytes).toBeLessThan(MIB);
    // The budget is used, not thrown away.
    expect(bytes).toBeGreaterThan(SUMMARY_MAX_BYTES * 0.9);
    // Assertions on booleans: a failure must not print a megabyte.
    const cut = '… (cut: the report has it whole)';
    expect(markdown.startsWith('## ❌ apim-migrate: ')).toBe(true);
    expect(markdown.split('\n\nRun ')[0]?.endsWith(cut)).toBe(true);
    expect(
      /\n\n_\d+ more steps in the report artifact `apim-migrate-[^\n]*… \(cut: the report has it whole\)`_\n/.test(
        markdown,
      ),
    ).toBe(true);
    // Each list keeps its head and says what it left out, also when the ones before it took most of the budget.
    for (const noun of ['checks', 'known problems', 'invalid API definitions', 'lines of the data profile']) {
      expect(new RegExp(`\\n_\\d+ more ${noun} in the report artifact `).test(markdown), noun).toBe(true);
    }
    for (const head of [
      '<details><summary>Checks</summary>',
      '### Known problems',
      '### What changed',
      '<details><summary>Data profile</summary>',
    ]) {
      expect(markdown.includes(head), head).toBe(true);
    }
    // The closing parts are all there.
    expect(markdown.includes('- Report artifact: `apim-migrate-')).toBe(true);
    expect(markdown.includes('flowchart LR')).toBe(true);
    expect(markdown.trimEnd().endsWith('**Next:** fix what the failed steps say, then re-run this job.')).toBe(true);
    // A details block opened is closed.
    expect(markdown.split('<details>').length).toBe(markdown.split('</details>').length);
  });

  it('counts what it left out: the lines shown and the ones said to be more add up to the list', () => {
    const result = hugeResult();
    const markdown = renderStageMarkdown(result);
    const shownSteps = markdown.split('\n').filter((line) => /^\| Step \d+ \| FAILED \|/.test(line)).length;
    const moreSteps = Number(/_(\d+) more steps in/.exec(markdown)?.[1]);
    expect(shownSteps).toBeGreaterThan(0);
    expect(shownSteps + moreSteps).toBe(result.steps.length);
  });

  it('stays under the limit when one text alone is larger than it', () => {
    const result = {
      ...ordinaryRegistryResult(),
      summary: wide(2 * MIB),
      steps: [{ id: 'a', title: wide(2 * MIB), outcome: 'succeeded' as const, durationMs: 1, summary: wide(2 * MIB) }],
    };
    const markdown = renderStageMarkdown(result);
    expect(Buffer.byteLength(markdown)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    expect(markdown.includes('**Next:** run the next stage of the pipeline.')).toBe(true);
  });
});

describe('renderRunErrorMarkdown', () => {
  it('says why the stage could not run, cut when it is huge', () => {
    expect(renderRunErrorMarkdown('config file not found')).toBe(
      '## ❌ apim-migrate could not run the stage\n\nconfig file not found\n',
    );
    expect(Buffer.byteLength(renderRunErrorMarkdown(wide(5 * MIB)))).toBeLessThan(SUMMARY_MAX_BYTES);
  });
});
