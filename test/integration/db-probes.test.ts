/**
 * Probes and connection errors against the machine's real PostgreSQL and MariaDB.
 * Needs `bash scripts/ensure-services.sh` first (servers up, password-checked PostgreSQL login).
 */

import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '../../src/config/types.js';
import { checkClientTools, findClientTools } from '../../src/db/client-tools.js';
import {
  checkTestedDbms,
  findAdminRoleConflicts,
  isSuperuser,
  readDatabaseSizeBytes,
  readServerInfo,
  readSqlSafeUpdates,
} from '../../src/db/probes.js';
import { DbConnectError, openSession, type DbSession } from '../../src/db/session.js';
import {
  createMariadbUser,
  createPostgresRole,
  createScratchMariadb,
  createScratchPostgres,
  mariadbAdminTarget,
  PG_PASSWORD_TEST_ROLE,
  postgresAdminTarget,
  seedUserStoreTables,
  type ScratchDatabase,
  type UserStoreSeed,
} from '../helpers/databases.js';

const WRONG_PASSWORD = 'Wr0ng-Secret-7f3a9c';

/** Opens a session on the target, runs the work and always closes it. */
async function withSession<T>(target: DatabaseTarget, work: (session: DbSession) => Promise<T>): Promise<T> {
  const session = await openSession(target);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}

