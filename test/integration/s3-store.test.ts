/**
 * The S3 store beyond the contract (test/integration/store-contract.test.ts), with the real AWS SDK against s3rver on
 * loopback: the layout in the bucket and the index written last, multipart uploads streamed from disk with progress
 * lines, what an upload cut off leaves (nothing that is listed or downloaded), downloads checked against the index,
 * the no-overwrite rule with and without conditional writes, and errors that say what to do without a credential.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { S3_INDEX_OBJECT, S3ArtifactStore, type S3ArtifactStoreOptions } from '../../src/artifacts/s3-store.js';
import { ArtifactExistsError, ArtifactNotFoundError } from '../../src/artifacts/store.js';
import { InputError } from '../../src/core/errors.js';
import { S3RVER_REGION, startS3Server, useS3rverCredentials, type S3TestServer } from '../helpers/s3-server.js';

let s3: S3TestServer;
let restoreAwsEnv: () => void;
let work: string;
let prefix: string;
let nextRun = 0;

beforeAll(async () => {
  restoreAwsEnv = useS3rverCredentials();
  s3 = await startS3Server();
});

afterAll(async () => {
  await s3?.close();
  restoreAwsEnv();
});

beforeEach(async (context) => {
  work = await mkdtemp(path.join(os.tmpdir(), 's3-store-'));
  prefix = `tests/${randomBytes(4).toString('hex')}`;
  context.onTestFinished(() => rm(work, { recursive: true, force: true }));
});

function newRun(): string {
  nextRun += 1;
  return `run-${nextRun}`;
}

function openStore(
  runId: string,
  options: Partial<S3ArtifactStoreOptions> & { server?: S3TestServer } = {},
): S3ArtifactStore {
  const { server = s3, ...rest } = options;
  return new S3ArtifactStore({
    bucket: server.bucket,
    prefix,
    region: S3RVER_REGION,
    endpoint: server.endpoint,
    forcePathStyle: true,
    runId,
    ...rest,
  });
}

/** The SDK as an operator (or an attacker with write access to the bucket) would use it, past the store. */
function rawClient(server: S3TestServer = s3): S3Client {
  return new S3Client({ region: S3RVER_REGION, endpoint: server.endpoint, forcePathStyle: true });
}

