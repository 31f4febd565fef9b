import { UnsupportedError } from '../errors.js';
import { LocalFolderStore, newLocalRunId } from './local-store.js';
import type { ArtifactStore, RunIdentity } from './store.js';

export function isGitHubActions(env: Record<string, string | undefined>): boolean {
  return env['GITHUB_ACTIONS'] === 'true';
}

/**
 * The run this invocation belongs to: GitHub's run id and attempt inside Actions; outside, a new
 * local run (or the one named by APIM_MIGRATE_RUN_ID) with attempt 1.
 */
export async function resolveRunIdentity(
  env: Record<string, string | undefined>,
  storeDir: string,
): Promise<RunIdentity> {
  if (isGitHubActions(env)) {
    const runId = env['GITHUB_RUN_ID'];
    const attempt = Number(env['GITHUB_RUN_ATTEMPT'] ?? '1');
    if (!runId || !Number.isInteger(attempt) || attempt < 1) {
      throw new UnsupportedError(
        'GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT are not set: the runner sets them for every job',
      );
    }
    return { runId, attempt };
  }
  const named = env['APIM_MIGRATE_RUN_ID'];
  return { runId: named && named.length > 0 ? named : await newLocalRunId(storeDir), attempt: 1 };
}

/** Inside GitHub Actions the artifacts go to GitHub's artifact service; outside, to the local folder store. */
export function createStore(options: {
  env: Record<string, string | undefined>;
  storeDir: string;
  run: RunIdentity;
}): ArtifactStore {
  if (isGitHubActions(options.env)) {
    throw new UnsupportedError(
      "inside GitHub Actions apim-migrate keeps its backups, logs and reports in GitHub's artifact store, which this version does not have yet; until it does, run the stages with the apim-migrate CLI, which uses the local folder store (store.dir)",
    );
  }
  return new LocalFolderStore(options.storeDir, options.run.runId);
}
