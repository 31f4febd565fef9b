import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { InvalidDefinition } from '../server/server-runner.js';
import { isHealthStep } from './apim.js';
import { checkServerRunInput } from './input-checks.js';
import { logsDir, serverRunSteps, storeLogsStep } from './server-stage.js';
import type { StageContext, StageDefinition, StepOutput } from './types.js';

/** Step 3.4 of WSO2's guide: the pre-migration validation. Reads only: no backup. */
export const apimValidateStage: StageDefinition = {
  name: 'apim-validate',
  title: 'API-M pre-migration validation',
  checkInputs: (config, env) => checkServerRunInput(config, env, { path: config.apim.migrationKit, kind: 'apim' }),
  steps(context) {
    const invalidFolder = path.join(context.config.apimHome, 'invalid-swagger-definitions');
    return [
      ...(context.config.keyManager === 'is' ? [isHealthStep(context)] : []),
      ...serverRunSteps(context, {
        stage: 'apim-validate',
        kit: { path: context.config.apim.migrationKit, kind: 'apim' },
        onInvalidDefinitions: judgeInvalidDefinitions,
      }),
      storeLogsStep(context, 'apim-validate', [invalidFolder]),
    ];
  },
};

async function judgeInvalidDefinitions(context: StageContext, found: InvalidDefinition[]): Promise<StepOutput> {
  const { logger } = context.deps;
  context.outcome.invalidDefinitions = found.length;
  context.outcome.changes = { ...context.outcome.changes, invalidDefinitions: found };
  await writeFile(path.join(logsDir(context), 'invalid-definitions.json'), `${JSON.stringify(found, null, 2)}\n`);
  if (found.length === 0) return { summary: 'every API definition is valid' };
  for (const api of found) {
    logger.warning(`${api.kind} definition of ${api.name} ${api.version} (provider ${api.provider}): ${api.message}`);
  }
  const summary = `${found.length} invalid API definition${found.length === 1 ? '' : 's'}`;
  return context.config.apim.allowInvalidDefinitions
    ? { summary: `${summary}, allowed by apim.allowInvalidDefinitions` }
    : {
        outcome: 'failed',
        summary: `${summary}: fix them in API-M 3.1.0 (see the logs artifact), or set apim.allowInvalidDefinitions: true to go on`,
      };
}
