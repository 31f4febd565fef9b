import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResolvedConfig } from '../../src/config/types.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { runStage } from '../../src/stages/engine.js';
import { logsDir, whenLogsStored } from '../../src/stages/stage-logs.js';
import type { StageContext, StageDefinition, StepDefinition, StepOutput } from '../../src/stages/types.js';
import { createMemoryStore, createRecordingLogger } from '../helpers/fakes.js';

const config = { backup: { retentionDays: 30 } } as ResolvedConfig;

let workDir: string;
beforeEach(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'engine-'));
});
afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

function step(id: string, behaviour: StepOutput | Error | undefined): StepDefinition {
  return {
    id,
    title: `Step ${id}`,
    async run() {
      if (behaviour instanceof Error) throw behaviour;
      return behaviour;
    },
  };
}

/** An error that carries exit code 2, as InputError and a refused database login do. */
function inputError(): Error {
  return Object.assign(new Error('the password is wrong'), { exitCode: 2 });
}

function stage(steps: StepDefinition[], runAllSteps = false): StageDefinition {
  return { name: 'preflight', title: 'Preflight', runAllSteps, steps: () => steps };
}

function context(overrides: Partial<StageContext['deps']> = {}) {
  let now = 1_000;
  const logger = createRecordingLogger();
  const store = createMemoryStore();
  const ctx: StageContext = {
    config,
    dryRun: false,
    force: false,
    workDir,
    outcome: {},
    deps: {
      logger,
      store,
      run: { runId: 'run-1', attempt: 2 },
      env: {},
      secrets: new SecretMasker(),
      secretEnv: [],
      clock: () => (now += 5),
      ...overrides,
    },
  };
  return { ctx, logger, store };
}

