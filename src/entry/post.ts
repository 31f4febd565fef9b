import * as core from '@actions/core';
import { errorMessage } from '../errors.js';
import { createActionsLogger } from '../log/actions-logger.js';
import { stopServerGroup } from '../server/server-runner.js';
import { uninstallMigrationKits } from '../wso2/kit-install.js';
import { readActionState } from './action-state.js';

/** How long the post step lets a server it stops shut down before it kills it. */
const POST_STOP_GRACE_MS = 30_000;

/**
 * The post step runs after the job, also when it failed or was cancelled: it stops an API-M server the
 * stage left running and takes the migration kit out of the API-M home, so that it never runs again at
 * the next start.
 */
export async function runPost(): Promise<void> {
  const logger = createActionsLogger();
  try {
    const state = readActionState();
    if (!state) {
      core.info('apim-migrate post: the main step saved no state; nothing to clean up');
      return;
    }
    if (state.serverPid === undefined && state.kitInstalledIn === undefined) {
      core.info(
        `apim-migrate post: stage ${state.stage} left no server running and no migration kit; nothing to clean up`,
      );
      return;
    }
    if (state.serverPid !== undefined) {
      core.warning(
        `apim-migrate post: stopping the API-M server (pid ${state.serverPid}) that stage ${state.stage} left running`,
      );
      await stopServerGroup(state.serverPid, { graceMs: POST_STOP_GRACE_MS, logger });
    }
    if (state.kitInstalledIn !== undefined) {
      const removed = await uninstallMigrationKits(state.kitInstalledIn, logger);
      core.warning(`apim-migrate post: removed ${removed.join(', ') || 'nothing'} from ${state.kitInstalledIn}`);
    }
  } catch (error) {
    core.setFailed(`apim-migrate post: ${errorMessage(error)}`);
  }
}