async function writeFiles(files: Record<string, Buffer>): Promise<string[]> {
  const dir = await mkdtemp(path.join(work, 'files-'));
  const paths: string[] = [];
  for (const [name, data] of Object.entries(files)) {
    const file = path.join(dir, name);
    await writeFile(file, data);
    paths.push(file);
  }
  return paths;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('the S3 store', () => {
  it('lays an artifact out under <prefix>/runs/<run>/<artifact>/ and writes its index last, with sizes and sha256', async () => {
    const runId = newRun();
    const dump = randomBytes(12 * 1024 * 1024 + 3);
    const files = await writeFiles({ 'apim_db.pgdump.age': dump, 'empty.txt': Buffer.alloc(0) });
    const progress: string[] = [];
    // 5 MiB parts (S3's least): the dump goes up in three parts, through lib-storage's multipart upload.
    const store = openStore(runId, { partSize: 5 * 1024 * 1024, onProgress: (line) => progress.push(line) });

    const stored = await store.upload('apim-migrate-apim-backup-a1', files);
    const base = `${prefix}/runs/${runId}/apim-migrate-apim-backup-a1/`;
    expect(stored.location).toBe(`s3://${s3.bucket}/${base}`);
    expect(await s3.keys(prefix)).toEqual([
      `${base}${S3_INDEX_OBJECT}`,
      `${base}apim_db.pgdump.age`,
      `${base}empty.txt`,
    ]);
    const index = JSON.parse((await s3.read(`${base}${S3_INDEX_OBJECT}`)).toString('utf8')) as Record<string, unknown>;
    expect(index).toMatchObject({
      format: 'apim-migrate-artifact/1',
      name: 'apim-migrate-apim-backup-a1',
      runId,
      files: [
        { name: 'apim_db.pgdump.age', size: dump.length, sha256: sha256(dump) },
        { name: 'empty.txt', size: 0, sha256: sha256(Buffer.alloc(0)) },
      ],
    });
    expect((await s3.read(`${base}apim_db.pgdump.age`)).equals(dump)).toBe(true);
    // The caller's files stay where they were: the work folder they are in is the caller's to remove.
    expect((await readFile(files[0] ?? '')).length).toBe(dump.length);
    expect(progress.at(-1)).toMatch(
      new RegExp(
        `^Stored apim-migrate-apim-backup-a1 in s3://${s3.bucket}/${base}: 2 files, 12\\.0 MiB in .* \\(.*/s\\)$`,
      ),
    );

    const destination = path.join(work, 'back');
    const paths = await store.download('apim-migrate-apim-backup-a1', destination);
    expect(paths.map((file) => path.basename(file))).toEqual(['apim_db.pgdump.age', 'empty.txt']);
    expect((await readFile(path.join(destination, 'apim_db.pgdump.age'))).equals(dump)).toBe(true);
    expect(progress.at(-1)).toMatch(/^Downloaded apim-migrate-apim-backup-a1 from s3:\/\/.*: 2 files, 12\.0 MiB in /);
  });

  it('says how far an upload is every few seconds: bytes, share and rate', async () => {
    const progress: string[] = [];
    const store = openStore(newRun(), {
      partSize: 5 * 1024 * 1024,
      progressIntervalMs: 1,
      onProgress: (line) => progress.push(line),
    });
    await store.upload(
      'apim-migrate-identity-backup-a1',
      await writeFiles({ 'dump.gz': randomBytes(11 * 1024 * 1024) }),
    );
    const lines = progress.filter((line) => line.startsWith('Uploading apim-migrate-identity-backup-a1 to s3://'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/: \d+(\.\d)? (B|KiB|MiB) of 11\.0 MiB \(\d+%\), .*\/s$/);
  });

  it('keeps the bucket root when the prefix is empty', async () => {
    const runId = newRun();
    const store = openStore(runId, { prefix: '' });
    await store.upload('apim-migrate-verify-report-a1', await writeFiles({ 'report.json': Buffer.from('{}') }));
    expect(await s3.keys(`runs/${runId}/`)).toEqual([
      `runs/${runId}/apim-migrate-verify-report-a1/${S3_INDEX_OBJECT}`,
      `runs/${runId}/apim-migrate-verify-report-a1/report.json`,
    ]);
    expect((await store.list()).map((artifact) => artifact.name)).toEqual(['apim-migrate-verify-report-a1']);
  });

  it('never lists nor downloads an artifact whose upload was cut off before its index, and a new upload replaces it', async () => {
    const runId = newRun();
    // What an upload cut off after its files leaves: the files, no index.
    const base = `${prefix}/runs/${runId}/apim-migrate-apim-backup-a1`;
    await rawClient().send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: `${base}/manifest.json`, Body: '{"half":true}' }),
    );
    const store = openStore(runId);
    expect(await store.list()).toEqual([]);
    await expect(store.download('apim-migrate-apim-backup-a1', path.join(work, 'x'))).rejects.toBeInstanceOf(
      ArtifactNotFoundError,
    );

    const manifest = Buffer.from('{"format":"apim-migrate-backup/1"}\n');
    await store.upload('apim-migrate-apim-backup-a1', await writeFiles({ 'manifest.json': manifest }));
    const [downloaded] = await store.download('apim-migrate-apim-backup-a1', path.join(work, 'y'));
    expect((await readFile(downloaded ?? '')).equals(manifest)).toBe(true);
  });

  it('refuses a file changed in the bucket after it was stored, and leaves no copy of it behind', async () => {
    const runId = newRun();
    const store = openStore(runId);
    const original = randomBytes(4096);
    await store.upload('apim-migrate-apim-backup-a1', await writeFiles({ 'shared_db.pgdump': original }));
    const swapped = Buffer.from(original);
    swapped[100] = (swapped[100] ?? 0) ^ 0xff;
    const key = `${prefix}/runs/${runId}/apim-migrate-apim-backup-a1/shared_db.pgdump`;
    await rawClient().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: swapped }));

    const destination = path.join(work, 'damaged');
    await expect(store.download('apim-migrate-apim-backup-a1', destination)).rejects.toThrow(
      /shared_db\.pgdump of artifact apim-migrate-apim-backup-a1 of run run-\d+ did not arrive intact from s3:\/\/.*: its sha256 differs from the one its index says/,
    );
    expect(await readdir(destination)).toEqual([]);

    await rawClient().send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: Buffer.concat([original, original]) }),
    );
    await expect(store.download('apim-migrate-apim-backup-a1', path.join(work, 'longer'))).rejects.toThrow(
      /it is longer than the 4096 bytes its index says/,
    );
  });

  it('says which file is missing from an artifact whose index names it', async () => {
    const runId = newRun();
    const base = `${prefix}/runs/${runId}/apim-migrate-apim-backup-a1`;
    const index = {
      format: 'apim-migrate-artifact/1',
      name: 'apim-migrate-apim-backup-a1',
      runId,
      files: [] as unknown[],
    };
    index.files.push({ name: 'apim_db.pgdump', size: 3, sha256: sha256(Buffer.from('abc')) });
    await rawClient().send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: `${base}/${S3_INDEX_OBJECT}`, Body: JSON.stringify(index) }),
    );
    await expect(openStore(runId).download('apim-migrate-apim-backup-a1', path.join(work, 'm'))).rejects.toThrow(
      `artifact apim-migrate-apim-backup-a1 of run ${runId} is incomplete: apim_db.pgdump is missing from s3://${s3.bucket}/${base}/`,
    );
  });

  it.each([
    { title: 'not JSON', body: 'not json', problem: 'is not JSON' },
    {
      title: 'of another artifact',
      body: JSON.stringify({ format: 'apim-migrate-artifact/1', name: 'other', runId: 'x', files: [] }),
      problem: 'names another artifact or run',
    },
    {
      title: 'with a file name that leaves the folder',
      body: JSON.stringify({
        format: 'apim-migrate-artifact/1',
        name: 'apim-migrate-apim-backup-a1',
        runId: '@RUN@',
        files: [{ name: '../../etc/passwd', size: 1, sha256: 'a'.repeat(64) }],
      }),
      problem: 'names a file that is not a plain file name',
    },
  ])(
    'ignores an index that is $title when listing, with a warning, and refuses to download by it',
    async ({ body, problem }) => {
      const runId = newRun();
      const warnings: string[] = [];
      const store = openStore(runId, { onWarning: (line) => warnings.push(line) });
      await store.upload('apim-migrate-registry-scripts-backup-a1', await writeFiles({ 'a.txt': Buffer.from('a') }));
      const key = `${prefix}/runs/${runId}/apim-migrate-apim-backup-a1/${S3_INDEX_OBJECT}`;
      await rawClient().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body.replace('@RUN@', runId) }));

      expect((await store.list()).map((artifact) => artifact.name)).toEqual([
        'apim-migrate-registry-scripts-backup-a1',
      ]);
      expect(warnings).toEqual([
        expect.stringContaining(`apim-migrate-apim-backup-a1/ is ignored: its index ${key} ${problem}`),
      ]);
      await expect(store.download('apim-migrate-apim-backup-a1', path.join(work, 'bad'))).rejects.toThrow(
        `artifact apim-migrate-apim-backup-a1 of run ${runId} is not used: its index ${key} ${problem}`,
      );
    },
  );
});

