import { describePhysicalDatabase, type Plan, type StagePlan } from './build-plan.js';
import { describeEstimate, renderProfileLines } from './data-profile.js';

/** The plan as an operator reads it in a terminal or a log. */
export function renderPlanText(plan: Plan): string {
  const lines = [`apim-migrate plan: API-M 3.1.0 (${plan.oldApimHome}) to 4.2.0 (${plan.apimHome})`, ''];
  if (plan.profile) {
    const notes = (plan.profileNotes ?? []).map((note) => `NOTE: ${note}`);
    lines.push('Data profile:', ...[...renderProfileLines(plan.profile), ...notes].map((line) => `  ${line}`), '');
  }
  plan.stages.forEach((stage, index) => {
    lines.push(...renderStage(stage, index + 1), '');
  });
  lines.push('Nothing was changed. Run a stage with: apim-migrate run <stage>');
  return lines.join('\n');
}

function renderStage(stage: StagePlan, number: number): string[] {
  const mode = stage.skipped ? 'skipped' : stage.readOnly ? 'read only' : 'changes data';
  const lines = [`${number}. ${stage.stage}: ${stage.title} (${stage.officialStep}; ${mode})`];
  const item = (text: string) => lines.push(`   - ${text}`);
  if (stage.skipped) {
    item(`skipped: ${stage.skipped}`);
    return lines;
  }
  for (const db of stage.backups) item(`back up ${describePhysicalDatabase(db)} first`);
  if (stage.backupEstimate) item(describeEstimate(stage.backupEstimate));
  for (const index of stage.indices)
    item(`add index ${index.name} on ${index.table} (${index.columns.join(', ')}) unless it exists`);
  for (const action of stage.versioningRemoval) {
    const rows = action.rowsToDelete
      ? ` (would delete ${action.rowsToDelete.mapping} rows of ${action.mappingTable} and ${action.rowsToDelete.entity} of ${action.entityTable})`
      : '';
    item(
      `${action.runs ? 'remove' : 'keep'} versioning details of ${action.mappingTable} / ${action.entityTable}: ${action.reason}${rows}`,
    );
  }
  for (const edit of stage.configEdits) item(`edit ${edit.file}: ${edit.change}`);
  for (const { diff } of stage.diffs)
    lines.push(
      ...diff
        .replace(/\n$/, '')
        .split('\n')
        .map((line) => `       ${line}`),
    );
  if (stage.serverRun) item(`run the server: ${stage.serverRun.display}; watch its log; stop it`);
  for (const check of stage.checks) item(`check: ${check}`);
  for (const note of stage.notes) item(note);
  return lines;
}
