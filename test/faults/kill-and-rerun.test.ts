/**
 * Faults in the middle of a stage, through the BUILT CLI on PostgreSQL and MariaDB: the tool killed (SIGKILL)
 * during a backup, during the registry scripts and during a server run; its database connection killed in the
 * middle of a statement; the server dying early or hanging. After each, the database is either untouched or
 * brought back exactly by running the stage again (the guard restores the failed attempt's backup first): the table
 * checksums say so.
 *
 * The moment is made, not guessed: a session of the test locks a table (blockers.ts), the tool's statement waits
 * for it, and the test kills the tool, or its connection, while it waits.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableChecksums } from '../../src/db/table-checksums.js';
import { expectedAfterRemoval } from '../../src/demo/registry-seed.js';
import { groupAlive, processAlive } from '../../src/server/server-runner.js';
import { blockTable } from '../helpers/blockers.js';
import { fakeJavaHome } from '../helpers/java.js';
import {
  cli,
  createFaultCase,
  dataChecksums as checksums,
  FAULT_FLAGS,
  NORMAL_SERVER,
  registryTables,
  startCli,
  storedArtifacts,
  type FaultCase,
} from '../helpers/fault-case.js';
import { ledgerStates, requireBundles, type MigrationSetup, type ScriptRun } from '../helpers/migration-setup.js';
import { waitFor } from '../helpers/runner.js';
import { writeStandInConf } from '../helpers/stand-in.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const TIMEOUT = { timeout: 240_000 };

const temp = createTempDirs('apim-migrate-kill-');

afterAll(async () => {
  await temp.cleanup();
});

/** Processes whose command line mentions `text` (other than this test's own). */
async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const args = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (args.includes(text)) found.push(`${pid}: ${args.replace(/\0/g, ' ')}`);
  }
  return found;
}

/**
 * The process group of the server in the home: wso2carbon.pid names the JVM (the launcher's child, as
 * carbon-kernel's Main.writePID writes it), whose group is the launcher's.
 */
