/**
 * Backups are trustworthy: a truncated, damaged, replaced, foreign or incomplete backup, or a wrong key, is refused
 * before anything is touched. Through the BUILT CLI's `restore`, after `run registry-scripts` stored its backup in
 * the local store; the test damages the stored artifact, restores it afterwards, and checks every table (the ledger
 * too) after each refusal.
 */
import { cp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeManifest, type BackupManifest } from '../../src/backup/manifest.js';
import type { TableChecksums } from '../../src/db/table-checksums.js';
import { allChecksums, cli, createFaultCase, storedArtifacts, type FaultCase } from '../helpers/fault-case.js';
import { PASSPHRASE_ENV, requireBundles, type ScriptRun } from '../helpers/migration-setup.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { authenticateManifest } from '../../src/backup/authentication.js';

const TIMEOUT = { timeout: 120_000 };
const BACKUP = 'apim-migrate-registry-scripts-backup-a1';
const temp = createTempDirs('apim-migrate-backups-');

let made: FaultCase;
/** A setup on another database, whose backup is foreign to `made`. */
let other: FaultCase;
/** The run folder and the artifact folder of the backup in `made`'s store. */
let runId: string;
let artifactDir: string;
let pristine: string;
let migrated: TableChecksums;

beforeAll(async () => {
  requireBundles('cli');
  [made, other] = await Promise.all([createFaultCase('postgresql', temp), createFaultCase('postgresql', temp)]);
  for (const setup of [made, other]) {
    const run = await cli(setup, ['run', 'registry-scripts']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
  }
  const stored = (await storedArtifacts(made.setup)).find((name) => name.endsWith(`/${BACKUP}`));
  if (!stored) throw new Error(`no ${BACKUP} in ${made.setup.storeDir}`);
  runId = stored.split('/')[0] ?? '';
  artifactDir = path.join(made.setup.storeDir, 'runs', stored);
  pristine = await temp.make();
  await cp(artifactDir, pristine, { recursive: true });
  migrated = await allChecksums(made.setup);
}, 240_000);

afterAll(async () => {
  await made?.setup.cleanup();
  await other?.setup.cleanup();
  await temp.cleanup();
});

/** The dump file of the backup (the only file besides manifest.json and the store's index). */
async function dumpName(dir = artifactDir): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
  const file = manifest.databases[0]?.file;
  if (!file) throw new Error('the manifest names no dump');
  return file;
}

const execFileAsync = promisify(execFile);

/** Rewrites a stored manifest with `change` and authenticates it with `made`'s passphrase, as a key holder could. */
async function reauthenticate(dir: string, change: (manifest: BackupManifest) => BackupManifest): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  const { authentication: _old, ...manifest } = JSON.parse(await readFile(file, 'utf8')) as BackupManifest;
  const passphrase = made.setup.env[PASSPHRASE_ENV];
  if (!passphrase) throw new Error('the setup has no passphrase');
  await writeFile(file, serializeManifest(await authenticateManifest(change(manifest), { passphrase })));
}

async function putBack(): Promise<void> {
  await rm(artifactDir, { recursive: true, force: true });
  await cp(pristine, artifactDir, { recursive: true });
}

/** Restores, expects a refusal naming `reason`, and checks that no table changed. */
async function expectRefused(
  reason: RegExp,
  argv: string[] = [],
  env: Record<string, string> = {},
): Promise<ScriptRun> {
  const run = await cli(made, ['restore', '--stage', 'registry-scripts', ...argv], env);
  const output = run.stdout + run.stderr;
  expect(run.code, output).not.toBe(0);
  expect(output).toMatch(reason);
  expect(output).toMatch(/Nothing was changed/);
  expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(await allChecksums(made.setup)).toEqual(migrated);
  return run;
}

