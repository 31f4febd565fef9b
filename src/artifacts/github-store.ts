import type { ArtifactClient, FindOptions } from '@actions/artifact';
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errorMessage, InputError, UnsupportedError } from '../core/errors.js';
import { sha256File } from '../core/files.js';
import { unpackZip } from '../core/zip.js';
import {
  ArtifactExistsError,
  ArtifactNotFoundError,
  type ArtifactStore,
  type RunOrigin,
  type StoredArtifact,
  type StoredFile,
  type UploadOptions,
} from './store.js';

export interface GitHubArtifactStoreOptions {
  /** `GITHUB_RUN_ID` of this run. */
  runId: string;
  /** `GITHUB_RUN_ATTEMPT` of this run. */
  attempt: number;
  /** The `github-token` input: needed for artifacts of other runs and of earlier attempts (`actions: read`). */
  token?: string;
  /** The repository of the runs; by default `GITHUB_REPOSITORY`. */
  repository?: { owner: string; repo: string };
  /** The artifact client; by default `@actions/artifact`'s `DefaultArtifactClient`. Tests pass their own. */
  client?: ArtifactClient;
  /** Where `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY` are read; by default `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * The artifact store inside GitHub Actions: GitHub's artifact service (v4) through `@actions/artifact`.
 *
 * design.md says the files are stored "without re-zipping": with the v4 client an artifact is always one zip that
 * the client builds itself, so this store hands it the plain files (flat, at the root of the artifact) and never
 * zips or compresses them first. An encrypted backup is stored as is inside that zip, compression level 0 for it
 * would change nothing, so the client's default level is kept.
 */
export class GitHubArtifactStore implements ArtifactStore {
  readonly kind = 'github';
  readonly description: string;
  readonly runId: string;
  readonly attempt: number;
  private readonly token: string | undefined;
  private readonly repository: { owner: string; repo: string } | undefined;
  private readonly client: ArtifactClient;
  private readonly serverUrl: string;
  /** `GITHUB_API_URL`, as @actions/github reads it. */
  private readonly apiUrl: string;

  constructor(options: GitHubArtifactStoreOptions) {
    const env = options.env ?? process.env;
    this.serverUrl = (env['GITHUB_SERVER_URL'] || 'https://github.com').replace(/\/+$/, '');
    assertNotGhes(this.serverUrl);
    this.apiUrl = (env['GITHUB_API_URL'] || 'https://api.github.com').replace(/\/+$/, '');
    this.runId = options.runId;
    this.attempt = options.attempt;
    this.token = options.token && options.token.length > 0 ? options.token : undefined;
    this.repository = options.repository ?? parseRepository(env['GITHUB_REPOSITORY']);
    this.client = options.client ?? new LazyArtifactClient();
    const where = this.repository ? ` of ${this.repository.owner}/${this.repository.repo}` : '';
    this.description = `GitHub artifacts of run ${this.runId}${where}`;
  }

  async upload(name: string, files: readonly string[], options: UploadOptions = {}): Promise<StoredArtifact> {
    assertSafeName(name);
    if (files.length === 0) throw new Error(`artifact ${name} has no files to upload`);
    const stored: StoredFile[] = [];
    for (const file of files) {
      const base = path.basename(file);
      if (stored.some((entry) => entry.name === base)) throw new Error(`two files named ${base} in artifact ${name}`);
      const info = await stat(file);
      if (!info.isFile()) throw new Error(`${file} is not a file; an artifact holds plain files only`);
      stored.push({ name: base, size: info.size, sha256: await sha256File(file) });
    }
    const existing = await this.call('list the artifacts of this run', () => this.client.listArtifacts());
    if (existing.artifacts.some((artifact) => artifact.name === name)) throw new ArtifactExistsError(name, this.runId);

    // The artifact holds the files flat: their common folder is the root, or a staging copy when they are spread.
    const folders = new Set(files.map((file) => path.dirname(path.resolve(file))));
    let staging: string | undefined;
    let root: string;
    let paths: string[];
    if (folders.size === 1) {
      root = [...folders][0] ?? '.';
      paths = files.map((file) => path.resolve(file));
    } else {
      staging = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-upload-'));
      root = staging;
      paths = [];
      for (const file of files) {
        const target = path.join(staging, path.basename(file));
        await copyFile(file, target);
        paths.push(target);
      }
    }
    try {
      const response = await this.client
        .uploadArtifact(name, paths, root, {
          ...(options.retentionDays === undefined ? {} : { retentionDays: options.retentionDays }),
        })
        .catch((error: unknown) => {
          // Another upload of the same name may have won since the check above: the service answers 409.
          if (httpStatus(error) === 409) throw new ArtifactExistsError(name, this.runId);
          throw this.explain(error, `upload artifact ${name}`);
        });
      if (response.id === undefined) throw new Error(`GitHub did not return an id for artifact ${name}`);
      return {
        name,
        id: String(response.id),
        runId: this.runId,
        location: this.artifactUrl(this.runId, response.id),
        files: stored,
      };
    } finally {
      if (staging) await rm(staging, { recursive: true, force: true });
    }
  }

