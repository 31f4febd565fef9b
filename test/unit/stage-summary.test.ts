import { describe, expect, it } from 'vitest';
import { renderStageMarkdown, renderStageText } from '../../src/report/stage-summary.js';
import type { StageResult } from '../../src/core/results.js';

function result(overrides: Partial<StageResult> = {}): StageResult {
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
      { id: 'backup', title: 'Back up', outcome: 'succeeded', durationMs: 2000, summary: 'stored | verified' },
      { id: 'indices', title: 'Registry indices', outcome: 'succeeded', durationMs: 1000 },
    ],
    summary: 'Registry scripts succeeded',
    exitCode: 0,
    toolVersion: '0.1.0',
    backupArtifact: 'apim-migrate-registry-scripts-backup-a2',
    reportArtifact: 'apim-migrate-registry-scripts-report-a2',
    ...overrides,
  };
}

describe('renderStageMarkdown: the next step', () => {
  const startup = {
    stage: 'startup' as const,
    summary: 'First start succeeded',
    backupArtifact: 'apim-migrate-startup-backup-a1',
  };

  it('after startup, the migration is complete, and it says how to roll the home back', () => {
    const markdown = renderStageMarkdown(result(startup));
    expect(markdown).toContain('**Next:** the migration is complete');
    expect(markdown).toContain('`restore-stage: startup`');
    expect(markdown).toContain('startup["startup"]');
    expect(markdown).toContain('verify --> startup');
  });

  it('after a failed startup, the home was put back, not the databases', () => {
    const markdown = renderStageMarkdown(result({ ...startup, status: 'failed', exitCode: 1 }));
    expect(markdown).toContain("The API-M home was put back from this stage's backup");
    expect(markdown).not.toContain('restores the databases');
  });

  it("after the restore of startup, the home's files are back and startup may run again", () => {
    const restored = renderStageMarkdown(result({ stage: 'restore', restoredStage: 'startup' }));
    expect(restored).toContain("the API-M home's `solr` and `deployment.toml` are back");
    const databases = renderStageMarkdown(result({ stage: 'restore', restoredStage: 'apim' }));
    expect(databases).toContain('the databases are back as they were before the stage');
  });
});

