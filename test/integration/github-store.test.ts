// Only types statically: @actions/artifact (through @actions/github) must load after GITHUB_API_URL is set.
import type { ArtifactClient } from '@actions/artifact';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError, UnsupportedError } from '../../src/core/errors.js';
import { ArtifactExistsError, ArtifactNotFoundError } from '../../src/artifacts/store.js';
import {
  ARTIFACT_JOB_ENV,
  enterFakeJob,
  startFakeArtifactService,
  type FakeArtifactService,
} from '../helpers/fake-artifact-service.js';
import { writeZip } from '../helpers/wso2-fixtures.js';

type StoreModule = typeof import('../../src/artifacts/github-store.js');

const REPOSITORY = { owner: 'acme', repo: 'apim' };
const READ_TOKEN = 'ghs_fake_read_token';

let fake: FakeArtifactService;
let mod: StoreModule;
let artifactModule: typeof import('@actions/artifact');
let saved: Record<string, string | undefined>;
let work: string;
let nextRun = 5000;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Points the real client at the fake as job `attempt` of `runId`, the way the runner's environment does. */
function enterJob(runId: string, attempt = 1): void {
  enterFakeJob(fake, runId, attempt, `${REPOSITORY.owner}/${REPOSITORY.repo}`);
}

function newRun(): string {
  nextRun += 1;
  return String(nextRun);
}

beforeAll(async () => {
  saved = Object.fromEntries(ARTIFACT_JOB_ENV.map((key) => [key, process.env[key]]));
  fake = await startFakeArtifactService({ readToken: READ_TOKEN, repository: 'acme/apim' });
  // @actions/github reads GITHUB_API_URL once, when it is first imported: set it before the store is loaded.
  process.env['GITHUB_API_URL'] = fake.url;
  mod = await import('../../src/artifacts/github-store.js');
  artifactModule = await import('@actions/artifact');
});