  /** The artifacts of a run. GitHub does not say which files an artifact holds, so `files` is empty. */
  async list(options: { runId?: string } = {}): Promise<StoredArtifact[]> {
    const runId = options.runId ?? this.runId;
    const response =
      runId === this.runId
        ? await this.call('list the artifacts of this run', () => this.client.listArtifacts())
        : await this.call(`list the artifacts of run ${runId}`, () =>
            this.client.listArtifacts(this.findBy(runId, 'list the artifacts of another run')),
          );
    return response.artifacts
      .map((artifact) => ({
        name: artifact.name,
        id: String(artifact.id),
        runId,
        location: this.artifactUrl(runId, artifact.id),
        files: [],
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async download(name: string, destination: string, options: { runId?: string } = {}): Promise<string[]> {
    assertSafeName(name);
    const runId = options.runId ?? this.runId;
    await mkdir(destination, { recursive: true });
    const scratch = await mkdtemp(path.join(destination, '.apim-migrate-download-'));
    const zipDir = path.join(scratch, 'zip');
    const filesDir = path.join(scratch, 'files');
    try {
      await mkdir(zipDir);
      if (runId === this.runId) {
        try {
          await this.downloadInternal(name, zipDir);
        } catch (error) {
          // An artifact of an earlier attempt of this run can be listed but not fetched through the runtime token
          // (GitHub answers 404); the REST API with the github-token reaches it.
          const notFound = error instanceof ArtifactNotFoundError || httpStatus(error) === 404;
          if (!notFound) throw error;
          if (this.token === undefined || this.repository === undefined) {
            throw new ArtifactNotFoundError(
              name,
              runId,
              `${this.description} (an artifact of an earlier attempt is fetched with the github-token input, which needs permissions: actions: read)`,
            );
          }
          await rm(zipDir, { recursive: true, force: true });
          await mkdir(zipDir);
          await this.downloadPublic(name, runId, zipDir);
        }
      } else {
        await this.downloadPublic(name, runId, zipDir);
      }
      const files = await unpackDownload(zipDir, filesDir, `artifact ${name} of run ${runId}`);
      const paths: string[] = [];
      for (const relative of files) {
        const target = path.join(destination, relative);
        await mkdir(path.dirname(target), { recursive: true });
        await rename(path.join(filesDir, relative), target);
        paths.push(target);
      }
      return paths.sort();
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  private async downloadInternal(name: string, directory: string): Promise<void> {
    const found = await this.client.getArtifact(name).catch((error: unknown) => {
      if (isClientNotFound(error)) throw new ArtifactNotFoundError(name, this.runId, this.description);
      throw this.explain(error, `find artifact ${name}`);
    });
    const result = await this.client.downloadArtifact(found.artifact.id, {
      path: directory,
      skipDecompress: true,
      ...(found.artifact.digest ? { expectedHash: found.artifact.digest } : {}),
    });
    if (result.digestMismatch)
      throw new Error(`artifact ${name} of run ${this.runId} arrived damaged (sha256 differs)`);
  }

  private async downloadPublic(name: string, runId: string, directory: string): Promise<void> {
    const findBy = this.findBy(runId, `download artifact ${name} of run ${runId}`);
    const found = await this.client.getArtifact(name, findBy).catch((error: unknown) => {
      if (isClientNotFound(error) || httpStatus(error) === 404) {
        throw new ArtifactNotFoundError(name, runId, `GitHub artifacts of ${this.repositoryName()}`);
      }
      throw this.explain(error, `find artifact ${name} of run ${runId}`);
    });
    const result = await this.client
      .downloadArtifact(found.artifact.id, {
        ...findBy,
        path: directory,
        skipDecompress: true,
        ...(found.artifact.digest ? { expectedHash: found.artifact.digest } : {}),
      })
      .catch((error: unknown) => {
        throw this.explain(error, `download artifact ${name} of run ${runId}`);
      });
    if (result.digestMismatch) throw new Error(`artifact ${name} of run ${runId} arrived damaged (sha256 differs)`);
  }

  async runOrigin(runId: string): Promise<RunOrigin> {
    const what = `read where run ${runId} comes from`;
    const { findBy } = this.findBy(runId, what);
    const url = `${this.apiUrl}/repos/${findBy.repositoryOwner}/${findBy.repositoryName}/actions/runs/${findBy.workflowRunId}`;
    const response = await fetch(url, {
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${findBy.token}`,
        'x-github-api-version': '2022-11-28',
        'user-agent': 'apim-migrate',
      },
    }).catch((error: unknown) => {
      throw new Error(`cannot ${what}: ${errorMessage(error)}`, { cause: error });
    });
    if (response.status === 404) {
      throw new InputError({
        message: `run ${runId} is not a workflow run of ${this.repositoryName()} (GitHub answered 404)`,
      });
    }
    if (!response.ok)
      throw this.explain(Object.assign(new Error(`HTTP ${response.status}`), { status: response.status }), what);
    const run = (await response.json()) as Record<string, unknown>;
    const fullName = (value: unknown): string | undefined => {
      const name =
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['full_name'] : undefined;
      return typeof name === 'string' ? name : undefined;
    };
    const headRepository = fullName(run['head_repository']);
    return {
      repository: fullName(run['repository']) ?? '',
      ...(headRepository === undefined ? {} : { headRepository }),
      event: typeof run['event'] === 'string' ? run['event'] : '',
      workflowPath: typeof run['path'] === 'string' ? run['path'] : '',
      url:
        typeof run['html_url'] === 'string'
          ? run['html_url']
          : `${this.serverUrl}/${this.repositoryName()}/actions/runs/${runId}`,
    };
  }

  private findBy(runId: string, what: string): Required<FindOptions> {
    if (this.token === undefined) {
      throw new InputError({
        message: `cannot ${what}: no github-token; pass the github-token input (default \${{ github.token }}) with permissions: actions: read`,
      });
    }
    if (this.repository === undefined) {
      throw new InputError({ message: `cannot ${what}: GITHUB_REPOSITORY is not set (owner/repo)` });
    }
    const workflowRunId = Number(runId);
    if (!Number.isSafeInteger(workflowRunId) || workflowRunId <= 0) {
      throw new InputError({ message: `cannot ${what}: ${JSON.stringify(runId)} is not a GitHub workflow run id` });
    }
    return {
      findBy: {
        token: this.token,
        workflowRunId,
        repositoryOwner: this.repository.owner,
        repositoryName: this.repository.repo,
      },
    };
  }

  private async call<T>(what: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw this.explain(error, what);
    }
  }

  /** Turns the client's errors that have a known cause into one message that says what to do. */
  private explain(error: unknown, what: string): Error {
    if (error instanceof InputError || error instanceof ArtifactNotFoundError || error instanceof ArtifactExistsError) {
      return error;
    }
    if (error instanceof Error && error.name === 'GHESNotSupportedError') return ghesError(this.serverUrl);
    const status = httpStatus(error);
    if (status === 403 || status === 401) {
      return new InputError(
        {
          message: `cannot ${what}: the github-token may not read the Actions artifacts of ${this.repositoryName()} (GitHub answered ${status}); give the workflow or job "permissions: actions: read", or pass a github-token that has it`,
        },
        { cause: error },
      );
    }
    return new Error(`cannot ${what}: ${errorMessage(error)}`, { cause: error });
  }

  private artifactUrl(runId: string, id: number): string {
    return this.repository
      ? `${this.serverUrl}/${this.repository.owner}/${this.repository.repo}/actions/runs/${runId}/artifacts/${id}`
      : `artifact ${id} of run ${runId}`;
  }

  private repositoryName(): string {
    return this.repository ? `${this.repository.owner}/${this.repository.repo}` : 'this repository';
  }
}

/**
 * `@actions/artifact`'s `DefaultArtifactClient`, set up on first use. The module and the Azure storage SDK behind it
 * are half of the bundle, and evaluating them took 60 ms of every CLI run, which with a local folder store never
 * needs them. `webpackMode: "eager"` keeps them in the one bundle file (only their evaluation waits), so ncc's
 * licence file still lists them; a separate chunk would lose them from it.
 */
class LazyArtifactClient implements ArtifactClient {
  private loaded: Promise<ArtifactClient> | undefined;

  uploadArtifact(...args: Parameters<ArtifactClient['uploadArtifact']>): ReturnType<ArtifactClient['uploadArtifact']> {
    return this.load().then((client) => client.uploadArtifact(...args));
  }

  listArtifacts(...args: Parameters<ArtifactClient['listArtifacts']>): ReturnType<ArtifactClient['listArtifacts']> {
    return this.load().then((client) => client.listArtifacts(...args));
  }

  getArtifact(...args: Parameters<ArtifactClient['getArtifact']>): ReturnType<ArtifactClient['getArtifact']> {
    return this.load().then((client) => client.getArtifact(...args));
  }

  downloadArtifact(
    ...args: Parameters<ArtifactClient['downloadArtifact']>
  ): ReturnType<ArtifactClient['downloadArtifact']> {
    return this.load().then((client) => client.downloadArtifact(...args));
  }

  deleteArtifact(...args: Parameters<ArtifactClient['deleteArtifact']>): ReturnType<ArtifactClient['deleteArtifact']> {
    return this.load().then((client) => client.deleteArtifact(...args));
  }

  private load(): Promise<ArtifactClient> {
    this.loaded ??= import(/* webpackMode: "eager" */ '@actions/artifact').then(
      (artifact) => new artifact.DefaultArtifactClient(),
    );
    return this.loaded;
  }
}

/** The same test as the client's `isGhes()`: only github.com, *.ghe.com and *.localhost have artifact service v4. */
export function isGhesUrl(serverUrl: string): boolean {
  const host = new URL(serverUrl).hostname.trimEnd().toUpperCase();
  return host !== 'GITHUB.COM' && !host.endsWith('.GHE.COM') && !host.endsWith('.LOCALHOST');
}

function assertNotGhes(serverUrl: string): void {
  if (isGhesUrl(serverUrl)) throw ghesError(serverUrl);
}

function ghesError(serverUrl: string): UnsupportedError {
  return new UnsupportedError(
    `GitHub Enterprise Server (${serverUrl}) does not have the artifact service (v4) that apim-migrate's GitHub store needs; on this server keep them elsewhere: set store.kind: folder (store.dir, a folder on the runner or a shared mount) or s3 (store.bucket, an S3 or S3-compatible bucket)`,
  );
}

function parseRepository(value: string | undefined): { owner: string; repo: string } | undefined {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(value ?? '');
  return match?.[1] && match[2] ? { owner: match[1], repo: match[2] } : undefined;
}

/** The HTTP status in an error of the client: Octokit's `status`, or the `(404)` of a Twirp failure message. */
function httpStatus(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number') {
    return error.status;
  }
  const match = /Failed request: \((\d{3})\)/.exec(errorMessage(error));
  return match ? Number(match[1]) : undefined;
}

function isClientNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === 'ArtifactNotFoundError';
}

function assertSafeName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`not a safe artifact name: ${JSON.stringify(name)}`);
}

/**
 * The artifact service hands an artifact back as one zip, saved as is into `zipDir` (the client's own unpacking
 * streams through a zip library that Node warns about, and trusts the names in it). It is unpacked here with the
 * checks of core/zip.ts, no symbolic links allowed, then removed. Returns the unpacked files, relative to `filesDir`.
 */
async function unpackDownload(zipDir: string, filesDir: string, what: string): Promise<string[]> {
  const saved = await readdir(zipDir);
  if (saved.length !== 1 || saved[0] === undefined) {
    throw new Error(`the artifact service sent ${saved.length} files for ${what} instead of one zip`);
  }
  const zipFile = path.join(zipDir, saved[0]);
  await mkdir(filesDir);
  try {
    return await unpackZip(zipFile, filesDir, {
      headline: `Refusing to unpack ${what}; nothing of it was used:`,
      symlinks: 'refuse',
    });
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new Error(`cannot unpack ${what}: ${errorMessage(error)}`, { cause: error });
  } finally {
    await rm(zipFile, { force: true });
  }
}
