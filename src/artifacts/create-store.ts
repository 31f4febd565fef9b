import { randomBytes } from 'node:crypto';
import type { StoreConfig } from '../config/types.js';
import { UnsupportedError } from '../core/errors.js';
import { isGitHubActions } from '../core/github-actions.js';
import { storeModes } from '../core/private-files.js';
import { GitHubArtifactStore } from './github-store.js';
import { LocalFolderStore, newLocalRunId, runStamp } from './local-store.js';
import { S3ArtifactStore } from './s3-store.js';
import type { ArtifactStore, RunIdentity } from './store.js';

/**
 * The run this invocation belongs to: GitHub's run id and attempt inside Actions, whatever the store; outside, the
 * run named by APIM_MIGRATE_RUN_ID, or a new one with attempt 1: a folder store claims its id with the run's folder,
 * an S3 store (which several machines may share, and where nothing can be claimed alike) adds random letters to the
 * time.
 */
export async function resolveRunIdentity(
  env: Record<string, string | undefined>,
  store: Pick<StoreConfig, 'kind' | 'dir' | 'groupAccess'>,
  now: Date = new Date(),
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
  if (named && named.length > 0) return { runId: named, attempt: 1 };
  switch (store.kind) {
    case 'folder':
      return { runId: await newLocalRunId(store.dir, now, storeModes(store.groupAccess)), attempt: 1 };
    case 's3':
      return { runId: `${runStamp(now)}-${randomBytes(4).toString('hex')}`, attempt: 1 };
    case 'github':
      throw githubOutsideActions();
  }
}

export interface CreateStoreOptions {
  /** `store` of the config (or as the main step saved it for the post step). */
  store: StoreConfig;
  env: Record<string, string | undefined>;
  run: RunIdentity;
  /** The action's `github-token` input: reads artifacts of other runs and earlier attempts. */
  githubToken?: string;
  /** Warnings of the folder store about its folders, and of the S3 store about its bucket. */
  onWarning?: (message: string) => void;
  /** The S3 store's progress lines: bytes and rate of its uploads and downloads. */
  onProgress?: (message: string) => void;
}

/** The store the config chose: GitHub's artifact service, a folder, or an S3 bucket. */
export function createStore(options: CreateStoreOptions): ArtifactStore {
  const { store } = options;
  switch (store.kind) {
    case 'folder':
      return new LocalFolderStore(store.dir, options.run.runId, {
        groupAccess: store.groupAccess,
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      });
    case 's3': {
      if (store.s3 === undefined) throw new Error('store.kind is s3, but the config has no settings of a bucket');
      return new S3ArtifactStore({
        ...store.s3,
        runId: options.run.runId,
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    }
    case 'github':
      return createGitHubStore(options);
  }
}

function createGitHubStore(options: CreateStoreOptions): ArtifactStore {
  if (!isGitHubActions(options.env)) throw githubOutsideActions();
  const missing = ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_RESULTS_URL'].filter((name) => !options.env[name]);
  if (missing.length > 0) {
    throw new UnsupportedError(
      `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set: the runner gives ${missing.length === 1 ? 'it' : 'them'} to actions (uses: ...), not to run: steps; run apim-migrate as the action, or keep the artifacts elsewhere with store.kind: folder (store.dir) or s3 (store.bucket)`,
    );
  }
  return new GitHubArtifactStore({
    runId: options.run.runId,
    attempt: options.run.attempt,
    env: options.env,
    ...(options.githubToken ? { token: options.githubToken } : {}),
  });
}

function githubOutsideActions(): UnsupportedError {
  return new UnsupportedError(
    "store.kind github (GitHub's artifact service) works only inside GitHub Actions: here, set store.kind: folder (with store.dir) or s3 (with store.bucket)",
  );
}
