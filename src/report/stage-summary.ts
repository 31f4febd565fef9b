import { formatDuration } from '../core/format.js';
import { neutraliseText } from '../core/neutralise.js';
import {
  STAGE_NAMES,
  type KnownProblemMatch,
  type RegistryScriptsChanges,
  type StageChanges,
  type StageResult,
  type StepOutcome,
} from '../core/results.js';
import { VERDICT_MARK } from '../core/check.js';
import { formatKnownProblem } from '../wso2/known-problems.js';
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

/**
 * GitHub drops a step summary over 1 MiB (1,048,576 bytes) whole: a stage's summary stays within this many bytes,
 * whatever the input, with room to spare.
 */
export const SUMMARY_MAX_BYTES = 1_000_000;
/** A longer text from a step (its summary, a check's message, a server line) is cut here; the report has it whole. */
const MAX_TEXT_CHARS = 20_000;
/** Names and ids (the run id, the artifacts) are ours and short: cut at this many characters all the same. */
const MAX_NAME_CHARS = 200;

/**
 * The job summary of a stage in GitHub-flavoured Markdown, escaped once here. Its long lists (steps, checks, known
 * problems, what changed, the data profile) are cut by bytes, each ending with how many more the report holds, so
 * that the whole summary stays within SUMMARY_MAX_BYTES.
 */
export function renderStageMarkdown(result: StageResult): string {
  const icon = result.status === 'succeeded' ? '✅' : result.status === 'skipped' ? '⏭️' : '❌';
  const runId = clipText(result.runId, MAX_NAME_CHARS);
  const head = [
    `## ${icon} apim-migrate: ${escapeMarkdown(clipText(result.summary))}`,
    '',
    `Run ${escapeMarkdown(runId)}, attempt ${result.attempt}${result.dryRun ? ', dry run' : ''}, ${formatDuration(result.durationMs)}.`,
    '',
  ];
  const artifacts = [
    ['Backup', result.backupArtifact],
    ['Logs', result.logArtifact],
    ['Report', result.reportArtifact],
  ].filter((entry): entry is [string, string] => entry[1] !== undefined);
  const tail = [
    ...(artifacts.length > 0
      ? ['', ...artifacts.map(([kind, name]) => `- ${kind} artifact: \`${clipText(name, MAX_NAME_CHARS)}\``)]
      : []),
    '',
    ...renderPipeline(result),
    '',
    nextStep(result, runId),
  ];
  const reference = reportReference(result);
  const sections = summarySections(result);
  const budget = SUMMARY_MAX_BYTES - linesBytes(head) - linesBytes(tail);
  const budgets = shareBudget(
    sections.map((section) => sectionBytes(section, budget)),
    budget,
  );
  const body = sections.flatMap((section, index) => fitSection(section, budgets[index] ?? 0, reference));
  const markdown = `${[...head, ...body, ...tail].join('\n')}\n`;
  // Only a summary whose fixed parts alone were too long could get here: the clips above make that impossible.
  if (Buffer.byteLength(markdown) > SUMMARY_MAX_BYTES) {
    return `${head[0]?.slice(0, MAX_NAME_CHARS) ?? ''}\n\nThe summary is too long to show: see ${reference}.\n`;
  }
  return markdown;
}

/** The job summary when the stage could not run at all: what went wrong, cut as a step's text is. */
export function renderRunErrorMarkdown(message: string): string {
  return `## ❌ apim-migrate could not run the stage\n\n${escapeMarkdown(clipText(message))}\n`;
}

/**
 * One list of the summary: its `items` rendered one by one (each its own line or lines) until the budget is spent,
 * between `head` (a heading, a table's head) and `tail` (what closes a `<details>`).
 */
interface SummarySection<T = unknown> {
  head: string[];
  items: readonly T[];
  render: (item: T) => string;
  tail?: string[];
  /** What the items are, for the line that says how many more the report has: `steps`, `checks`. */
  noun: string;
}

function section<T>(spec: SummarySection<T>): SummarySection {
  return spec as SummarySection;
}

