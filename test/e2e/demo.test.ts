/**
 * `apim-migrate demo` through the built CLI bundle, as a newcomer runs it: the sandbox database is created in the
 * local PostgreSQL and dropped again, every stage runs against the stand-in server shipped next to the bundle, the
 * rollback brings the registry back, and every line is labelled as a simulation.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession } from '../../src/db/session.js';
import { STAGE_NAMES } from '../../src/core/results.js';
import { postgresAdminTarget } from '../helpers/databases.js';
import { baseEnv, BUNDLES, requireBundles, runNodeScript, type ScriptRun } from '../helpers/migration-setup.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-demo-test-');
/** Databases a failed test may have left; the sandbox folders are inside the temporary folders. */
const leftovers: string[] = [];

const DATABASE_LINE = /Database: \S+\/(apim_migrate_demo_\w+),/;

beforeAll(() => requireBundles('cli'));

afterAll(async () => {
  for (const database of leftovers) await dropDatabase(database);
  await temp.cleanup();
});

async function databaseExists(name: string): Promise<boolean> {
  const session = await openSession(postgresAdminTarget());
  try {
    const rows = await session.query<{ n: string }>('SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1', [name]);
    return Number(rows[0]?.n) === 1;
  } finally {
    await session.close();
  }
}

async function dropDatabase(name: string): Promise<void> {
  const session = await openSession(postgresAdminTarget());
  try {
    await session.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await session.close();
  }
}

/** Runs the bundled CLI with a private TMPDIR, so that the sandbox folder is easy to find and check. */
async function demo(args: string[], extraEnv: Record<string, string> = {}): Promise<ScriptRun & { tmp: string }> {
  const tmp = await temp.make();
  const run = await runNodeScript(BUNDLES.cli, ['demo', ...args], {
    cwd: tmp,
    env: baseEnv({ TMPDIR: tmp, PGHOST: '127.0.0.1', PGPORT: '5432', PGUSER: 'postgres', ...extraEnv }),
    timeoutMs: 120_000,
  });
  const database = DATABASE_LINE.exec(run.stdout)?.[1];
  if (database) leftovers.push(database);
  return { ...run, tmp };
}

function sandboxOf(run: ScriptRun): { database: string; dir: string } {
  const database = DATABASE_LINE.exec(run.stdout)?.[1];
  const dir = /Sandbox: (\S+)/.exec(run.stdout)?.[1];
  if (!database || !dir) throw new Error(`the demo did not say where its sandbox is:\n${run.stdout}`);
  return { database, dir };
}

