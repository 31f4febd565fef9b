/**
 * The artifact store contract of src/artifacts/store.ts, one suite for every store: the local folder store, GitHub's
 * artifact store (the real @actions/artifact client against the local fake of the service), the S3 store (the real
 * AWS SDK against s3rver on loopback) and the in-memory store the unit tests use, so that a fake cannot pass tests
 * the real stores would fail.
 *
 * s3rver ignores `If-None-Match` on PUT, so here the S3 store keeps a name from being stored twice through its check
 * before the upload alone; test/integration/s3-store.test.ts exercises the conditional write against a server that
 * honours it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/artifacts/local-store.js';
import { S3ArtifactStore } from '../../src/artifacts/s3-store.js';
import { ArtifactExistsError, ArtifactNotFoundError, type ArtifactStore } from '../../src/artifacts/store.js';
import {
  ARTIFACT_JOB_ENV,
  enterFakeJob,
  startFakeArtifactService,
  type FakeArtifactService,
} from '../helpers/fake-artifact-service.js';
import { createMemoryStore, type MemoryBucket } from '../helpers/fakes.js';
import { S3RVER_REGION, startS3Server, useS3rverCredentials, type S3TestServer } from '../helpers/s3-server.js';

const READ_TOKEN = 'ghs_contract_read_token';

let fake: FakeArtifactService;
let s3: S3TestServer;
let restoreAwsEnv: () => void;
let githubStore: typeof import('../../src/artifacts/github-store.js');
let saved: Record<string, string | undefined>;
let work: string;
let nextRun = 7000;

beforeAll(async () => {
  saved = Object.fromEntries(ARTIFACT_JOB_ENV.map((key) => [key, process.env[key]]));
  fake = await startFakeArtifactService({ readToken: READ_TOKEN, repository: 'acme/apim' });
  // @actions/github reads GITHUB_API_URL once, when it is first imported: set it before the store is loaded.
  process.env['GITHUB_API_URL'] = fake.url;
  githubStore = await import('../../src/artifacts/github-store.js');
  restoreAwsEnv = useS3rverCredentials();
  s3 = await startS3Server();
});

afterAll(async () => {
  await fake.close();
  await s3.close();
  restoreAwsEnv();
  for (const key of ARTIFACT_JOB_ENV) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

beforeEach(async (context) => {
  work = await mkdtemp(path.join(os.tmpdir(), 'store-contract-'));
  context.onTestFinished(() => rm(work, { recursive: true, force: true }));
});

/** A store of one kind: `open(runId)` is that run's store, as a job of that run would make it. */
interface StoreKind {
  name: string;
  /** Sets up what the stores of one test share (a folder, a bucket). */
  begin(): Promise<void> | void;
  open(runId: string): ArtifactStore;
}

let storeDir = '';
let s3Prefix = '';
let bucket: MemoryBucket = { artifacts: [], contents: new Map() };

const KINDS: StoreKind[] = [
  {
    name: 'the local folder store',
    begin: async () => {
      storeDir = path.join(work, 'store');
      await mkdir(storeDir);
    },
    open: (runId) => new LocalFolderStore(storeDir, runId),
  },
  {
    name: "GitHub's artifact store",
    begin: () => undefined,
    open: (runId) => {
      // The runner gives each job its run's token; the client reads it from the environment.
      enterFakeJob(fake, runId);
      return new githubStore.GitHubArtifactStore({
        runId,
        attempt: 1,
        token: READ_TOKEN,
        repository: { owner: 'acme', repo: 'apim' },
      });
    },
  },
  {
    name: 'the S3 store (s3rver: no conditional writes, the check before the upload keeps names unique)',
    begin: () => {
      s3Prefix = `contract/${randomBytes(4).toString('hex')}`;
    },
    open: (runId) =>
      new S3ArtifactStore({
        bucket: s3.bucket,
        prefix: s3Prefix,
        region: S3RVER_REGION,
        endpoint: s3.endpoint,
        forcePathStyle: true,
        runId,
      }),
  },
  {
    name: 'the in-memory store of the unit tests',
    begin: () => {
      bucket = { artifacts: [], contents: new Map() };
    },
    open: (runId) => createMemoryStore(runId, { bucket }),
  },
];