describe('runStage', () => {
  it.each([
    {
      name: 'all steps succeed',
      steps: [step('a', undefined), step('b', { summary: 'did b' })],
      runAll: false,
      status: 'succeeded',
      outcomes: ['succeeded', 'succeeded'],
    },
    {
      name: 'a thrown error fails the step and the later steps are not run',
      steps: [step('a', new Error('boom')), step('b', undefined), step('c', undefined)],
      runAll: false,
      status: 'failed',
      outcomes: ['failed', 'not-run', 'not-run'],
    },
    {
      name: 'a failed check fails its step',
      steps: [
        step('a', {
          checks: [
            { verdict: 'pass', message: 'ok' },
            { verdict: 'fail', message: 'bad' },
          ],
        }),
        step('b', undefined),
      ],
      runAll: false,
      status: 'failed',
      outcomes: ['failed', 'not-run'],
    },
    {
      name: 'a warning does not fail a step',
      steps: [step('a', { checks: [{ verdict: 'warn', message: 'hmm' }] })],
      runAll: false,
      status: 'succeeded',
      outcomes: ['succeeded'],
    },
    {
      name: 'runAllSteps keeps going after a failure',
      steps: [
        step('a', new Error('boom')),
        step('b', undefined),
        step('c', { outcome: 'failed', summary: 'also bad' }),
      ],
      runAll: true,
      status: 'failed',
      outcomes: ['failed', 'succeeded', 'failed'],
    },
    {
      name: 'a stage whose every step is skipped is skipped',
      steps: [step('a', { outcome: 'skipped', summary: 'IS is the Key Manager' })],
      runAll: false,
      status: 'skipped',
      outcomes: ['skipped'],
    },
  ])('$name', async ({ steps, runAll, status, outcomes }) => {
    const { ctx } = context();
    const result = await runStage(stage(steps, runAll), ctx);
    expect(result.status).toBe(status);
    expect(result.steps.map((entry) => entry.outcome)).toEqual(outcomes);
  });

  it('runs the steps a step decides on right after it, before the steps listed after it', async () => {
    const { ctx } = context();
    const decide: StepDefinition = {
      id: 'decide',
      title: 'Decide',
      run: async () => ({ summary: 'run x and y', next: [step('x', undefined), step('y', undefined)] }),
    };
    const result = await runStage(stage([decide, step('last', undefined)]), ctx);
    expect(result.steps.map((entry) => entry.id)).toEqual(['decide', 'x', 'y', 'last']);
  });

  it('skips a stage whose only work was skipped, whatever its housekeeping steps did, and says why', async () => {
    const { ctx } = context();
    const lock = { ...step('lock', { summary: 'locked' }), housekeeping: true };
    const unlock = { ...step('unlock', { summary: 'released' }), housekeeping: true, alwaysRun: true };
    const result = await runStage(
      stage([lock, step('ledger', { outcome: 'skipped', summary: 'done already' }), unlock]),
      ctx,
    );
    expect(result.status).toBe('skipped');
    expect(result.summary).toBe('Preflight skipped: done already');
    expect(result.exitCode).toBe(0);
  });

  it('fails a stage whose housekeeping step failed, naming it', async () => {
    const { ctx } = context();
    const lock = { ...step('lock', new Error('lock wait over')), housekeeping: true };
    const result = await runStage(stage([lock, step('work', undefined)]), ctx);
    expect(result.status).toBe('failed');
    expect(result.summary).toBe('Preflight failed in Step lock');
    expect(result.exitCode).toBe(1);
  });

  it.each([
    { name: 'a first failure with exit code 2 gives 2', first: inputError(), then: new Error('later'), code: 2 },
    { name: 'a first failure without one gives 1', first: new Error('boom'), then: inputError(), code: 1 },
    { name: 'a failed check first gives 1', first: { outcome: 'failed' as const }, then: inputError(), code: 1 },
  ])('$name', async ({ first, then, code }) => {
    const { ctx } = context();
    const result = await runStage(stage([step('a', first), step('b', then)], true), ctx);
    expect(result.exitCode).toBe(code);
  });

  it('runs an alwaysRun step after a failure and tells it that an earlier step failed', async () => {
    const { ctx } = context();
    const seen: boolean[] = [];
    const record: StepDefinition = {
      id: 'record',
      title: 'Record',
      alwaysRun: true,
      async run(_context, progress) {
        seen.push(progress.failed);
        return { summary: progress.failed ? 'recorded as failed' : 'recorded as succeeded' };
      },
    };
    const result = await runStage(stage([step('a', new Error('boom')), step('b', undefined), record]), ctx);
    expect(result.steps.map((entry) => entry.outcome)).toEqual(['failed', 'not-run', 'succeeded']);
    expect(seen).toEqual([true]);
    expect(result.status).toBe('failed');
  });

  it('merges what the steps recorded into the result and the report', async () => {
    const { ctx } = context();
    const recordBackup: StepDefinition = {
      id: 'backup',
      title: 'Back up',
      async run(stepContext) {
        stepContext.outcome.backupArtifact = 'apim-migrate-registry-scripts-backup-a2';
        stepContext.outcome.changes = {
          stage: 'registry-scripts',
          indicesAdded: ['REG_RESOURCE_TAG_IND_BY_REG_TAG_ID'],
        };
      },
    };
    const result = await runStage(stage([recordBackup]), ctx);
    expect(result.backupArtifact).toBe('apim-migrate-registry-scripts-backup-a2');
    const report = JSON.parse(await readFile(result.reportPath ?? '', 'utf8')) as {
      changes: unknown;
      backupArtifact: string;
    };
    expect(report.backupArtifact).toBe('apim-migrate-registry-scripts-backup-a2');
    expect(report.changes).toEqual({ stage: 'registry-scripts', indicesAdded: ['REG_RESOURCE_TAG_IND_BY_REG_TAG_ID'] });
  });

  it('runs each step in its own group and times it with the clock', async () => {
    const { ctx, logger } = context();
    const result = await runStage(stage([step('a', undefined), step('b', undefined)]), ctx);
    expect(logger.groups).toEqual(['Step a', 'Step b']);
    expect(result.steps.every((entry) => entry.durationMs === 5)).toBe(true);
    expect(result.runId).toBe('run-1');
    expect(result.attempt).toBe(2);
  });

  it('says why a step failed, in the log and in the result', async () => {
    const { ctx, logger } = context();
    const result = await runStage(stage([step('a', new Error('the database did not answer'))]), ctx);
    expect(result.steps[0]?.summary).toBe('the database did not answer');
    expect(logger.lines).toContain('error: Step a: the database did not answer');
    expect(result.summary).toBe('Preflight failed in Step a');
  });

  it('stores the report as apim-migrate-<stage>-report-a<attempt>, also for a failed stage', async () => {
    const { ctx, store } = context();
    const result = await runStage(stage([step('a', new Error('boom'))]), ctx);
    expect(store.artifacts.map((artifact) => artifact.name)).toEqual([
      'apim-migrate-preflight-logs-a2',
      'apim-migrate-preflight-report-a2',
    ]);
    expect(result.reportArtifact).toBe('apim-migrate-preflight-report-a2');
    const report = JSON.parse(await readFile(result.reportPath ?? '', 'utf8')) as { status: string; steps: unknown[] };
    expect(report.status).toBe('failed');
    expect(report.steps).toHaveLength(1);
  });

  it('fails the stage, and says so, when its report cannot be stored', async () => {
    const { ctx, logger } = context({ store: createMemoryStore('run-1', { failUploads: true }) });
    const result = await runStage(stage([step('a', undefined)]), ctx);
    expect(result.status).toBe('failed');
    expect(result.reportArtifact).toBeUndefined();
    expect(JSON.parse(await readFile(result.reportPath ?? '', 'utf8'))).toMatchObject({ stage: 'preflight' });
    expect(logger.lines.some((line) => line.startsWith('error: the report could not be stored'))).toBe(true);
  });
});

