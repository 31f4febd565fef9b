/**
 * A local stand-in for GitHub's artifact service (v4), as the real `@actions/artifact` client talks to it:
 *
 * - the Twirp JSON API under `/twirp/github.actions.results.api.v1.ArtifactService/` (reached through
 *   `ACTIONS_RESULTS_URL`, authorised by the `ACTIONS_RUNTIME_TOKEN` JWT whose `scp` claim carries
 *   `Actions.Results:<runBackendId>:<jobBackendId>`);
 * - the Azure-Blob-style upload to the signed URL it hands out (Put Block + Put Block List, or one Put Blob);
 * - the download of a finalized artifact (the zip, `application/zip`);
 * - the REST API that `findBy` uses (through `GITHUB_API_URL`): the artifacts of a workflow run and the 302 to
 *   an artifact's zip.
 *
 * It listens on 127.0.0.1 only, never reaches the network, and bounds request bodies.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/';
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface FakeArtifactServiceOptions {
  /** CreateArtifact of a name that already exists in the run answers 409, as GitHub does. Default true. */
  conflictOnReusedName?: boolean;
  /** GetSignedArtifactURL of an artifact that an earlier attempt of the run uploaded answers 404. Default false. */
  notFoundForEarlierAttempts?: boolean;
  /** The only token the REST API accepts (the `github-token`); any other gets 403. Default: any token. */
  readToken?: string;
  /** `owner/repo`: the REST API answers 404 for any other repository. Default: any. */
  repository?: string;
  /** Blob storage refuses every upload (PUT) with this status, as an outage or an expired signature would. */
  failUploads?: number;
  /** Blob storage refuses every download (GET) with this status. */
  failDownloads?: number;
  /**
   * How `GET /repos/{owner}/{repo}/actions/runs/{run_id}` describes a run. Default for every run: a
   * `workflow_dispatch` run of `.github/workflows/migrate.yml` in the repository asked for, from that repository.
   */
  runs?: Record<string, FakeRun>;
}

/** The fields of a workflow run (GitHub's `workflow-run` schema) that a restore checks. */
export interface FakeRun {
  event?: string;
  path?: string;
  /** `owner/repo` of the head commit: a fork's for a pull request from a fork. */
  headRepository?: string;
}

export interface FakeArtifact {
  id: number;
  name: string;
  runId: string;
  attempt: number;
  finalized: boolean;
  size: number;
  /** `sha256:<hex>` as the client reported it on finalize. */
  digest: string | undefined;
  /** The committed blob (the zip the client uploaded). */
  content: Buffer;
  expiresAt: string | undefined;
  createdAt: Date;
}

export interface FakeArtifactService {
  /** `http://127.0.0.1:<port>`: use it as `ACTIONS_RESULTS_URL` and `GITHUB_API_URL`. */
  url: string;
  /** An unsigned runtime token for a job of `runId` in `attempt` (default 1). */
  token(runId: string, attempt?: number): string;
  /** Changes the options of the running fake (e.g. between tests that share it). */
  configure(options: FakeArtifactServiceOptions): void;
  /** Every artifact the fake holds, finalized or not. */
  artifacts(): FakeArtifact[];
  /** Makes the service hand back `content` for artifact `id`, with a digest to match, as a hostile service might. */
  replaceContent(id: number, content: Buffer): void;
  /** `METHOD path` of every request so far (query strings dropped). */
  requests(): string[];
  close(): Promise<void>;
}

interface Caller {
  runId: string;
  attempt: number;
  runBackendId: string;
  jobBackendId: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function fakeRuntimeToken(runId: string, attempt = 1): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const scp = `Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.Results:${runBackendId(runId)}:${jobBackendId(runId, attempt)}`;
  return `${encode({ typ: 'JWT', alg: 'none' })}.${encode({ scp, iss: 'fake-artifact-service' })}.fake-signature`;
}

function runBackendId(runId: string): string {
  return `run-${runId}`;
}

function jobBackendId(runId: string, attempt: number): string {
  return `job-${runId}-a${attempt}`;
}

