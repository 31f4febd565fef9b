import type { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3StoreConfig } from '../config/types.js';
import { errorMessage, InputError } from '../core/errors.js';
import { formatBytes, formatDuration } from '../core/format.js';
import { neutraliseText } from '../core/neutralise.js';
import { makePrivateDir, openPrivateWriteStream } from '../core/private-files.js';
import { createMeter } from '../core/streams.js';
import {
  ArtifactExistsError,
  ArtifactNotFoundError,
  type ArtifactStore,
  type StoredArtifact,
  type StoredFile,
  type UploadOptions,
} from './store.js';

/** The object written last beside an artifact's files: without it, the artifact does not exist. */
export const S3_INDEX_OBJECT = '.apim-migrate-artifact.json';
const INDEX_FORMAT = 'apim-migrate-artifact/1';
/** An index is a few lines per file; anything larger is not one. */
const MAX_INDEX_BYTES = 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
/** Parts in flight at once: memory holds at most this many parts, whatever the size of the file. */
const QUEUE_SIZE = 4;
/** S3 takes 10,000 parts at most; the margin leaves room for a file that grows while it is read. */
const MAX_PARTS = 9_000;
const DEFAULT_PROGRESS_INTERVAL_MS = 5_000;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface S3ArtifactStoreOptions extends S3StoreConfig {
  /** The run this invocation belongs to. */
  runId: string;
  /** Progress lines of uploads and downloads (bytes and rate) and their last line. */
  onProgress?: (message: string) => void;
  /** Said when the bucket cannot do something the store relies on, and when a broken index is ignored. */
  onWarning?: (message: string) => void;
  /** How often a transfer says how far it is; default 5 s. */
  progressIntervalMs?: number;
  /** The size of an upload's parts (at least 5 MiB, S3's least); a file no larger goes up in one request. */
  partSize?: number;
}

/** The parts of the AWS SDK the store uses, loaded on first use. */
interface S3Sdk {
  client: S3Client;
  commands: typeof import('@aws-sdk/client-s3');
  Upload: typeof import('@aws-sdk/lib-storage').Upload;
}

