import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore, newLocalRunId } from '../../src/artifacts/local-store.js';
import { sha256File } from '../../src/core/files.js';
import { ArtifactExistsError, ArtifactNotFoundError, artifactName } from '../../src/artifacts/store.js';

let dir: string;
let files: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'store-'));
  files = await mkdtemp(path.join(os.tmpdir(), 'files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(files, { recursive: true, force: true });
});

async function file(name: string, content: string): Promise<string> {
  const target = path.join(files, name);
  await writeFile(target, content);
  return target;
}

describe('artifactName', () => {
  it.each([
    ['preflight', 'report', 1, 'apim-migrate-preflight-report-a1'],
    ['registry-scripts', 'backup', 3, 'apim-migrate-registry-scripts-backup-a3'],
    ['apim', 'logs', 2, 'apim-migrate-apim-logs-a2'],
  ] as const)('%s %s attempt %d → %s', (stage, kind, attempt, expected) => {
    expect(artifactName(stage, kind, attempt)).toBe(expected);
  });
});

describe('LocalFolderStore', () => {
  it('stores files under runs/<run>/<name> with their sizes and sha256', async () => {
    const store = new LocalFolderStore(dir, 'run-a');
    const report = await file('report.json', '{"ok":true}\n');
    const stored = await store.upload('apim-migrate-preflight-report-a1', [report]);
    expect(stored.localDir).toBe(path.join(dir, 'runs', 'run-a', 'apim-migrate-preflight-report-a1'));
    expect(stored.files).toEqual([{ name: 'report.json', size: 12, sha256: await sha256File(report) }]);
    expect(await readFile(path.join(stored.localDir ?? '', 'report.json'), 'utf8')).toBe('{"ok":true}\n');
  });

  it('never overwrites an artifact and keeps the first one intact', async () => {
    const store = new LocalFolderStore(dir, 'run-a');
    await store.upload('apim-migrate-apim-backup-a1', [await file('a.txt', 'first')]);
    await expect(store.upload('apim-migrate-apim-backup-a1', [await file('b.txt', 'second')])).rejects.toBeInstanceOf(
      ArtifactExistsError,
    );
    const [artifact] = await store.list();
    expect(artifact?.files.map((entry) => entry.name)).toEqual(['a.txt']);
  });

  it('leaves nothing behind when an upload fails half way', async () => {
    const store = new LocalFolderStore(dir, 'run-a');
    const good = await file('a.txt', 'a');
    await expect(store.upload('apim-migrate-apim-logs-a1', [good, path.join(files, 'missing.txt')])).rejects.toThrow();
    expect(await readdir(path.join(dir, 'runs', 'run-a'))).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  it('lists and downloads the artifacts of another run', async () => {
    const first = new LocalFolderStore(dir, 'run-a');
    await first.upload('apim-migrate-registry-scripts-backup-a1', [await file('shared_db.pgdump', 'dump')]);
    const second = new LocalFolderStore(dir, 'run-b');
    expect(await second.list()).toEqual([]);
    expect((await second.list({ runId: 'run-a' })).map((artifact) => artifact.name)).toEqual([
      'apim-migrate-registry-scripts-backup-a1',
    ]);
    const target = path.join(files, 'restore');
    const paths = await second.download('apim-migrate-registry-scripts-backup-a1', target, { runId: 'run-a' });
    expect(paths).toEqual([path.join(target, 'shared_db.pgdump')]);
    expect(await readFile(paths[0] ?? '', 'utf8')).toBe('dump');
    await expect(second.download('apim-migrate-apim-backup-a1', target, { runId: 'run-a' })).rejects.toBeInstanceOf(
      ArtifactNotFoundError,
    );
  });

  it('reads the files of a store that was moved, from where it is now', async () => {
    await new LocalFolderStore(dir, 'run-a').upload('apim-migrate-preflight-report-a1', [
      await file('r.json', 'old\n'),
    ]);
    const moved = await mkdtemp(path.join(os.tmpdir(), 'moved-store-'));
    try {
      await cp(dir, moved, { recursive: true });
      await writeFile(path.join(dir, 'runs', 'run-a', 'apim-migrate-preflight-report-a1', 'r.json'), 'changed\n');
      const store = new LocalFolderStore(moved, 'run-b');
      const [listed] = await store.list({ runId: 'run-a' });
      expect(listed?.localDir).toBe(path.join(moved, 'runs', 'run-a', 'apim-migrate-preflight-report-a1'));
      const [copy] = await store.download('apim-migrate-preflight-report-a1', path.join(files, 'out'), {
        runId: 'run-a',
      });
      expect(await readFile(copy ?? '', 'utf8')).toBe('old\n');
    } finally {
      await rm(moved, { recursive: true, force: true });
    }
  });

  it('moves files it may take, and says where they are', async () => {
    const store = new LocalFolderStore(dir, 'run-a');
    const dump = await file('apim_db.pgdump', 'dump bytes');
    const stored = await store.upload('apim-migrate-apim-backup-a1', [dump], { moveFiles: true });
    await expect(stat(dump)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(stored.files).toEqual([
      { name: 'apim_db.pgdump', size: 10, sha256: createHash('sha256').update('dump bytes').digest('hex') },
    ]);
    expect(await store.localFolder('apim-migrate-apim-backup-a1')).toBe(stored.localDir);
    expect(await readFile(path.join(stored.localDir ?? '', 'apim_db.pgdump'), 'utf8')).toBe('dump bytes');
    expect(await store.localFolder('apim-migrate-apim-backup-a2')).toBeUndefined();
    expect(await new LocalFolderStore(dir, 'run-b').localFolder('apim-migrate-apim-backup-a1')).toBeUndefined();
    expect(
      await new LocalFolderStore(dir, 'run-b').localFolder('apim-migrate-apim-backup-a1', { runId: 'run-a' }),
    ).toBe(stored.localDir);
  });

  it('gives moved files back when the upload fails', async () => {
    const store = new LocalFolderStore(dir, 'run-a');
    const first = path.join(files, 'a', 'apim_db.pgdump');
    const second = path.join(files, 'b', 'apim_db.pgdump');
    for (const [target, content] of [
      [first, 'first'],
      [second, 'second'],
    ] as const) {
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    // The first file is moved, then the second one's name is refused.
    await expect(store.upload('apim-migrate-apim-backup-a1', [first, second], { moveFiles: true })).rejects.toThrow(
      /two files named apim_db\.pgdump/,
    );
    expect(await readFile(first, 'utf8')).toBe('first');
    expect(await readFile(second, 'utf8')).toBe('second');
    expect(await readdir(path.join(dir, 'runs', 'run-a'))).toEqual([]);
  });

  it('copies a file it may take from another filesystem, and leaves it there', async () => {
    // /dev/shm is a tmpfs on Linux: another filesystem than the temporary folder, so a rename cannot move the file.
    const otherFilesystem = '/dev/shm';
    if (!existsSync(otherFilesystem) || statSync(otherFilesystem).dev === statSync(os.tmpdir()).dev)
      throw new Error(`this test needs ${otherFilesystem} on another filesystem than ${os.tmpdir()}`);
    const elsewhere = await mkdtemp(path.join(otherFilesystem, 'files-'));
    try {
      const dump = path.join(elsewhere, 'apim_db.pgdump');
      await writeFile(dump, 'across');
      const stored = await new LocalFolderStore(dir, 'run-a').upload('apim-migrate-apim-backup-a1', [dump], {
        moveFiles: true,
      });
      expect(await readFile(path.join(stored.localDir ?? '', 'apim_db.pgdump'), 'utf8')).toBe('across');
      expect(await readFile(dump, 'utf8')).toBe('across');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('says which file is missing from an incomplete artifact', async () => {
    const store = new LocalFolderStore(dir, 'run-a');
    const stored = await store.upload('apim-migrate-x-backup-a1', [await file('manifest.json', '{}\n')]);
    await rm(path.join(stored.localDir ?? '', 'manifest.json'));
    await expect(store.download('apim-migrate-x-backup-a1', path.join(files, 'out'))).rejects.toThrow(
      /artifact apim-migrate-x-backup-a1 of run run-a is incomplete: manifest\.json is missing/,
    );
  });

  it('refuses names that would leave the store', async () => {
    const store = new LocalFolderStore(dir, 'run-a');
    await expect(store.upload('../escape', [await file('a.txt', 'a')])).rejects.toThrow(/not a safe artifact/);
    await expect(store.list({ runId: '../../etc' })).rejects.toThrow(/not a safe/);
  });
});

describe('newLocalRunId', () => {
  it('gives sortable time stamps and a new id for every call in the same second', async () => {
    const now = new Date('2026-11-24T20:33:00.123Z');
    const ids = [await newLocalRunId(dir, now), await newLocalRunId(dir, now), await newLocalRunId(dir, now)];
    expect(ids).toEqual(['20261124T203300Z', '20261124T203300Z-2', '20261124T203300Z-3']);
  });
});

describe('LocalFolderStore: private files', () => {
  let umask: number;
  beforeEach(() => {
    // The most permissive umask: every mode below is apim-migrate's own, not the umask's.
    umask = process.umask(0);
  });
  afterEach(() => {
    process.umask(umask);
  });

  const modeOf = (target: string) => statSync(target).mode & 0o777;

  async function storeEverything(store: LocalFolderStore, name: string): Promise<string> {
    const copied = await file('report.json', '{}\n');
    const moved = await file('dump.pgdump', 'dump');
    const stored = await store.upload(name, [copied], {});
    await store.upload(`${name}-moved`, [moved], { moveFiles: true });
    return stored.localDir ?? '';
  }

  it('makes the store, runs/, the run, the artifact folders 0700 and their files 0600', async () => {
    const root = path.join(dir, 'new', '.apim-migrate');
    const runId = await newLocalRunId(root);
    const artifactDir = await storeEverything(new LocalFolderStore(root, runId), 'apim-migrate-apim-report-a1');

    for (const folder of [path.dirname(root), root, path.join(root, 'runs'), path.join(root, 'runs', runId)]) {
      expect(modeOf(folder), folder).toBe(0o700);
    }
    for (const artifact of [artifactDir, `${artifactDir}-moved`]) {
      expect(modeOf(artifact)).toBe(0o700);
      for (const name of await readdir(artifact)) expect(modeOf(path.join(artifact, name)), name).toBe(0o600);
    }
    // Files given in with wider modes (the umask's 0666 here) are narrowed too, moved or copied.
    expect(await readdir(`${artifactDir}-moved`)).toEqual(['.artifact.json', 'dump.pgdump']);
  });

  it('with groupAccess makes them 0750 and 0640', async () => {
    const root = path.join(dir, '.apim-migrate');
    const runId = await newLocalRunId(root, new Date(), { dir: 0o750, file: 0o640 });
    const store = new LocalFolderStore(root, runId, { groupAccess: true });
    const artifactDir = await storeEverything(store, 'apim-migrate-apim-logs-a1');

    for (const folder of [root, path.join(root, 'runs'), path.join(root, 'runs', runId), artifactDir]) {
      expect(modeOf(folder), folder).toBe(0o750);
    }
    for (const name of await readdir(artifactDir)) expect(modeOf(path.join(artifactDir, name))).toBe(0o640);
  });

  it('a run folder made by another store than the one that uploads still gets the store modes', async () => {
    // APIM_MIGRATE_RUN_ID names the run: newLocalRunId is not called, upload makes the folders.
    const root = path.join(dir, 'named');
    const store = new LocalFolderStore(root, 'my-run');
    const artifactDir = await storeEverything(store, 'apim-migrate-preflight-report-a1');
    for (const folder of [root, path.join(root, 'runs'), path.join(root, 'runs', 'my-run'), artifactDir]) {
      expect(modeOf(folder), folder).toBe(0o700);
    }
  });

  it('leaves a store folder that exists with wider modes as it is, says so once, and keeps the artifacts private', async () => {
    const root = path.join(dir, 'shared');
    await mkdir(path.join(root, 'runs', 'run-a'), { recursive: true, mode: 0o777 });
    const warnings: string[] = [];
    const store = new LocalFolderStore(root, 'run-a', { onWarning: (message) => warnings.push(message) });

    const artifactDir = await storeEverything(store, 'apim-migrate-apim-backup-a1');

    expect(modeOf(root)).toBe(0o777);
    expect(modeOf(artifactDir)).toBe(0o700);
    // One warning per folder of the store that is wider, on the first upload only.
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toContain(`the store folder ${root} is 0777`);
    expect(warnings[0]).toMatch(/chmod 700 .*store\.groupAccess: true/);
  });

  it('says nothing of folders that are as narrow as the store', async () => {
    const warnings: string[] = [];
    const root = path.join(dir, 'narrow');
    const store = new LocalFolderStore(root, await newLocalRunId(root), { onWarning: (text) => warnings.push(text) });
    await storeEverything(store, 'apim-migrate-apim-backup-a1');
    expect(warnings).toEqual([]);
  });

  it('downloads into a private folder with private files', async () => {
    const store = new LocalFolderStore(dir, 'run-a');
    await store.upload('apim-migrate-apim-backup-a1', [await file('shared_db.pgdump', 'dump')]);
    const destination = path.join(files, 'restore', 'here');
    const [downloaded] = await store.download('apim-migrate-apim-backup-a1', destination);
    expect(modeOf(destination)).toBe(0o700);
    expect(modeOf(downloaded ?? '')).toBe(0o600);
  });
});
