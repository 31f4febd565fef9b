import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { writePrivateFile } from '../core/private-files.js';
import type { InvalidDefinition } from '../server/server-runner.js';
import { isHealthStep } from './apim.js';
import { checkServerRunInput } from './input-checks.js';
import { serverRunSteps, storeLogsStep } from './server-stage.js';
import { logsDir } from './stage-logs.js';
import type { StageContext, StageDefinition, StepDefinition, StepOutput } from './types.js';

/** Step 3.4 of WSO2's guide: the pre-migration validation. Reads only: no backup. */
export const apimValidateStage: StageDefinition = {
  name: 'apim-validate',
  title: 'API-M pre-migration validation',
  checkInputs: (config, env, platform) =>
    checkServerRunInput(config, env, { path: config.apim.migrationKit, kind: 'apim' }, platform),
  steps(context) {
    // `-DsaveInvalidDefinition` writes <HOME>/invalid-swagger-definitions/<API UUID>.json, and the folder stays
    // across runs: what an earlier run left is set aside first, so that this run's folder holds only its own.
    const invalidFolder = path.join(context.config.apimHome, INVALID_DEFINITIONS_FOLDER);
    // Filled by the first step with the folders set aside; the logs step stores them and this run's folder.
    const folders: string[] = [];
    return [
      ...(context.config.keyManager === 'is' ? [isHealthStep(context)] : []),
      setAsideStep(context, invalidFolder, folders),
      ...serverRunSteps(context, {
        stage: 'apim-validate',
        kit: { path: context.config.apim.migrationKit, kind: 'apim' },
        onInvalidDefinitions: judgeInvalidDefinitions,
      }),
      storeLogsStep(context, 'apim-validate', folders, { removeExtraFolders: !context.dryRun }),
    ];
  },
};

const INVALID_DEFINITIONS_FOLDER = 'invalid-swagger-definitions';
const SET_ASIDE = `${INVALID_DEFINITIONS_FOLDER}-before-`;

/**
 * Renames what earlier runs left in the folder to `<folder>-before-<run>-a<attempt>` (a rename in the home: nothing
 * is copied, so nothing can be lost on the way), and gathers every such folder, also those of runs that were killed
 * before they stored them, for the logs step.
 */
function setAsideStep(context: StageContext, folder: string, folders: string[]): StepDefinition {
  return {
    id: 'earlier-definitions',
    title: 'Invalid definitions of earlier runs',
    async run(): Promise<StepOutput> {
      const home = context.config.apimHome;
      const entries = await readdir(folder, { withFileTypes: true }).catch(() => undefined);
      const files = entries?.filter((entry) => entry.isFile());
      const leftOver = (await readdir(home))
        .filter((name) => name.startsWith(SET_ASIDE))
        .map((name) => path.join(home, name));
      if (context.dryRun) {
        return { summary: `dry run: would set aside ${files?.length ?? 0} files of an earlier run` };
      }
      folders.push(...leftOver);
      if (files !== undefined) {
        const { runId, attempt } = context.deps.run;
        const aside = path.join(home, `${SET_ASIDE}${runId}-a${attempt}`);
        await rename(folder, aside);
        folders.push(aside);
        context.deps.logger.info(
          `${folder} held ${files.length} files of an earlier run: moved to ${aside}; they go into the logs artifact and are not reported again`,
        );
      }
      for (const earlier of leftOver) {
        context.deps.logger.info(`${earlier}, set aside by a run that did not store it, goes into the logs artifact`);
      }
      folders.push(folder);
      if (files === undefined && leftOver.length === 0) {
        return { outcome: 'skipped', summary: `no ${INVALID_DEFINITIONS_FOLDER} folder` };
      }
      return { summary: `set aside ${files?.length ?? 0} files of an earlier run` };
    },
  };
}

async function judgeInvalidDefinitions(context: StageContext, found: InvalidDefinition[]): Promise<StepOutput> {
  const { logger } = context.deps;
  context.outcome.invalidDefinitions = found.length;
  context.outcome.changes = { stage: 'apim-validate', invalidDefinitions: found };
  await writePrivateFile(
    path.join(logsDir(context), 'invalid-definitions.json'),
    `${JSON.stringify(found, null, 2)}\n`,
  );
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
