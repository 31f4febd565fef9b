import type { MutatingStageDefinition } from './guard.js';
import { checkDeploymentTomlInput, checkIdentityConfigInput, checkServerRunInput } from './input-checks.js';
import { deploymentTomlStep, prepareIdentityResources, serverRunSteps, storeLogsStep } from './server-stage.js';

/**
 * Step 2 of WSO2's guide: the identity component migration, with the identity kit and its edited
 * migration-config.yaml, then the user-store edit. WSO2 IS as the Key Manager migrates it on its side.
 */
export const identityStage: MutatingStageDefinition = {
  name: 'identity',
  title: 'Identity migration',
  touches: 'all',
  skipReason: (config) =>
    config.keyManager === 'is'
      ? 'WSO2 Identity Server is the Key Manager: the identity component is migrated on the IS side'
      : undefined,
  async checkInputs(config, env, platform) {
    const kit = config.identity?.migrationKit;
    if (kit === undefined) return;
    await checkServerRunInput(config, env, { path: kit, kind: 'identity' }, platform);
    await checkIdentityConfigInput(config);
    await checkDeploymentTomlInput(config, {
      statementCache: false,
      userStoreUniqueId: config.identity?.uniqueIdUserStore ?? false,
    });
  },
  steps(context) {
    const identity = context.config.identity;
    if (!identity) throw new Error('identity is not configured');
    return [
      ...serverRunSteps(context, {
        stage: 'identity',
        kit: { path: identity.migrationKit, kind: 'identity' },
        prepareResources: prepareIdentityResources,
      }),
      ...(identity.uniqueIdUserStore
        ? [deploymentTomlStep(context, { statementCache: false, userStoreUniqueId: true }, 'User store type')]
        : []),
      storeLogsStep(context, 'identity'),
    ];
  },
};
