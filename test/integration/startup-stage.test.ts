/**
 * The startup stage end to end through the CLI, after registry-scripts, identity and apim ran against the stand-in
 * server and a real PostgreSQL or MariaDB database: the backup of solr and deployment.toml, the re_indexing edit, the
 * normal start, the management port and the Publisher API's count against AM_API; a failure that puts the home back;
 * a refusal when verify's checks fail; `restore --stage startup`; the ledger throughout.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMigratedSchema,
  createMigrationSetup,
  ledgerStates,
  prepareServerStages,
  rewriteConfig,
  runCliIn,
  type MigrationSetup,
  type SetupEngine,
} from '../helpers/migration-setup.js';
import { readStandInArgs, writeStandInConf, type StandInBehaviour } from '../helpers/stand-in.js';
import { freshPortOffset, seedApis } from '../helpers/startup-home.js';

let setup: MigrationSetup | undefined;
afterEach(async () => {
  if (setup) await stopLeftServer(setup);
  await setup?.cleanup();
  setup = undefined;
});

const ADMIN_ENV = { APIM_ADMIN_USER: 'admin', APIM_ADMIN_PASSWORD: 'startup-admin-pw' };

function cli(current: MigrationSetup, argv: string[], env: Record<string, string> = ADMIN_ENV) {
  return runCliIn(current, argv, { runIdPrefix: 'startup-test', env });
}

/**
 * A setup migrated by the stages before startup (registry-scripts, identity, apim: the ledger records them), with
 * the tables the real migration adds, a 4.2.0 AM_API (seedApis: three super-tenant APIs, a tenant's and a product),
 * an old search index in <HOME>/solr, a port offset of its own and the admin's password in deployment.toml.
 */
async function migratedSetup(engine: SetupEngine): Promise<MigrationSetup> {
  const current = await createMigrationSetup({
    engine,
    flags: { tags: true },
    config: { server: { timeoutMinutes: 1, stopGraceSeconds: 5 } },
  });
  setup = current;
  await prepareServerStages(current, { seed: 5, tenants: 1, behaviour: { slowMs: 2 } });
  for (const stage of ['registry-scripts', 'identity', 'apim']) {
    const result = await cli(current, ['run', stage], {});
    expect(result.code, result.output).toBe(0);
  }
  await createMigratedSchema(current);
  const session = await current.adminSession();
  try {
    // The revision tables with the columns verify's revision check reads (createMigratedSchema makes them empty shells).
    await session.query('DROP TABLE AM_REVISION');
    await session.query('DROP TABLE AM_DEPLOYMENT_REVISION_MAPPING');
    await session.query('CREATE TABLE AM_REVISION (ID INTEGER, API_UUID VARCHAR(256), REVISION_UUID VARCHAR(255))');
    await session.query('CREATE TABLE AM_DEPLOYMENT_REVISION_MAPPING (NAME VARCHAR(255), REVISION_UUID VARCHAR(255))');
  } finally {
    await session.close();
  }
  if (!current.scratch) throw new Error('the setup has no scratch database');
  await seedApis(current.scratch.target);
  const offset = freshPortOffset();
  const toml = await readFile(current.deploymentToml, 'utf8');
  await writeFile(
    current.deploymentToml,
    toml.replace('offset = 0', `offset = ${offset}`).replace('password = "admin"', 'password = "startup-admin-pw"'),
  );
  await mkdir(path.join(current.apimHome, 'solr', 'data', 'index'), { recursive: true });
  await writeFile(path.join(current.apimHome, 'solr', 'data', 'index', '_0.cfs'), 'the 3.1.0 index\n');
  await writeFile(path.join(current.apimHome, 'solr', 'core.properties'), 'dataDir=data\n');
  await rewriteConfig(current, {
    startup: { adminUserEnv: 'APIM_ADMIN_USER', adminPasswordEnv: 'APIM_ADMIN_PASSWORD', indexWaitMinutes: 1 },
  });
  return current;
}

async function behave(current: MigrationSetup, behaviour: StandInBehaviour): Promise<void> {
  await writeStandInConf(current.apimHome, { slowMs: 2, ...behaviour });
}

