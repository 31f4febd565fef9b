/**
 * A folder kit with a symbolic link out of it, and (on Windows) an apimHome that cmd.exe would read as more than a
 * path, are bad input: the stage exits with code 2 before the lock and the backup, names the problem, and changes
 * nothing (not a file of the setup, not a row, no work folder left).
 *
 * In-process through the CLI's code (runCliIn): Windows is the `platform` the CLI is given, as its tests do.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMigrationSetup,
  ledgerStates,
  rewriteConfig,
  runCliIn,
  type MigrationSetup,
} from '../helpers/migration-setup.js';
import { expectUnchanged, takeSnapshot, type Snapshot } from '../helpers/snapshots.js';
import { createTempDirs, kitWrapperName, makeMigrationKitDir } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-kits-homes-');
let setup: MigrationSetup;
let runnerTemp: string;
let baseline: Snapshot;
let outside: string;

beforeAll(async () => {
  setup = await createMigrationSetup({ engine: 'postgresql', flags: { tags: true } });
  runnerTemp = await temp.make();
  outside = await temp.make();
  await writeFile(path.join(outside, 'secret.txt'), 'not part of any kit');
  // A folder kit whose migration-resources holds a link to a file outside the kit.
  const kit = await makeMigrationKitDir(path.join(setup.dir, 'apim-kit-folder'), { kind: 'apim' });
  await symlink(
    path.join(outside, 'secret.txt'),
    path.join(kit, kitWrapperName('apim'), 'migration-resources', 'secret.txt'),
  );
  // The same home under a name with "&", as an operator might have it on Windows.
  await mkdir(path.join(setup.dir, 'homes'));
  await symlink(setup.apimHome, path.join(setup.dir, 'homes', 'R&D wso2am-4.2.0'));
  // The config as rewriteConfig writes it, so that putting it back gives the same bytes.
  await rewriteConfig(setup, {});
  baseline = await takeSnapshot(setup, runnerTemp);
}, 120_000);

afterAll(async () => {
  await setup?.cleanup();
  await temp.cleanup();
});

async function refused(config: Record<string, unknown>, platform: NodeJS.Platform): Promise<string> {
  const before = structuredClone(setup.configObject);
  try {
    await rewriteConfig(setup, config);
    const run = await runCliIn(setup, ['run', 'apim'], {
      env: { RUNNER_TEMP: runnerTemp },
      runIdPrefix: 'kits-homes',
      platform,
    });
    expect(run.code, run.output).toBe(2);
    expect(run.output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    return run.output;
  } finally {
    for (const key of Object.keys(setup.configObject)) delete setup.configObject[key];
    await rewriteConfig(setup, before);
  }
}

describe('bad kits and homes are refused before the lock and the backup', () => {
  it('a folder kit with a symbolic link out of it', async () => {
    const output = await refused({ apim: { migrationKit: './apim-kit-folder' } }, 'linux');
    expect(output).toContain(`${path.join(setup.dir, 'apim-kit-folder')}: has 1 symbolic link`);
    expect(output).toContain(`"${kitWrapperName('apim')}/migration-resources/secret.txt" is a symbolic link to`);
    expect(output).toContain('which leads out of the kit');
    expect(await ledgerStates(setup)).toEqual([]);
    expectUnchanged(baseline, await takeSnapshot(setup, runnerTemp));
  });

  it('on Windows, an apimHome with "&"', async () => {
    const output = await refused({ apimHome: './homes/R&D wso2am-4.2.0' }, 'win32');
    expect(output).toMatch(/apimHome .*R&D wso2am-4\.2\.0 holds "&", which cmd\.exe reads as commands/);
    expect(await ledgerStates(setup)).toEqual([]);
    expectUnchanged(baseline, await takeSnapshot(setup, runnerTemp));
  });

  it('the same apimHome is a path like any other where sh runs the launcher', async () => {
    // Not refused for its name: this run goes on to the stage's own steps (and fails there, without a server).
    const before = structuredClone(setup.configObject);
    try {
      await rewriteConfig(setup, { apimHome: './homes/R&D wso2am-4.2.0', server: { timeoutMinutes: 0.05 } });
      const run = await runCliIn(setup, ['run', 'apim', '--dry-run'], { env: { RUNNER_TEMP: runnerTemp } });
      expect(run.output).not.toContain('cmd.exe');
      expect(run.code, run.output).toBe(0);
    } finally {
      for (const key of Object.keys(setup.configObject)) delete setup.configObject[key];
      await rewriteConfig(setup, before);
    }
  });
});