/**
 * The artifact store in an S3 bucket: AWS S3, or an S3-compatible service (MinIO, Ceph RGW) at `endpoint`.
 *
 * `<prefix>/runs/<run id>/<artifact>/<file>`, and beside the files, written last, the artifact's index
 * ({@link S3_INDEX_OBJECT}): the files with their sizes and sha256. An artifact without an index (an upload cut off)
 * is neither listed nor downloaded, so it is never taken for a backup. A name is never stored twice: the upload
 * checks first that the index is not there, and writes it with `If-None-Match: *`, which S3 refuses (412) when
 * another upload wrote it in the meantime. A server that ignores conditional writes (some S3-compatible ones) leaves
 * the rule to that check and to the stage lock, which keeps a second run of the stage away while one uploads; the
 * files themselves are written plainly, so that a retry after a cut-off upload can replace its leftovers, and a
 * download checks each of them against the index's sha256.
 *
 * Credentials come from the AWS SDK's default chain (environment, shared profiles, instance and web-identity roles)
 * and never pass through this code. Files stream from and to disk; a large one goes up in parts, and memory holds a
 * few parts at most. apim-migrate never deletes an object: the bucket's lifecycle rules keep or expire them.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly kind = 's3';
  readonly description: string;
  readonly runId: string;
  private readonly settings: S3StoreConfig;
  private readonly root: string;
  private readonly partSize: number;
  private sdk: Promise<S3Sdk> | undefined;
  private warnedAboutConditionalWrites = false;

  constructor(private readonly options: S3ArtifactStoreOptions) {
    const { bucket, prefix, region, endpoint, forcePathStyle } = options;
    const settings = { bucket, prefix, region, forcePathStyle, ...(endpoint === undefined ? {} : { endpoint }) };
    this.settings = settings;
    this.runId = options.runId;
    this.root = settings.prefix === '' ? '' : `${settings.prefix.replace(/\/+$/, '')}/`;
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    const at = settings.endpoint === undefined ? '' : ` at ${settings.endpoint}`;
    this.description = `S3 bucket ${settings.bucket}${at} (s3://${settings.bucket}/${this.root})`;
  }

  async upload(name: string, files: readonly string[], _options: UploadOptions = {}): Promise<StoredArtifact> {
    // UploadOptions.retentionDays is GitHub's; a bucket keeps objects as its lifecycle rules say. The caller's files
    // stay where they are (moveFiles is for a store on this machine).
    assertSafeName(name);
    const sources: Array<{ file: string; name: string; size: number }> = [];
    for (const file of files) {
      const base = path.basename(file);
      if (sources.some((entry) => entry.name === base)) throw new Error(`two files named ${base} in artifact ${name}`);
      if (base === S3_INDEX_OBJECT) throw new Error(`${file}: ${S3_INDEX_OBJECT} is the name of the store's own index`);
      if (!isPlainFileName(base))
        throw new Error(`${file}: an artifact's file needs a plain name, without \\ or control characters`);
      const info = await stat(file);
      if (!info.isFile()) throw new Error(`${file} is not a file; an artifact holds plain files only`);
      sources.push({ file, name: base, size: info.size });
    }
    const indexKey = this.key(this.runId, name, S3_INDEX_OBJECT);
    if (await this.exists(indexKey)) throw new ArtifactExistsError(name, this.runId);

    const location = this.location(this.runId, name);
    const total = sources.reduce((sum, source) => sum + source.size, 0);
    const progress = this.startProgress(`Uploading ${name} to ${location}`, total);
    const stored: StoredFile[] = [];
    try {
      for (const source of sources) {
        stored.push(await this.putFile(source.file, this.key(this.runId, name, source.name), progress));
      }
    } finally {
      progress.stop();
    }
    // `upload` tells this upload's index from another's with the same files, when a retry of the write reads it back.
    const upload = randomBytes(8).toString('hex');
    const index = `${JSON.stringify({ format: INDEX_FORMAT, name, runId: this.runId, upload, files: stored }, null, 2)}\n`;
    await this.putIndex(name, indexKey, index);
    this.options.onProgress?.(`Stored ${name} in ${location}: ${progress.summary(stored.length)}`);
    return { name, id: `${this.runId}/${name}`, runId: this.runId, location, files: stored };
  }

  async list(options: { runId?: string } = {}): Promise<StoredArtifact[]> {
    const runId = options.runId ?? this.runId;
    assertSafeName(runId);
    const { client, commands } = await this.load();
    const runPrefix = `${this.root}runs/${runId}/`;
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const page = await client
        .send(
          new commands.ListObjectsV2Command({
            Bucket: this.settings.bucket,
            Prefix: runPrefix,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        )
        .catch((error: unknown) => {
          throw this.explain(error, `list the artifacts of run ${runId} in`);
        });
      for (const object of page.Contents ?? []) {
        const [artifact, file, ...deeper] = (object.Key ?? '').slice(runPrefix.length).split('/');
        if (file === S3_INDEX_OBJECT && deeper.length === 0 && artifact !== undefined && SAFE_NAME.test(artifact)) {
          names.add(artifact);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);

    const artifacts: StoredArtifact[] = [];
    for (const name of [...names].sort((a, b) => a.localeCompare(b))) {
      const read = await this.readIndex(runId, name);
      if (read === undefined) continue;
      if ('problem' in read) {
        this.options.onWarning?.(`${this.location(runId, name)} is ignored: ${read.problem}`);
        continue;
      }
      artifacts.push(read.artifact);
    }
    return artifacts;
  }

  async download(name: string, destination: string, options: { runId?: string } = {}): Promise<string[]> {
    assertSafeName(name);
    const runId = options.runId ?? this.runId;
    assertSafeName(runId);
    const read = await this.readIndex(runId, name);
    if (read === undefined) throw new ArtifactNotFoundError(name, runId, this.description);
    if ('problem' in read) throw new Error(`artifact ${name} of run ${runId} is not used: ${read.problem}`);
    const { artifact } = read;
    await makePrivateDir(destination);
    const total = artifact.files.reduce((sum, file) => sum + file.size, 0);
    const progress = this.startProgress(`Downloading ${name} from ${artifact.location}`, total);
    const paths: string[] = [];
    try {
      for (const file of artifact.files) {
        const target = path.join(destination, file.name);
        await this.getFile(artifact, file, target, progress);
        paths.push(target);
      }
    } finally {
      progress.stop();
    }
    this.options.onProgress?.(`Downloaded ${name} from ${artifact.location}: ${progress.summary(paths.length)}`);
    return paths;
  }

  /** Streams one file up, in parts when it is larger than one; gives the size and sha256 of what was sent. */
  private async putFile(file: string, key: string, progress: Progress): Promise<StoredFile> {
    const { client, Upload } = await this.load();
    const size = (await stat(file)).size;
    const meter = createMeter();
    const source = createReadStream(file);
    // A failed read fails the meter, and with it the upload that reads from it.
    source.on('error', (error) => meter.stream.destroy(error));
    const body = source.pipe(meter.stream);
    const upload = new Upload({
      client,
      params: { Bucket: this.settings.bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
      partSize: Math.max(this.partSize, Math.ceil(size / MAX_PARTS)),
      queueSize: QUEUE_SIZE,
    });
    const base = progress.done;
    upload.on('httpUploadProgress', (event) => progress.set(base + (event.loaded ?? 0)));
    try {
      await upload.done();
    } catch (error) {
      throw this.explain(error, `upload ${path.basename(file)} to`, key);
    } finally {
      source.destroy();
    }
    progress.set(base + meter.bytes);
    return { name: path.basename(key), size: meter.bytes, sha256: meter.digest() };
  }

  /** Streams one file of an artifact to `target`, and checks it against the index: a damaged copy is removed. */
  private async getFile(artifact: StoredArtifact, file: StoredFile, target: string, progress: Progress): Promise<void> {
    const { client, commands } = await this.load();
    const key = this.key(artifact.runId, artifact.name, file.name);
    const response = await client
      .send(new commands.GetObjectCommand({ Bucket: this.settings.bucket, Key: key }))
      .catch((error: unknown) => {
        if (statusOf(error) === 404 && errorName(error) !== 'NoSuchBucket') {
          throw new Error(
            `artifact ${artifact.name} of run ${artifact.runId} is incomplete: ${file.name} is missing from ${artifact.location}`,
          );
        }
        throw this.explain(error, `download ${file.name} from`, key);
      });
    const meter = createMeter();
    const base = progress.done;
    // More bytes than the index says is not the file: stopped there, so that a wrong object cannot fill the disk.
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        progress.set(base + meter.bytes);
        if (meter.bytes > file.size) callback(new Error(`it is longer than the ${file.size} bytes its index says`));
        else callback(null, chunk);
      },
    });
    try {
      const output = await openPrivateWriteStream(target);
      await pipeline(response.Body as Readable, meter.stream, limit, output);
      const problem =
        meter.bytes !== file.size
          ? `it has ${meter.bytes} bytes, not the ${file.size} its index says`
          : meter.digest() !== file.sha256
            ? 'its sha256 differs from the one its index says'
            : undefined;
      if (problem !== undefined) throw new Error(problem);
    } catch (error) {
      await rm(target, { force: true });
      throw new Error(
        `${file.name} of artifact ${artifact.name} of run ${artifact.runId} did not arrive intact from ${artifact.location}: ${neutraliseText(errorMessage(error))}`,
      );
    }
  }

  /**
   * Writes the index, only if there is none: S3 answers 412 to `If-None-Match: *` when the object exists (409 while
   * another conditional write of it is under way). A 412 to a retry of our own write that did arrive is told apart by
   * reading the index back. A server that cannot do conditional writes (501) gets a plain write, with a warning.
   */
  private async putIndex(name: string, key: string, index: string): Promise<void> {
    const { client, commands } = await this.load();
    const put = (conditional: boolean) =>
      client.send(
        new commands.PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: key,
          Body: index,
          ContentType: 'application/json',
          ...(conditional ? { IfNoneMatch: '*' } : {}),
        }),
      );
    try {
      await put(true);
    } catch (error) {
      const status = statusOf(error);
      if (status === 412 || status === 409) {
        const written = await this.readObjectText(key).catch(() => undefined);
        if (written !== undefined && 'text' in written && written.text === index) return;
        throw new ArtifactExistsError(name, this.runId);
      }
      if (status !== 501) throw this.explain(error, `store the index of ${name} in`, key);
      if (!this.warnedAboutConditionalWrites) {
        this.warnedAboutConditionalWrites = true;
        this.options.onWarning?.(
          `${this.description} does not take conditional writes (If-None-Match, HTTP 501): the index of ${name} is written without one, so that no artifact is overwritten rests on the check before the upload and on the stage lock`,
        );
      }
      await put(false).catch((retryError: unknown) => {
        throw this.explain(retryError, `store the index of ${name} in`, key);
      });
    }
  }

  /** The artifact an index describes; undefined when there is none, a problem when it is not a valid one. */
  private async readIndex(
    runId: string,
    name: string,
  ): Promise<{ artifact: StoredArtifact } | { problem: string } | undefined> {
    const key = this.key(runId, name, S3_INDEX_OBJECT);
    const read = await this.readObjectText(key);
    if (read === undefined) return undefined;
    if ('tooLarge' in read) return { problem: `its index ${key} is ${formatBytes(read.tooLarge)}, too large for one` };
    const parsed = parseIndex(read.text, name, runId);
    if (typeof parsed === 'string') return { problem: `its index ${key} ${parsed}` };
    return { artifact: { name, id: `${runId}/${name}`, runId, location: this.location(runId, name), files: parsed } };
  }

  /** The text of an object of an index's size; undefined when it does not exist. */
  private async readObjectText(key: string): Promise<{ text: string } | { tooLarge: number } | undefined> {
    const { client, commands } = await this.load();
    try {
      const response = await client.send(new commands.GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      const size = response.ContentLength ?? 0;
      if (size > MAX_INDEX_BYTES) {
        (response.Body as Readable | undefined)?.destroy();
        return { tooLarge: size };
      }
      return { text: (await response.Body?.transformToString('utf8')) ?? '' };
    } catch (error) {
      if (statusOf(error) === 404 && errorName(error) !== 'NoSuchBucket') return undefined;
      throw this.explain(error, 'read', key);
    }
  }

  private async exists(key: string): Promise<boolean> {
    const { client, commands } = await this.load();
    try {
      await client.send(new commands.HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      return true;
    } catch (error) {
      // A HEAD answer has no body, so a missing bucket is a 404 too: the upload that follows says which.
      if (statusOf(error) === 404) return false;
      throw this.explain(error, 'check for', key);
    }
  }

  private key(runId: string, name: string, file: string): string {
    return `${this.root}runs/${runId}/${name}/${file}`;
  }

  private location(runId: string, name: string): string {
    return `s3://${this.settings.bucket}/${this.root}runs/${runId}/${name}/`;
  }

  /**
   * The SDK on first use: the client and its commands are a large part of the bundle, and a run with another store
   * never evaluates them. `webpackMode: "eager"` keeps them in the one bundle file, as for GitHub's client.
   */
  private load(): Promise<S3Sdk> {
    this.sdk ??= (async () => {
      const commands = await import(/* webpackMode: "eager" */ '@aws-sdk/client-s3');
      const { Upload } = await import(/* webpackMode: "eager" */ '@aws-sdk/lib-storage');
      // No credentials here: the SDK's default chain finds them. No logger: nothing of the requests is logged.
      const client = new commands.S3Client({
        region: this.settings.region,
        forcePathStyle: this.settings.forcePathStyle,
        ...(this.settings.endpoint === undefined ? {} : { endpoint: this.settings.endpoint }),
      });
      return { client, commands, Upload };
    })();
    return this.sdk;
  }

  /** What went wrong, for a person: the bucket and key, the service's code and status, never a request's headers. */
  private explain(error: unknown, what: string, key?: string): Error {
    if (error instanceof InputError || error instanceof ArtifactExistsError || error instanceof ArtifactNotFoundError) {
      return error;
    }
    const where = key === undefined ? this.description : `s3://${this.settings.bucket}/${key}`;
    const name = errorName(error);
    if (name === 'CredentialsProviderError') {
      return new InputError({
        message: `cannot ${what} ${where}: the AWS SDK found no credentials. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary ones), or AWS_PROFILE for a profile of the shared config files, or run where an instance role or a web-identity role (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE) gives them`,
      });
    }
    const status = statusOf(error);
    const answer = status === undefined ? neutraliseText(errorMessage(error)) : describeAnswer(error, status);
    if (name === 'NoSuchBucket') {
      return new InputError({
        message: `cannot ${what} ${where}: the bucket ${this.settings.bucket} does not exist (${answer}); create it, or fix store.bucket`,
      });
    }
    if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
      return new InputError({
        message: `cannot ${what} ${where}: the bucket is not in region ${this.settings.region} (${answer}); set store.region to the bucket's region`,
      });
    }
    if (status === 401 || status === 403) {
      return new InputError({
        message: `cannot ${what} ${where}: the service refused the credentials the AWS SDK found (${answer}); check them, and that they may s3:ListBucket on the bucket and s3:GetObject and s3:PutObject on s3://${this.settings.bucket}/${this.root}*`,
      });
    }
    return new Error(`cannot ${what} ${where}: ${answer}`);
  }

  private startProgress(label: string, total: number): Progress {
    return startProgress(
      label,
      total,
      this.options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
      this.options.onProgress,
    );
  }
}