/** sha256 of every file under the home's solr and of deployment.toml, by path. */
async function homeDigests(current: MigrationSetup): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  const solr = path.join(current.apimHome, 'solr');
  const entries = await readdir(solr, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    digests[path.relative(current.apimHome, file)] = sha256(await readFile(file));
  }
  digests['deployment.toml'] = sha256(await readFile(current.deploymentToml));
  return digests;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Stops a server a test left running on purpose (leaveRunning) or by failing. */
async function stopLeftServer(current: MigrationSetup): Promise<void> {
  const text = await readFile(path.join(current.apimHome, 'wso2carbon.pid'), 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

describe.each<[string, SetupEngine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('startup on %s', (_label, engine) => {
  it(
    'backs up the home, re-indexes at a normal start, waits for the index and stops the server',
    { timeout: 240_000 },
    async () => {
      const current = await migratedSetup(engine);
      await behave(current, { indexDelayMs: 3_000 });
      const before = await homeDigests(current);

      const plan = await cli(current, ['plan']);
      expect(plan.code, plan.output).toBe(0);
      expect(plan.output).toContain('set [indexing] re_indexing one higher');

      const dryRun = await cli(current, ['run', 'startup', '--dry-run']);
      expect(dryRun.code, dryRun.output).toBe(0);
      expect(dryRun.output).toContain('dry run: would set [indexing] re_indexing to 1 (none now)');
      expect(await homeDigests(current)).toEqual(before);
      expect(await ledgerStates(current)).toHaveLength(3);

      const startup = await cli(current, ['run', 'startup']);
      expect(startup.code, startup.output).toBe(0);
      expect(startup.output).toContain("verify's checks pass");
      expect(startup.output).toContain('apim-migrate-startup-backup-a1 stored and verified');
      expect(startup.output).toMatch(/WSO2 Carbon started in \d+ sec/);
      expect(startup.output).toMatch(/the Publisher API lists 3 APIs of the super tenant, as AM_API holds/);
      expect(startup.output).not.toContain(ADMIN_ENV.APIM_ADMIN_PASSWORD);
      // No migration flag: the normal start.
      expect((await readStandInArgs(current.apimHome)).filter((args) => args[0] !== '--stop').at(-1)).toEqual([]);
      const toml = await readFile(current.deploymentToml, 'utf8');
      expect(toml).toMatch(/\[indexing\]\nre_indexing = 1\n/);
      // The old index is gone; the server wrote its new one.
      expect(
        await readFile(path.join(current.apimHome, 'solr', 'data', 'index', '_0.cfs'), 'utf8').catch(() => 'gone'),
      ).toBe('gone');
      expect(await readdir(current.apimHome)).not.toContain('wso2carbon.pid');
      expect(await ledgerStates(current)).toEqual([
        'registry-scripts:succeeded',
        'identity:succeeded',
        'apim:succeeded',
        'startup:succeeded',
      ]);

      // Once it succeeded, it is a no-op.
      const again = await cli(current, ['run', 'startup']);
      expect(again.code, again.output).toBe(0);
      expect(again.output).toContain('already succeeded');

      // The rollback puts back the old index and the original deployment.toml, and startup may run again.
      const restore = await cli(current, ['restore', '--stage', 'startup']);
      expect(restore.code, restore.output).toBe(0);
      expect(await homeDigests(current)).toEqual(before);
      const status = await cli(current, ['status']);
      expect(status.output).toMatch(/startup rolled back/);
      const rerun = await cli(current, ['run', 'startup']);
      expect(rerun.code, rerun.output).toBe(0);
      expect(await readFile(current.deploymentToml, 'utf8')).toMatch(/re_indexing = 1\n/);
    },
  );
});

describe('startup on PostgreSQL', () => {
  it('fails when the index never completes, and leaves the home as it found it', { timeout: 240_000 }, async () => {
    const current = await migratedSetup('postgresql');
    await behave(current, { indexNeverCompletes: true });
    await rewriteConfig(current, {
      startup: { adminUserEnv: 'APIM_ADMIN_USER', adminPasswordEnv: 'APIM_ADMIN_PASSWORD', indexWaitMinutes: 0.1 },
    });
    const before = await homeDigests(current);

    const failed = await cli(current, ['run', 'startup']);
    expect(failed.code, failed.output).toBe(1);
    expect(failed.output).toMatch(/the Publisher API lists 2 of 3 super-tenant APIs of AM_API/);
    expect(failed.output).toContain('put back from apim-migrate-startup-backup-a1');
    expect(await homeDigests(current)).toEqual(before);
    expect(await readdir(current.apimHome)).not.toContain('wso2carbon.pid');
    expect((await ledgerStates(current)).at(-1)).toBe('startup:failed');

    // The home was put back, so the next run starts afresh, with a backup of its own.
    await behave(current, {});
    const next = await cli(current, ['run', 'startup']);
    expect(next.code, next.output).toBe(0);
    expect(next.output).toContain('apim-migrate-startup-backup-a1 stored and verified');
  });

  it('fails when the server does not start, and puts solr and deployment.toml back', { timeout: 240_000 }, async () => {
    const current = await migratedSetup('postgresql');
    await behave(current, { startFails: true });
    const before = await homeDigests(current);
    const failed = await cli(current, ['run', 'startup']);
    expect(failed.code, failed.output).toBe(1);
    expect(failed.output).toContain('Error while performing configuration changes');
    expect(await homeDigests(current)).toEqual(before);
  });

  it('fails when nothing answers on the management port', { timeout: 240_000 }, async () => {
    const current = await migratedSetup('postgresql');
    await behave(current, { noHttps: true });
    const before = await homeDigests(current);
    const failed = await cli(current, ['run', 'startup']);
    expect(failed.code, failed.output).toBe(1);
    expect(failed.output).toMatch(/https:\/\/127\.0\.0\.1:\d+\/ .*did not answer/);
    expect(await homeDigests(current)).toEqual(before);
    expect(await readdir(current.apimHome)).not.toContain('wso2carbon.pid');
  });

  it("refuses, changing nothing, when verify's checks fail", { timeout: 240_000 }, async () => {
    const current = await migratedSetup('postgresql');
    await mkdir(path.join(current.apimHome, 'migration-resources'));
    const before = await homeDigests(current);
    const refused = await cli(current, ['run', 'startup']);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toContain("verify's checks fail, so the server is not started and nothing was changed");
    expect(refused.output).toContain('migration-resources is still there');
    expect(await homeDigests(current)).toEqual(before);
    expect(await ledgerStates(current)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:succeeded']);
    await rm(path.join(current.apimHome, 'migration-resources'), { recursive: true });
  });

  it(
    'without admin credentials skips the count; with leaveRunning the server stays up',
    { timeout: 240_000 },
    async () => {
      const current = await migratedSetup('postgresql');
      await rewriteConfig(current, { startup: { leaveRunning: true } });
      const result = await cli(current, ['run', 'startup'], {});
      expect(result.code, result.output).toBe(0);
      expect(result.output).toContain('no admin credentials');
      expect(result.output).toMatch(/left running as pid \d+/);
      const pid = Number((await readFile(path.join(current.apimHome, 'wso2carbon.pid'), 'utf8')).trim());
      expect(() => process.kill(pid, 0)).not.toThrow();
    },
  );

  it('refuses before apim succeeded, and when the admin variables are not set', { timeout: 120_000 }, async () => {
    const current = await createMigrationSetup({ engine: 'postgresql', flags: { tags: true } });
    setup = current;
    const early = await cli(current, ['run', 'startup'], {});
    expect(early.code).toBe(1);
    expect(early.output).toMatch(/startup needs registry-scripts, identity, apim to have succeeded/);
    await rewriteConfig(current, {
      startup: { adminUserEnv: 'APIM_ADMIN_USER', adminPasswordEnv: 'APIM_ADMIN_PASSWORD' },
    });
    const unset = await cli(current, ['run', 'startup'], {});
    expect(unset.code).toBe(2);
    expect(unset.output).toContain('startup.adminUserEnv names APIM_ADMIN_USER, which is not set');
  });
});
