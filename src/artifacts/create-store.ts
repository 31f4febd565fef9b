import { UnsupportedError } from '../core/errors.js';
import { storeModes } from '../core/private-files.js';
import { GitHubArtifactStore } from './github-store.js';
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
  options: { groupAccess?: boolean } = {},
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
  const runId =
    named && named.length > 0
      ? named
      : await newLocalRunId(storeDir, new Date(), storeModes(options.groupAccess ?? false));
  return { runId, attempt: 1 };
}

/** Inside GitHub Actions the artifacts go to GitHub's artifact service; outside, to the local folder store. */
export function createStore(options: {
  env: Record<string, string | undefined>;
  storeDir: string;
  run: RunIdentity;
  /** The action's `github-token` input: reads artifacts of other runs and earlier attempts. */
  githubToken?: string;
  /** `store.groupAccess`, for the local folder store. */
  groupAccess?: boolean;
  /** Warnings of the local folder store about its folders. */
  onWarning?: (message: string) => void;
}): ArtifactStore {
  if (!isGitHubActions(options.env)) {
    return new LocalFolderStore(options.storeDir, options.run.runId, {
      groupAccess: options.groupAccess ?? false,
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
  }
  const missing = ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_RESULTS_URL'].filter((name) => !options.env[name]);
  if (missing.length > 0) {
    throw new UnsupportedError(
      `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set: the runner gives ${missing.length === 1 ? 'it' : 'them'} to actions (uses: ...), not to run: steps; run apim-migrate as the action, or use the CLI with the local folder store (store.dir)`,
    );
  }
  return new GitHubArtifactStore({
    runId: options.run.runId,
    attempt: options.run.attempt,
    env: options.env,
    ...(options.githubToken ? { token: options.githubToken } : {}),
  });
}
