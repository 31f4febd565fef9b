/**
 * Which store and which run an invocation gets (src/artifacts/create-store.ts): inside GitHub Actions every store
 * takes GitHub's run id and attempt, and only GitHub's artifact store needs the runner's artifact credentials;
 * outside, a folder store claims a new run's folder and an S3 store names its run by the time and random letters.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStore, resolveRunIdentity } from '../../src/artifacts/create-store.js';
import { LocalFolderStore } from '../../src/artifacts/local-store.js';
import { S3ArtifactStore } from '../../src/artifacts/s3-store.js';
import type { StoreConfig } from '../../src/config/types.js';
import { UnsupportedError } from '../../src/core/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'create-store-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A job of run 4711, attempt 2, as the runner describes it to a `run:` step: no artifact credentials. */
const JOB = { GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '4711', GITHUB_RUN_ATTEMPT: '2' };
const S3: StoreConfig['s3'] = { bucket: 'apim-backups', prefix: 'prod', region: 'eu-west-1', forcePathStyle: false };

function store(kind: StoreConfig['kind']): StoreConfig {
  return { kind, dir: path.join(dir, 'store'), groupAccess: false, ...(kind === 's3' ? { s3: S3 } : {}) };
}

describe('resolveRunIdentity', () => {
  it.each(['github', 'folder', 's3'] as const)(
    'takes GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT inside Actions with the %s store',
    async (kind) => {
      expect(await resolveRunIdentity(JOB, store(kind))).toEqual({ runId: '4711', attempt: 2 });
      // Nothing is claimed in the folder: GitHub's run id is unique already.
      expect(existsSync(path.join(dir, 'store'))).toBe(false);
    },
  );

  it('claims a new run folder outside Actions with the folder store', async () => {
    const now = new Date('2026-11-24T20:33:00.123Z');
    const first = await resolveRunIdentity({}, store('folder'), now);
    const second = await resolveRunIdentity({}, store('folder'), now);
    expect([first, second]).toEqual([
      { runId: '20261124T203300Z', attempt: 1 },
      { runId: '20261124T203300Z-2', attempt: 1 },
    ]);
    expect((await readdir(path.join(dir, 'store', 'runs'))).sort()).toEqual(['20261124T203300Z', '20261124T203300Z-2']);
  });

  it('names a run by the time and random letters outside Actions with the S3 store, and makes no folder', async () => {
    const now = new Date('2026-11-24T20:33:00Z');
    const ids = await Promise.all([1, 2, 3].map(() => resolveRunIdentity({}, store('s3'), now)));
    for (const id of ids)
      expect(id).toEqual({ runId: expect.stringMatching(/^20261124T203300Z-[0-9a-f]{8}$/), attempt: 1 });
    expect(new Set(ids.map((id) => id.runId)).size).toBe(3);
    expect(existsSync(path.join(dir, 'store'))).toBe(false);
  });

  it('takes APIM_MIGRATE_RUN_ID outside Actions with any store', async () => {
    for (const kind of ['folder', 's3'] as const) {
      expect(await resolveRunIdentity({ APIM_MIGRATE_RUN_ID: 'rehearsal-7' }, store(kind))).toEqual({
        runId: 'rehearsal-7',
        attempt: 1,
      });
    }
  });

  it('refuses GitHub artifacts outside Actions, saying to use folder or s3', async () => {
    await expect(resolveRunIdentity({}, store('github'))).rejects.toThrow(
      /store\.kind github .* works only inside GitHub Actions: here, set store\.kind: folder \(with store\.dir\) or s3 \(with store\.bucket\)/,
    );
  });
});

describe('createStore', () => {
  const run = { runId: '4711', attempt: 2 };

  it('makes a folder store inside Actions without the artifact credentials', () => {
    const made = createStore({ store: store('folder'), env: JOB, run });
    expect(made).toBeInstanceOf(LocalFolderStore);
    expect(made.kind).toBe('folder');
  });

  it('makes an S3 store inside and outside Actions, which has no run origin to check', () => {
    for (const env of [JOB, {}]) {
      const made = createStore({ store: store('s3'), env, run });
      expect(made).toBeInstanceOf(S3ArtifactStore);
      expect(made.kind).toBe('s3');
      expect(made.description).toBe('S3 bucket apim-backups (s3://apim-backups/prod/)');
      expect(made.runOrigin).toBeUndefined();
      expect(made.localFolder).toBeUndefined();
    }
  });

  it("says a run: step has no artifact credentials for GitHub's store, and what to do instead", () => {
    expect(() => createStore({ store: store('github'), env: JOB, run })).toThrow(UnsupportedError);
    expect(() => createStore({ store: store('github'), env: JOB, run })).toThrow(
      /ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL are not set: .* run apim-migrate as the action, or keep the artifacts elsewhere with store\.kind: folder \(store\.dir\) or s3 \(store\.bucket\)/,
    );
  });

  it('says GitHub Enterprise Server needs the folder or the S3 store', () => {
    const env = {
      ...JOB,
      ACTIONS_RUNTIME_TOKEN: 't',
      ACTIONS_RESULTS_URL: 'https://results',
      GITHUB_SERVER_URL: 'https://ghes.example',
    };
    expect(() => createStore({ store: store('github'), env, run })).toThrow(
      /GitHub Enterprise Server \(https:\/\/ghes\.example\) .* set store\.kind: folder .* or s3/,
    );
  });
});
