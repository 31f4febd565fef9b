import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/entry/cli.js';
import { createMigrationSetup, baseEnv, type MigrationSetup, type SetupEngine } from '../helpers/migration-setup.js';

let setup: MigrationSetup | undefined;
afterEach(async () => {
  await setup?.cleanup();
  setup = undefined;
});

async function status(current: MigrationSetup, args: string[] = []) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['status', ...args], {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    env: baseEnv(current.env),
    cwd: current.dir,
    platform: 'linux',
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe.each<[string, SetupEngine]>([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
])('status on %s', (_label, engine) => {
  it('says that no stage is recorded while shared_db has no ledger, and creates none', async () => {
    setup = await createMigrationSetup({ engine });
    const result = await status(setup);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(
      /^No ledger in shared_db \(.+\): apim-migrate has recorded no stage on these databases\.$/,
    );
    const session = await setup.adminSession();
    try {
      const tables = await session.query<{ name: string }>(
        engine === 'postgresql'
          ? "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'apim_migrate_ledger'"
          : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'APIM_MIGRATE_LEDGER'",
      );
      expect(tables).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('prints what the ledger records when there is one', async () => {
    setup = await createMigrationSetup({ engine });
    const session = await setup.adminSession();
    try {
      await session.query('CREATE TABLE APIM_MIGRATE_LEDGER (ID INTEGER, STAGE VARCHAR(40), STATE VARCHAR(20))');
      await session.query("INSERT INTO APIM_MIGRATE_LEDGER VALUES (1, 'registry-scripts', 'succeeded')");
    } finally {
      await session.close();
    }
    const text = await status(setup);
    expect(text.code).toBe(0);
    expect(text.out).toContain('Ledger in shared_db');
    expect(text.out).toContain('registry-scripts');
    const json = await status(setup, ['--json']);
    const parsed = JSON.parse(json.out) as { ledger: { exists: boolean; entries: Array<Record<string, unknown>> } };
    expect(parsed.ledger.exists).toBe(true);
    expect(parsed.ledger.entries).toHaveLength(1);
    expect(JSON.stringify(parsed.ledger.entries[0]).toLowerCase()).toContain('"stage":"registry-scripts"');
  });
});

describe('status with a wrong password', () => {
  it('exits 2 naming shared_db and never prints the password', async () => {
    setup = await createMigrationSetup({ engine: 'mariadb', password: 'not-the-right-one-7731' });
    const result = await status(setup);
    expect(result.code).toBe(2);
    expect(result.err).toContain('shared_db');
    expect(`${result.out}${result.err}`).not.toContain('not-the-right-one-7731');
  });
});