/** The summary's lists, in the order they are shown (and filled). */
function summarySections(result: StageResult): SummarySection[] {
  const sections: SummarySection[] = [
    section({
      head: ['| Step | Outcome | Duration | Details |', '| --- | --- | --- | --- |'],
      items: result.steps,
      render: (step) =>
        `| ${escapeCell(clipText(step.title))} | ${OUTCOME_MARK[step.outcome]} | ${formatDuration(step.durationMs)} | ${escapeCell(clipText(step.summary ?? ''))} |`,
      noun: 'steps',
    }),
  ];
  const checks = result.steps.flatMap((step) => (step.checks ?? []).map((check) => ({ step: step.title, check })));
  if (checks.length > 0) {
    sections.push(
      section({
        head: ['', '<details><summary>Checks</summary>', '', '| Step | Verdict | Check |', '| --- | --- | --- |'],
        items: checks,
        render: ({ step, check }) =>
          `| ${escapeCell(clipText(step))} | ${VERDICT_MARK[check.verdict]} | ${escapeCell(clipText(check.message))} |`,
        tail: ['', '</details>'],
        noun: 'checks',
      }),
    );
  }
  const problems = result.knownProblems ?? [];
  if (problems.length > 0) {
    sections.push(
      section({
        head: ['', '### Known problems', ''],
        items: problems,
        render: renderKnownProblem,
        noun: 'known problems',
      }),
    );
  }
  sections.push(...changeSections(result.changes));
  const profile = result.profile ?? [];
  if (profile.length > 0) {
    sections.push(
      section({
        head: ['', '<details><summary>Data profile</summary>', ''],
        items: renderProfileLines(profile),
        render: (line) => {
          const depth = (line.length - line.trimStart().length) / 2;
          return `${'  '.repeat(depth)}- ${escapeMarkdown(clipText(line.trim()))}`;
        },
        tail: ['', '</details>'],
        noun: 'lines of the data profile',
      }),
    );
  }
  return sections;
}

/** A known problem the stage met: what it means, what to do, and the line it was seen in. */
function renderKnownProblem(problem: KnownProblemMatch): string {
  return [
    `- **${escapeMarkdown(clipText(problem.id))}**: ${escapeMarkdown(clipText(problem.cause))} **Fix:** ${escapeMarkdown(clipText(problem.fix))} (${escapeMarkdown(clipText(problem.reference))})`,
    `  <br>Seen in: <code>${escapeMarkdown(clipText(problem.line))}</code>`,
  ].join('\n');
}

/** Bytes of a section shown whole, counted up to `cap` only (a list of a million items is not rendered to be cut). */
function sectionBytes(spec: SummarySection, cap: number): number {
  let bytes = linesBytes(spec.head) + linesBytes(spec.tail ?? []);
  for (const item of spec.items) {
    if (bytes > cap) break;
    bytes += linesBytes([spec.render(item)]);
  }
  return bytes;
}

/**
 * Shares `budget` among sections that need `needs` bytes each: a section that needs less than an even share gets what
 * it needs, and what it leaves goes to the others, so that one long list does not crowd out the rest.
 */
function shareBudget(needs: readonly number[], budget: number): number[] {
  const shares = needs.map(() => 0);
  let left = budget;
  let count = needs.length;
  const smallestFirst = needs.map((need, index) => ({ need, index })).sort((a, b) => a.need - b.need);
  for (const { need, index } of smallestFirst) {
    const share = Math.min(need, Math.floor(left / count));
    shares[index] = share;
    left -= share;
    count -= 1;
  }
  return shares;
}

/**
 * The section whole when it fits in `budget` bytes; else `head`, as many items as fit, a line that says how many more
 * are in the report, and `tail`. A section whose head and tail alone do not fit is left out (with the budget of a
 * summary, it never is).
 */
