import { formatDuration } from '../format.js';
import type { Check, StageResult, StepOutcome } from '../stages/types.js';

const OUTCOME_MARK: Record<StepOutcome, string> = {
  succeeded: 'succeeded',
  failed: 'FAILED',
  skipped: 'skipped',
  'not-run': 'not run',
};

const VERDICT_MARK: Record<Check['verdict'], string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL' };

export function formatCheck(check: Check): string {
  return `[${VERDICT_MARK[check.verdict]}] ${check.message}`;
}

/** The closing lines of a stage in a terminal: each step's outcome, then the verdict. */
export function renderStageText(result: StageResult): string {
  const lines = [''];
  const width = Math.max(...result.steps.map((step) => step.title.length), 4);
  for (const step of result.steps) {
    const detail = step.summary ? `  ${step.summary}` : '';
    lines.push(
      `  ${step.title.padEnd(width)}  ${OUTCOME_MARK[step.outcome].padEnd(9)} ${formatDuration(step.durationMs).padStart(9)}${detail}`,
    );
  }
  const failedChecks = result.steps.flatMap((step) => step.checks ?? []).filter((check) => check.verdict === 'fail');
  if (failedChecks.length > 0) {
    lines.push('', `Failed checks (${failedChecks.length}):`, ...failedChecks.map((check) => `  - ${check.message}`));
  }
  if (result.reportPath) lines.push('', `Report: ${result.reportPath}`);
  lines.push('', `${result.summary} (${formatDuration(result.durationMs)})`);
  return lines.join('\n');
}

/** The job summary of a stage in GitHub-flavoured Markdown, escaped once here. */
export function renderStageMarkdown(result: StageResult): string {
  const icon = result.status === 'succeeded' ? '✅' : result.status === 'skipped' ? '⏭️' : '❌';
  const lines = [
    `## ${icon} apim-migrate: ${escapeMarkdown(result.summary)}`,
    '',
    `Run ${escapeMarkdown(result.runId)}, attempt ${result.attempt}${result.dryRun ? ', dry run' : ''}, ${formatDuration(result.durationMs)}.`,
    '',
    '| Step | Outcome | Duration | Details |',
    '| --- | --- | --- | --- |',
    ...result.steps.map(
      (step) =>
        `| ${escapeCell(step.title)} | ${OUTCOME_MARK[step.outcome]} | ${formatDuration(step.durationMs)} | ${escapeCell(step.summary ?? '')} |`,
    ),
  ];
  const checks = result.steps.flatMap((step) => (step.checks ?? []).map((check) => ({ step: step.title, check })));
  if (checks.length > 0) {
    lines.push('', '<details><summary>Checks</summary>', '', '| Step | Verdict | Check |', '| --- | --- | --- |');
    for (const { step, check } of checks) {
      lines.push(`| ${escapeCell(step)} | ${VERDICT_MARK[check.verdict]} | ${escapeCell(check.message)} |`);
    }
    lines.push('', '</details>');
  }
  if (result.reportArtifact) lines.push('', `Report artifact: \`${result.reportArtifact}\``);
  lines.push('', nextStep(result));
  return `${lines.join('\n')}\n`;
}

function nextStep(result: StageResult): string {
  if (result.status === 'failed') {
    return '**Next:** fix what the failed steps say, then re-run this job.';
  }
  return '**Next:** run the next stage of the pipeline.';
}

export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]<>|#]/g, (char) => `\\${char}`);
}

function escapeCell(text: string): string {
  return escapeMarkdown(text).replace(/\r?\n/g, '<br>');
}