function newRun(): string {
  nextRun += 1;
  return String(nextRun);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Files as a backup has them: a dump larger than one upload block, a small one, a manifest in another folder. */
async function backupFiles(): Promise<{ files: string[]; contents: Map<string, Buffer> }> {
  const contents = new Map<string, Buffer>([
    ['apim_db.pgdump.age', randomBytes(9 * 1024 * 1024 + 17)],
    ['shared_db.sql.gz', randomBytes(3000)],
    ['manifest.json', Buffer.from('{"format":"apim-migrate-backup/1"}\n')],
  ]);
  const dumps = path.join(work, 'dumps');
  const meta = path.join(work, 'meta');
  await mkdir(dumps, { recursive: true });
  await mkdir(meta, { recursive: true });
  const files = [
    path.join(dumps, 'apim_db.pgdump.age'),
    path.join(dumps, 'shared_db.sql.gz'),
    path.join(meta, 'manifest.json'),
  ];
  for (const file of files) await writeFile(file, contents.get(path.basename(file)) ?? Buffer.alloc(0));
  return { files, contents };
}

async function readAll(paths: readonly string[]): Promise<Record<string, string>> {
  const read: Record<string, string> = {};
  for (const file of paths) read[path.basename(file)] = sha256(await readFile(file));
  return read;
}

const digests = (contents: Map<string, Buffer>): Record<string, string> =>
  Object.fromEntries([...contents].map(([name, data]) => [name, sha256(data)]));

describe.each(KINDS)('the store contract: $name', (kind) => {
  beforeEach(() => kind.begin());

  it("stores the files flat under the name, with each file's real size and sha256, and lists it", async () => {
    const runId = newRun();
    const store = kind.open(runId);
    const { files, contents } = await backupFiles();
    const stored = await store.upload('apim-migrate-apim-backup-a1', files, { retentionDays: 30 });
    expect(stored.name).toBe('apim-migrate-apim-backup-a1');
    expect(stored.runId).toBe(runId);
    expect([...stored.files].sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [...contents]
        .map(([name, data]) => ({ name, size: data.length, sha256: sha256(data) }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect((await store.list()).map((artifact) => [artifact.name, artifact.id])).toEqual([
      ['apim-migrate-apim-backup-a1', stored.id],
    ]);
  });

  it('gives the files back byte for byte', async () => {
    const store = kind.open(newRun());
    const { files, contents } = await backupFiles();
    await store.upload('apim-migrate-identity-backup-a1', files);
    const destination = path.join(work, 'download');
    const paths = await store.download('apim-migrate-identity-backup-a1', destination);
    expect(paths.every((file) => path.dirname(file) === destination)).toBe(true);
    expect(await readAll(paths)).toEqual(digests(contents));
  });

  it('never stores a name twice in a run, and keeps the first artifact as it was', async () => {
    const store = kind.open(newRun());
    const { files, contents } = await backupFiles();
    await store.upload('apim-migrate-registry-scripts-backup-a1', files);
    const other = path.join(work, 'other.txt');
    await writeFile(other, 'not the backup');
    await expect(store.upload('apim-migrate-registry-scripts-backup-a1', [other])).rejects.toBeInstanceOf(
      ArtifactExistsError,
    );
    expect((await store.list()).map((artifact) => artifact.name)).toEqual(['apim-migrate-registry-scripts-backup-a1']);
    const paths = await store.download('apim-migrate-registry-scripts-backup-a1', path.join(work, 'again'));
    expect(await readAll(paths)).toEqual(digests(contents));
  });

  it('lists and downloads the artifacts of another run by its id, and only its own by default', async () => {
    const earlier = newRun();
    const { files, contents } = await backupFiles();
    await kind.open(earlier).upload('apim-migrate-apim-backup-a1', files);
    const store = kind.open(newRun());
    expect(await store.list()).toEqual([]);
    expect((await store.list({ runId: earlier })).map((artifact) => artifact.name)).toEqual([
      'apim-migrate-apim-backup-a1',
    ]);
    const paths = await store.download('apim-migrate-apim-backup-a1', path.join(work, 'earlier'), { runId: earlier });
    expect(await readAll(paths)).toEqual(digests(contents));
  });

  it('says an artifact is not there with ArtifactNotFoundError', async () => {
    const runId = newRun();
    const store = kind.open(runId);
    await expect(store.download('apim-migrate-apim-backup-a9', path.join(work, 'none'))).rejects.toBeInstanceOf(
      ArtifactNotFoundError,
    );
  });
});