function fitSection(spec: SummarySection, budget: number, reference: string): string[] {
  const tail = spec.tail ?? [];
  if (sectionBytes(spec, budget) <= budget) return [...spec.head, ...spec.items.map(spec.render), ...tail];
  const more = (count: number) => ['', `_${count} more ${spec.noun} in ${reference}_`];
  const moreBytes = linesBytes(more(spec.items.length));
  let used = linesBytes(spec.head) + linesBytes(tail) + moreBytes;
  if (used > budget) return [];
  const lines = [...spec.head];
  let shown = 0;
  for (const item of spec.items) {
    const line = spec.render(item);
    const bytes = linesBytes([line]);
    if (used + bytes > budget) break;
    lines.push(line);
    used += bytes;
    shown += 1;
  }
  return [...lines, ...more(spec.items.length - shown), ...tail];
}

/** Where the whole of a cut list is: the report artifact, or the report (kept on the runner) when it could not be stored. */
function reportReference(result: StageResult): string {
  if (result.reportArtifact) return `the report artifact \`${clipText(result.reportArtifact, MAX_NAME_CHARS)}\``;
  return 'the report';
}

/** Bytes of lines joined by `\n`, each with its line break. */
function linesBytes(lines: readonly string[]): number {
  return lines.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
}

/** `text`, or its first `max` characters and a note that it was cut (never half a surrogate pair). */
function clipText(text: string, max = MAX_TEXT_CHARS): string {
  if (text.length <= max) return text;
  const end = /[\ud800-\udbff]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}… (cut: the report has it whole)`;
}

/** What the stage changed, from the facts its steps recorded. */
function changeSections(changes: StageChanges | undefined): SummarySection[] {
  if (!changes) return [];
  const heading = ['', '### What changed', ''];
  if (changes.stage === 'registry-scripts') {
    const lines = registryChangeLines(changes);
    return lines.length > 0 ? [section({ head: heading, items: lines, render: (line) => line, noun: 'changes' })] : [];
  }
  if (changes.invalidDefinitions.length === 0) return [];
  return [
    section({
      head: [...heading, '', '| API | Version | Provider | Definition | Message |', '| --- | --- | --- | --- | --- |'],
      items: changes.invalidDefinitions,
      render: (api) =>
        `| ${escapeCell(clipText(api.name))} | ${escapeCell(clipText(api.version))} | ${escapeCell(clipText(api.provider))} | ${escapeCell(clipText(api.kind))} | ${escapeCell(clipText(api.message))} |`,
      noun: 'invalid API definitions',
    }),
  ];
}

function registryChangeLines(changes: RegistryScriptsChanges): string[] {
  const lines: string[] = [];
  if (changes.indicesAdded?.length) lines.push(`- Indices added: ${codeList(changes.indicesAdded)}`);
  if (changes.indicesToAdd?.length) lines.push(`- Indices that would be added: ${codeList(changes.indicesToAdd)}`);
  for (const table of changes.versioningRemoval ?? []) {
    const [verb, mapping, entity] =
      'mappingRowsDeleted' in table
        ? ['deleted', table.mappingRowsDeleted, table.entityRowsDeleted]
        : ['would delete', table.mappingRowsToDelete, table.entityRowsToDelete];
    const database = table.database === undefined ? '' : `${escapeMarkdown(clipText(table.database))}: `;
    lines.push(
      `- ${database}${escapeMarkdown(clipText(table.mappingTable))}: ${verb} ${mapping} rows; ${escapeMarkdown(clipText(table.entityTable))}: ${verb} ${entity} orphans`,
    );
  }
  return lines;
}

/** Names as code, as many as MAX_TEXT_CHARS holds, then how many more. */
function codeList(names: readonly string[]): string {
  const shown: string[] = [];
  let length = 0;
  for (const name of names) {
    length += name.length + 4;
    if (length > MAX_TEXT_CHARS) break;
    shown.push(`\`${name}\``);
  }
  const rest = names.length - shown.length;
  return `${shown.join(', ')}${rest > 0 ? ` and ${rest} more` : ''}`;
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

function nextStep(result: StageResult, runId: string): string {
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
    `To roll this stage back, run the action with \`stage: restore\`, \`restore-stage: ${stage}\` and \`restore-from-run: ${escapeMarkdown(runId)}\` (CLI: \`apim-migrate restore --stage ${stage} --from-run ${escapeMarkdown(runId)}\`).`;
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
