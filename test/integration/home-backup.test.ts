/**
 * Backups of API-M home files (the startup stage's solr folder and deployment.toml) with the system tar, real files in
 * temporary folders and the local folder store: round trips with both kinds of encryption, an absent folder, and the
 * damaged, foreign and hostile artifacts a restore must refuse without touching the home.
 */

import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  chmod,
  copyFile,
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  truncate,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../src/artifacts/local-store.js';
import type { ArtifactStore } from '../../src/artifacts/store.js';
import { authenticateManifest } from '../../src/backup/authentication.js';
import { BackupVerificationError } from '../../src/backup/create-backup.js';
import { encryptFile, type DecryptionMode, type EncryptionMode } from '../../src/backup/encryption.js';
import {
  createHomeBackup,
  restoreHomeBackup,
  type HomeBackupItem,
  type HomeBackupResult,
  type RestoreHomeBackupOptions,
} from '../../src/backup/home-backup.js';
import { MANIFEST_FILE, serializeManifest, type BackupManifest } from '../../src/backup/manifest.js';
import { BackupRejectedError, restoreBackup, type ExpectedEncryption } from '../../src/backup/restore-backup.js';
import { InputError } from '../../src/core/errors.js';
import { sha256File } from '../../src/core/files.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { TOOL_VERSION } from '../../src/core/version.js';
import { DISTINCTIVE_VALUE } from '../helpers/backup-fixtures.js';
import { postgresAdminTarget } from '../helpers/databases.js';
import { createRecordingLogger, type RecordingLogger } from '../helpers/fakes.js';

const run = promisify(execFile);

const PASSPHRASE = 'correct horse battery staple 42';
const ITEMS: HomeBackupItem[] = [
  { path: 'solr', kind: 'folder' },
  { path: 'repository/conf/deployment.toml', kind: 'file' },
];
const TOML = 'repository/conf/deployment.toml';
/** An account other than root's, for the home's files when the tests run as root. */
const SERVER_ACCOUNT = { uid: 4242, gid: 4343 };