export async function startFakeArtifactService(options: FakeArtifactServiceOptions = {}): Promise<FakeArtifactService> {
  options = { ...options };
  const store: FakeArtifact[] = [];
  const blocks = new Map<number, Map<string, Buffer>>();
  const log: string[] = [];
  let nextId = 1000;
  let baseUrl = '';

  const server = http.createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      const failure =
        error instanceof HttpError
          ? error
          : new HttpError(500, 'internal', error instanceof Error ? error.message : '');
      if (!response.headersSent) {
        response.writeHead(failure.status, { 'content-type': 'application/json' });
      }
      response.end(JSON.stringify({ code: failure.code, msg: failure.message, message: failure.message }));
    });
  });

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', baseUrl);
    log.push(`${request.method} ${url.pathname}`);
    const body = await readBody(request);

    if (request.method === 'POST' && url.pathname.startsWith(SERVICE)) {
      const caller = authorise(request);
      const input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
      const output = twirp(url.pathname.slice(SERVICE.length), input, caller);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(output));
      return;
    }

    const blob = /^\/blob\/fakeaccount\/artifacts\/(\d+)\.zip$/.exec(url.pathname);
    if (request.method === 'PUT' && blob && options.failUploads !== undefined) {
      throw new HttpError(options.failUploads, 'ServerBusy', 'The blob service refuses uploads (fault injected).');
    }
    if (request.method === 'PUT' && blob) {
      putBlob(Number(blob[1]), url, body);
      response.writeHead(201, { 'x-ms-request-id': `fake-${log.length}`, 'x-ms-version': '2025-01-05' });
      response.end();
      return;
    }

    const download = /^\/download\/(\d+)\/[^/]+\.zip$/.exec(url.pathname);
    if (request.method === 'GET' && download && options.failDownloads !== undefined) {
      throw new HttpError(options.failDownloads, 'ServerBusy', 'The blob service refuses downloads (fault injected).');
    }
    if (request.method === 'GET' && download) {
      const artifact = store.find((entry) => entry.id === Number(download[1]) && entry.finalized);
      if (!artifact || url.searchParams.get('sig') !== signature(artifact.id)) {
        throw new HttpError(404, 'BlobNotFound', 'The specified blob does not exist.');
      }
      response.writeHead(200, { 'content-type': 'application/zip', 'content-length': artifact.content.length });
      response.end(artifact.content);
      return;
    }

    const runArtifacts = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/([^/]+)\/artifacts$/.exec(url.pathname);
    if (request.method === 'GET' && runArtifacts) {
      restAuthorise(request, `${runArtifacts[1]}/${runArtifacts[2]}`);
      const name = url.searchParams.get('name');
      const perPage = Number(url.searchParams.get('per_page') ?? '30');
      const page = Number(url.searchParams.get('page') ?? '1');
      const matching = store.filter(
        (entry) => entry.finalized && entry.runId === runArtifacts[3] && (name === null || entry.name === name),
      );
      const artifacts = matching.slice((page - 1) * perPage, page * perPage).map((entry) => ({
        id: entry.id,
        node_id: `fake-${entry.id}`,
        name: entry.name,
        size_in_bytes: entry.size,
        archive_download_url: `${baseUrl}/repos/${runArtifacts[1]}/${runArtifacts[2]}/actions/artifacts/${entry.id}/zip`,
        expired: false,
        created_at: entry.createdAt.toISOString(),
        expires_at: entry.expiresAt ?? null,
        digest: entry.digest ?? null,
        workflow_run: { id: Number(entry.runId) },
      }));
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify({ total_count: matching.length, artifacts }));
      return;
    }

    const workflowRun = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)$/.exec(url.pathname);
    if (request.method === 'GET' && workflowRun) {
      const repository = `${workflowRun[1]}/${workflowRun[2]}`;
      restAuthorise(request, repository);
      const runId = workflowRun[3] ?? '';
      const run = options.runs?.[runId] ?? {};
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      response.end(
        JSON.stringify({
          id: Number(runId),
          event: run.event ?? 'workflow_dispatch',
          path: run.path ?? '.github/workflows/migrate.yml',
          html_url: `https://github.com/${repository}/actions/runs/${runId}`,
          repository: { full_name: repository },
          head_repository: { full_name: run.headRepository ?? repository },
        }),
      );
      return;
    }

    const artifactZip = /^\/repos\/([^/]+)\/([^/]+)\/actions\/artifacts\/(\d+)\/zip$/.exec(url.pathname);
    if (request.method === 'GET' && artifactZip) {
      restAuthorise(request, `${artifactZip[1]}/${artifactZip[2]}`);
      const artifact = store.find((entry) => entry.id === Number(artifactZip[3]) && entry.finalized);
      if (!artifact) throw new HttpError(404, 'not_found', 'Not Found');
      response.writeHead(302, { location: downloadUrl(artifact), 'content-length': 0 });
      response.end();
      return;
    }

    throw new HttpError(404, 'not_found', `no route for ${request.method} ${url.pathname}`);
  }

  function twirp(method: string, input: Record<string, unknown>, caller: Caller): unknown {
    if (input['workflow_run_backend_id'] !== caller.runBackendId) {
      throw new HttpError(403, 'permission_denied', 'workflow run backend id does not match the token');
    }
    const name = typeof input['name'] === 'string' ? input['name'] : undefined;
    switch (method) {
      case 'CreateArtifact': {
        if (!name) throw new HttpError(400, 'invalid_argument', 'name is required');
        if (
          (options.conflictOnReusedName ?? true) &&
          store.some((entry) => entry.runId === caller.runId && entry.name === name)
        ) {
          throw new HttpError(409, 'already_exists', 'an artifact with this name already exists on the workflow run');
        }
        const artifact: FakeArtifact = {
          id: nextId++,
          name,
          runId: caller.runId,
          attempt: caller.attempt,
          finalized: false,
          size: 0,
          digest: undefined,
          content: Buffer.alloc(0),
          expiresAt: typeof input['expires_at'] === 'string' ? input['expires_at'] : undefined,
          createdAt: new Date(),
        };
        store.push(artifact);
        blocks.set(artifact.id, new Map());
        return {
          ok: true,
          signed_upload_url: `${baseUrl}/blob/fakeaccount/artifacts/${artifact.id}.zip?sig=${signature(artifact.id)}`,
        };
      }
      case 'FinalizeArtifact': {
        const artifact = store.find((entry) => entry.runId === caller.runId && entry.name === name && !entry.finalized);
        if (!artifact) throw new HttpError(404, 'not_found', `no pending artifact ${name}`);
        if (String(input['size']) !== String(artifact.content.length)) {
          throw new HttpError(400, 'invalid_argument', `size ${input['size']} but ${artifact.content.length} bytes`);
        }
        const digest = `sha256:${createHash('sha256').update(artifact.content).digest('hex')}`;
        if (input['hash'] !== undefined && input['hash'] !== digest) {
          throw new HttpError(400, 'invalid_argument', `hash ${String(input['hash'])} but the blob is ${digest}`);
        }
        artifact.finalized = true;
        artifact.size = artifact.content.length;
        artifact.digest = digest;
        blocks.delete(artifact.id);
        return { ok: true, artifact_id: String(artifact.id) };
      }
      case 'ListArtifacts': {
        const nameFilter = input['name_filter'];
        const idFilter = input['id_filter'];
        const artifacts = store
          .filter(
            (entry) =>
              entry.finalized &&
              entry.runId === caller.runId &&
              (nameFilter === undefined || entry.name === nameFilter) &&
              (idFilter === undefined || String(entry.id) === String(idFilter)),
          )
          .map((entry) => ({
            workflow_run_backend_id: runBackendId(entry.runId),
            workflow_job_run_backend_id: jobBackendId(entry.runId, entry.attempt),
            database_id: String(entry.id),
            name: entry.name,
            size: String(entry.size),
            created_at: entry.createdAt.toISOString(),
            ...(entry.digest === undefined ? {} : { digest: entry.digest }),
          }));
        return { artifacts };
      }
      case 'GetSignedArtifactURL': {
        const artifact = store.find((entry) => entry.finalized && entry.runId === caller.runId && entry.name === name);
        if (!artifact) throw new HttpError(404, 'not_found', `artifact ${name} not found`);
        if (options.notFoundForEarlierAttempts && artifact.attempt < caller.attempt) {
          throw new HttpError(404, 'not_found', `artifact ${name} not found`);
        }
        return { signed_url: downloadUrl(artifact) };
      }
      case 'DeleteArtifact': {
        const index = store.findIndex(
          (entry) => entry.finalized && entry.runId === caller.runId && entry.name === name,
        );
        const artifact = store[index];
        if (!artifact) throw new HttpError(404, 'not_found', `artifact ${name} not found`);
        store.splice(index, 1);
        return { ok: true, artifact_id: String(artifact.id) };
      }
      default:
        throw new HttpError(404, 'bad_route', `no method ${method}`);
    }
  }

  function putBlob(id: number, url: URL, body: Buffer): void {
    const artifact = store.find((entry) => entry.id === id && !entry.finalized);
    if (!artifact || url.searchParams.get('sig') !== signature(id)) {
      throw new HttpError(403, 'AuthenticationFailed', 'Server failed to authenticate the request.');
    }
    const staged = blocks.get(id) ?? new Map<string, Buffer>();
    const comp = url.searchParams.get('comp');
    if (comp === 'block') {
      const blockId = url.searchParams.get('blockid');
      if (!blockId) throw new HttpError(400, 'InvalidQueryParameterValue', 'blockid is required');
      staged.set(blockId, body);
    } else if (comp === 'blocklist') {
      const ids = [...body.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g)].map(
        (match) => match[1] ?? '',
      );
      const parts = ids.map((blockId) => {
        const part = staged.get(blockId);
        if (!part) throw new HttpError(400, 'InvalidBlockList', `block ${blockId} was not staged`);
        return part;
      });
      artifact.content = Buffer.concat(parts);
    } else if (comp === null) {
      artifact.content = body;
    } else {
      throw new HttpError(400, 'UnsupportedQueryParameter', `comp=${comp}`);
    }
  }

  function downloadUrl(artifact: FakeArtifact): string {
    return `${baseUrl}/download/${artifact.id}/${encodeURIComponent(artifact.name)}.zip?sig=${signature(artifact.id)}`;
  }

  function restAuthorise(request: http.IncomingMessage, repository: string): void {
    const token = /^(?:token|bearer)\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (!token) throw new HttpError(401, 'unauthorized', 'Requires authentication');
    if (options.readToken !== undefined && token !== options.readToken) {
      throw new HttpError(403, 'forbidden', 'Resource not accessible by integration');
    }
    if (options.repository !== undefined && repository !== options.repository) {
      throw new HttpError(404, 'not_found', 'Not Found');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: baseUrl,
    token: fakeRuntimeToken,
    configure: (changes) => {
      options = { ...options, ...changes };
    },
    artifacts: () => store.map((entry) => ({ ...entry })),
    replaceContent: (id, content) => {
      const artifact = store.find((entry) => entry.id === id);
      if (artifact === undefined) throw new Error(`the fake holds no artifact ${id}`);
      artifact.content = content;
      artifact.size = content.length;
      artifact.digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    },
    requests: () => [...log],
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function signature(id: number): string {
  return `fake-${id}`;
}

function authorise(request: http.IncomingMessage): Caller {
  const token = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  const payload = token?.split('.')[1];
  if (!payload) throw new HttpError(401, 'unauthenticated', 'missing runtime token');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { scp?: string };
  for (const scope of (claims.scp ?? '').split(' ')) {
    const [kind, run, job] = scope.split(':');
    const ids = kind === 'Actions.Results' && run && job ? /^job-(.+)-a(\d+)$/.exec(job) : null;
    if (run && job && ids?.[1] && run === runBackendId(ids[1])) {
      return { runId: ids[1], attempt: Number(ids[2]), runBackendId: run, jobBackendId: job };
    }
  }
  throw new HttpError(401, 'unauthenticated', 'the runtime token carries no Actions.Results scope');
}

function readBody(request: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'RequestBodyTooLarge', `more than ${MAX_BODY_BYTES} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** The short name the brief uses: `start()` → `{ url, token(runId), close(), artifacts() }`. */
export const start = startFakeArtifactService;

/** The variables through which a job reaches the artifact service and GitHub's API, as the runner sets them. */
export const ARTIFACT_JOB_ENV = [
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_RESULTS_URL',
  'GITHUB_SERVER_URL',
  'GITHUB_REPOSITORY',
  'GITHUB_RUN_ID',
  'GITHUB_RUN_ATTEMPT',
  'GITHUB_API_URL',
] as const;

/**
 * Points the real `@actions/artifact` client in this process at the fake as job `attempt` of `runId` of
 * `repository`, the way the runner's environment does (the client reads it when it runs).
 */
export function enterFakeJob(fake: FakeArtifactService, runId: string, attempt = 1, repository = 'acme/apim'): void {
  process.env['ACTIONS_RUNTIME_TOKEN'] = fake.token(runId, attempt);
  process.env['ACTIONS_RESULTS_URL'] = `${fake.url}/`;
  process.env['GITHUB_SERVER_URL'] = 'https://github.com';
  process.env['GITHUB_REPOSITORY'] = repository;
  process.env['GITHUB_RUN_ID'] = runId;
  process.env['GITHUB_RUN_ATTEMPT'] = String(attempt);
}