describe('runStage: the logs artifact', () => {
  /** The text of one file of an artifact the memory store holds. */
  async function storedText(ctx: StageContext, artifact: string, file: string): Promise<string> {
    const dir = await mkdtemp(path.join(workDir, 'download-'));
    await ctx.deps.store.download(artifact, dir);
    return readFile(path.join(dir, file), 'utf8');
  }

  it('stores what the stage printed, masked and neutralised, as apim-migrate-<stage>-logs-a<attempt>', async () => {
    const secrets = new SecretMasker();
    secrets.add('S3cret-run-value');
    const { ctx, logger } = context({ secrets });
    const talk: StepDefinition = {
      id: 'talk',
      title: 'Talk',
      async run(stepContext) {
        stepContext.deps.logger.info('connected with S3cret-run-value');
        stepContext.deps.logger.setSecret('token-found-during-the-stage');
        stepContext.deps.logger.warning(
          'server said \u001b[31mred\u001b[0m\n::error::spoofed with token-found-during-the-stage',
        );
        stepContext.deps.logger.info('password = "in-a-config-line"');
      },
    };
    const result = await runStage(stage([talk, step('quiet', new Error('boom'))]), ctx);
    expect(result.logArtifact).toBe('apim-migrate-preflight-logs-a2');
    expect(
      store(ctx)
        .artifacts.find((artifact) => artifact.name === result.logArtifact)
        ?.files.map((f) => f.name),
    ).toEqual(['stage-output.log']);
    const lines = (await storedText(ctx, 'apim-migrate-preflight-logs-a2', 'stage-output.log')).trimEnd().split('\n');
    const texts = lines.map((line) => line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, ''));
    expect(texts).toEqual([
      '== Talk',
      '  connected with ***',
      '  warning: server said red',
      '  warning: : :error::spoofed with ***',
      '  password = "***"',
      '== Step quiet',
      '  error: Step quiet: boom',
    ]);
    expect(lines.every((line) => /^\d{4}-\d\d-\d\dT[\d:.]+Z /.test(line))).toBe(true);
    // The stage's own logger got every line, and the secret registered during the stage.
    expect(logger.lines).toContain('info: connected with S3cret-run-value');
    expect(logger.secrets).toEqual(['token-found-during-the-stage']);
    // After the stage, the logger is the one it had.
    expect(ctx.deps.logger).toBe(logger);
    // The report names the logs artifact.
    const report = JSON.parse(await readFile(result.reportPath ?? '', 'utf8')) as { logArtifact?: string };
    expect(report.logArtifact).toBe('apim-migrate-preflight-logs-a2');
  });

  it('stores one logs artifact with what the stage gathered in its logs folder, in a dry run too', async () => {
    const { ctx } = context();
    ctx.dryRun = true;
    const gather: StepDefinition = {
      id: 'gather',
      title: 'Gather',
      async run(stepContext) {
        await writeFile(path.join(logsDir(stepContext), 'server-console.log'), 'started\n');
      },
    };
    const result = await runStage(stage([gather]), ctx);
    expect(store(ctx).artifacts.map((artifact) => artifact.name)).toEqual([
      'apim-migrate-preflight-logs-a2',
      'apim-migrate-preflight-report-a2',
    ]);
    expect(
      store(ctx)
        .artifacts[0]?.files.map((file) => file.name)
        .sort(),
    ).toEqual(['server-console.log', 'stage-output.log']);
    expect(result.logArtifact).toBe('apim-migrate-preflight-logs-a2');
  });

  it("names the artifact as the report: a restore's after the stage it rolls back", async () => {
    const { ctx } = context();
    const result = await runStage(
      { name: 'restore', reportName: 'restore-apim', title: 'Restore of apim', steps: () => [step('a', undefined)] },
      ctx,
    );
    expect(result.logArtifact).toBe('apim-migrate-restore-apim-logs-a2');
    expect(result.reportArtifact).toBe('apim-migrate-restore-apim-report-a2');
  });

  it('runs what waited for the logs once they are stored, and not when they could not be', async () => {
    const ran: string[] = [];
    const waiting: StepDefinition = {
      id: 'wait',
      title: 'Wait',
      async run(stepContext) {
        whenLogsStored(stepContext, async () => {
          ran.push(
            store(stepContext)
              .artifacts.map((artifact) => artifact.name)
              .join(','),
          );
        });
      },
    };
    const { ctx } = context();
    await runStage(stage([waiting]), ctx);
    expect(ran).toEqual(['apim-migrate-preflight-logs-a2']);

    ran.length = 0;
    const failing = context({ store: createMemoryStore('run-1', { failUploads: true }) });
    const result = await runStage(stage([waiting]), failing.ctx);
    expect(ran).toEqual([]);
    expect(result.status).toBe('failed');
    expect(result.logArtifact).toBeUndefined();
    expect(result.summary).toBe('Preflight succeeded; the logs could not be stored; the report could not be stored');
    expect(failing.logger.lines).toContain(
      'error: the logs could not be stored as apim-migrate-preflight-logs-a2 in memory store: the store is down',
    );
  });
});

function store(ctx: StageContext): ReturnType<typeof createMemoryStore> {
  return ctx.deps.store as ReturnType<typeof createMemoryStore>;
}