/** The files of an index, or what is wrong with it: it is text from the bucket, checked before it is used. */
function parseIndex(text: string, name: string, runId: string): StoredFile[] | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'is not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'is not an index';
  const index = value as Record<string, unknown>;
  if (index['format'] !== INDEX_FORMAT) return `is not of the format ${INDEX_FORMAT}`;
  if (index['name'] !== name || index['runId'] !== runId) return `names another artifact or run`;
  if (!Array.isArray(index['files'])) return 'has no list of files';
  const files: StoredFile[] = [];
  for (const entry of index['files'] as unknown[]) {
    const file = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const fileName = file['name'];
    const size = file['size'];
    const sha256 = file['sha256'];
    if (typeof fileName !== 'string' || !isPlainFileName(fileName) || fileName === S3_INDEX_OBJECT) {
      return 'names a file that is not a plain file name';
    }
    if (files.some((known) => known.name === fileName)) return `names ${fileName} twice`;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return `gives ${fileName} no valid size`;
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return `gives ${fileName} no valid sha256`;
    files.push({ name: fileName, size, sha256 });
  }
  return files;
}

interface Progress {
  /** Bytes moved so far, of every file of the transfer. */
  readonly done: number;
  set(bytes: number): void;
  stop(): void;
  /** `3 files, 9.0 MiB in 1.2 s (7.5 MiB/s)` */
  summary(files: number): string;
}

