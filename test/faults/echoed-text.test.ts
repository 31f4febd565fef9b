/**
 * Echoed text cannot drive the runner: the API-M server prints registry text as it is (stand-in switch
 * hostile-output): API names that hold `##[set-output ...]`, escape sequences and the client's own success line,
 * stack-trace lines `::add-mask::hidden-word` and `::stop-commands::tok`, and an ERROR that quotes a whole success
 * record. Nothing the CLI prints, nor the report it stores, holds a live workflow command, an escape sequence or a
 * control character; the quoted success line makes no verdict (the ERROR fails the stage), and the text stays
 * readable.
 *
 * In-process through the CLI's code (runCliIn). The action's logger is shown to do the same through @actions/core in
 * test/unit/actions-logger.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StageResult } from '../../src/core/results.js';
import { renderStageMarkdown } from '../../src/report/stage-summary.js';
import {
  createMigrationSetup,
  ledgerStates,
  prepareServerStages,
  runCliIn,
  type MigrationSetup,
} from '../helpers/migration-setup.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';
import { commandLines } from '../helpers/runner.js';

const temp = createTempDirs('apim-migrate-echoed-text-');
let setup: MigrationSetup;
let runnerTemp: string;

beforeAll(async () => {
  setup = await createMigrationSetup({ engine: 'postgresql', flags: { tags: true } });
  await prepareServerStages(setup, { seed: 11, tenants: 1, behaviour: { hostileOutput: true } });
  runnerTemp = await temp.make();
}, 120_000);

afterAll(async () => {
  await setup?.cleanup();
  await temp.cleanup();
});

function cli(argv: string[]) {
  return runCliIn(setup, argv, { env: { RUNNER_TEMP: runnerTemp }, runIdPrefix: 'echoed-text' });
}

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('a server that echoes hostile text', () => {
  let output = '';
  let code = -1;

  beforeAll(async () => {
    for (const stage of ['registry-scripts', 'identity']) {
      const run = await cli(['run', stage]);
      expect(run.code, run.output).toBe(0);
    }
    ({ code, output } = await cli(['run', 'apim']));
  }, 240_000);

  it('fails the stage on the ERROR: the quoted success line made no verdict', async () => {
    expect(code, output).toBe(1);
    expect(output).toMatch(/the API-M migration client logged 1 ERROR line, although it printed its success line/);
    expect(output).toMatch(/Error while reading the API/);
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:failed']);
  });

  it('prints no workflow command, escape sequence or control character, and stays readable', () => {
    expect(commandLines(output)).toEqual([]);
    expect(output).not.toMatch(CONTROL);
    // The lines were printed (the server's last lines are in the failed step's summary), neutralised.
    expect(output).toContain('# #[set-output name=x]y');
    expect(output).toContain(': :add-mask::hidden-word');
    expect(output).toContain(': :stop-commands::tok');
    expect(output).toContain('Migrating API {name: red, version: 1.0.0');
  });

  it('stores a report, and renders a job summary, with nothing live in them either', async () => {
    const reportPath = /^Report: (.+)$/m.exec(output)?.[1];
    expect(reportPath, output).toBeDefined();
    const text = await readFile(reportPath ?? '', 'utf8');
    const report = JSON.parse(text) as StageResult;
    expect(report.status).toBe('failed');
    const texts = [text, ...JSON.stringify(report).split('\\n'), renderStageMarkdown(report)];
    for (const piece of texts) {
      expect(commandLines(piece)).toEqual([]);
      expect(piece).not.toMatch(CONTROL);
    }
    expect(JSON.stringify(report)).toContain('# #[set-output name=x]y');
  });
});