function serverGroup(setup: MigrationSetup): Promise<number> {
  return waitFor('the server to write wso2carbon.pid', async () => {
    const text = await readFile(path.join(setup.apimHome, 'wso2carbon.pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    if (!(pid > 0) || !processAlive(pid)) return undefined;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const group = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return group > 0 && groupAlive(group) ? group : undefined;
  });
}

describe.each([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
] as const)('faults on %s', (_, engine) => {
  let made: FaultCase;
  /** The registry as the registry scripts must leave it. */
  let migrated: TableChecksums;

  beforeAll(async () => {
    requireBundles('cli');
    made = await createFaultCase(engine, temp);
    migrated = expectedAfterRemoval(made.seeded, FAULT_FLAGS);
  }, 180_000);

  afterAll(async () => {
    for (const pid of made?.servers ?? []) if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
    await made?.setup.cleanup();
  });

  it(
    'SIGKILL during the backup: nothing stored, nothing changed; the next run backs up and migrates',
    TIMEOUT,
    async () => {
      const { setup } = made;
      const before = await checksums(setup);
      const block = await blockTable(setup, 'REG_TAG', 'reads');
      const run = startCli(made, ['run', 'registry-scripts']);
      try {
        await block.waiter();
        process.kill(run.pid, 'SIGKILL');
        expect((await run.ended).signal).toBe('SIGKILL');
      } finally {
        await block.release();
      }
      // The dump tool was the killed tool's child: it ends when its pipe does.
      const dumpTool = engine === 'postgresql' ? 'pg_dump' : 'dump';
      await waitFor('the orphaned dump tool to end', async () =>
        (await processesMentioning(setup.database)).some((line) => line.includes(dumpTool)) ? undefined : true,
      );
      expect(await checksums(setup)).toEqual(before);
      expect((await storedArtifacts(setup)).filter((name) => name.includes('registry-scripts'))).toEqual([]);
      expect(await ledgerStates(setup)).toEqual([]);
      // The killed run's work folder (its partial dump; on MariaDB also the client defaults file) is still there...
      const left = await readdir(made.tmpDir);
      expect(left.length).toBeGreaterThan(0);
      for (const name of left) expect(name).toMatch(new RegExp(`^apim-migrate-[a-z-]+-${run.pid}-`));

      const again = await cli(made, ['run', 'registry-scripts']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      // ...until the next run removes it.
      expect(again.stdout).toMatch(/Removed \S+, the work folder of an apim-migrate run that was killed/);
      expect(await readdir(made.tmpDir)).toEqual([]);
      expect(registryTables(await checksums(setup))).toEqual(registryTables(migrated));
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
    },
  );

  /** Rolls registry-scripts back with the CLI, so that the next test starts from the seeded registry again. */
  async function rollBackRegistryScripts(): Promise<void> {
    const restored = await cli(made, ['restore', '--stage', 'registry-scripts']);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(registryTables(await checksums(made.setup))).toEqual(made.seeded.before);
    expect(await ledgerStates(made.setup)).toEqual([]);
  }

  it(
    "SIGKILL during the registry scripts: the next run restores the killed attempt's backup, then migrates",
    TIMEOUT,
    async () => {
      const { setup } = made;
      await rollBackRegistryScripts();
      // Row locks: the backup reads past them, the removal's DELETE on REG_TAG waits.
      const block = await blockTable(setup, 'REG_TAG', 'rows');
      try {
        const run = startCli(made, ['run', 'registry-scripts']);
        await block.waiter(90_000);
        process.kill(run.pid, 'SIGKILL');
        expect((await run.ended).signal).toBe('SIGKILL');
      } finally {
        await block.release();
      }
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:started']);

      const again = await cli(made, ['run', 'registry-scripts']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toMatch(
        /restoring apim-migrate-registry-scripts-backup-a1 of run \S+ before running it again/,
      );
      expect(registryTables(await checksums(setup))).toEqual(registryTables(migrated));
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
    },
  );

  it('the connection killed mid-statement: the stage fails, the next run restores and migrates', TIMEOUT, async () => {
    const { setup } = made;
    await rollBackRegistryScripts();
    const block = await blockTable(setup, 'REG_TAG', 'rows');
    let failed: ScriptRun;
    try {
      const run = startCli(made, ['run', 'registry-scripts']);
      await block.killWaiter(await block.waiter(90_000));
      failed = await run.ended;
    } finally {
      await block.release();
    }
    expect(failed.code, failed.stdout + failed.stderr).toBe(1);
    expect(failed.stdout + failed.stderr).toMatch(/terminat|lost|closed|killed|gone away/i);
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:failed']);
    const status = await cli(made, ['status']);
    expect(status.stdout).toMatch(
      /#1 registry-scripts failed \(run \S+, attempt 1, .*\): Registry versioning details: /,
    );

    const again = await cli(made, ['run', 'registry-scripts']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain('restoring apim-migrate-registry-scripts-backup-a1');
    // The failed attempt's backup is the one: no backup of half-migrated data.
    expect(again.stdout).not.toContain('stored and verified');
    expect(registryTables(await checksums(setup))).toEqual(registryTables(migrated));
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
  });

  it(
    'SIGKILL during a server run: the next run stops the orphaned server, restores and migrates',
    TIMEOUT,
    async () => {
      const { setup } = made;
      const before = await checksums(setup);
      await writeStandInConf(setup.apimHome, { hang: true });
      const run = startCli(made, ['run', 'identity']);
      const pid = await serverGroup(setup);
      made.servers.push(pid);
      process.kill(run.pid, 'SIGKILL');
      expect((await run.ended).signal).toBe('SIGKILL');
      // The server runs in its own process group: killing the tool leaves it up, with the kit in dropins.
      expect(groupAlive(pid)).toBe(true);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:started']);

      await writeStandInConf(setup.apimHome, NORMAL_SERVER);
      const again = await cli(made, ['run', 'identity']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(again.stdout).toMatch(/left by an apim-migrate run that was killed; stopping it/);
      expect(groupAlive(pid)).toBe(false);
      expect(await checksums(setup)).toEqual(before);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded']);
      expect(await readdir(path.join(setup.apimHome, 'repository', 'components', 'dropins'))).not.toContainEqual(
        expect.stringMatching(/migration/),
      );
    },
  );

  it("an API-M server of the operator's running from the home: the server stage refuses", TIMEOUT, async () => {
    const { setup } = made;
    const before = await checksums(setup);
    // Started by hand, not in migration mode.
    const server = spawn('sh', [path.join(setup.apimHome, 'bin', 'api-manager.sh')], {
      cwd: setup.apimHome,
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, JAVA_HOME: await fakeJavaHome() },
    });
    const pid = server.pid ?? 0;
    made.servers.push(pid);
    try {
      await serverGroup(setup);
      const refused = await cli(made, ['run', 'apim-validate']);
      expect(refused.code, refused.stdout + refused.stderr).toBe(1);
      expect(refused.stdout).toMatch(/API-M is running from \S+ \(pid \d+.*\): stop it first/);
      expect(groupAlive(pid)).toBe(true);
      expect(await checksums(setup)).toEqual(before);
    } finally {
      process.kill(-pid, 'SIGKILL');
    }
  });

  it('the server dying early fails a read-only stage and changes nothing', TIMEOUT, async () => {
    const { setup } = made;
    const before = await checksums(setup);
    await writeStandInConf(setup.apimHome, { dieEarly: true });
    const died = await cli(made, ['run', 'apim-validate']);
    expect(died.code, died.stdout + died.stderr).toBe(1);
    expect(died.stdout).toMatch(/exited|ended/i);
    expect(await checksums(setup)).toEqual(before);

    await writeStandInConf(setup.apimHome, NORMAL_SERVER);
    const again = await cli(made, ['run', 'apim-validate']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  });

  it('a hanging server times out, is stopped, and the next run restores and migrates', TIMEOUT, async () => {
    const { setup } = made;
    const before = await checksums(setup);
    await writeStandInConf(setup.apimHome, { hang: true });
    const hung = await cli(made, ['run', 'apim']);
    expect(hung.code, hung.stdout + hung.stderr).toBe(1);
    expect(hung.stdout).toMatch(/timed out|timeout/i);
    const pidText = await readFile(path.join(setup.apimHome, 'wso2carbon.pid'), 'utf8').catch(() => '');
    expect(pidText).toBe('');
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:failed']);

    await writeStandInConf(setup.apimHome, NORMAL_SERVER);
    const again = await cli(made, ['run', 'apim']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(await checksums(setup)).toEqual(before);
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:succeeded']);
  });
});