/** Says every `intervalMs` how far a transfer is: bytes, share and rate since it began. */
function startProgress(
  label: string,
  total: number,
  intervalMs: number,
  say: ((message: string) => void) | undefined,
): Progress {
  const started = Date.now();
  let done = 0;
  let ended: number | undefined;
  const rate = () => formatBytes(done / Math.max(((ended ?? Date.now()) - started) / 1000, 0.001));
  const timer = say
    ? setInterval(() => {
        const share = total > 0 ? ` (${Math.floor((done / total) * 100)}%)` : '';
        say(`${label}: ${formatBytes(done)} of ${formatBytes(total)}${share}, ${rate()}/s`);
      }, intervalMs)
    : undefined;
  timer?.unref();
  return {
    get done() {
      return done;
    },
    set(bytes) {
      done = bytes;
    },
    stop() {
      clearInterval(timer);
      ended ??= Date.now();
    },
    summary(files) {
      return `${files} ${files === 1 ? 'file' : 'files'}, ${formatBytes(done)} in ${formatDuration((ended ?? Date.now()) - started)} (${rate()}/s)`;
    },
  };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

/** The HTTP status of an SDK error, from its response metadata. */
function statusOf(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof metadata?.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}

/** `AccessDenied, HTTP 403, request id X: Access Denied`: the service's words, neutralised, and nothing else of it. */
function describeAnswer(error: unknown, status: number): string {
  const name = errorName(error);
  const requestId = (error as { $metadata?: { requestId?: unknown } }).$metadata?.requestId;
  const message = errorMessage(error);
  const parts = [
    // A HEAD answer has no body to name the error: the SDK calls it Unknown, or by the status (NotFound).
    name && !['Error', 'Unknown', 'UnknownError'].includes(name) ? `${name}, ` : '',
    `HTTP ${status}`,
    typeof requestId === 'string' && requestId !== '' ? `, request id ${requestId}` : '',
    message && !['Unknown', 'UnknownError', name].includes(message) ? `: ${message}` : '',
  ];
  return neutraliseText(parts.join(''));
}

/** A name that stays in the folder it is joined to, here and on Windows: no separator, not `.` or `..`. */
function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && name.length <= 255 && !/[/\\\u0000-\u001f\u007f]/.test(name);
}

function assertSafeName(name: string): void {
  if (!SAFE_NAME.test(name)) throw new Error(`not a safe artifact or run name: ${JSON.stringify(name)}`);
}