describe('apim-migrate demo (built dist/cli/index.js)', () => {
  it('runs every stage and the rollback in a sandbox, then removes the sandbox', { timeout: 180_000 }, async () => {
    const run = await demo([]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^\[simulation\]( |$)/);
    expect(run.stdout).toContain('a SIMULATION of the WSO2 API-M 3.1.0 to 4.2.0 data migration');

    for (const stage of STAGE_NAMES) expect(run.stdout).toContain(`######## apim-migrate run ${stage}`);
    expect(run.stdout).toContain('Preflight succeeded');
    expect(run.stdout).toContain('Registry scripts succeeded');
    expect(run.stdout).toContain('Identity migration succeeded');
    expect(run.stdout).toContain('API-M pre-migration validation succeeded');
    expect(run.stdout).toContain('API-M data migration succeeded');
    expect(run.stdout).toContain('Verify succeeded');
    // verify's data checks find the sandbox's tenants and their Resident Key Managers, as after a real migration.
    expect(run.stdout).toMatch(
      /\[pass\] UM_TENANT \(tenants\) in shared_db [^\n]*: 1 row, as in apim-migrate-identity-backup-a1/,
    );
    expect(run.stdout).toContain('[pass] each of the 2 tenants has its Resident Key Manager in AM_KEY_MANAGER');
    // The first start: a normal start, the Publisher API's count against AM_API (products and tenants' APIs left
    // out), and the home put back before the databases are rolled back.
    expect(run.stdout).toContain('First start succeeded');
    expect(run.stdout).toContain('the Publisher API lists 3 APIs of the super tenant, as AM_API holds');
    expect(run.stdout).toContain('Restore of startup succeeded');
    expect(run.stdout).toContain('Restore of registry-scripts succeeded');
    // The stand-in server really ran, with the real flags.
    expect(run.stdout).toContain('api-manager.sh -Dmigrate -Dcomponent=identity');
    expect(run.stdout).toContain('api-manager.sh -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0');
    // The checks against the generator's checksums, after the removal and after the rollback.
    expect(run.stdout).toContain('registry tables hold exactly what the versioning removal must leave');
    expect(run.stdout).toContain('registry tables hold exactly the 3.1.0 data the demo started from');
    expect(run.stdout).toMatch(/#1 registry-scripts succeeded .*#2 identity succeeded .*#3 apim succeeded/s);

    const { database, dir } = sandboxOf(run);
    expect(await databaseExists(database)).toBe(false);
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(run.tmp)).toEqual([]);
  });

  it(
    'keeps the sandbox with --keep, with its secrets in a 0600 file and nowhere in the output',
    { timeout: 180_000 },
    async () => {
      const run = await demo(['--keep']);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const { database, dir } = sandboxOf(run);
      expect(await databaseExists(database)).toBe(true);
      expect(run.stdout).toContain(`Kept the sandbox in ${dir} and the database ${database}.`);

      const envFile = path.join(dir, 'demo.env');
      expect((await stat(envFile)).mode & 0o777).toBe(0o600);
      const passphrase = /APIM_MIGRATE_DEMO_BACKUP_PASSPHRASE='([^']+)'/.exec(await readFile(envFile, 'utf8'))?.[1];
      expect(passphrase).toMatch(/^[\w-]{32}$/);
      expect(run.stdout + run.stderr).not.toContain(passphrase ?? '');

      // The kept backups are encrypted with that passphrase, and the store holds every stage's artifacts.
      const runs = await readdir(path.join(dir, '.apim-migrate', 'runs'));
      expect(runs).toHaveLength(1);
      const artifacts = await readdir(path.join(dir, '.apim-migrate', 'runs', runs[0] ?? ''));
      expect(artifacts).toEqual(
        expect.arrayContaining([
          'apim-migrate-registry-scripts-backup-a1',
          'apim-migrate-identity-backup-a1',
          'apim-migrate-apim-backup-a1',
          'apim-migrate-startup-backup-a1',
          'apim-migrate-startup-logs-a1',
          'apim-migrate-apim-validate-logs-a1',
          'apim-migrate-restore-startup-report-a1',
          'apim-migrate-restore-startup-logs-a1',
          'apim-migrate-restore-registry-scripts-report-a1',
          'apim-migrate-restore-registry-scripts-logs-a1',
        ]),
      );
      const backup = await readdir(
        path.join(dir, '.apim-migrate', 'runs', runs[0] ?? '', 'apim-migrate-apim-backup-a1'),
      );
      expect(backup).toEqual(expect.arrayContaining(['apim_db.pgdump.zst.age', 'manifest.json']));

      // The sandbox works with the ordinary commands, as the output says.
      const env = Object.fromEntries(
        [...(await readFile(envFile, 'utf8')).matchAll(/^export (\w+)='([^']*)'$/gm)].map((match) => [
          match[1],
          match[2],
        ]),
      );
      const status = await runNodeScript(BUNDLES.cli, ['status'], { cwd: dir, env: baseEnv(env) });
      expect(status.code, status.stdout + status.stderr).toBe(0);
      // The rollback restored the backup taken before the first change, which predates the ledger.
      expect(status.stdout).toContain(`No ledger in shared_db (127.0.0.1:5432/${database})`);

      await dropDatabase(database);
    },
  );

  it('without a PostgreSQL it may use, fails with exit 2 and one clear message, and leaves nothing', async () => {
    const run = await demo([], { PGPORT: '1' });
    expect(run.code).toBe(2);
    const errors = run.stderr.trimEnd().split('\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^apim-migrate: the demo could not create its sandbox database in the PostgreSQL at 127\.0\.0\.1:1: .*set PGHOST, PGPORT, PGUSER and PGPASSWORD\)$/,
    );
    expect(run.stderr).not.toContain('    at ');
    expect(await readdir(run.tmp)).toEqual([]);
  });
});
