import * as core from '@actions/core';
import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { createStore, resolveRunIdentity } from '../artifacts/create-store.js';
import { envSecrets } from '../config/secrets.js';
import { errorMessage } from '../core/errors.js';
import { copyMasked } from '../core/private-files.js';
import { SecretMasker } from '../core/secrets.js';
import { createActionsLogger } from '../log/actions-logger.js';
import type { Logger } from '../log/logger.js';
import { checkRecordedServer, stopServerGroup, type RecordedServerCheck } from '../server/server-runner.js';
import type { PendingLogs } from '../stages/types.js';
import { uninstallMigrationKits } from '../wso2/kit-install.js';
import { readActionState, type ActionState } from './action-state.js';

/** How long the post step lets a server it stops shut down before it kills it. */
const POST_STOP_GRACE_MS = 30_000;

/**
 * The post step runs after the job, also when it failed or was cancelled: it stops an API-M server the
 * stage left running, takes the migration kit out of the API-M home, so that it never runs again at
 * the next start, and stores the logs the stage had no time to store.
 */
export async function runPost(): Promise<void> {
  const logger = createActionsLogger();
  try {
    const state = readActionState();
    if (!state) {
      core.info('apim-migrate post: the main step saved no state; nothing to clean up');
      return;
    }
    if (state.serverLeftRunning !== undefined) {
      const { pid, home } = state.serverLeftRunning;
      core.info(
        `apim-migrate post: the API-M server (pid ${pid}) in ${home} was left running on purpose (startup.leaveRunning); it is not stopped`,
      );
    }
    if (state.serverPid === undefined && state.kitInstalledIn === undefined && state.pendingLogs === undefined) {
      core.info(
        `apim-migrate post: stage ${state.stage} left no server running, no migration kit and no logs; nothing to clean up`,
      );
      return;
    }
    if (state.serverPid !== undefined) {
      // The pid is signalled only while it is still the server the stage started.
      const { verdict } = await checkRecordedServer(state.serverPid, state.serverIdentity);
      const leftAlone = serverLeftAlone(state, verdict);
      if (leftAlone !== undefined) {
        logger.warning(leftAlone);
      } else {
        logger.warning(
          `apim-migrate post: stopping the API-M server (pid ${state.serverPid}) that stage ${state.stage} left running` +
            (verdict === 'unchecked'
              ? ' (on Windows the post step cannot check that the pid is still that server)'
              : ''),
        );
        // With the home, a wso2carbon.pid the stopped (or killed) server left behind is removed, as the stage does.
        await stopServerGroup(state.serverPid, {
          graceMs: POST_STOP_GRACE_MS,
          logger,
          ...(state.serverHome === undefined ? {} : { home: state.serverHome }),
          ...(state.serverCommand === undefined ? {} : { command: state.serverCommand }),
        });
      }
    }
    if (state.kitInstalledIn !== undefined) {
      const removed = await uninstallMigrationKits(state.kitInstalledIn, logger);
      logger.warning(`apim-migrate post: removed ${removed.join(', ') || 'nothing'} from ${state.kitInstalledIn}`);
    }
    if (state.pendingLogs !== undefined) {
      const stored = await storePendingLogs(state.pendingLogs, logger);
      logger.warning(
        `apim-migrate post: stored the logs of stage ${state.stage}, which ended before it could, as ${state.pendingLogs.artifact} (${stored} files)`,
      );
    }
    logger.finish();
  } catch (error) {
    // Counted with the step's other annotations, so that GitHub keeps it.
    logger.finish(`apim-migrate post: ${errorMessage(error)}`);
    process.exitCode = 1;
  }
}

/**
 * Why the post step must not signal the recorded pid, or undefined when it may. Another process's command line is
 * never printed: it may hold that process's secrets.
 */
function serverLeftAlone(state: ActionState, verdict: RecordedServerCheck): string | undefined {
  const pid = state.serverPid;
  const stop =
    state.serverHome === undefined ? '' : ` (${path.join(state.serverHome, 'bin', 'api-manager.sh')} --stop)`;
  if (verdict === 'other') {
    return (
      `apim-migrate post: pid ${pid} is no longer the API-M server that stage ${state.stage} started: its start time ` +
      `or command line differ from those recorded at the start (${state.serverIdentity?.startTime}), so the system ` +
      `gave the pid to another process, which is left alone; if the server still runs, stop it by hand${stop}`
    );
  }
  if (verdict === 'unchecked' && process.platform !== 'win32') {
    return (
      `apim-migrate post: the main step recorded no start time and command line for pid ${pid}, so the post step ` +
      `cannot tell whether it is still the API-M server that stage ${state.stage} started; it is left alone: if the ` +
      `server still runs, stop it by hand${stop}`
    );
  }
  return undefined;
}

/**
 * What the stage would have stored as its logs artifact: the gathered files (its output up to where the main step
 * ended among them) and wso2carbon.log, in the artifact it named, masked with the secrets of the variables the main
 * step named (never their values: the state has only the names).
 */
async function storePendingLogs(logs: PendingLogs, logger: Logger): Promise<number> {
  const token = core.getInput('github-token');
  const secrets = new SecretMasker();
  for (const value of envSecrets(logs.secretEnv, process.env, token ? { githubToken: token } : {})) {
    secrets.add(value);
    logger.setSecret(value);
  }
  const names = (await readdir(logs.dir)).filter((name) => name !== CARBON_LOG);
  for (const name of names) await maskInPlace(path.join(logs.dir, name), secrets);
  const carbonLog = path.join(logs.apimHome, 'repository', 'logs', CARBON_LOG);
  await copyMasked(carbonLog, path.join(logs.dir, CARBON_LOG), secrets);
  const files = (await readdir(logs.dir)).map((name) => path.join(logs.dir, name));
  // The store the main step used, from its settings; the credentials come from the environment, as they did there.
  const store = createStore({
    store: logs.store,
    env: process.env,
    run: await resolveRunIdentity(process.env, logs.store),
    ...(token ? { githubToken: token } : {}),
    onWarning: (message) => logger.warning(message),
    onProgress: (message) => logger.info(message),
  });
  await store.upload(logs.artifact, files, { retentionDays: logs.retentionDays });
  return files.length;
}

const CARBON_LOG = 'wso2carbon.log';

/** Masks a gathered file again, so that the post step stores nothing it did not mask itself. */
async function maskInPlace(file: string, secrets: SecretMasker): Promise<void> {
  const masked = `${file}.masked`;
  await copyMasked(file, masked, secrets);
  await rename(masked, file);
}
