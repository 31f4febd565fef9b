import type { MutatingStageDefinition } from './guard.js';
import { checkDeploymentTomlInput, checkServerRunInput } from './input-checks.js';
import { deploymentTomlStep, serverRunSteps, storeLogsStep } from './server-stage.js';
import type { StageContext, StepDefinition, StepOutput } from './types.js';

const IS_HEALTH_TIMEOUT_MS = 15_000;

/** Step 3.5 of WSO2's guide: the API-M data migration from 3.1.0 to 4.2.0. */
export const apimStage: MutatingStageDefinition = {
  name: 'apim',
  title: 'API-M data migration',
  touches: 'all',
  async checkInputs(config, env, platform) {
    await checkServerRunInput(config, env, { path: config.apim.migrationKit, kind: 'apim' }, platform);
    await checkDeploymentTomlInput(config, { statementCache: true, userStoreUniqueId: false });
  },
  steps(context) {
    return [
      ...(context.config.keyManager === 'is' ? [isHealthStep(context)] : []),
      deploymentTomlStep(context, { statementCache: true, userStoreUniqueId: false }, 'PostgreSQL JDBC URLs'),
      ...serverRunSteps(context, { stage: 'apim', kit: { path: context.config.apim.migrationKit, kind: 'apim' } }),
      storeLogsStep(context, 'apim'),
    ];
  },
};

/** With WSO2 IS as the Key Manager, IS must be up during the API-M runs. */
export function isHealthStep(context: StageContext): StepDefinition {
  return {
    id: 'is-health',
    title: 'WSO2 Identity Server health',
    async run(): Promise<StepOutput> {
      const url = context.config.isHealthUrl;
      if (!url) throw new Error('isHealthUrl is not configured');
      let status: number;
      try {
        status = (await fetch(url, { signal: AbortSignal.timeout(IS_HEALTH_TIMEOUT_MS) })).status;
      } catch (error) {
        const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
        return {
          outcome: 'failed',
          summary: `${url} did not answer (${cause}): WSO2 IS must be up during the API-M runs; start it, or check isHealthUrl (a private CA goes in NODE_EXTRA_CA_CERTS)`,
        };
      }
      return status >= 200 && status < 300
        ? { summary: `${url} answered ${status}` }
        : {
            outcome: 'failed',
            summary: `${url} answered ${status}: WSO2 IS is not healthy; fix it before the API-M runs`,
          };
    },
  };
}
