import { formatDuration } from '../core/format.js';
import { neutraliseText } from '../core/neutralise.js';
import {
  STAGE_NAMES,
  type ApimValidateChanges,
  type KnownProblemMatch,
  type RegistryScriptsChanges,
  type StageChanges,
  type StageResult,
  type StepOutcome,
} from '../core/results.js';
import { VERDICT_MARK } from '../core/check.js';
import { formatKnownProblem } from '../wso2/known-problems.js';
import type { DatabaseProfile } from '../core/data-profile.js';
import { renderProfileLines } from '../plan/data-profile.js';

const OUTCOME_MARK: Record<StepOutcome, string> = {
  succeeded: 'succeeded',
  failed: 'FAILED',
  skipped: 'skipped',
  'not-run': 'not run',
};

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
  const known = result.knownProblems ?? [];
  if (known.length > 0) {
    lines.push(
      '',
      `Known problems (${known.length}):`,
      ...known.map((problem) => `  - ${formatKnownProblem(problem)}`),
    );
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
  lines.push(...renderKnownProblems(result.knownProblems));
  lines.push(...renderChanges(result.changes));
  lines.push(...renderProfile(result.profile));
  const artifacts = [
    ['Backup', result.backupArtifact],
    ['Logs', result.logArtifact],
    ['Report', result.reportArtifact],
  ].filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (artifacts.length > 0) {
    lines.push('', ...artifacts.map(([kind, name]) => `- ${kind} artifact: \`${name}\``));
  }
  lines.push('', ...renderPipeline(result), '', nextStep(result));
  return `${lines.join('\n')}\n`;
}

/** The known problems the stage met: what each means, what to do, and the line it was seen in. */
function renderKnownProblems(problems: KnownProblemMatch[] | undefined): string[] {
  if (!problems?.length) return [];
  const lines = ['', '### Known problems', ''];
  for (const problem of problems) {
    lines.push(
      `- **${escapeMarkdown(problem.id)}**: ${escapeMarkdown(problem.cause)} **Fix:** ${escapeMarkdown(problem.fix)} (${escapeMarkdown(problem.reference)})`,
      `  <br>Seen in: <code>${escapeMarkdown(problem.line)}</code>`,
    );
  }
  return lines;
}

/** preflight's data profile, folded: the profile's text lines as a nested list, every line escaped. */
function renderProfile(profile: readonly DatabaseProfile[] | undefined): string[] {
  if (!profile || profile.length === 0) return [];
  const items = renderProfileLines(profile).map((line) => {
    const depth = (line.length - line.trimStart().length) / 2;
    return `${'  '.repeat(depth)}- ${escapeMarkdown(line.trim())}`;
  });
  return ['', '<details><summary>Data profile</summary>', '', ...items, '', '</details>'];
}

/** What the stage changed, from the facts its steps recorded. */
function renderChanges(changes: StageChanges | undefined): string[] {
  if (!changes) return [];
  const lines = changes.stage === 'registry-scripts' ? registryChangeLines(changes) : validationLines(changes);
  return lines.length > 0 ? ['', '### What changed', '', ...lines] : [];
}

function registryChangeLines(changes: RegistryScriptsChanges): string[] {
  const lines: string[] = [];
  const code = (names: readonly string[]) => names.map((name) => `\`${name}\``).join(', ');
  if (changes.indicesAdded?.length) lines.push(`- Indices added: ${code(changes.indicesAdded)}`);
  if (changes.indicesToAdd?.length) lines.push(`- Indices that would be added: ${code(changes.indicesToAdd)}`);
  for (const table of changes.versioningRemoval ?? []) {
    const [verb, mapping, entity] =
      'mappingRowsDeleted' in table
        ? ['deleted', table.mappingRowsDeleted, table.entityRowsDeleted]
        : ['would delete', table.mappingRowsToDelete, table.entityRowsToDelete];
    const database = table.database === undefined ? '' : `${escapeMarkdown(table.database)}: `;
    lines.push(
      `- ${database}${escapeMarkdown(table.mappingTable)}: ${verb} ${mapping} rows; ${escapeMarkdown(table.entityTable)}: ${verb} ${entity} orphans`,
    );
  }
  return lines;
}

