import * as core from '@actions/core';
import { errorMessage } from '../errors.js';
import { readActionState } from './action-state.js';

/**
 * The post step runs after the job, also when it failed or was cancelled. The stages of this version
 * start no server and install no migration kit, so it only says which stage it followed.
 */
export async function runPost(): Promise<void> {
  try {
    const state = readActionState();
    core.info(
      state
        ? `apim-migrate post: stage ${state.stage} started no server and installed no migration kit; nothing to clean up`
        : 'apim-migrate post: the main step saved no state; nothing to clean up',
    );
  } catch (error) {
    core.warning(`apim-migrate post: ${errorMessage(error)}`);
  }
}
