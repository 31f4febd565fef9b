import * as core from '@actions/core';

/** What the main step hands to the post step. */
export interface ActionState {
  stage: string;
  config: string;
}

const STATE_KEY = 'apim-migrate';

export function saveActionState(state: ActionState): void {
  core.saveState(STATE_KEY, JSON.stringify(state));
}

export function readActionState(): ActionState | undefined {
  const text = core.getState(STATE_KEY);
  if (text === '') return undefined;
  return JSON.parse(text) as ActionState;
}
