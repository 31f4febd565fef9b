import * as core from '@actions/core';
import { errorMessage, exitCodeOf, InputError } from '../core/errors.js';
import { createActionsLogger } from '../log/actions-logger.js';
import { stageOutputs } from '../report/outputs.js';
import { renderRunErrorMarkdown, renderStageMarkdown } from '../report/stage-summary.js';
import { restoreOperation, runStageOperation } from '../stages/operations.js';
import type { RestoreRequest } from '../stages/restore.js';
import { isStageName, STAGE_NAMES, type StageName } from '../core/results.js';
import { actionStateSink, saveActionState } from './action-state.js';

/** The action's inputs, read once, keyed by their names in action.yml. */
export interface ActionInputs {
  stage: StageName | 'restore';
  config: string;
  'dry-run': boolean;
  force: boolean;
  'github-token': string;
  'restore-stage': string;
  'restore-from-run': string;
  'trust-unrecorded-run': boolean;
  'allow-connected-clients': boolean;
}

export function readActionInputs(): ActionInputs {
  const stage = core.getInput('stage');
  if (stage === '') {
    throw new InputError({
      message: `input "stage" is required: set it to one of ${[...STAGE_NAMES, 'restore'].join(', ')} (with: stage: preflight)`,
    });
  }
  if (stage !== 'restore' && !isStageName(stage)) {
    throw new InputError({
      message: `input "stage" is "${stage}"; it must be one of ${[...STAGE_NAMES, 'restore'].join(', ')}`,
    });
  }
  return {
    stage,
    config: core.getInput('config') || 'apim-migration.yml',
    'dry-run': booleanInput('dry-run'),
    force: booleanInput('force'),
    'github-token': core.getInput('github-token'),
    'restore-stage': core.getInput('restore-stage'),
    'restore-from-run': core.getInput('restore-from-run'),
    'trust-unrecorded-run': booleanInput('trust-unrecorded-run'),
    'allow-connected-clients': booleanInput('allow-connected-clients'),
  };
}

/** Strict YAML 1.2 booleans, as core.getBooleanInput, with the input's name in the message. */
function booleanInput(name: string): boolean {
  if (core.getInput(name) === '') return false;
  try {
    return core.getBooleanInput(name);
  } catch {
    throw new InputError({ message: `input "${name}" must be true or false, not "${core.getInput(name)}"` });
  }
}

/** `stage: restore` rolls back the stage named by restore-stage, from restore-from-run or the run the ledger names. */
function restoreRequest(inputs: ActionInputs): RestoreRequest {
  const stage = inputs['restore-stage'];
  if (!isStageName(stage)) {
    throw new InputError({
      message: `stage "restore" needs the input restore-stage: one of ${STAGE_NAMES.join(', ')}${stage ? `, not "${stage}"` : ''}`,
    });
  }
  const fromRun = inputs['restore-from-run'];
  return { stage, ...(fromRun ? { fromRun } : {}), trustUnrecordedRun: inputs['trust-unrecorded-run'] };
}

/** The action's main step: run one stage, then write its summary and outputs. */
export async function runAction(env: Record<string, string | undefined> = process.env): Promise<void> {
  const logger = createActionsLogger();
  try {
    const inputs = readActionInputs();
    logger.setSecret(inputs['github-token']);
    const initialState = { stage: inputs.stage, config: inputs.config };
    saveActionState(initialState);
    const base = {
      configFile: inputs.config,
      cwd: env['GITHUB_WORKSPACE'] ?? process.cwd(),
      env,
      logger,
      dryRun: inputs['dry-run'],
      serverState: actionStateSink(initialState),
      githubToken: inputs['github-token'],
      allowConnectedClients: inputs['allow-connected-clients'],
    };
    const result =
      inputs.stage === 'restore'
        ? await restoreOperation({ ...base, ...restoreRequest(inputs) })
        : await runStageOperation({ ...base, stage: inputs.stage, force: inputs.force });
    for (const [name, value] of Object.entries(stageOutputs(result))) core.setOutput(name, value);
    await core.summary.addRaw(renderStageMarkdown(result)).write();
    if (result.status === 'failed') {
      // The verdict as the step's last error annotation, which GitHub keeps whatever came before it.
      logger.finish(result.summary);
      // As the CLI: 2 says the input, the config or its secrets are wrong, 1 that the stage failed.
      process.exitCode = result.exitCode;
    } else {
      logger.info(result.summary);
      logger.finish();
    }
  } catch (error) {
    core.setOutput('status', 'failed');
    await core.summary
      .addRaw(renderRunErrorMarkdown(errorMessage(error)))
      .write()
      .catch(() => undefined);
    logger.finish(errorMessage(error));
    // As the CLI: 2 says the input, the config or its secrets are wrong, and nothing was changed.
    process.exitCode = exitCodeOf(error);
  }
}