describe('the S3 store never overwrites a name', () => {
  const racers = async (store: () => S3ArtifactStore) => {
    // The same files for both: whichever writes the files last, they are the ones the winning index describes.
    const files = await writeFiles({ 'dump.gz': randomBytes(2 * 1024 * 1024) });
    return Promise.allSettled([
      store().upload('apim-migrate-apim-backup-a1', files),
      store().upload('apim-migrate-apim-backup-a1', files),
    ]);
  };

  it('refuses a name that is there already: the check before the upload, with s3rver, which ignores If-None-Match', async () => {
    const runId = newRun();
    const store = openStore(runId);
    await store.upload('apim-migrate-apim-backup-a1', await writeFiles({ 'a.txt': Buffer.from('first') }));
    await expect(
      store.upload('apim-migrate-apim-backup-a1', await writeFiles({ 'a.txt': Buffer.from('second') })),
    ).rejects.toBeInstanceOf(ArtifactExistsError);
    expect((await s3.read(`${prefix}/runs/${runId}/apim-migrate-apim-backup-a1/a.txt`)).toString()).toBe('first');
  });

  it('lets exactly one of two racing uploads have the name where the server honours If-None-Match, as AWS S3 does', async () => {
    const server = await startS3Server({ conditionalWrites: 'honour' });
    try {
      const runId = newRun();
      const results = await racers(() => openStore(runId, { server }));
      expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((result) => result.status === 'rejected');
      expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(ArtifactExistsError);
      const store = openStore(runId, { server });
      expect((await store.list()).map((artifact) => artifact.name)).toEqual(['apim-migrate-apim-backup-a1']);
      await store.download('apim-migrate-apim-backup-a1', path.join(work, 'winner'));
    } finally {
      await server.close();
    }
  });

  it('with s3rver, which ignores If-None-Match, two uploads racing past the check both succeed: the stage lock keeps a second run of a stage away', async () => {
    const runId = newRun();
    const results = await racers(() => openStore(runId));
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
  });

  it('writes the index plainly, with one warning, where the server refuses conditional writes (501)', async () => {
    const server = await startS3Server({ conditionalWrites: 'refuse' });
    try {
      const warnings: string[] = [];
      const store = openStore(newRun(), { server, onWarning: (line) => warnings.push(line) });
      await store.upload('apim-migrate-apim-backup-a1', await writeFiles({ 'a.txt': Buffer.from('a') }));
      await store.upload('apim-migrate-apim-report-a1', await writeFiles({ 'b.txt': Buffer.from('b') }));
      expect(warnings).toEqual([
        expect.stringContaining(
          'does not take conditional writes (If-None-Match, HTTP 501): the index of apim-migrate-apim-backup-a1 is written without one, so that no artifact is overwritten rests on the check before the upload and on the stage lock',
        ),
      ]);
      expect((await store.list()).map((artifact) => artifact.name)).toEqual([
        'apim-migrate-apim-backup-a1',
        'apim-migrate-apim-report-a1',
      ]);
      await expect(
        store.upload('apim-migrate-apim-backup-a1', await writeFiles({ 'a.txt': Buffer.from('again') })),
      ).rejects.toBeInstanceOf(ArtifactExistsError);
    } finally {
      await server.close();
    }
  });
});

