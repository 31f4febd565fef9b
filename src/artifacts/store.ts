/** The artifact store contract: the folder store, GitHub's artifact service and the S3 store all fulfil it. */

import type { StoreKind } from '../config/types.js';

export type ArtifactKind = 'backup' | 'logs' | 'report';

/** Where this invocation stands: GitHub's run id and attempt, or the local equivalents. */
export interface RunIdentity {
  runId: string;
  attempt: number;
}

/** `apim-migrate-<stage>-<kind>-a<attempt>`, as design.md fixes it. */
export function artifactName(stage: string, kind: ArtifactKind, attempt: number): string {
  return `apim-migrate-${stage}-${kind}-a${attempt}`;
}

export interface StoredFile {
  name: string;
  size: number;
  sha256: string;
}

export interface StoredArtifact {
  name: string;
  /** The store's own id of the artifact. */
  id: string;
  runId: string;
  /** A human-readable location: a folder, or a URL. */
  location: string;
  /** The folder that holds the stored files, when the store keeps them on this machine. */
  localDir?: string;
  files: StoredFile[];
}

export interface UploadOptions {
  retentionDays?: number;
  /**
   * The caller is done with the files: a store that keeps its files on this machine may move them into place
   * instead of copying them (on the same filesystem, a rename: no second copy of a dump of gigabytes). A store that
   * sends them elsewhere leaves them where they are; the caller removes them.
   */
  moveFiles?: boolean;
}

export interface ArtifactStore {
  /** Which store: backups that go to GitHub must be encrypted unless the config allows plaintext. */
  readonly kind: StoreKind;
  /** One line for messages, e.g. "local folder /srv/migration/.apim-migrate". */
  readonly description: string;
  /** Stores the files under `name` in this run. A name is never reused: storing it twice is an error. */
  upload(name: string, files: readonly string[], options?: UploadOptions): Promise<StoredArtifact>;
  /** The artifacts of a run (this run when `runId` is not given). */
  list(options?: { runId?: string }): Promise<StoredArtifact[]>;
  /** Copies the artifact's files into `destination` and returns their paths. */
  download(name: string, destination: string, options?: { runId?: string }): Promise<string[]>;
  /**
   * The folder that holds the artifact's files, for a store that keeps them on this machine (undefined when the
   * artifact is not there). Callers read the files in place, without a copy, and never write to the folder.
   */
  localFolder?(name: string, options?: { runId?: string }): Promise<string | undefined>;
  /**
   * Where another run of the store came from, for a store whose runs anyone with push access (or a pull request)
   * can start: GitHub's. A restore of that run's backup checks it first. The folder and S3 stores have no such
   * record: their runs are trusted through the ledger and the manifest alone (stages/backup-trust.ts).
   */
  runOrigin?(runId: string): Promise<RunOrigin>;
}

/** A GitHub workflow run as the REST API describes it (`GET /repos/{owner}/{repo}/actions/runs/{run_id}`). */
export interface RunOrigin {
  /** `owner/repo` the run belongs to. */
  repository: string;
  /** `owner/repo` of the run's head commit: a fork's for a pull request from a fork; undefined when GitHub gives none. */
  headRepository?: string;
  /** The event that started it: `push`, `workflow_dispatch`, `pull_request`, ... */
  event: string;
  /** The workflow file it ran, e.g. `.github/workflows/migrate.yml`. */
  workflowPath: string;
  /** Its page, for messages. */
  url: string;
}

export class ArtifactExistsError extends Error {
  constructor(
    readonly artifact: string,
    readonly runId: string,
  ) {
    super(`artifact ${artifact} already exists in run ${runId}; apim-migrate never overwrites an artifact`);
    this.name = 'ArtifactExistsError';
  }
}

export class ArtifactNotFoundError extends Error {
  constructor(
    readonly artifact: string,
    readonly runId: string,
    where: string,
  ) {
    super(`artifact ${artifact} of run ${runId} not found in ${where}`);
    this.name = 'ArtifactNotFoundError';
  }
}
