import * as core from '@actions/core';
import type { ProcessIdentity } from '../server/process-identity.js';
import type { ServerCommand } from '../server/server-command.js';
import type { PendingLogs, ServerStateSink } from '../stages/types.js';

/** What the main step hands to the post step. */
export interface ActionState {
  stage: string;
  config: string;
  /** The API-M server the stage started, while it runs. */
  serverPid?: number;
  /** The API-M home that server runs in, where it keeps wso2carbon.pid. */
  serverHome?: string;
  /** How that server was started: its launcher stops it (`--stop`). */
  serverCommand?: ServerCommand;
  /** Who `serverPid` was when the server started: the post step signals it only while it still is. */
  serverIdentity?: ProcessIdentity;
  /** The server the stage left running on purpose (startup.leaveRunning), which the post step leaves alone. */
  serverLeftRunning?: { pid: number; home: string };
  /** The API-M home a migration kit was installed into, while it is there. */
  kitInstalledIn?: string;
  /** The logs the stage gathers, until it has stored them. */
  pendingLogs?: PendingLogs;
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

/** Keeps the post step's state in step with what the stage has left running or installed. */
export function actionStateSink(initial: ActionState): ServerStateSink {
  let state: ActionState = { ...initial };
  const update = (change: (current: ActionState) => ActionState) => {
    state = change(state);
    saveActionState(state);
  };
  return {
    serverStarted: (pid, apimHome, command, identity) =>
      update(({ serverIdentity: _earlier, ...current }) => ({
        ...current,
        serverPid: pid,
        serverHome: apimHome,
        serverCommand: command,
        ...(identity ? { serverIdentity: identity } : {}),
      })),
    serverStopped: () =>
      update(
        ({ serverPid: _stopped, serverHome: _home, serverCommand: _command, serverIdentity: _identity, ...rest }) =>
          rest,
      ),
    serverLeftRunning: () =>
      update(({ serverPid, serverHome, serverCommand: _command, serverIdentity: _identity, ...rest }) => ({
        ...rest,
        ...(serverPid !== undefined && serverHome !== undefined
          ? { serverLeftRunning: { pid: serverPid, home: serverHome } }
          : {}),
      })),
    kitInstalled: (apimHome) => update((current) => ({ ...current, kitInstalledIn: apimHome })),
    kitRemoved: () => update(({ kitInstalledIn: _removed, ...rest }) => rest),
    logsPending: (logs) => update((current) => ({ ...current, pendingLogs: logs })),
    logsStored: () => update(({ pendingLogs: _stored, ...rest }) => rest),
  };
}