describe('the S3 store says what went wrong, and never a credential', () => {
  const SECRET = 'secret-key-that-must-never-be-printed';

  /** Runs `work` with these AWS variables instead of s3rver's (the others stay shut out). */
  async function withAwsEnv<T>(env: Record<string, string | undefined>, work: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    try {
      return await work();
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  }

  async function failure(work: () => Promise<unknown>): Promise<Error> {
    try {
      await work();
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected a failure');
  }

  it('names the bucket that does not exist', async () => {
    const store = openStore(newRun(), { bucket: 'no-such-bucket' });
    const error = await failure(() => store.list());
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(
      /^cannot list the artifacts of run run-\d+ in S3 bucket no-such-bucket at http:\/\/127\.0\.0\.1:\d+ \(s3:\/\/no-such-bucket\/tests\/[0-9a-f]+\/\): the bucket no-such-bucket does not exist \(NoSuchBucket, HTTP 404.*\); create it, or fix store\.bucket$/,
    );
  });

  it('says where credentials come from when the SDK finds none', async () => {
    const error = await withAwsEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }, () =>
      failure(() => openStore(newRun()).list()),
    );
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(
      'the AWS SDK found no credentials. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
    expect(error.message).toContain('AWS_PROFILE');
  });

  it('says the credentials were refused, with the permissions the store needs, and never prints the secret', async () => {
    const files = await writeFiles({ 'a.txt': Buffer.from('a') });
    const error = await withAwsEnv({ AWS_ACCESS_KEY_ID: 'AKIAUNKNOWN', AWS_SECRET_ACCESS_KEY: SECRET }, () =>
      failure(() => openStore(newRun()).upload('apim-migrate-apim-backup-a1', files)),
    );
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(
      /the service refused the credentials the AWS SDK found \(HTTP 403\); check them, and that they may s3:ListBucket on the bucket and s3:GetObject and s3:PutObject on s3:\/\/apim-migrate-test\/tests\/[0-9a-f]+\/\*/,
    );
    expect(`${error.message}\n${error.stack ?? ''}`).not.toContain(SECRET);
    expect(JSON.stringify(error)).not.toContain(SECRET);
  });

  it('says a server that does not answer did not, naming the key', async () => {
    const server = await startS3Server();
    await server.close();
    const store = openStore(newRun(), { server });
    const error = await failure(async () =>
      store.upload('apim-migrate-apim-backup-a1', await writeFiles({ 'a.txt': Buffer.from('a') })),
    );
    expect(error.message).toMatch(
      /^cannot check for s3:\/\/apim-migrate-test\/tests\/.*\.apim-migrate-artifact\.json: .*ECONNREFUSED/,
    );
  });
});
