/**
 * Where the backups go fails: the disk of the store (or of the work folder) fills up during a backup, and GitHub's
 * artifact service refuses uploads or downloads. No stage changes data without a stored, verified backup, so each
 * ends with the database as it was before the stage (or before the failed attempt), and a later run completes.
 *
 * The full disks are small tmpfs file systems mounted for the test (root, as the test command runs); the artifact
 * service is the local fake with its faults switched on, driven by the real @actions/artifact client in the BUILT
 * action.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedAfterRemoval } from '../../src/demo/registry-seed.js';
import { startFakeArtifactService, type FakeArtifactService } from '../helpers/fake-artifact-service.js';
import {
  allChecksums,
  cli,
  createFaultCase,
  dataChecksums,
  FAULT_FLAGS,
  NORMAL_SERVER,
  registryTables,
  type FaultCase,
} from '../helpers/fault-case.js';
import { ledgerStates, requireBundles, rewriteConfig } from '../helpers/migration-setup.js';
import { errorCommands, GITHUB_TOKEN, REPOSITORY, runJob, type RunnerJob } from '../helpers/runner.js';
import { writeStandInConf } from '../helpers/stand-in.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const run = promisify(execFile);
const TIMEOUT = { timeout: 240_000 };
const temp = createTempDirs('apim-migrate-store-faults-');
const mounts: string[] = [];

/** A tmpfs of `size` (e.g. `16k`) at a new folder. */
async function smallDisk(size: string): Promise<string> {
  const dir = path.join(await temp.make(), 'disk');
  await mkdir(dir);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]).catch((error: unknown) => {
    throw new Error(`mounting a tmpfs needs root (CAP_SYS_ADMIN), as scripts/test.sh runs: ${String(error)}`);
  });
  mounts.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of mounts) await run('umount', [dir]).catch(() => undefined);
  await temp.cleanup();
});

describe('the disk fills up during a backup', () => {
  let made: FaultCase;

  beforeAll(async () => {
    requireBundles('cli');
    made = await createFaultCase('postgresql', temp);
  }, 180_000);

  afterAll(async () => {
    await made?.setup.cleanup();
  });

  it(
    'of the store: the stage stops before changing data, leaves no partial artifact, and runs later',
    TIMEOUT,
    async () => {
      const { setup } = made;
      const before = await allChecksums(setup);
      const store = await smallDisk('16k');
      await rewriteConfig(setup, { store: { dir: store } });
      const full = await cli(made, ['run', 'registry-scripts']);
      expect(full.code, full.stdout + full.stderr).toBe(1);
      expect(full.stdout + full.stderr).toMatch(/ENOSPC|no space left/i);
      expect(await allChecksums(setup)).toEqual(before);
      expect(await ledgerStates(setup)).toEqual([]);
      const left = await readdir(path.join(store, 'runs')).catch(() => []);
      for (const runDir of left) {
        // A failed upload leaves neither the artifact nor its partial folder.
        expect(await readdir(path.join(store, 'runs', runDir))).not.toContainEqual(
          expect.stringMatching(/registry-scripts-backup/),
        );
      }

      await rewriteConfig(setup, { store: { dir: '.apim-migrate' } });
      const again = await cli(made, ['run', 'registry-scripts']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect(registryTables(await dataChecksums(setup))).toEqual(
        registryTables(expectedAfterRemoval(made.seeded, FAULT_FLAGS)),
      );
    },
  );

  it(
    'of the work folder: the dump fails, nothing is stored or changed, and the work folder is removed',
    TIMEOUT,
    async () => {
      const { setup } = made;
      const before = await allChecksums(setup);
      const work = await smallDisk('16k');
      const full = await cli(made, ['run', 'identity'], { TMPDIR: work });
      expect(full.code, full.stdout + full.stderr).toBe(1);
      expect(full.stdout + full.stderr).toMatch(/ENOSPC|no space left/i);
      expect(await allChecksums(setup)).toEqual(before);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
      expect(await readdir(work)).toEqual([]);
    },
  );
});

describe("GitHub's artifact service fails", () => {
  let made: FaultCase;
  let service: FakeArtifactService;
  let lastRunId = 52_000_000_000;

  beforeAll(async () => {
    requireBundles('main', 'post');
    service = await startFakeArtifactService({ readToken: GITHUB_TOKEN, repository: REPOSITORY });
    made = await createFaultCase('mariadb', temp);
  }, 180_000);

  afterAll(async () => {
    await made?.setup.cleanup();
    await service?.close();
  });

  function job(runId: string, attempt: number): RunnerJob {
    return { setup: made.setup, service, runId, attempt, temp };
  }

  it(
    'uploads refused: the backup is not stored, so nothing changes; a re-run stores it and migrates',
    TIMEOUT,
    async () => {
      const { setup } = made;
      const runId = String((lastRunId += 1));
      const before = await allChecksums(setup);
      service.configure({ failUploads: 403 });
      const refused = await runJob(job(runId, 1), { stage: 'registry-scripts' });
      expect(refused.main.run.code, refused.main.run.stdout).toBe(1);
      expect(errorCommands(refused.main.run.stdout).join('\n')).toMatch(/upload|403|refuses uploads/i);
      expect(await allChecksums(setup)).toEqual(before);
      expect(await ledgerStates(setup)).toEqual([]);

      service.configure({ failUploads: undefined });
      const again = await runJob(job(runId, 2), { stage: 'registry-scripts' });
      expect(again.main.run.code, again.main.run.stdout).toBe(0);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded']);
    },
  );

  it(
    'downloads refused: a re-run of a failed stage cannot restore, so it changes nothing; a later one can',
    TIMEOUT,
    async () => {
      const { setup } = made;
      const runId = String((lastRunId += 1));
      const before = await dataChecksums(setup);
      await writeStandInConf(setup.apimHome, { fail: true });
      const failed = await runJob(job(runId, 1), { stage: 'identity' });
      expect(failed.main.run.code, failed.main.run.stdout).toBe(1);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:failed']);
      const afterFailure = await allChecksums(setup);

      await writeStandInConf(setup.apimHome, NORMAL_SERVER);
      service.configure({ failDownloads: 403 });
      const refused = await runJob(job(runId, 2), { stage: 'identity' });
      expect(refused.main.run.code, refused.main.run.stdout).toBe(1);
      expect(errorCommands(refused.main.run.stdout).join('\n')).toMatch(/download|403|refuses downloads/i);
      expect(await allChecksums(setup)).toEqual(afterFailure);

      service.configure({ failDownloads: undefined });
      const again = await runJob(job(runId, 3), { stage: 'identity' });
      expect(again.main.run.code, again.main.run.stdout).toBe(0);
      expect(await dataChecksums(setup)).toEqual(before);
      expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded']);
    },
  );
});