describe('renderStageMarkdown', () => {
  it('lists the steps, escaping what Markdown would read as table syntax', () => {
    const markdown = renderStageMarkdown(result());
    expect(markdown).toContain('## ✅ apim-migrate: Registry scripts succeeded');
    expect(markdown).toContain('| Back up | succeeded | 2.0 s | stored \\| verified |');
    expect(markdown).toContain('Run 4242, attempt 2, 3.0 s.');
  });

  it('says what changed: indices and rows deleted per table', () => {
    const markdown = renderStageMarkdown(
      result({
        changes: {
          stage: 'registry-scripts',
          indicesAdded: ['REG_RESOURCE_TAG_IND_BY_REG_TAG_ID'],
          versioningRemoval: [
            {
              mappingTable: 'REG_RESOURCE_TAG',
              mappingRowsDeleted: 347,
              entityTable: 'REG_TAG',
              entityRowsDeleted: 97,
            },
          ],
        },
      }),
    );
    expect(markdown).toContain('### What changed');
    expect(markdown).toContain('- Indices added: `REG_RESOURCE_TAG_IND_BY_REG_TAG_ID`');
    expect(markdown).toContain('- REG\\_RESOURCE\\_TAG: deleted 347 rows; REG\\_TAG: deleted 97 orphans');
  });

  it('says what a dry run would change', () => {
    const markdown = renderStageMarkdown(
      result({
        dryRun: true,
        changes: {
          stage: 'registry-scripts',
          indicesToAdd: ['REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID'],
          versioningRemoval: [
            {
              mappingTable: 'REG_RESOURCE_PROPERTY',
              mappingRowsToDelete: 5,
              entityTable: 'REG_PROPERTY',
              entityRowsToDelete: 2,
            },
          ],
        },
      }),
    );
    expect(markdown).toContain('- Indices that would be added: `REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID`');
    expect(markdown).toContain('would delete 5 rows');
  });

  it('tables the invalid API definitions of apim-validate', () => {
    const markdown = renderStageMarkdown(
      result({
        stage: 'apim-validate',
        status: 'failed',
        backupArtifact: undefined,
        changes: {
          stage: 'apim-validate',
          invalidDefinitions: [
            {
              name: 'PizzaShack',
              version: '1.0.0',
              provider: 'admin',
              kind: 'OpenAPI',
              message: 'attribute paths is missing',
            },
          ],
        },
      }),
    );
    expect(markdown).toContain('| PizzaShack | 1.0.0 | admin | OpenAPI | attribute paths is missing |');
  });

  it('draws the pipeline with this stage marked by its outcome', () => {
    const markdown = renderStageMarkdown(result({ status: 'failed', summary: 'Registry scripts failed in Back up' }));
    expect(markdown).toContain('```mermaid\nflowchart LR');
    expect(markdown).toContain('  preflight --> registry_scripts');
    expect(markdown).toContain('  apim --> verify');
    expect(markdown).toContain('  class registry_scripts failed');
  });

  it('names the artifacts and how to roll the stage back', () => {
    const markdown = renderStageMarkdown(result());
    expect(markdown).toContain('- Backup artifact: `apim-migrate-registry-scripts-backup-a2`');
    expect(markdown).toContain('`stage: restore`, `restore-stage: registry-scripts` and `restore-from-run: 4242`');
    expect(markdown).toContain('apim-migrate restore --stage registry-scripts --from-run 4242');
  });

  it('tells a failed stage with a backup that the re-run restores it first', () => {
    const markdown = renderStageMarkdown(result({ status: 'failed' }));
    expect(markdown).toContain("The re-run restores the databases from this stage's backup first.");
  });
});

describe('renderStageMarkdown: the data profile of preflight', () => {
  it('folds the profile into a nested list, escaping the names that came from the database', () => {
    const markdown = renderStageMarkdown(
      result({
        stage: 'preflight',
        profile: [
          {
            label: 'apim_db = shared_db',
            address: 'db:5432/apim',
            engine: 'postgresql',
            totalBytes: 2048,
            databaseBytes: 4096,
            tables: [{ table: 'public.am_*api', rows: { rows: 3, estimate: false }, bytes: 2048 }],
            figures: [
              {
                id: 'apis',
                label: 'APIs (AM_API)',
                table: 'public.am_*api',
                count: { rows: 1_200_000, estimate: true },
              },
            ],
            tokenTables: { bytes: 0, share: 0 },
          },
        ],
      }),
    );
    expect(markdown).toContain('<details><summary>Data profile</summary>');
    expect(markdown).toContain('- apim\\_db = shared\\_db (postgresql, db:5432/apim): 2.0 KiB in 1 tables');
    expect(markdown).toContain('    - public.am\\_\\*api: 3 rows, 2.0 KiB');
    expect(markdown).toContain('  - APIs (AM\\_API): ~1200000 (estimate)');
  });
});

describe('renderStageText', () => {
  it('lists the failed checks after the steps', () => {
    const text = renderStageText(
      result({
        stage: 'preflight',
        status: 'failed',
        steps: [
          {
            id: 'databases',
            title: 'Databases',
            outcome: 'failed',
            durationMs: 12,
            checks: [
              { verdict: 'pass', message: 'shared_db answers' },
              { verdict: 'fail', message: 'user wso2 is not SUPERUSER' },
            ],
          },
        ],
        summary: 'Preflight failed in Databases',
      }),
    );
    expect(text).toContain('Failed checks (1):\n  - user wso2 is not SUPERUSER');
    expect(text).toContain('Preflight failed in Databases (3.0 s)');
  });
});
