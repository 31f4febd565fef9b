/**
 * A migration setup for the fault suite (test/faults/): a seeded 3.1.0 registry on PostgreSQL or MariaDB, the
 * stand-in server in the 4.2.0 home, preflight already passed, and the BUILT CLI run against it with its own TMPDIR.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import { LEDGER_TABLE } from '../../src/db/ledger.js';
import { tableChecksums, type TableChecksum, type TableChecksums } from '../../src/db/table-checksums.js';
import { REGISTRY_TABLES, type SeededRegistry } from '../../src/demo/registry-seed.js';
import {
  baseEnv,
  BUNDLES,
  createMigrationSetup,
  prepareServerStages,
  runNodeScript,
  startNodeScript,
  type MigrationSetup,
  type MigrationSetupOptions,
  type RunningScript,
  type ScriptRun,
  type SetupEngine,
} from './migration-setup.js';
import type { createTempDirs } from './wso2-fixtures.js';

/** Versioning was on for tags and properties in the old registry.xml: registry-scripts deletes rows there. */
export const FAULT_FLAGS: RegistryVersioningFlags = { properties: true, comments: false, tags: true, ratings: false };
export const NORMAL_SERVER = { slowMs: 5 };

export interface FaultCase {
  setup: MigrationSetup;
  seeded: SeededRegistry;
  /** TMPDIR of every CLI run: its work folders go there. */
  tmpDir: string;
  /** Server process groups to kill at the end, in case a test failed before they stopped. */
  servers: number[];
}

export async function createFaultCase(
  engine: SetupEngine,
  temp: ReturnType<typeof createTempDirs>,
  options: Partial<MigrationSetupOptions> = {},
): Promise<FaultCase> {
  const setup = await createMigrationSetup({
    engine,
    flags: FAULT_FLAGS,
    // A hanging server times out after 15 s.
    config: { server: { timeoutMinutes: 0.25, stopGraceSeconds: 5 } },
    ...options,
  });
  try {
    const seeded = await prepareServerStages(setup, { seed: 23, tenants: 2, behaviour: NORMAL_SERVER });
    const made: FaultCase = { setup, seeded, tmpDir: await temp.make(), servers: [] };
    const preflight = await cli(made, ['run', 'preflight']);
    expect(preflight.code, preflight.stdout + preflight.stderr).toBe(0);
    return made;
  } catch (error) {
    await setup.cleanup();
    throw error;
  }
}

export function cliEnv(made: FaultCase, extra: Record<string, string | undefined> = {}) {
  return baseEnv({ ...made.setup.env, TMPDIR: made.tmpDir, ...extra });
}

/** Runs the built CLI in the setup's folder. */
export function cli(
  made: FaultCase,
  argv: string[],
  extra: Record<string, string | undefined> = {},
): Promise<ScriptRun> {
  return runNodeScript(BUNDLES.cli, argv, { cwd: made.setup.dir, env: cliEnv(made, extra), timeoutMs: 180_000 });
}

export function startCli(
  made: FaultCase,
  argv: string[],
  extra: Record<string, string | undefined> = {},
): RunningScript {
  return startNodeScript(BUNDLES.cli, argv, { cwd: made.setup.dir, env: cliEnv(made, extra), timeoutMs: 180_000 });
}

/** Every table of the setup's database but the ledger. */
export async function dataChecksums(setup: MigrationSetup): Promise<TableChecksums> {
  const session = await setup.adminSession();
  try {
    const all = await tableChecksums(session);
    delete all[LEDGER_TABLE];
    delete all[LEDGER_TABLE.toLowerCase()];
    return all;
  } finally {
    await session.close();
  }
}

/** Every table, the ledger too. */
export async function allChecksums(setup: MigrationSetup): Promise<TableChecksums> {
  const session = await setup.adminSession();
  try {
    return await tableChecksums(session);
  } finally {
    await session.close();
  }
}

export function registryTables(all: TableChecksums): Record<string, TableChecksum | undefined> {
  return Object.fromEntries(REGISTRY_TABLES.map((table) => [table, all[table]]));
}

/** `run/artifact` of every artifact in the local store. */
export async function storedArtifacts(setup: MigrationSetup): Promise<string[]> {
  const runsDir = path.join(setup.storeDir, 'runs');
  const names: string[] = [];
  for (const run of await readdir(runsDir).catch(() => [])) {
    for (const name of await readdir(path.join(runsDir, run))) names.push(`${run}/${name}`);
  }
  return names.sort();
}
