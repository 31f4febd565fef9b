/**
 * A real S3-compatible server on loopback for the S3 store's tests: s3rver (the npm package), in this process, on
 * 127.0.0.1 and a random port, keeping its buckets in a temporary folder. The AWS SDK inside the store reaches it
 * through its default credential chain: {@link useS3rverCredentials} puts s3rver's fixed key pair in the environment
 * and shuts the other sources (shared files, the instance metadata service) out, as a test must.
 *
 * s3rver ignores `If-None-Match` on PUT, as some S3-compatible services do. With `conditionalWrites: 'honour'` the
 * server answers such a PUT of an existing key with 412 PreconditionFailed, as AWS S3 does; those PUTs are taken one
 * at a time, so that of two racing writers of one key exactly one wins. With `'refuse'` it answers every such PUT
 * with 501 NotImplemented, as a service that cannot do them may.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

/** The key pair s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
export const S3RVER_REGION = 'us-east-1';

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /** The objects of the bucket whose keys start with `prefix`, sorted. */
  keys(prefix?: string): Promise<string[]>;
  /** An object's bytes, read from s3rver's folder. */
  read(key: string): Promise<Buffer>;
  close(): Promise<void>;
}

export async function startS3Server(
  options: { bucket?: string; conditionalWrites?: 'honour' | 'refuse' } = {},
): Promise<S3TestServer> {
  const bucket = options.bucket ?? 'apim-migrate-test';
  const directory = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  const store = (s3rver as unknown as { store: { existsObject(bucket: string, key: string): Promise<boolean> } }).store;
  let conditional: Promise<void> = Promise.resolve();

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (!options.conditionalWrites || request.method !== 'PUT' || request.headers['if-none-match'] !== '*') {
      handle(request, response);
      return;
    }
    if (options.conditionalWrites === 'refuse') {
      request.resume();
      answerError(
        response,
        501,
        'NotImplemented',
        'A header you provided implies functionality that is not implemented',
      );
      return;
    }
    const turn = conditional.then(async () => {
      const [name, ...key] = decodeURIComponent(new URL(request.url ?? '/', 'http://s3').pathname)
        .slice(1)
        .split('/');
      if (await store.existsObject(name ?? '', key.join('/'))) {
        request.resume();
        answerError(
          response,
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
        );
        return;
      }
      handle(request, response);
      await new Promise<void>((resolve) => response.on('close', () => resolve()));
    });
    conditional = turn.catch(() => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const bucketDir = path.join(directory, bucket);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    async keys(prefix = '') {
      return (await s3rverKeys(bucketDir)).filter((key) => key.startsWith(prefix)).sort();
    },
    read: (key) => readFile(path.join(bucketDir, `${key}._S3rver_object`)),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** An S3 error answer: the XML body S3 sends, with its code and message. */
function answerError(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { 'content-type': 'application/xml' });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

/** s3rver keeps `<key>._S3rver_object` (and its metadata beside it) under the bucket's folder. */
async function s3rverKeys(dir: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true }).catch(() => [])) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) keys.push(...(await s3rverKeys(dir, relative)));
    else if (entry.name.endsWith('._S3rver_object')) keys.push(relative.slice(0, -'._S3rver_object'.length));
  }
  return keys;
}

/** The variables the AWS SDK's default chain reads; {@link useS3rverCredentials} sets or clears each. */
const AWS_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_CONFIG_FILE',
  'AWS_ROLE_ARN',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
] as const;

/**
 * Puts s3rver's credentials in this process's environment, where the SDK's chain finds them, and nothing else of
 * AWS's: no profile, no shared files (they point at a file that does not exist), no instance metadata. Returns the
 * function that puts the environment back.
 */
export function useS3rverCredentials(): () => void {
  const saved = Object.fromEntries(AWS_ENV.map((name) => [name, process.env[name]]));
  for (const name of AWS_ENV) delete process.env[name];
  const nowhere = path.join(os.tmpdir(), `apim-migrate-no-aws-files-${process.pid}`, 'none');
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: nowhere,
    AWS_CONFIG_FILE: nowhere,
    // The SDK warns once per process that its 2027 versions will need Node 22; the tests run on the engines' least.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  return () => {
    for (const name of AWS_ENV) {
      const value = saved[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
