/**
 * Known problems through the CLI's stages, with the stand-in server printing the real lines: a server run whose
 * 4.2.0 DAO queries the ORGANIZATION column before the schema has it (stand-in switch organization-column, the
 * ApiMgtDAO ERROR twice with PgJDBC's error below), and an identity run that stalls at "Waiting for migration
 * client." (bundle-inactive). Each known problem is printed once as `Known problem <id>: ...`, kept in the report's
 * knownProblems and shown in the job summary.
 *
 * In-process through the CLI's code (runCliIn); the action's annotation is checked on the built bundle in
 * test/e2e/known-problems.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StageResult } from '../../src/core/results.js';
import { renderStageMarkdown } from '../../src/report/stage-summary.js';
import { knownProblems } from '../../src/wso2/known-problems.js';
import {
  createMigrationSetup,
  ledgerStates,
  prepareServerStages,
  runCliIn,
  type MigrationSetup,
} from '../helpers/migration-setup.js';
import { writeStandInConf } from '../helpers/stand-in.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-known-problems-');
let setup: MigrationSetup;
let runnerTemp: string;

beforeAll(async () => {
  setup = await createMigrationSetup({
    engine: 'postgresql',
    flags: { tags: true },
    config: { server: { timeoutMinutes: 1, stopGraceSeconds: 5, clientStartSeconds: 2 } },
  });
  await prepareServerStages(setup, { seed: 17, tenants: 1, behaviour: { bundleInactive: true } });
  runnerTemp = await temp.make();
}, 120_000);

afterAll(async () => {
  await setup?.cleanup();
  await temp.cleanup();
});

function cli(argv: string[]) {
  return runCliIn(setup, argv, { env: { RUNNER_TEMP: runnerTemp }, runIdPrefix: 'known-problems' });
}

function entry(id: string) {
  const found = knownProblems().find((problem) => problem.id === id);
  if (!found) throw new Error(`no known problem ${id}`);
  return found;
}

async function reportOf(output: string): Promise<StageResult> {
  const reportPath = /^Report: (.+)$/m.exec(output)?.[1];
  expect(reportPath, output).toBeDefined();
  return JSON.parse(await readFile(reportPath ?? '', 'utf8')) as StageResult;
}

/** The lines that print a known problem. */
function knownProblemLines(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('warning: Known problem '));
}

describe('known problems in server runs', () => {
  let stalled: { code: number; output: string };
  let failed: { code: number; output: string };

  beforeAll(async () => {
    const first = await cli(['run', 'registry-scripts']);
    expect(first.code, first.output).toBe(0);
    stalled = await cli(['run', 'identity']);
    await writeStandInConf(setup.apimHome, { organizationColumn: true });
    const again = await cli(['run', 'identity']);
    expect(again.code, again.output).toBe(0);
    failed = await cli(['run', 'apim']);
  }, 300_000);

  it('names the stalled identity client by its last line', async () => {
    expect(stalled.code, stalled.output).toBe(1);
    const problem = entry('identity-client-not-loaded');
    expect(knownProblemLines(stalled.output)).toEqual([
      `warning: Known problem identity-client-not-loaded: ${problem.cause} Fix: ${problem.fix} (${problem.reference})`,
    ]);
    expect(stalled.output).toContain(
      'Known problem identity-client-not-loaded was seen in: Waiting for migration client.',
    );
    const report = await reportOf(stalled.output);
    expect(report.knownProblems?.map((found) => found.id)).toEqual(['identity-client-not-loaded']);
  });

  it('prints the ORGANIZATION column problem once, though the server logged it twice', () => {
    expect(failed.code, failed.output).toBe(1);
    // Both records are among the server's last lines that the failed step prints.
    expect(failed.output.match(/ERROR - ApiMgtDAO Failed to retrieve API categories/g)?.length).toBeGreaterThanOrEqual(
      2,
    );
    const problem = entry('organization-column-missing');
    expect(knownProblemLines(failed.output)).toEqual([
      `warning: Known problem organization-column-missing: ${problem.cause} Fix: ${problem.fix} (${problem.reference})`,
    ]);
    expect(failed.output).toContain(
      'Known problem organization-column-missing was seen in: Failed to retrieve API categories for organization carbon.super',
    );
    // The closing lines list it too.
    expect(failed.output).toMatch(/Known problems \(1\):\n\s+- Known problem organization-column-missing: /);
  });

  it('keeps it in the report and the job summary', async () => {
    const report = await reportOf(failed.output);
    expect(report.status).toBe('failed');
    expect(report.knownProblems).toEqual([
      {
        id: 'organization-column-missing',
        source: 'server-log',
        cause: entry('organization-column-missing').cause,
        fix: entry('organization-column-missing').fix,
        reference: 'https://github.com/wso2/api-manager/issues/2042',
        line: 'Failed to retrieve API categories for organization carbon.super',
      },
    ]);
    const summary = renderStageMarkdown(report);
    expect(summary).toContain('### Known problems');
    expect(summary).toContain('- **organization-column-missing**: API-M 4.2.0 code queried the ORGANIZATION column');
    expect(summary).toContain(
      '<br>Seen in: <code>Failed to retrieve API categories for organization carbon.super</code>',
    );
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:failed']);
  });
});
