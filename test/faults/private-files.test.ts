/**
 * Private files on a shared runner: with the most permissive umask (0), a server stage's work folder, its logs and
 * report while it runs, and everything it leaves in the local store, are the owner's only (0700 folders, 0600
 * files), or the owner's group's too with `store.groupAccess: true` (0750 and 0640, the store only).
 *
 * In-process through the CLI's code (runCliIn), so that the umask of this test process is the one apim-migrate runs
 * under; a watcher reads the modes of everything in the work folder every few milliseconds while the stage runs.
 */
import { readdirSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMigrationSetup,
  prepareServerStages,
  rewriteConfig,
  runCliIn,
  type MigrationSetup,
} from '../helpers/migration-setup.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-private-files-');
let setup: MigrationSetup;
let umask: number;

beforeAll(async () => {
  umask = process.umask(0);
  setup = await createMigrationSetup({ engine: 'postgresql', flags: { tags: true } });
  // Slow enough that the watcher sees the console log grow while the server runs.
  await prepareServerStages(setup, { seed: 5, tenants: 1, behaviour: { slowMs: 20 } });
}, 120_000);

afterAll(async () => {
  process.umask(umask);
  await setup?.cleanup();
  await temp.cleanup();
});

/**
 * Records the mode of every file and folder below `root`, again and again, while it runs, and each time the CLI
 * prints: a file that lives only between two samples (the report, written and stored within milliseconds on a busy
 * machine) is still seen when the stage logs its upload.
 */
class ModeWatcher {
  readonly seen = new Map<string, { mode: number; directory: boolean }>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly root: string) {
    this.timer = setInterval(() => this.scan(this.root), 5);
  }

  scan(dir: string = this.root): void {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const entry = path.join(dir, name);
      try {
        const info = statSync(entry);
        // The widest mode an entry ever had is the one that counts.
        const earlier = this.seen.get(entry)?.mode ?? 0;
        this.seen.set(entry, { mode: earlier | (info.mode & 0o777), directory: info.isDirectory() });
        if (info.isDirectory()) this.scan(entry);
      } catch {
        // Removed in the meantime.
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.scan(this.root);
  }
}

async function storeEntries(dir: string): Promise<Array<{ entry: string; mode: number; directory: boolean }>> {
  const found = [{ entry: dir, ...(await modeOf(dir)) }];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    found.push({ entry: file, ...(await modeOf(file)) });
  }
  return found;
}

async function modeOf(file: string): Promise<{ mode: number; directory: boolean }> {
  const info = await stat(file);
  return { mode: info.mode & 0o777, directory: info.isDirectory() };
}

async function runWatched(runnerTemp: string) {
  const watcher = new ModeWatcher(runnerTemp);
  try {
    return await runCliIn(setup, ['run', 'apim-validate'], {
      env: { RUNNER_TEMP: runnerTemp },
      runIdPrefix: 'private-files',
      onOutput: () => watcher.scan(),
    });
  } finally {
    watcher.stop();
    seen = watcher.seen;
  }
}
let seen = new Map<string, { mode: number; directory: boolean }>();

/**
 * The unpacked zip keeps the modes it is written with, which the installed migration-resources take: it is WSO2's
 * public kit, in a 0700 folder of its own (mkdtemp) inside the work folder.
 */
function unpackedKit(entry: string): boolean {
  return /[\\/]kit[\\/]kit-apim-\w{6}[\\/]/.test(entry);
}

describe('private files under umask 0', () => {
  it('the work folder, the console log, the report and the store are 0700 and 0600', { timeout: 120_000 }, async () => {
    const runnerTemp = await temp.make();
    const run = await runWatched(runnerTemp);
    expect(run.code, run.output).toBe(0);

    // What the stage wrote while it ran: its work folder, the logs it gathered, the report.
    const names = [...seen.keys()].map((entry) => path.relative(runnerTemp, entry));
    expect(names).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^apim-migrate-apim-validate-\d+-\w{6}$/),
        expect.stringMatching(/\/kit$/),
        expect.stringMatching(/\/logs\/server-console\.log$/),
        expect.stringMatching(/\/logs\/wso2carbon\.log$/),
        expect.stringMatching(/\/logs\/invalid-definitions\.json$/),
      ]),
    );
    // report/report.json lives in the work folder only from its write, through its upload, to the removal of the work
    // folder as the stage returns (milliseconds, which a sample may miss on a busy machine, and no line is printed in
    // between): its creation mode is test/unit/private-files.test.ts's, and its stored copy is checked below.
    const wide = [...seen].filter(([, { mode, directory }]) => mode !== (directory ? 0o700 : 0o600));
    expect(wide.filter(([entry]) => !unpackedKit(entry))).toEqual([]);

    const stored = await storeEntries(setup.storeDir);
    expect(stored.filter(({ entry }) => entry.endsWith('server-console.log'))).toHaveLength(1);
    expect(stored.filter(({ entry }) => entry.endsWith(`${path.sep}report.json`))).toHaveLength(1);
    expect(stored.filter(({ mode, directory }) => mode !== (directory ? 0o700 : 0o600))).toEqual([]);
  });

  it(
    "store.groupAccess: true shares the store with the group, and the work folder stays the owner's",
    {
      timeout: 120_000,
    },
    async () => {
      await rewriteConfig(setup, { store: { dir: './.apim-migrate-group', groupAccess: true } });
      const storeDir = path.join(setup.dir, '.apim-migrate-group');
      const runnerTemp = await temp.make();
      const run = await runWatched(runnerTemp);
      expect(run.code, run.output).toBe(0);

      const stored = await storeEntries(storeDir);
      expect(stored.filter(({ entry }) => entry.endsWith('report.json'))).toHaveLength(1);
      expect(stored.filter(({ mode, directory }) => mode !== (directory ? 0o750 : 0o640))).toEqual([]);
      const wide = [...seen].filter(([, { mode, directory }]) => mode !== (directory ? 0o700 : 0o600));
      expect(wide.filter(([entry]) => !unpackedKit(entry))).toEqual([]);
      expect(seen.size).toBeGreaterThan(3);
    },
  );
});