function validationLines(changes: ApimValidateChanges): string[] {
  if (changes.invalidDefinitions.length === 0) return [];
  const lines = ['', '| API | Version | Provider | Definition | Message |', '| --- | --- | --- | --- | --- |'];
  for (const api of changes.invalidDefinitions) {
    lines.push(
      `| ${escapeCell(api.name)} | ${escapeCell(api.version)} | ${escapeCell(api.provider)} | ${escapeCell(api.kind)} | ${escapeCell(api.message)} |`,
    );
  }
  return lines;
}

/** The pipeline as a Mermaid flowchart (GitHub renders it), with this stage marked by its outcome. */
function renderPipeline(result: StageResult): string[] {
  const stage = result.stage === 'restore' || result.stage === 'backup' ? undefined : result.stage;
  const nodes = STAGE_NAMES.map((name) => `  ${nodeId(name)}["${name}"]`);
  const edges = STAGE_NAMES.slice(1).map(
    (name, index) => `  ${nodeId(STAGE_NAMES[index] ?? name)} --> ${nodeId(name)}`,
  );
  const mark = stage ? [`  class ${nodeId(stage)} ${result.status}`] : [];
  return [
    '```mermaid',
    'flowchart LR',
    ...nodes,
    ...edges,
    '  classDef succeeded fill:#d4edda,stroke:#28a745',
    '  classDef failed fill:#f8d7da,stroke:#dc3545',
    '  classDef skipped fill:#e2e3e5,stroke:#6c757d',
    ...mark,
    '```',
  ];
}

function nodeId(stage: string): string {
  return stage.replace(/-/g, '_');
}

function nextStep(result: StageResult): string {
  if (result.stage === 'restore') {
    if (result.status === 'failed') {
      return '**Next:** fix what the failed step says, then re-run this job; nothing was changed before the backup was checked.';
    }
    return result.restoredStage === 'startup'
      ? "**Next:** the API-M home's `solr` and `deployment.toml` are back as they were before the first start; the ledger records the rollback, so `startup` can run again."
      : '**Next:** the databases are back as they were before the stage; the ledger says what they have been through.';
  }
  if (result.status === 'failed') {
    const again = !result.backupArtifact
      ? ''
      : result.stage === 'startup'
        ? " The API-M home was put back from this stage's backup (the re-run puts it back first if that failed)."
        : " The re-run restores the databases from this stage's backup first.";
    return `**Next:** fix what the failed steps say, then re-run this job.${again}`;
  }
  const rollback = (stage: string) =>
    `To roll this stage back, run the action with \`stage: restore\`, \`restore-stage: ${stage}\` and \`restore-from-run: ${escapeMarkdown(result.runId)}\` (CLI: \`apim-migrate restore --stage ${stage} --from-run ${escapeMarkdown(result.runId)}\`).`;
  if (result.stage === 'startup' && result.status === 'succeeded') {
    return `**Next:** the migration is complete: sign in to the Publisher and the Developer Portal and check the APIs. ${rollback('startup')}`;
  }
  if (result.backupArtifact && result.stage !== 'backup') {
    return `**Next:** run the next stage of the pipeline. ${rollback(result.stage)}`;
  }
  return '**Next:** run the next stage of the pipeline.';
}

/** Text from outside as Markdown: neutralised (core/neutralise.ts), then every Markdown character escaped. */
export function escapeMarkdown(text: string): string {
  return neutraliseText(text).replace(/[\\`*_{}[\]<>|#]/g, (char) => `\\${char}`);
}

function escapeCell(text: string): string {
  return escapeMarkdown(text).replace(/\r?\n/g, '<br>');
}
