/**
 * The connected-clients guard against the real PostgreSQL and MariaDB, with a real second session held open by the
 * test, logged in as the deployment's own login (as an API-M 3.1.0 node would be): a stage that changes data and a
 * restore refuse while it is connected, change nothing, and go on with --allow-connected-clients; apim-migrate's own
 * sessions, a run that holds or waits for the stage lock, and sessions on other databases do not count; preflight
 * warns.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readClientSessions } from '../../src/db/client-sessions.js';
import { acquireStageLock } from '../../src/db/lock.js';
import { openSession, type DbSession } from '../../src/db/session.js';
import { createRegistrySchema, seedRegistry } from '../../src/demo/registry-seed.js';
import { tableChecksums, type TableChecksums } from '../../src/db/table-checksums.js';
import { runStageOperation } from '../../src/stages/operations.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';
import { createRecordingLogger } from '../helpers/fakes.js';
import {
  connectForeign as connectForeignClient,
  endConnection,
  FOREIGN_APPLICATION,
  type ForeignClient,
} from '../helpers/foreign-client.js';
import {
  baseEnv,
  createMigrationSetup,
  ledgerStates,
  runCliIn,
  type MigrationSetup,
  type SetupEngine,
} from '../helpers/migration-setup.js';

const cleanups: Array<() => Promise<void>> = [];

async function connectForeign(
  engine: SetupEngine,
  database: string,
  login: { username: string; password: string },
): Promise<ForeignClient> {
  const foreign = await connectForeignClient(engine, database, login);
  cleanups.push(() => foreign.close());
  return foreign;
}
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function newSetup(engine: SetupEngine): Promise<MigrationSetup> {
  const setup = await createMigrationSetup({
    engine,
    flags: { tags: true, comments: false, properties: false, ratings: false },
  });
  cleanups.push(() => setup.cleanup());
  const session = await setup.adminSession();
  try {
    await createRegistrySchema(session);
    await seedRegistry(session, {
      seed: 3,
      resources: 20,
      versionsPerResource: 2,
      tenants: 1,
      versioningOffRows: 2,
      orphanEntities: 1,
    });
  } finally {
    await session.close();
  }
  return setup;
}

async function checksums(setup: MigrationSetup): Promise<TableChecksums> {
  const session = await setup.adminSession();
  try {
    return await tableChecksums(session);
  } finally {
    await session.close();
  }
}

async function storedNames(setup: MigrationSetup): Promise<string[]> {
  const runs = path.join(setup.storeDir, 'runs');
  const names: string[] = [];
  for (const run of await readdir(runs).catch(() => [])) names.push(...(await readdir(path.join(runs, run))));
  return names;
}

/** Whether anyone holds apim-migrate's stage lock on the setup's database. */
async function stageLockHeld(setup: MigrationSetup): Promise<boolean> {
  const session = await setup.adminSession();
  try {
    if (setup.engine === 'postgresql') {
      // Other tests' databases on this server may hold theirs.
      const rows = await session.query(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      return rows.length > 0;
    }
    const [row] = await session.query<{ holder: unknown }>('SELECT IS_USED_LOCK(?) AS holder', [
      `apim-migrate:${setup.database}`,
    ]);
    return row?.holder !== null && row?.holder !== undefined;
  } finally {
    await session.close();
  }
}

function cli(setup: MigrationSetup, argv: string[], env: Record<string, string> = {}) {
  return runCliIn(setup, argv, { env, runIdPrefix: 'clients-test' });
}

describe.each<[string, SetupEngine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('the connected-clients guard on %s', (_label, engine) => {
  it('refuses a stage and a restore while another client is connected, changing nothing; goes on when allowed', async () => {
    const setup = await newSetup(engine);
    const before = await checksums(setup);
    const foreign = await connectForeign(engine, setup.database, setup);
    // The statement names the password and tries a runner command: both must not reach the output as they are.
    const statement = `SELECT '${setup.password}' AS secret, '##[warning]not a command' AS marker`;
    const running = foreign.start(
      engine === 'postgresql'
        ? `${statement}, pg_sleep(30)`
        : `SELECT SLEEP(30), '${setup.password}', '##[warning]not a command'`,
    );

    const dryRun = await cli(setup, ['run', 'registry-scripts', '--dry-run']);
    expect(dryRun.code, dryRun.output).toBe(0);
    expect(dryRun.output).toContain(
      'dry run: 1 other client session is connected; the run would refuse registry-scripts until they are gone',
    );

    const refused = await cli(setup, ['run', 'registry-scripts']);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toContain('1 other client session is connected, so registry-scripts does not start');
    expect(refused.output).toContain('lost if the stage is rolled back');
    expect(refused.output).toContain(`user ${setup.username}`);
    if (engine === 'postgresql') expect(refused.output).toContain(`application "${FOREIGN_APPLICATION}"`);
    expect(refused.output).toMatch(/running for \d+ m?s/);
    expect(refused.output).toContain(engine === 'postgresql' ? 'pg_sleep(30)' : 'SLEEP(30)');
    expect(refused.output).toContain('# #[warning]not a command');
    expect(refused.output).not.toContain('##[warning]');
    if (setup.password) expect(refused.output).not.toContain(setup.password);
    expect(refused.output).toContain('--allow-connected-clients');
    // Nothing changed: no backup, no ledger row, no lock left, the data as it was.
    expect(await checksums(setup)).toEqual(before);
    expect(await ledgerStates(setup)).toEqual([]);
    expect((await storedNames(setup)).filter((name) => name.includes('backup'))).toEqual([]);
    expect(await stageLockHeld(setup)).toBe(false);

    const allowed = await cli(setup, ['run', 'registry-scripts', '--allow-connected-clients']);
    expect(allowed.code, allowed.output).toBe(0);
    expect(allowed.output).toMatch(/warning: 1 other client session is connected, and registry-scripts goes on/);
    expect(allowed.output).toContain('apim-migrate-registry-scripts-backup-a1 stored and verified');
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
    const after = await checksums(setup);

    // A stage that already succeeded has nothing to do: it neither checks the clients nor refuses.
    const again = await cli(setup, ['run', 'registry-scripts']);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain('already succeeded on these databases');
    expect(again.output).not.toContain('other client session');
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);

    const restoreRefused = await cli(setup, ['restore', '--stage', 'registry-scripts']);
    expect(restoreRefused.code, restoreRefused.output).toBe(1);
    expect(restoreRefused.output).toContain('so the restore of registry-scripts does not start');
    expect(await checksums(setup)).toEqual(after);
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);

    await endConnection(setup, foreign.id);
    await running;
    const restored = await cli(setup, ['restore', '--stage', 'registry-scripts']);
    expect(restored.code, restored.output).toBe(0);
    expect(restored.output).toContain('no other client is connected to');
  });

  it('does not count a run that holds the stage lock (the lock waits for it), nor sessions on other databases', async () => {
    const setup = await newSetup(engine);
    const other: ScratchDatabase =
      engine === 'postgresql'
        ? await createScratchPostgres('clients_other')
        : await createScratchMariadb('clients_other');
    cleanups.push(() => other.drop());
    // A client of another database on the same server, with the same login where it may.
    await connectForeign(engine, other.target.database, engine === 'postgresql' ? setup : other.target);
    const alone = await cli(setup, ['run', 'registry-scripts', '--dry-run']);
    expect(alone.code, alone.output).toBe(0);

    // Another run's lock session: apim-migrate's, recognised by name (PostgreSQL) or as the lock's holder (MariaDB).
    // It logs in as the deployment's login: what a MariaDB login without PROCESS sees is only its own user's.
    const holderSession = await openSession({
      ...setup.scratch!.target,
      username: setup.username,
      password: setup.password,
    });
    cleanups.push(() => holderSession.close());
    const lock = await acquireStageLock(holderSession, { waitMs: 0, holder: 'registry-scripts run other attempt 1' });
    const waited = await cli(setup, ['run', 'registry-scripts'], { APIM_MIGRATE_LOCK_WAIT_SECONDS: '1' });
    expect(waited.code, waited.output).toBe(1);
    expect(waited.output).toContain('another apim-migrate run holds the stage lock');
    expect(waited.output).not.toContain('other client session');
    // As a run does when it is done: the lock given back, its session closed.
    await lock.release();
    await holderSession.close();

    const ran = await cli(setup, ['run', 'registry-scripts']);
    expect(ran.code, ran.output).toBe(0);
    expect(ran.output).toContain('no other client is connected to');
  });

  it('tells the lock holder, a run waiting for the lock, an idle session of apim-migrate and other clients apart', async () => {
    const setup = await newSetup(engine);
    const target = setup.scratch!.target;
    const sessions: DbSession[] = [];
    for (let index = 0; index < 4; index += 1) sessions.push(await openSession(target));
    cleanups.push(async () => {
      for (const session of sessions) await session.close().catch(() => undefined);
    });
    // An idle session of apim-migrate's: named (PostgreSQL) or marked by its own user lock (MariaDB).
    const [holder, waiter, idle, observer] = sessions as [DbSession, DbSession, DbSession, DbSession];
    await acquireStageLock(holder, { waitMs: 0, holder: 'identity run 1 attempt 1' });
    const waiting = acquireStageLock(waiter, { waitMs: 5_000, pollMs: 200, holder: 'identity run 2 attempt 1' }).catch(
      () => undefined,
    );
    const foreign = await connectForeign(engine, setup.database, setup);
    await foreign.query('SELECT 1');
    // Give the waiter time to be in GET_LOCK (MariaDB) or between its tries (PostgreSQL).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const seen = await readClientSessions(observer);
    const holderId = await connectionId(holder, engine);
    const waiterId = await connectionId(waiter, engine);
    const idleId = await connectionId(idle, engine);
    expect(seen.apimMigrate.map((entry) => entry.id).sort()).toEqual([holderId, waiterId, idleId].sort());
    expect(seen.apimMigrate.find((entry) => entry.id === idleId)?.apimMigrate).toBe('named');
    if (engine === 'mariadb') {
      expect(seen.apimMigrate.find((entry) => entry.id === holderId)?.apimMigrate).toBe('lock-holder');
      expect(seen.apimMigrate.find((entry) => entry.id === waiterId)?.apimMigrate).toBe('lock-waiter');
    }
    expect(seen.others).toHaveLength(1);
    expect(seen.others[0]?.user).toBe(setup.username);
    await holder.query(engine === 'postgresql' ? 'SELECT pg_advisory_unlock_all()' : 'SELECT RELEASE_ALL_LOCKS()');
    await waiting;
  });

  it('preflight warns about a connected client without failing', async () => {
    const setup = await newSetup(engine);
    const foreign = await connectForeign(engine, setup.database, setup);
    await foreign.query("SELECT 'preflight-marker'");
    const logger = createRecordingLogger();
    const result = await runStageOperation({
      stage: 'preflight',
      dryRun: false,
      force: false,
      cwd: setup.dir,
      env: baseEnv(setup.env),
      logger,
    });
    const step = result.steps.find((entry) => entry.id === 'connected-clients');
    expect(step?.outcome).toBe('succeeded');
    const warnings = (step?.checks ?? []).filter((check) => check.verdict === 'warn').map((check) => check.message);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`connected now: apim_db = shared_db`);
    expect(warnings[0]).toContain(`user ${setup.username}`);
    expect(warnings[0]).toContain('the stages that change data refuse while it is');
  });
});

async function connectionId(session: DbSession, engine: SetupEngine): Promise<number> {
  const [row] = await session.query<{ id: unknown }>(
    engine === 'postgresql' ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id',
  );
  return Number(row?.id);
}