describe('backups of API-M home files', () => {
  let baseDir: string;
  let storeDir: string;
  let workDir: string;
  let store: LocalFolderStore;
  let runId: string;
  let counter = 0;

  beforeAll(async () => {
    baseDir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-home-bkp-'));
    storeDir = path.join(baseDir, 'store');
    workDir = path.join(baseDir, 'work');
    runId = `run-${process.pid}`;
    store = new LocalFolderStore(storeDir, runId);
  });

  afterAll(async () => {
    if (baseDir) await rm(baseDir, { recursive: true, force: true });
  });

  function nextName(label = 'startup'): string {
    counter += 1;
    return `apim-migrate-${label}-backup-a${counter}`;
  }

  /** An API-M home with a nested solr index (binary files, an empty folder, a link inside) and deployment.toml. */
  async function makeHome(options: { solr?: boolean } = {}): Promise<string> {
    const home = await mkdtemp(path.join(baseDir, 'home-'));
    await mkdir(path.join(home, 'repository', 'conf'), { recursive: true });
    await writeFile(path.join(home, TOML), `[server]\nhostname = "localhost"\n# ${DISTINCTIVE_VALUE}\n`);
    await chmod(path.join(home, TOML), 0o640);
    await writeFile(path.join(home, 'repository', 'conf', 'log4j2.properties'), 'rootLogger.level = INFO\n');
    if (options.solr !== false) {
      const index = path.join(home, 'solr', 'data', 'registry-indexing', 'index');
      await mkdir(index, { recursive: true });
      await mkdir(path.join(home, 'solr', 'data', 'empty'), { recursive: true });
      await mkdir(path.join(home, 'solr', 'conf'), { recursive: true });
      await writeFile(path.join(index, '_0.cfs'), Buffer.concat([allBytes(), Buffer.from(DISTINCTIVE_VALUE)]));
      await writeFile(path.join(index, 'segments_2'), Buffer.alloc(70_000, 7));
      await writeFile(path.join(index, 'write.lock'), '');
      await writeFile(path.join(home, 'solr', 'conf', 'schema.xml'), '<schema name="registry"/>\n', { mode: 0o600 });
      await symlink('registry-indexing/index', path.join(home, 'solr', 'data', 'current'));
    }
    // The server's own account owns the home; run as root, the restore must give its files back to that account.
    if (process.getuid?.() === 0) {
      for (const name of ['', ...(await readdir(home, { recursive: true }))]) {
        await lchown(path.join(home, name), SERVER_ACCOUNT.uid, SERVER_ACCOUNT.gid);
      }
    }
    return home;
  }

  /** What the server's first start might do: change, add and remove index files, and edit deployment.toml. */
  async function changeHome(home: string): Promise<void> {
    const index = path.join(home, 'solr', 'data', 'registry-indexing', 'index');
    await writeFile(path.join(index, '_0.cfs'), 'rewritten by a 4.2.0 start');
    await writeFile(path.join(index, '_1.cfs'), 'added by a 4.2.0 start');
    await rm(path.join(index, 'segments_2'));
    await rm(path.join(home, 'solr', 'data', 'empty'), { recursive: true });
    await writeFile(path.join(home, TOML), '[server]\nhostname = "changed"\n');
  }

  async function backup(
    home: string,
    encryption: EncryptionMode,
    options: { name?: string; logger?: RecordingLogger; useStore?: ArtifactStore; items?: HomeBackupItem[] } = {},
  ): Promise<HomeBackupResult> {
    return createHomeBackup({
      stage: 'startup',
      artifactName: options.name ?? nextName(),
      apimHome: home,
      items: options.items ?? ITEMS,
      store: options.useStore ?? store,
      run: { runId, attempt: 1 },
      encryption,
      logger: options.logger ?? createRecordingLogger(),
      workDir,
      retentionDays: 30,
      toolVersion: TOOL_VERSION,
    });
  }

  function restore(
    home: string,
    artifactName: string,
    decryption: DecryptionMode,
    extra: Partial<RestoreHomeBackupOptions> = {},
  ) {
    return restoreHomeBackup({
      artifactName,
      runId,
      store,
      decryption,
      apimHome: home,
      logger: createRecordingLogger(),
      workDir,
      expectedEncryption: expectedFor(decryption),
      ...extra,
    });
  }

  function storedFile(result: HomeBackupResult, file: string): string {
    return path.join(storeDir, 'runs', runId, result.artifact.name, file);
  }

  function solrEntry(manifest: BackupManifest) {
    const entry = manifest.homeFiles?.find((item) => item.path === 'solr');
    if (!entry) throw new Error('no solr entry');
    return entry;
  }

  /**
   * Stores a variant of a backup under a new name, as the tool itself never would: `change` may alter the stored files
   * (in `dir`) and the manifest, which is then written (authenticated again with the passphrase when `sign` is set).
   */
  async function storeVariant(
    result: HomeBackupResult,
    change: (dir: string, manifest: BackupManifest) => Promise<void>,
    options: { sign?: boolean } = {},
  ): Promise<string> {
    const dir = await mkdtemp(path.join(baseDir, 'variant-'));
    const files: string[] = [];
    for (const entry of result.manifest.homeFiles ?? []) {
      if (!entry.file) continue;
      await copyFile(storedFile(result, entry.file), path.join(dir, entry.file));
      files.push(path.join(dir, entry.file));
    }
    const name = nextName('variant');
    let manifest: BackupManifest = { ...structuredClone(result.manifest), artifact: name };
    await change(dir, manifest);
    if (options.sign) manifest = await authenticateManifest(manifest, { passphrase: PASSPHRASE });
    await writeFile(path.join(dir, MANIFEST_FILE), serializeManifest(manifest));
    await store.upload(name, [...files, path.join(dir, MANIFEST_FILE)]);
    return name;
  }

  /** Points a manifest entry at the stored file as it is now, so that only the later checks can refuse it. */
  async function matchEntry(manifest: BackupManifest, dir: string): Promise<void> {
    const entry = solrEntry(manifest);
    const file = path.join(dir, entry.file!);
    entry.bytes = (await stat(file)).size;
    entry.sha256 = await sha256File(file);
  }

  async function expectRefused(
    home: string,
    artifactName: string,
    message: RegExp,
    extra: Partial<RestoreHomeBackupOptions> = {},
  ): Promise<void> {
    const before = await digestsOf(home);
    const error = await restore(home, artifactName, { kind: 'passphrase', passphrase: PASSPHRASE }, extra).catch(
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(BackupRejectedError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/Nothing was changed/);
    expect(await digestsOf(home)).toEqual(before);
    expect(await filesUnder(workDir)).toEqual([]);
  }

  it('keeps solr and deployment.toml encrypted with a passphrase, and puts both back after they changed', async () => {
    const home = await makeHome();
    const original = await digestsOf(home);
    const name = nextName();
    const logger = createRecordingLogger();
    const result = await backup(home, { kind: 'passphrase', passphrase: PASSPHRASE }, { name, logger });

    const { manifest } = result;
    expect(manifest).toMatchObject({ stage: 'startup', artifact: name, runId, databases: [] });
    expect(manifest.encryption).toEqual({ mode: 'passphrase' });
    expect(manifest.authentication?.passphraseMac).toBeDefined();
    expect(manifest.homeFiles).toEqual([
      {
        path: 'solr',
        kind: 'folder',
        present: true,
        file: 'home-1-solr.tar.gz.age',
        bytes: expect.any(Number),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        encrypted: true,
        entries: 4,
        contentBytes: 256 + DISTINCTIVE_VALUE.length + 70_000 + 0 + '<schema name="registry"/>\n'.length,
      },
      {
        path: TOML,
        kind: 'file',
        present: true,
        file: 'home-2-deployment.toml.age',
        bytes: expect.any(Number),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        encrypted: true,
        contentBytes: (await stat(path.join(home, TOML))).size,
      },
    ]);
    const artifactDir = path.join(storeDir, 'runs', runId, name);
    expect((await readdir(artifactDir)).sort()).toEqual(
      ['.artifact.json', MANIFEST_FILE, 'home-1-solr.tar.gz.age', 'home-2-deployment.toml.age'].sort(),
    );
    expect(result.manifestSha256).toBe(await sha256File(path.join(artifactDir, MANIFEST_FILE)));
    for (const file of ['home-1-solr.tar.gz.age', 'home-2-deployment.toml.age']) {
      const bytes = await readFile(path.join(artifactDir, file));
      expect(bytes.subarray(0, 22).toString('latin1')).toBe('age-encryption.org/v1\n');
      expect(bytes.includes(DISTINCTIVE_VALUE)).toBe(false);
    }
    // The backup leaves the home as it was (removing solr is the stage's), and nothing behind in the work folder.
    expect(await digestsOf(home)).toEqual(original);
    expect(await filesUnder(workDir)).toEqual([]);
    const log = logger.lines.join('\n');
    expect(log).toMatch(/solr: 4 files, 68\.\d KiB, stored as home-1-solr\.tar\.gz\.age/);
    expect(log).toContain(`Backup ${name} verified: home-1-solr.tar.gz.age`);
    expect(log).toMatch(/manifest authenticated with an HMAC of the passphrase/);

    await changeHome(home);
    expect(await digestsOf(home)).not.toEqual(original);
    const restoreLogger = createRecordingLogger();
    const restored = await restore(
      home,
      name,
      { kind: 'passphrase', passphrase: PASSPHRASE },
      { logger: restoreLogger, manifestSha256: result.manifestSha256 },
    );
    expect(restored.restored).toEqual(['solr', TOML]);
    expect(restored.removed).toEqual([]);
    expect(restored.manifest).toEqual(manifest);
    expect(await digestsOf(home)).toEqual(original);
    expect(restoreLogger.lines.join('\n')).toMatch(/solr: checked \(decrypted, 4 files, 68\.\d KiB\)/);
    expect(restoreLogger.lines.join('\n')).toContain(`Restored backup ${name} of run ${runId} into ${home}`);
    // No plaintext stays in the work folder, nor anything else of the restore's, there or in the home.
    expect(await filesUnder(workDir)).toEqual([]);
    expect((await readdir(workDir)).filter((entry) => entry.startsWith('restore-'))).toEqual([]);
    expect((await readdir(home)).sort()).toEqual(['repository', 'solr']);
    expect((await readdir(path.join(home, 'repository', 'conf'))).sort()).toEqual([
      'deployment.toml',
      'log4j2.properties',
    ]);
  });

  it('encrypts to an age recipient and restores with the identity', async () => {
    const home = await makeHome();
    const original = await digestsOf(home);
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const keys = generateKeyPairSync('ed25519');
    const result = await createHomeBackup({
      stage: 'startup',
      artifactName: nextName(),
      apimHome: home,
      items: ITEMS,
      store,
      run: { runId, attempt: 1 },
      encryption: { kind: 'recipient', recipient },
      signingKey: keys.privateKey,
      logger: createRecordingLogger(),
      workDir,
      retentionDays: 30,
      toolVersion: TOOL_VERSION,
    });
    expect(result.manifest.encryption).toEqual({ mode: 'recipient', recipient });
    expect(result.manifest.authentication?.signature?.algorithm).toBe('ed25519');
    const stored = await readFile(storedFile(result, 'home-1-solr.tar.gz.age'));
    expect(stored.includes(DISTINCTIVE_VALUE)).toBe(false);

    // The stock age tool decrypts it to a tar that GNU tar lists.
    const identityFile = path.join(baseDir, 'identity.txt');
    await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
    const decrypted = path.join(baseDir, 'solr.tar.gz');
    await run('age', ['-d', '-i', identityFile, '-o', decrypted, storedFile(result, 'home-1-solr.tar.gz.age')]);
    const { stdout } = await run('tar', ['-tzf', decrypted]);
    expect(stdout.split('\n')).toContain('solr/data/registry-indexing/index/_0.cfs');
    await rm(decrypted);

    await changeHome(home);
    const restored = await restore(
      home,
      result.artifact.name,
      { kind: 'identity', identity },
      {
        authenticateWith: { signingPublicKey: keys.publicKey },
      },
    );
    expect(restored.restored).toEqual(['solr', TOML]);
    expect(await digestsOf(home)).toEqual(original);
    expect(await filesUnder(workDir)).toEqual([]);
  });

  it('records an absent solr, and the restore removes the solr folder made since', async () => {
    const home = await makeHome({ solr: false });
    const original = await digestsOf(home);
    const logger = createRecordingLogger();
    const result = await backup(home, { kind: 'passphrase', passphrase: PASSPHRASE }, { logger });
    expect(result.manifest.homeFiles?.[0]).toEqual({ path: 'solr', kind: 'folder', present: false, encrypted: true });
    expect(logger.lines.join('\n')).toMatch(/solr: not there; recorded as absent/);
    expect(result.manifest.homeFiles?.[1]).toMatchObject({ path: TOML, present: true });

    // A failed first start wrote a new index and changed deployment.toml.
    await mkdir(path.join(home, 'solr', 'data'), { recursive: true });
    await writeFile(path.join(home, 'solr', 'data', 'segments_1'), 'written by a failed start');
    await writeFile(path.join(home, TOML), 'changed\n');
    const restored = await restore(home, result.artifact.name, { kind: 'passphrase', passphrase: PASSPHRASE });
    expect(restored).toMatchObject({ restored: [TOML], removed: ['solr'] });
    await expect(lstat(path.join(home, 'solr'))).rejects.toThrow(/ENOENT/);
    expect(await digestsOf(home)).toEqual(original);

    // Again, with nothing to remove: nothing is listed as removed.
    const again = await restore(home, result.artifact.name, { kind: 'passphrase', passphrase: PASSPHRASE });
    expect(again).toMatchObject({ restored: [TOML], removed: [] });
    expect(await digestsOf(home)).toEqual(original);
  });

  it('refuses a stored file that was damaged or cut short, and a manifest that is not the recorded one', async () => {
    const home = await makeHome();
    const result = await backup(home, { kind: 'passphrase', passphrase: PASSPHRASE });
    await changeHome(home);

    const flipped = await storeVariant(result, async (dir, manifest) => {
      await flipByte(path.join(dir, solrEntry(manifest).file!));
    });
    await expectRefused(home, flipped, /does not match its manifest \(home-1-solr\.tar\.gz\.age: sha256 [0-9a-f]{64}/);

    const cut = await storeVariant(result, async (dir, manifest) => {
      const file = path.join(dir, solrEntry(manifest).file!);
      await truncate(file, Math.floor((await stat(file)).size / 2));
    });
    await expectRefused(home, cut, /does not match its manifest.*bytes instead of/);

    // The ledger recorded another manifest for this backup.
    await expectRefused(home, result.artifact.name, /not the one recorded in the ledger/, {
      manifestSha256: 'f'.repeat(64),
    });
    // A manifest altered after it was signed: its HMAC no longer proves it.
    const recounted = await storeVariant(result, async (_dir, manifest) => {
      solrEntry(manifest).entries = 99;
    });
    await expectRefused(home, recounted, /HMAC does not match/, { authenticateWith: { passphrase: PASSPHRASE } });
    // Without any proof asked for, the counts are what refuses it, after the unpacking and before the home changes.
    await expectRefused(home, recounted, /unpacks to 4 files of \d+ bytes, but its manifest says solr had 99 files/);
    expect((await readdir(home)).filter((entry) => entry.startsWith('.apim-migrate'))).toEqual([]);
  });

  it('refuses an archive with entries outside the item, even under a valid, authenticated manifest', async () => {
    const home = await makeHome();
    const result = await backup(home, { kind: 'passphrase', passphrase: PASSPHRASE });
    await changeHome(home);

    const hostile = async (build: (source: string) => Promise<string[]>): Promise<string> =>
      storeVariant(
        result,
        async (dir, manifest) => {
          const source = await mkdtemp(path.join(baseDir, 'hostile-'));
          await mkdir(path.join(source, 'solr'));
          await writeFile(path.join(source, 'solr', 'ok.txt'), 'fine\n');
          const archive = path.join(source, 'archive.tar.gz');
          await run('tar', ['-C', source, '-czf', archive, ...(await build(source))]);
          const encrypted = path.join(dir, solrEntry(manifest).file!);
          await encryptFile(
            archive,
            encrypted,
            { kind: 'passphrase', passphrase: PASSPHRASE },
            { scryptWorkFactor: 10 },
          );
          await matchEntry(manifest, dir);
        },
        { sign: true },
      );
    const trust = { authenticateWith: { passphrase: PASSPHRASE } };

    const beside = await hostile(async (source) => {
      await mkdir(path.join(source, 'repository', 'conf'), { recursive: true });
      await writeFile(path.join(source, TOML), 'replaced by the archive\n');
      await writeFile(path.join(source, 'evil.sh'), 'echo owned\n');
      return ['solr', TOML, 'evil.sh'];
    });
    await expectRefused(
      home,
      beside,
      /holds 2 entries outside solr: "repository\/conf\/deployment\.toml", "evil\.sh"/,
      trust,
    );

    const upward = await hostile(async (source) => {
      await writeFile(path.join(source, 'escape.txt'), 'outside\n');
      return ['-P', 'solr', 'solr/../escape.txt'];
    });
    await expectRefused(home, upward, /holds 1 entries outside solr: "solr\/\.\.\/escape\.txt"/, trust);

    const linked = await hostile(async (source) => {
      await symlink('/etc', path.join(source, 'solr', 'etc'));
      return ['solr'];
    });
    await expectRefused(home, linked, /"etc" is a symbolic link to "\/etc", which leads out of the folder/, trust);

    const setuid = await hostile(async (source) => {
      await writeFile(path.join(source, 'solr', 'run.sh'), '#!/bin/sh\nid\n', { mode: 0o4755 });
      await chmod(path.join(source, 'solr', 'run.sh'), 0o4755);
      return ['solr'];
    });
    await expectRefused(home, setuid, /"run\.sh" is a set-user-ID or set-group-ID file/, trust);

    const foreign = await hostile(async () => ['solr']);
    await expectRefused(home, foreign, /unpacks to 1 files of 5 bytes, but its manifest says solr had 4 files/, trust);

    for (const entry of await readdir(baseDir)) expect(entry).not.toMatch(/^(evil\.sh|escape\.txt)$/);
    expect((await readdir(home)).sort()).toEqual(['repository', 'solr']);
  });

  it('refuses a home backup as a database restore, and a database backup as a home restore', async () => {
    const home = await makeHome();
    const result = await backup(home, { kind: 'passphrase', passphrase: PASSPHRASE });
    const error = await restoreBackup({
      artifactName: result.artifact.name,
      runId,
      store,
      decryption: { kind: 'passphrase', passphrase: PASSPHRASE },
      databases: [{ names: ['apim_db', 'shared_db'], target: postgresAdminTarget() }],
      logger: createRecordingLogger(),
      secrets: new SecretMasker(),
      workDir,
      expectedEncryption: { mode: 'passphrase', allowPlaintext: false },
    }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(BackupRejectedError);
    expect((error as Error).message).toContain(
      'is a backup of API-M home files (startup), not of databases: restore it with restore --stage startup',
    );

    const databaseBackup = await storeVariant(result, async (_dir, manifest) => {
      const { homeFiles: _home, ...rest } = manifest;
      Object.assign(manifest, rest, { stage: 'apim' });
      delete manifest.homeFiles;
      manifest.databases = [
        {
          names: ['apim_db'],
          engine: 'postgresql',
          host: '127.0.0.1',
          port: 5432,
          database: 'wso2am',
          server: { product: 'PostgreSQL', version: '15.8' },
          dumpTool: { name: 'pg_dump', version: '15.8' },
          format: 'pg-custom',
          encrypted: true,
          file: 'home-1-solr.tar.gz.age',
          bytes: solrEntry(result.manifest).bytes!,
          sha256: solrEntry(result.manifest).sha256!,
          rowCounts: {},
          rowCountSnapshot: 'dump-snapshot',
          durationMs: 1,
        },
      ];
    });
    await expectRefused(
      home,
      databaseBackup,
      /is a backup of databases \(apim\), not of API-M home files: restore it with restore --stage apim/,
    );
  });

  it('fails with BackupVerificationError when the store keeps a damaged copy', async () => {
    const home = await makeHome();
    const damaging: ArtifactStore = {
      kind: store.kind,
      description: 'a store that damages what it keeps',
      async upload(name, files, options) {
        const stored = await store.upload(name, files, options);
        const archive = stored.files.find((file) => file.name.endsWith('.tar.gz'));
        if (archive && stored.localDir) await flipByte(path.join(stored.localDir, archive.name));
        return stored;
      },
      list: (options) => store.list(options),
      download: (name, destination, options) => store.download(name, destination, options),
    };
    const error = await backup(home, { kind: 'none' }, { useStore: damaging }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupVerificationError);
    expect((error as Error).message).toMatch(/did not come back intact.*home-1-solr\.tar\.gz: sha256/);
  });

  it('refuses to keep a folder with a link out of it, or an item that is not of its kind', async () => {
    const home = await makeHome();
    await symlink('/etc/hostname', path.join(home, 'solr', 'conf', 'hostname'));
    const name = nextName();
    const error = await backup(home, { kind: 'none' }, { name }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(
      /"conf\/hostname" is a symbolic link to "\/etc\/hostname", which leads out/,
    );
    expect((await store.list()).map((artifact) => artifact.name)).not.toContain(name);
    expect(await filesUnder(workDir)).toEqual([]);

    const wrongKind = await backup(
      home,
      { kind: 'none' },
      { items: [{ path: 'repository/conf', kind: 'file' }] },
    ).catch((e: unknown) => e);
    expect((wrongKind as Error).message).toMatch(/conf: is a folder, not a regular file/);
    await expect(backup(home, { kind: 'none' }, { items: [{ path: '../outside', kind: 'folder' }] })).rejects.toThrow(
      /must not hold a "\." or "\.\." segment/,
    );
  });

  it('stores a plaintext backup where the config allows it, and restores it', async () => {
    const home = await makeHome();
    const original = await digestsOf(home);
    const result = await backup(home, { kind: 'none' });
    expect(result.manifest.homeFiles?.map((entry) => entry.file)).toEqual([
      'home-1-solr.tar.gz',
      'home-2-deployment.toml',
    ]);
    expect(await readFile(storedFile(result, 'home-2-deployment.toml'), 'utf8')).toContain(DISTINCTIVE_VALUE);
    await changeHome(home);
    // The file put back keeps the mode the one there has.
    await chmod(path.join(home, TOML), 0o600);
    await restore(home, result.artifact.name, { kind: 'none' });
    expect((await stat(path.join(home, TOML))).mode & 0o777).toBe(0o600);
    await chmod(path.join(home, TOML), 0o640);
    expect(await digestsOf(home)).toEqual(original);
  });
});

/** Every entry under a folder: its owner, a file's mode and sha256, a folder's mode, a link's target. */
async function digestsOf(root: string): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      const name = path.relative(root, full);
      const info = await lstat(full);
      const mode = `${(info.mode & 0o7777).toString(8)} ${info.uid}:${info.gid}`;
      if (entry.isSymbolicLink()) digests[name] = `link ${info.uid}:${info.gid} ${await readlink(full)}`;
      else if (entry.isDirectory()) {
        digests[name] = `folder ${mode}`;
        await walk(full);
      } else digests[name] = `file ${mode} ${await sha256File(full)}`;
    }
  };
  await walk(root);
  return digests;
}

/** The plain files under a folder, at any depth. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => path.join(entry.parentPath, entry.name));
}

function allBytes(): Buffer {
  return Buffer.from(Array.from({ length: 256 }, (_, i) => i));
}

async function flipByte(file: string): Promise<void> {
  const bytes = await readFile(file);
  const at = Math.floor(bytes.length / 2);
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  await writeFile(file, bytes);
}

function expectedFor(decryption: DecryptionMode): ExpectedEncryption {
  const mode = decryption.kind === 'identity' ? 'recipient' : decryption.kind;
  return { mode, allowPlaintext: false };
}