describe('a backup that cannot be trusted is refused before anything is touched', () => {
  it('a truncated dump', TIMEOUT, async () => {
    const dump = path.join(artifactDir, await dumpName());
    const size = (await readFile(dump)).length;
    await truncate(dump, Math.floor(size / 2));
    try {
      await expectRefused(/does not match its manifest.*bytes instead of/s);
    } finally {
      await putBack();
    }
  });

  it('a damaged dump (one byte changed)', TIMEOUT, async () => {
    const dump = path.join(artifactDir, await dumpName());
    const bytes = await readFile(dump);
    const at = Math.floor(bytes.length / 3);
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await writeFile(dump, bytes);
    try {
      await expectRefused(/does not match its manifest.*sha256/s);
    } finally {
      await putBack();
    }
  });

  it('a backup without its manifest (an interrupted upload)', TIMEOUT, async () => {
    await rm(path.join(artifactDir, 'manifest.json'));
    try {
      await expectRefused(/has no manifest\.json: the backup is incomplete/);
    } finally {
      await putBack();
    }
  });

  it('a manifest that differs from the one the ledger recorded', TIMEOUT, async () => {
    const file = path.join(artifactDir, 'manifest.json');
    const manifest = JSON.parse(await readFile(file, 'utf8')) as BackupManifest;
    const entry = manifest.databases[0];
    if (!entry) throw new Error('no database in the manifest');
    const [table] = Object.keys(entry.rowCounts);
    if (table) entry.rowCounts[table] = (entry.rowCounts[table] ?? 0) + 1;
    await writeFile(file, `${JSON.stringify(manifest, null, 2)}\n`);
    try {
      await expectRefused(/not the one recorded in the ledger/);
    } finally {
      await putBack();
    }
  });

  it('a foreign backup put in its place (another database)', TIMEOUT, async () => {
    const foreign = (await storedArtifacts(other.setup)).find((name) => name.endsWith(`/${BACKUP}`));
    if (!foreign) throw new Error('the other setup has no backup');
    await rm(artifactDir, { recursive: true });
    await cp(path.join(other.setup.storeDir, 'runs', foreign), artifactDir, { recursive: true });
    try {
      await expectRefused(/not the one recorded in the ledger/);
    } finally {
      await putBack();
    }
  });

  it(
    'a foreign backup named with --from-run: not recorded, and from another database even when authentic',
    TIMEOUT,
    async () => {
      const foreign = (await storedArtifacts(other.setup)).find((name) => name.endsWith(`/${BACKUP}`));
      if (!foreign) throw new Error('the other setup has no backup');
      const foreignRun = `foreign-${foreign.split('/')[0] ?? ''}`;
      const target = path.join(made.setup.storeDir, 'runs', foreignRun, BACKUP);
      await cp(path.join(other.setup.storeDir, 'runs', foreign), target, { recursive: true });
      try {
        const refused = await expectRefused(/does not record \S+ of run foreign-/, ['--from-run', foreignRun]);
        expect(refused.code).toBe(2);
        // Copied under another run, its manifest names the run that took it.
        await expectRefused(/was copied from elsewhere: its manifest says it was taken in run/, [
          '--from-run',
          foreignRun,
          '--trust-unrecorded-run',
        ]);
        // Even made authentic for this run with this setup's passphrase, it is a backup of another database.
        await reauthenticate(target, (manifest) => ({ ...manifest, runId: foreignRun }));
        await expectRefused(/was backed up from database \S+, but apim_db is now/, [
          '--from-run',
          foreignRun,
          '--trust-unrecorded-run',
        ]);
      } finally {
        await rm(path.dirname(target), { recursive: true, force: true });
      }
    },
  );

  it('a planted plaintext pg_dump of another database with a hand-written manifest', TIMEOUT, async () => {
    const plantedRun = 'planted-run';
    const target = path.join(made.setup.storeDir, 'runs', plantedRun, BACKUP);
    await cp(pristine, target, { recursive: true });
    try {
      await rm(path.join(target, await dumpName(target)));
      const dump = path.join(target, 'apim_db.pgdump');
      await execFileAsync('pg_dump', [
        '-Fc',
        '-h',
        '127.0.0.1',
        '-U',
        'postgres',
        '-d',
        other.setup.database,
        '-f',
        dump,
      ]);
      const bytes = await readFile(dump);
      const genuine = JSON.parse(await readFile(path.join(pristine, 'manifest.json'), 'utf8')) as BackupManifest;
      const { authentication: _dropped, ...unsigned } = genuine;
      const planted: BackupManifest = {
        ...unsigned,
        runId: plantedRun,
        encryption: { mode: 'none' },
        databases: genuine.databases.map((entry) => ({
          ...entry,
          encrypted: false,
          file: 'apim_db.pgdump',
          bytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        })),
      };
      await writeFile(path.join(target, 'manifest.json'), serializeManifest(planted));
      await expectRefused(/does not record \S+ of run planted-run/, ['--from-run', plantedRun]);
      await expectRefused(/is not encrypted, but the config encrypts backups/, [
        '--from-run',
        plantedRun,
        '--trust-unrecorded-run',
      ]);
    } finally {
      await rm(path.dirname(target), { recursive: true, force: true });
    }
  });

  it('a truncated dump with a manifest made to match it, under an unrecorded run', TIMEOUT, async () => {
    // The attacker rewrites the manifest to fit the damaged file, but cannot make its HMAC without the passphrase.
    const copyRun = `copy-of-${runId}`;
    const copy = path.join(made.setup.storeDir, 'runs', copyRun, BACKUP);
    await cp(artifactDir, copy, { recursive: true });
    try {
      const name = await dumpName(copy);
      const dump = path.join(copy, name);
      const whole = await readFile(dump);
      const bytes = whole.subarray(0, Math.floor(whole.length / 2));
      await writeFile(dump, bytes);
      const manifestFile = path.join(copy, 'manifest.json');
      const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as BackupManifest;
      const entry = manifest.databases[0];
      if (!entry) throw new Error('no database in the manifest');
      entry.bytes = bytes.length;
      entry.sha256 = createHash('sha256').update(bytes).digest('hex');
      manifest.runId = copyRun;
      await writeFile(manifestFile, serializeManifest(manifest));
      await expectRefused(/comes from a run the ledger does not record, and its manifest's HMAC does not match/, [
        '--from-run',
        copyRun,
        '--trust-unrecorded-run',
      ]);
    } finally {
      await rm(path.dirname(copy), { recursive: true, force: true });
    }
  });

  it('the wrong passphrase', TIMEOUT, async () => {
    await expectRefused(/passphrase/i, [], { APIM_MIGRATE_BACKUP_PASSPHRASE: 'not-the-passphrase-of-this-backup' });
  });

  it('and the intact backup restores', TIMEOUT, async () => {
    const run = await cli(made, ['restore', '--stage', 'registry-scripts']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(await allChecksums(made.setup)).not.toEqual(migrated);
  });

  it(
    'once restored, the ledger no longer records it: it restores again only with --trust-unrecorded-run',
    TIMEOUT,
    async () => {
      const restored = await allChecksums(made.setup);
      const refused = await cli(made, ['restore', '--stage', 'registry-scripts', '--from-run', runId]);
      expect(refused.code, refused.stdout + refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/does not record .*--trust-unrecorded-run/s);
      const run = await cli(made, [
        'restore',
        '--stage',
        'registry-scripts',
        '--from-run',
        runId,
        '--trust-unrecorded-run',
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout + run.stderr).toMatch(/manifest\.json of .* is authentic: passphrase/);
      expect(await allChecksums(made.setup)).toEqual(restored);
    },
  );
});
