/**
 * Two runs on the same databases at once, through the BUILT CLI: the stage lock (a PostgreSQL advisory lock, a
 * MariaDB GET_LOCK) lets one work; the other waits, then either finds the work done or gives up with a clear
 * message, having changed nothing. The data ends as one run alone would leave it, with one ledger entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedAfterRemoval } from '../../src/demo/registry-seed.js';
import { blockTable } from '../helpers/blockers.js';
import {
  cli,
  createFaultCase,
  dataChecksums,
  FAULT_FLAGS,
  registryTables,
  startCli,
  storedArtifacts,
  type FaultCase,
} from '../helpers/fault-case.js';
import { ledgerStates, requireBundles, type ScriptRun } from '../helpers/migration-setup.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const TIMEOUT = { timeout: 240_000 };
const temp = createTempDirs('apim-migrate-concurrency-');

afterAll(async () => {
  await temp.cleanup();
});

describe.each([
  ['PostgreSQL', 'postgresql'],
  ['MariaDB', 'mariadb'],
] as const)('two runs at once on %s', (_, engine) => {
  let made: FaultCase;

  beforeAll(async () => {
    requireBundles('cli');
    made = await createFaultCase(engine, temp);
  }, 180_000);

  afterAll(async () => {
    await made?.setup.cleanup();
  });

  it(
    'the second gives up after its lock wait, clearly, and changes nothing; the first completes',
    TIMEOUT,
    async () => {
      const { setup } = made;
      // The first run holds the stage lock while its removal waits for the test's row locks.
      const block = await blockTable(setup, 'REG_TAG', 'rows');
      let first: ScriptRun;
      let second: ScriptRun;
      try {
        const running = startCli(made, ['run', 'registry-scripts']);
        await block.waiter(90_000);
        const artifactsBefore = await storedArtifacts(setup);
        second = await cli(made, ['run', 'registry-scripts'], { APIM_MIGRATE_LOCK_WAIT_SECONDS: '2' });
        // The second run stored its logs and its report (the failed lock step is in it) and nothing else: no backup.
        const added = (await storedArtifacts(setup)).filter((name) => !artifactsBefore.includes(name)).sort();
        expect(added).toEqual([
          expect.stringMatching(/^[^/]+\/apim-migrate-registry-scripts-logs-a1$/),
          expect.stringMatching(/^[^/]+\/apim-migrate-registry-scripts-report-a1$/),
        ]);
        expect(artifactsBefore.some((name) => name.startsWith(added[0]?.split('/')[0] ?? '-'))).toBe(false);
        expect(await ledgerStates(setup)).toEqual(['registry-scripts:started']);
        await block.release();
        first = await running.ended;
      } finally {
        await block.release();
      }
      expect(second.code, second.stdout + second.stderr).toBe(1);
      expect(second.stdout + second.stderr).toMatch(/another apim-migrate run .*(holds|has) the lock|lock/i);
      expect(second.stdout + second.stderr).toMatch(/waited 2/);
      expect(first.code, first.stdout + first.stderr).toBe(0);
      expect(registryTables(await dataChecksums(setup))).toEqual(
        registryTables(expectedAfterRemoval(made.seeded, FAULT_FLAGS)),
      );
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
    },
  );

  it(
    'started together with the default wait: one runs the stage, the other waits and finds it done',
    TIMEOUT,
    async () => {
      const { setup } = made;
      const restored = await cli(made, ['restore', '--stage', 'registry-scripts']);
      expect(restored.code, restored.stdout + restored.stderr).toBe(0);
      const [a, b] = await Promise.all([
        cli(made, ['run', 'registry-scripts']),
        cli(made, ['run', 'registry-scripts']),
      ]);
      for (const result of [a, b]) expect(result.code, result.stdout + result.stderr).toBe(0);
      const outputs = [a.stdout, b.stdout];
      expect(outputs.filter((output) => /already succeeded/.test(output))).toHaveLength(1);
      expect(registryTables(await dataChecksums(setup))).toEqual(
        registryTables(expectedAfterRemoval(made.seeded, FAULT_FLAGS)),
      );
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
    },
  );
});