afterAll(async () => {
  await fake.close();
  for (const key of ARTIFACT_JOB_ENV) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

let perTest: Record<string, string | undefined>;
beforeEach(async () => {
  perTest = Object.fromEntries(ARTIFACT_JOB_ENV.map((key) => [key, process.env[key]]));
  fake.configure({ conflictOnReusedName: true, notFoundForEarlierAttempts: false });
  work = await mkdtemp(path.join(os.tmpdir(), 'github-store-test-'));
});

afterEach(async () => {
  for (const key of ARTIFACT_JOB_ENV) {
    if (perTest[key] === undefined) delete process.env[key];
    else process.env[key] = perTest[key];
  }
  await rm(work, { recursive: true, force: true });
});

async function backupFiles(): Promise<{ files: string[]; contents: Map<string, Buffer> }> {
  const contents = new Map<string, Buffer>([
    // Bigger than the client's 8 MiB block, and incompressible: the upload takes several Put Block calls.
    ['apim_db.pgdump.age', randomBytes(9 * 1024 * 1024 + 123)],
    ['shared_db.sql.gz.age', randomBytes(4096)],
    ['manifest.json', Buffer.from('{"stage":"apim"}\n')],
  ]);
  await mkdir(path.join(work, 'dumps'), { recursive: true });
  await mkdir(path.join(work, 'meta'), { recursive: true });
  const files = [
    path.join(work, 'dumps', 'apim_db.pgdump.age'),
    path.join(work, 'dumps', 'shared_db.sql.gz.age'),
    // In another folder: the artifact still holds the three files flat.
    path.join(work, 'meta', 'manifest.json'),
  ];
  for (const file of files) await writeFile(file, contents.get(path.basename(file)) ?? Buffer.alloc(0));
  return { files, contents };
}

describe('GitHubArtifactStore against a fake artifact service', () => {
  it('uploads several files, lists them and downloads them back byte-identical', async () => {
    const runId = newRun();
    enterJob(runId);
    const store = new mod.GitHubArtifactStore({ runId, attempt: 1, token: READ_TOKEN, repository: REPOSITORY });
    expect(store.kind).toBe('github');
    const { files, contents } = await backupFiles();

    const stored = await store.upload('apim-migrate-apim-backup-a1', files, { retentionDays: 30 });
    expect(stored.runId).toBe(runId);
    expect(stored.location).toBe(`https://github.com/acme/apim/actions/runs/${runId}/artifacts/${stored.id}`);
    expect(stored.files.map((file) => file.name).sort()).toEqual([...contents.keys()].sort());
    for (const file of stored.files) expect(file.sha256).toBe(sha256(contents.get(file.name) ?? Buffer.alloc(0)));

    const held = fake.artifacts().find((artifact) => String(artifact.id) === stored.id);
    expect(held?.finalized).toBe(true);
    // retentionDays: 30 becomes the artifact's expiry, 30 days from now.
    const days = (Date.parse(held?.expiresAt ?? '') - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    expect(fake.requests().filter((request) => request.startsWith('PUT /blob/')).length).toBeGreaterThanOrEqual(3);

    const listed = await store.list();
    expect(listed.map((artifact) => [artifact.name, artifact.id])).toEqual([
      ['apim-migrate-apim-backup-a1', stored.id],
    ]);

    const destination = path.join(work, 'restore');
    const paths = await store.download('apim-migrate-apim-backup-a1', destination);
    expect(paths.map((file) => path.relative(destination, file)).sort()).toEqual([...contents.keys()].sort());
    for (const file of paths) {
      expect(sha256(await readFile(file))).toBe(sha256(contents.get(path.basename(file)) ?? Buffer.alloc(0)));
    }
  });

  it('refuses a reused name, before uploading and when the service answers 409', async () => {
    const runId = newRun();
    enterJob(runId);
    const { files } = await backupFiles();
    const store = new mod.GitHubArtifactStore({ runId, attempt: 1, repository: REPOSITORY });
    await store.upload('apim-migrate-identity-logs-a1', files.slice(1));
    await expect(store.upload('apim-migrate-identity-logs-a1', files.slice(1))).rejects.toBeInstanceOf(
      ArtifactExistsError,
    );

    // A racing upload: the list does not show the name yet, CreateArtifact answers 409.
    const real = new artifactModule.DefaultArtifactClient();
    const racing: ArtifactClient = {
      uploadArtifact: (...args) => real.uploadArtifact(...args),
      downloadArtifact: (...args) => real.downloadArtifact(...args),
      getArtifact: (...args) => real.getArtifact(...args),
      deleteArtifact: (...args) => real.deleteArtifact(...args),
      listArtifacts: () => Promise.resolve({ artifacts: [] }),
    };
    const raced = new mod.GitHubArtifactStore({ runId, attempt: 1, repository: REPOSITORY, client: racing });
    const before = fake.artifacts().length;
    await expect(raced.upload('apim-migrate-identity-logs-a1', files.slice(1))).rejects.toBeInstanceOf(
      ArtifactExistsError,
    );
    expect(fake.artifacts().length).toBe(before);
  });

  it.each([
    ['a name that leaves the folder', [{ path: '../evil.sh', content: 'pwned' }], 'has a ".." segment'],
    ['an absolute name', [{ path: '/etc/cron.d/evil', content: 'pwned' }], 'has an absolute path'],
    ['a symbolic link', [{ path: 'manifest.json', linkTo: '/etc/passwd' }], 'is a symbolic link'],
  ])('refuses an artifact whose zip holds %s, and writes nothing', async (_label, entries, problem) => {
    const runId = newRun();
    enterJob(runId);
    const { files } = await backupFiles();
    const store = new mod.GitHubArtifactStore({ runId, attempt: 1, repository: REPOSITORY });
    await store.upload('apim-migrate-apim-backup-a1', files);
    // The service hands back another zip than the one uploaded, with a matching digest.
    const zipFile = path.join(work, 'evil.zip');
    await writeZip(zipFile, [{ path: 'apim_db.pgdump.age', content: 'dump' }, ...entries]);
    const held = fake.artifacts().find((artifact) => artifact.runId === runId);
    if (held === undefined) throw new Error('the fake holds no artifact');
    fake.replaceContent(held.id, await readFile(zipFile));

    const destination = path.join(work, 'restore');
    const error = await store.download('apim-migrate-apim-backup-a1', destination).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain('Refusing to unpack artifact apim-migrate-apim-backup-a1');
    expect((error as Error).message).toContain(problem);
    expect(await readdir(destination)).toEqual([]);
  });

  it('falls back to the REST API when the download of an earlier attempt answers 404', async () => {
    fake.configure({ notFoundForEarlierAttempts: true });
    const runId = newRun();
    enterJob(runId, 1);
    const { files, contents } = await backupFiles();
    const first = new mod.GitHubArtifactStore({ runId, attempt: 1, repository: REPOSITORY });
    await first.upload('apim-migrate-apim-backup-a1', files.slice(1));

    enterJob(runId, 2);
    const withoutToken = new mod.GitHubArtifactStore({ runId, attempt: 2, repository: REPOSITORY });
    await expect(withoutToken.download('apim-migrate-apim-backup-a1', path.join(work, 'x'))).rejects.toThrow(
      /github-token/,
    );

    const second = new mod.GitHubArtifactStore({ runId, attempt: 2, token: READ_TOKEN, repository: REPOSITORY });
    const before = fake.requests().length;
    const paths = await second.download('apim-migrate-apim-backup-a1', path.join(work, 'again'));
    const requests = fake.requests().slice(before);
    expect(requests).toContain('POST /twirp/github.actions.results.api.v1.ArtifactService/GetSignedArtifactURL');
    expect(requests).toContain(`GET /repos/acme/apim/actions/runs/${runId}/artifacts`);
    expect(paths.map((file) => path.basename(file)).sort()).toEqual(['manifest.json', 'shared_db.sql.gz.age']);
    for (const file of paths) {
      expect(sha256(await readFile(file))).toBe(sha256(contents.get(path.basename(file)) ?? Buffer.alloc(0)));
    }
  });

  it('lists and downloads the artifacts of another run with the github-token, and explains a 403', async () => {
    const otherRun = newRun();
    enterJob(otherRun);
    const { files, contents } = await backupFiles();
    await new mod.GitHubArtifactStore({ runId: otherRun, attempt: 1 }).upload('apim-migrate-apim-backup-a1', files);

    const runId = newRun();
    enterJob(runId);
    const store = new mod.GitHubArtifactStore({ runId, attempt: 1, token: READ_TOKEN });
    expect((await store.list({ runId: otherRun })).map((artifact) => artifact.name)).toEqual([
      'apim-migrate-apim-backup-a1',
    ]);
    expect(await store.list()).toEqual([]);
    const paths = await store.download('apim-migrate-apim-backup-a1', path.join(work, 'other'), { runId: otherRun });
    expect(paths).toHaveLength(3);
    for (const file of paths) {
      expect(sha256(await readFile(file))).toBe(sha256(contents.get(path.basename(file)) ?? Buffer.alloc(0)));
    }
    await expect(
      store.download('apim-migrate-nothing-backup-a1', path.join(work, 'none'), { runId: otherRun }),
    ).rejects.toBeInstanceOf(ArtifactNotFoundError);

    const weak = new mod.GitHubArtifactStore({ runId, attempt: 1, token: 'ghs_without_actions_read' });
    const refused = weak.list({ runId: otherRun });
    await expect(refused).rejects.toBeInstanceOf(InputError);
    await expect(refused).rejects.toThrow(/actions: read/);

    const noToken = new mod.GitHubArtifactStore({ runId, attempt: 1 });
    await expect(noToken.list({ runId: otherRun })).rejects.toThrow(/github-token/);
  });

  it('reads where another run comes from through the REST API, with the github-token', async () => {
    const runId = newRun();
    enterJob(runId);
    fake.configure({
      runs: { '4242': { event: 'pull_request', path: '.github/workflows/ci.yml', headRepository: 'mallory/apim' } },
    });
    const store = new mod.GitHubArtifactStore({ runId, attempt: 1, token: READ_TOKEN });
    expect(await store.runOrigin('4242')).toEqual({
      repository: 'acme/apim',
      headRepository: 'mallory/apim',
      event: 'pull_request',
      workflowPath: '.github/workflows/ci.yml',
      url: 'https://github.com/acme/apim/actions/runs/4242',
    });
    expect(fake.requests()).toContain('GET /repos/acme/apim/actions/runs/4242');
    expect((await store.runOrigin('4243')).event).toBe('workflow_dispatch');

    const weak = new mod.GitHubArtifactStore({ runId, attempt: 1, token: 'ghs_without_actions_read' });
    await expect(weak.runOrigin('4242')).rejects.toThrow(/actions: read/);
    const noToken = new mod.GitHubArtifactStore({ runId, attempt: 1 });
    await expect(noToken.runOrigin('4242')).rejects.toThrow(/github-token/);
  });

  it('refuses GitHub Enterprise Server early, saying what to do', () => {
    enterJob(newRun());
    process.env['GITHUB_SERVER_URL'] = 'https://github.example.internal';
    expect(() => new mod.GitHubArtifactStore({ runId: '1', attempt: 1 })).toThrow(UnsupportedError);
    expect(() => new mod.GitHubArtifactStore({ runId: '1', attempt: 1 })).toThrow(
      /on this server keep them elsewhere: set store\.kind: folder \(store\.dir.*\) or s3 \(store\.bucket/,
    );
    expect(mod.isGhesUrl('https://acme.ghe.com')).toBe(false);
    expect(mod.isGhesUrl('https://github.com')).toBe(false);
  });

  it("explains the client's own GHES refusal the same way", async () => {
    const runId = newRun();
    enterJob(runId);
    const refusing: ArtifactClient = {
      uploadArtifact: () => Promise.reject(new artifactModule.GHESNotSupportedError()),
      downloadArtifact: () => Promise.reject(new artifactModule.GHESNotSupportedError()),
      getArtifact: () => Promise.reject(new artifactModule.GHESNotSupportedError()),
      deleteArtifact: () => Promise.reject(new artifactModule.GHESNotSupportedError()),
      listArtifacts: () => Promise.reject(new artifactModule.GHESNotSupportedError()),
    };
    const store = new mod.GitHubArtifactStore({ runId, attempt: 1, repository: REPOSITORY, client: refusing });
    await expect(store.list()).rejects.toThrow(UnsupportedError);
    await expect(store.list()).rejects.toThrow(/set store\.kind: folder \(store\.dir.*\) or s3 \(store\.bucket/);
  });
});