async function expectConnectError(target: DatabaseTarget, connectTimeoutMs?: number): Promise<DbConnectError> {
  const error = await openSession(target, connectTimeoutMs === undefined ? {} : { connectTimeoutMs }).then(
    async (session) => {
      await session.close();
      return undefined;
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(DbConnectError);
  return error as DbConnectError;
}

/** A port nothing listens on: bind an ephemeral one, then release it. */
async function findClosedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** A server that accepts connections and never says a word, so clients run into their timeout. */
async function startSilentServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Scratch databases are dropped even when a test fails. */
const scratches: ScratchDatabase[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  for (const scratch of scratches) await scratch.drop();
});

async function track(scratch: Promise<ScratchDatabase>): Promise<ScratchDatabase> {
  const created = await scratch;
  scratches.push(created);
  return created;
}

const SEEDS: Array<[string, UserStoreSeed, Array<{ tenantId: number }>]> = [
  [
    'found when admin is in both tables',
    { adminInUmRole: true, adminInHybridRole: true, adminName: 'Admin' },
    [{ tenantId: -1234 }],
  ],
  ['not found when admin is only a primary role', { adminInUmRole: true, adminInHybridRole: false }, []],
  ['not found when admin is only an internal role', { adminInUmRole: false, adminInHybridRole: true, tenantId: 7 }, []],
];

describe('PostgreSQL', () => {
  let scratch: ScratchDatabase;

  beforeAll(async () => {
    scratch = await track(createScratchPostgres('probes_pg'));
  });

  it('reads the server info', async () => {
    const info = await withSession(scratch.target, readServerInfo);
    expect(info.product).toBe('PostgreSQL');
    expect(info.version).toMatch(/^\d+\.\d+$/);
    expect(info.major).toBe(Number(info.version.split('.')[0]));
    expect(info.major).toBeGreaterThanOrEqual(10);
    expect(checkTestedDbms(info).tested).toBe(info.major === 10);
  });

  it('finds pg_dump and pg_restore that can work with this server', async () => {
    const info = await withSession(scratch.target, readServerInfo);
    const tools = await findClientTools('postgresql');
    expect(tools.dump.path).toMatch(/pg_dump$/);
    expect(tools.dump.version?.flavor).toBe('PostgreSQL');
    expect(checkClientTools(info, tools).map((check) => check.verdict)).toEqual(['pass', 'pass']);
  });

  it('tells a superuser from a plain login role', async () => {
    expect(await withSession(scratch.target, isSuperuser)).toBe(true);
    const role = await createPostgresRole(scratch);
    cleanups.push(role.drop);
    expect(await withSession(role.target, isSuperuser)).toBe(false);
  });

  it('reports the admin role check as not done when the user-store tables are absent', async () => {
    const result = await withSession(scratch.target, findAdminRoleConflicts);
    expect(result).toEqual({ checked: false, reason: expect.stringMatching(/UM_ROLE and UM_HYBRID_ROLE not found/) });
  });

  it.each(SEEDS)('admin role conflict %s', async (_label, seed, conflicts) => {
    const seeded = await track(createScratchPostgres('probes_pg_um'));
    const result = await withSession(seeded.target, async (session) => {
      await seedUserStoreTables(session, seed);
      return findAdminRoleConflicts(session);
    });
    expect(result).toEqual({ checked: true, conflicts });
  });

  it('reads a database size above zero', async () => {
    expect(await withSession(scratch.target, readDatabaseSizeBytes)).toBeGreaterThan(0);
  });

  describe('connection failures', () => {
    const messages: string[] = [];
    const passwords = [WRONG_PASSWORD, PG_PASSWORD_TEST_ROLE.password];
    const pwTestTarget = (): DatabaseTarget => ({ ...postgresAdminTarget(), ...PG_PASSWORD_TEST_ROLE });

    it('explains a missing database', async () => {
      const error = await expectConnectError({ ...pwTestTarget(), database: 'apim_missing_db_42' });
      messages.push(error.message);
      expect(error.failure).toBe('database-missing');
      expect(error.message).toContain('shared_db');
      expect(error.message).toContain('127.0.0.1:5432/apim_missing_db_42');
      expect(error.message).toContain('create it or fix the URL');
    });

    it('explains a wrong password', async () => {
      const error = await expectConnectError({ ...pwTestTarget(), password: WRONG_PASSWORD });
      messages.push(error.message);
      expect(error.failure).toBe('authentication');
      expect(error.exitCode).toBe(2);
      expect(error.message).toMatch(/authentication failed for user apim_migrate_pwtest/);
      expect(error.message).toContain('password for shared_db');
    });

    it('accepts the right password of the password-checked login', async () => {
      const user = await withSession(pwTestTarget(), async (session) =>
        session.query<{ user: string }>('SELECT current_user AS user'),
      );
      expect(user).toEqual([{ user: 'apim_migrate_pwtest' }]);
    });

    it('explains a refused connection', async () => {
      const port = await findClosedPort();
      const error = await expectConnectError({ ...pwTestTarget(), port });
      messages.push(error.message);
      expect(error.failure).toBe('refused');
      expect(error.message).toContain(`127.0.0.1:${port}/postgres`);
      expect(error.message).toMatch(/is the server running.*reachable from this runner/);
    });

    it('explains a timeout', async () => {
      const silent = await startSilentServer();
      try {
        const error = await expectConnectError({ ...pwTestTarget(), port: silent.port }, 300);
        messages.push(error.message);
        expect(error.failure).toBe('timeout');
        expect(error.exitCode).toBe(1);
      } finally {
        await silent.stop();
      }
    });

    it('never shows the password', () => {
      expect(messages).toHaveLength(4);
      for (const message of messages) for (const password of passwords) expect(message).not.toContain(password);
    });
  });
});

describe('MariaDB', () => {
  let scratch: ScratchDatabase;

  beforeAll(async () => {
    scratch = await track(createScratchMariadb('probes_maria'));
  });

  it('reads the server info', async () => {
    const info = await withSession(scratch.target, readServerInfo);
    expect(info.product).toBe('MariaDB');
    expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.major).toBe(Number(info.version.split('.')[0]));
    expect(info.minor).toBe(Number(info.version.split('.')[1]));
    expect(checkTestedDbms(info)).toEqual({ tested: false, message: expect.stringContaining('MariaDB') });
  });

  it('finds dump and client tools that can work with this server', async () => {
    const info = await withSession(scratch.target, readServerInfo);
    const tools = await findClientTools('mariadb');
    expect(tools.dump.version?.flavor).toBe('MariaDB');
    expect(checkClientTools(info, tools).map((check) => check.verdict)).toEqual(['pass', 'pass']);
  });

  it('reads the GLOBAL sql_safe_updates', async () => {
    await withSession(mariadbAdminTarget(), async (admin) => {
      const [original] = await admin.query<{ value: number }>('SELECT @@GLOBAL.sql_safe_updates AS value');
      try {
        await admin.query('SET GLOBAL sql_safe_updates = 0');
        expect(await withSession(scratch.target, readSqlSafeUpdates)).toBe(false);
        await admin.query('SET GLOBAL sql_safe_updates = 1');
        // A session-level 0 must not hide the global 1 the migration clients would start with.
        const seen = await withSession(scratch.target, async (session) => {
          await session.query('SET SESSION sql_safe_updates = 0');
          return readSqlSafeUpdates(session);
        });
        expect(seen).toBe(true);
      } finally {
        await admin.query('SET GLOBAL sql_safe_updates = ?', [Number(original?.value ?? 0)]);
      }
    });
  });

  it('refuses the PostgreSQL-only superuser probe', async () => {
    await expect(withSession(scratch.target, isSuperuser)).rejects.toThrow(/postgresql only/);
  });

  it('reports the admin role check as not done when the user-store tables are absent', async () => {
    const result = await withSession(scratch.target, findAdminRoleConflicts);
    expect(result).toEqual({ checked: false, reason: expect.stringMatching(/UM_ROLE and UM_HYBRID_ROLE not found/) });
  });

  it.each(SEEDS)('admin role conflict %s', async (_label, seed, conflicts) => {
    const seeded = await track(createScratchMariadb('probes_maria_um'));
    const result = await withSession(seeded.target, async (session) => {
      await seedUserStoreTables(session, seed);
      const tables = await session.query<{ name: string }>(
        'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1',
      );
      // The check must find the tables under the upper-case names WSO2's scripts give them.
      expect(tables.map((table) => table.name)).toEqual(['UM_HYBRID_ROLE', 'UM_ROLE']);
      return findAdminRoleConflicts(session);
    });
    expect(result).toEqual({ checked: true, conflicts });
  });

  it('reads a database size above zero', async () => {
    const sized = await track(createScratchMariadb('probes_maria_size'));
    const size = await withSession(sized.target, async (session) => {
      await seedUserStoreTables(session, { adminInUmRole: false, adminInHybridRole: false });
      return readDatabaseSizeBytes(session);
    });
    expect(size).toBeGreaterThan(0);
  });

  describe('connection failures', () => {
    const messages: string[] = [];
    const passwords: string[] = [WRONG_PASSWORD];

    it('explains a missing database', async () => {
      const error = await expectConnectError(mariadbAdminTarget('apim_missing_db_42'));
      messages.push(error.message);
      expect(error.failure).toBe('database-missing');
      expect(error.message).toContain('shared_db');
      expect(error.message).toContain('127.0.0.1:3306/apim_missing_db_42');
      expect(error.message).toContain('create it or fix the URL');
    });

    it('explains a wrong password', async () => {
      const user = await createMariadbUser(scratch);
      cleanups.push(user.drop);
      passwords.push(user.password);
      expect(await withSession(user.target, async (session) => session.query('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
      const error = await expectConnectError({ ...user.target, password: WRONG_PASSWORD });
      messages.push(error.message);
      expect(error.failure).toBe('authentication');
      expect(error.message).toContain(`authentication failed for user ${user.username}`);
      expect(error.message).toContain('password for shared_db');
    });

    it('explains a refused connection', async () => {
      const port = await findClosedPort();
      const error = await expectConnectError({ ...mariadbAdminTarget(), port, password: WRONG_PASSWORD });
      messages.push(error.message);
      expect(error.failure).toBe('refused');
      expect(error.message).toContain(`127.0.0.1:${port}/mysql`);
      expect(error.message).toMatch(/is the server running.*reachable from this runner/);
    });

    it('explains a timeout', async () => {
      const silent = await startSilentServer();
      try {
        const error = await expectConnectError(
          { ...mariadbAdminTarget(), port: silent.port, password: WRONG_PASSWORD },
          300,
        );
        messages.push(error.message);
        expect(error.failure).toBe('timeout');
      } finally {
        await silent.stop();
      }
    });

    it('never shows the password', () => {
      expect(messages).toHaveLength(4);
      for (const message of messages) for (const password of passwords) expect(message).not.toContain(password);
    });
  });
});
