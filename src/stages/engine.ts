import path from 'node:path';
import { artifactName } from '../artifacts/store.js';
import { errorMessage, exitCodeOf } from '../core/errors.js';
import { neutraliseText } from '../core/neutralise.js';
import { makePrivateDir, writePrivateFile } from '../core/private-files.js';
import { TOOL_VERSION } from '../core/version.js';
import { noteDatabaseError } from './known-problems.js';
import { captureStageOutput, storeStageLogs } from './stage-logs.js';
import type { StageContext, StageDefinition, StepOutput } from './types.js';
import type { StageResult, StageStatus, StepResult } from '../core/results.js';

export const REPORT_FILE = 'report.json';

/**
 * Runs one stage: each step in its own group, timed, its outcome recorded as data. A failed step
 * stops the stage (its later steps are "not run") unless the stage runs all its steps. What the stage
 * printed is stored with what it gathered as its logs artifact (stage-logs.ts), then the result is
 * written as a JSON report and stored as its report artifact, both also when the stage failed.
 */
export async function runStage(definition: StageDefinition, context: StageContext): Promise<StageResult> {
  const clock = context.deps.clock ?? Date.now;
  const started = clock();
  const capture = await captureStageOutput(context);
  let ran: StepsRun;
  try {
    ran = await runSteps(definition, context, clock);
  } finally {
    await capture.end();
  }
  const finished = clock();
  const reportName = definition.reportName ?? definition.name;
  const logArtifact = await storeStageLogs(context, reportName);
  if (logArtifact !== undefined) context.outcome.logArtifact = logArtifact;
  const { steps, housekeeping, exitCode } = ran;
  // A housekeeping step counts for the verdict only when it failed.
  const counted = steps.filter((step) => !housekeeping.has(step) || step.outcome === 'failed');
  const status = stageStatus(counted);
  const result: StageResult = {
    stage: definition.name,
    status,
    dryRun: context.dryRun,
    runId: context.deps.run.runId,
    attempt: context.deps.run.attempt,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    steps,
    summary: verdictLine(definition.title, status, counted),
    exitCode: status === 'failed' ? exitCode : 0,
    toolVersion: TOOL_VERSION,
    ...context.outcome,
  };
  // Logs that could not be stored fail the stage as a report that cannot be does: said, never hidden.
  const withLogs: StageResult =
    logArtifact !== undefined
      ? result
      : {
          ...result,
          status: 'failed',
          exitCode: result.status === 'failed' ? result.exitCode : 1,
          summary: `${result.summary}; the logs could not be stored`,
        };
  return storeReport(withLogs, context, reportName);
}

interface StepsRun {
  steps: StepResult[];
  housekeeping: Set<StepResult>;
  exitCode: 1 | 2;
}

async function runSteps(definition: StageDefinition, context: StageContext, clock: () => number): Promise<StepsRun> {
  const { logger } = context.deps;
  const steps: StepResult[] = [];
  const housekeeping = new Set<StepResult>();
  let failed = false;
  let exitCode: 1 | 2 = 1;
  const queue = [...definition.steps(context)];

  for (let step = queue.shift(); step !== undefined; step = queue.shift()) {
    if (failed && !definition.runAllSteps && !step.alwaysRun) {
      steps.push({ id: step.id, title: step.title, outcome: 'not-run', durationMs: 0 });
      continue;
    }
    const stepStarted = clock();
    const failure = steps.find((entry) => entry.outcome === 'failed');
    const progress = { failed, ...(failure ? { failure: `${failure.title}: ${failure.summary ?? 'failed'}` } : {}) };
    const current = step;
    const output = await logger.group(current.title, async () => {
      try {
        return (await current.run(context, progress)) ?? {};
      } catch (error) {
        logger.error(`${current.title}: ${errorMessage(error)}`);
        // The one place every step's error surfaces: a database error of our own SQL may be a known problem.
        noteDatabaseError(context, definition.name, error);
        if (!failed && exitCodeOf(error) === 2) exitCode = 2;
        return { outcome: 'failed', summary: errorMessage(error) } satisfies StepOutput;
      }
    });
    const result = stepResult(current.id, current.title, output, clock() - stepStarted);
    if (result.outcome === 'failed') failed = true;
    if (current.housekeeping) housekeeping.add(result);
    steps.push(result);
    queue.unshift(...(output.next ?? []));
  }
  return { steps, housekeeping, exitCode };
}

function stepResult(id: string, title: string, output: StepOutput, durationMs: number): StepResult {
  const failedCheck = output.checks?.some((check) => check.verdict === 'fail') ?? false;
  const outcome = output.outcome ?? (failedCheck ? 'failed' : 'succeeded');
  return {
    id,
    title,
    outcome,
    durationMs,
    ...(output.summary === undefined ? {} : { summary: output.summary }),
    ...(output.checks === undefined ? {} : { checks: output.checks }),
  };
}

function stageStatus(steps: StepResult[]): StageStatus {
  if (steps.some((step) => step.outcome === 'failed')) return 'failed';
  if (steps.length > 0 && steps.every((step) => step.outcome === 'skipped')) return 'skipped';
  return 'succeeded';
}

function verdictLine(title: string, status: StageStatus, steps: StepResult[]): string {
  if (status === 'succeeded') return `${title} succeeded`;
  if (status === 'skipped') return `${title} skipped: ${steps[0]?.summary ?? 'nothing to do'}`;
  const failedSteps = steps.filter((step) => step.outcome === 'failed').map((step) => step.title);
  return `${title} failed in ${failedSteps.join(', ')}`;
}

/** Writes the report and stores it; a report that cannot be stored is said, never hidden. */
async function storeReport(result: StageResult, context: StageContext, reportName: string): Promise<StageResult> {
  const { logger, store, run } = context.deps;
  const reportDir = path.join(context.workDir, 'report');
  await makePrivateDir(reportDir);
  const localPath = path.join(reportDir, REPORT_FILE);
  const name = artifactName(reportName, 'report', run.attempt);
  // The stored report holds no reportPath: a path on this machine means nothing inside the artifact.
  const withName: StageResult = { ...result, reportArtifact: name };
  // Its texts are neutralised as printed ones are: a report is read in terminals and logs too.
  const neutralised = (_key: string, value: unknown) => (typeof value === 'string' ? neutraliseText(value) : value);
  await writePrivateFile(localPath, `${JSON.stringify(withName, neutralised, 2)}\n`);
  try {
    const stored = await store.upload(name, [localPath], { retentionDays: context.config.backup.retentionDays });
    return { ...withName, reportPath: stored.localDir ? path.join(stored.localDir, REPORT_FILE) : localPath };
  } catch (error) {
    logger.error(`the report could not be stored as ${name} in ${store.description}: ${errorMessage(error)}`);
    // The report stays in the work folder, which is then kept, so that it is not lost.
    return {
      ...result,
      reportPath: localPath,
      status: 'failed',
      exitCode: result.status === 'failed' ? result.exitCode : 1,
      summary: `${result.summary}; the report could not be stored`,
    };
  }
}
