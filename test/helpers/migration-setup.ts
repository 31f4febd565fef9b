/**
 * A whole migration setup in a temporary folder, for tests that run stages end to end against the
 * machine's real PostgreSQL or MariaDB:
 *
 *   <dir>/apim-migration.yml               the config (relative paths, as an operator writes it)
 *   <dir>/wso2am-4.2.0/                    the new home; deployment.toml points apim_db and shared_db at a
 *                                          scratch database, passwords as $env{APIM_DB_PASSWORD} / $env{SHARED_DB_PASSWORD}
 *   <dir>/wso2am-3.1.0/                    the old home with repository/conf/registry.xml
 *   <dir>/wso2is-migration-1.0.225.zip     the identity kit (resident Key Manager only)
 *   <dir>/wso2am-migration-4.2.0.67.zip    the API-M kit
 *   <dir>/.apim-migrate/                   store.dir
 *
 * Needs `bash scripts/ensure-services.sh` first. `cleanup()` drops everything it created.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { openSession, type DbSession } from '../../src/db/session.js';
import {
  createMariadbUser,
  createPostgresRole,
  createScratchMariadb,
  createScratchPostgres,
  MARIADB_HOST,
  MARIADB_PORT,
  mariadbAdminTarget,
  POSTGRES_HOST,
  POSTGRES_PORT,
  seedUserStoreTables,
  uniqueName,
  type ScratchDatabase,
  type ScratchLogin,
  type UserStoreSeed,
} from './databases.js';
import {
  ALL_FLAGS_FALSE,
  createTempDirs,
  defaultKitVersion,
  kitWrapperName,
  makeApimHome,
  makeMigrationKitZip,
  type RegistryXmlFlags,
} from './wso2-fixtures.js';
import { readLedger } from '../../src/db/ledger.js';
import { APIM_420_TABLES, identityFactsToCheck } from '../../src/db/verify-probes.js';
import { addIdentitySchemaChanges } from '../../src/demo/demo.js';
import { makeDeploymentToml } from '../../src/demo/sandbox-files.js';
import { createRegistrySchema, seedRegistry, type SeededRegistry } from '../../src/demo/registry-seed.js';
import { installStandIn, makeIdentityMigrationConfig, type StandInBehaviour } from './stand-in.js';
import { runCli } from '../../src/entry/cli.js';

export type SetupEngine = 'postgresql' | 'mariadb';

/**
 * Who the deployment.toml logs in as:
 * - `admin`: `postgres` (a superuser; the local server trusts it, so the password is not checked) or MariaDB's `root`
 *   (empty password);
 * - `scoped`: a new login made for this setup with a generated password: a NOSUPERUSER PostgreSQL role, or a MariaDB
 *   user with all privileges on the scratch database only.
 * Default: `admin` on PostgreSQL (the migration needs a superuser), `scoped` on MariaDB (so that a real password is
 * in play).
 */
export type SetupLogin = 'admin' | 'scoped';

export interface MigrationSetupOptions {
  engine: SetupEngine;
  keyManager?: 'resident' | 'is';
  /** Versioning flags of the old registry.xml (default: all false). */
  flags?: RegistryXmlFlags;
  login?: SetupLogin;
  /** Written to deployment.toml instead of the login's user name. */
  username?: string;
  /** Put into the password variables instead of the login's password. */
  password?: string;
  /**
   * Written into the JDBC URLs instead of the scratch database's name. No scratch database is created then, so
   * this points the setup at whatever the name is (usually a database that does not exist).
   */
  database?: string;
  /** `mysql` (default) or `mariadb`: the JDBC scheme of MariaDB URLs; WSO2's type stays "mysql" either way. */
  mariadbScheme?: 'mysql' | 'mariadb';
  /** Create the WSO2 user-store tables in the scratch database (as its admin), with these rows. */
  userStore?: UserStoreSeed;
  /**
   * Whether a scoped PostgreSQL login may read the user-store tables (default true, as the WSO2 user that owns
   * them can); MariaDB's scoped user has every privilege on the scratch database anyway.
   */
  userStoreReadable?: boolean;
  /** Leave a kit out: the config still names it, but there is no file. */
  omitKits?: Array<'identity' | 'apim'>;
  /** The version the old home claims (default 3.1.0); `false`: the config names an old home that does not exist. */
  oldHomeVersion?: string | false;
  strictDbmsCheck?: boolean;
  /** More top-level keys for apim-migration.yml (replacing the generated ones of the same name). */
  config?: Record<string, unknown>;
}

/** The environment variables the setup's files name. */
export const PASSWORD_ENV = { apim_db: 'APIM_DB_PASSWORD', shared_db: 'SHARED_DB_PASSWORD' } as const;
export const PASSPHRASE_ENV = 'APIM_MIGRATE_BACKUP_PASSPHRASE';
export const IS_HEALTH_URL = 'https://is.example.test:9443/api/health-check/v1.0/health';

export interface MigrationSetup {
  engine: SetupEngine;
  /** The folder everything is in; the config's relative paths resolve against it. Use it as cwd. */
  dir: string;
  configFile: string;
  apimHome: string;
  oldApimHome: string;
  deploymentToml: string;
  registryXml: string;
  identityKit: string;
  apimKit: string;
  /** store.dir, absolute. */
  storeDir: string;
  /** Only the variables the setup's files need (passwords, backup passphrase); merge with {@link baseEnv}. */
  env: Record<string, string>;
  /** Every secret value in `env`, for "never printed" assertions. */
  secrets: string[];
  username: string;
  password: string;
  /** The database name in the JDBC URLs. */
  database: string;
  /** The scratch database (absent when `database` was overridden). Its `target` logs in as the server's admin. */
  scratch?: ScratchDatabase;
  /** The login made for `login: 'scoped'`. */
  login?: ScratchLogin;
  /** The config as written, before stringifying; tests may rewrite the file from it. */
  configObject: Record<string, unknown>;
  /** Opens an admin session on the scratch database (for seeding and inspection); close it. */
  adminSession(): Promise<DbSession>;
  /** Drops the login and the scratch database and removes the folder; safe to call twice. */
  cleanup(): Promise<void>;
}

const CONFIG_FILE = 'apim-migration.yml';
const NEW_HOME = 'wso2am-4.2.0';
const OLD_HOME = 'wso2am-3.1.0';
const STORE_DIR = '.apim-migrate';

export async function createMigrationSetup(options: MigrationSetupOptions): Promise<MigrationSetup> {
  const temp = createTempDirs('apim-migrate-setup-');
  const undo: Array<() => Promise<void>> = [temp.cleanup];
  const cleanup = async () => {
    const steps = undo.splice(0).reverse();
    const errors: unknown[] = [];
    for (const step of steps) await step().catch((error: unknown) => errors.push(error));
    if (errors.length > 0) throw new AggregateError(errors, 'migration setup cleanup failed');
  };
  try {
    return await build(options, await temp.make(), undo, cleanup);
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }
}

async function build(
  options: MigrationSetupOptions,
  dir: string,
  undo: Array<() => Promise<void>>,
  cleanup: () => Promise<void>,
): Promise<MigrationSetup> {
  const { engine } = options;
  const keyManager = options.keyManager ?? 'resident';

  // Databases first: the rest only needs their names.
  let scratch: ScratchDatabase | undefined;
  let login: ScratchLogin | undefined;
  if (options.database === undefined) {
    scratch =
      engine === 'postgresql' ? await createScratchPostgres('setup_pg') : await createScratchMariadb('setup_maria');
    const created = scratch;
    undo.push(() => created.drop());
    if (options.userStore) {
      const session = await openSession(created.target);
      try {
        await seedUserStoreTables(session, options.userStore);
      } finally {
        await session.close();
      }
    }
    const loginKind = options.login ?? (engine === 'postgresql' ? 'admin' : 'scoped');
    if (loginKind === 'scoped') {
      login =
        engine === 'postgresql'
          ? await createPostgresRole(created, 'setup_role')
          : await createMariadbUser(created, 'setup_user');
      const made = login;
      undo.push(() => made.drop());
      if (engine === 'postgresql' && options.userStore && (options.userStoreReadable ?? true)) {
        // A role with a privilege on a table cannot be dropped: the privilege goes first (undo runs in reverse).
        await runOn(created, [`GRANT SELECT ON um_role, um_hybrid_role TO ${made.username}`]);
        undo.push(() => runOn(created, [`REVOKE ALL ON um_role, um_hybrid_role FROM ${made.username}`]));
      }
    }
  } else if (options.login === 'scoped') {
    throw new Error('login "scoped" needs the scratch database; do not combine it with a database override');
  }
  const database = options.database ?? scratch?.target.database ?? '';
  const adminUser = engine === 'postgresql' ? 'postgres' : 'root';
  // The local PostgreSQL trusts postgres, so any password logs in: a unique one shows whether it leaks anywhere.
  const adminPassword = engine === 'postgresql' ? `pg-secret-${uniqueName('pw')}` : '';
  const username = options.username ?? login?.username ?? adminUser;
  const password = options.password ?? login?.password ?? adminPassword;

  // The homes.
  const apimHome = join(dir, NEW_HOME);
  await makeApimHome(apimHome, {
    version: '4.2.0',
    deploymentToml: deploymentToml(engine, database, username, options.mariadbScheme ?? 'mysql'),
    registryXml: false,
  });
  const oldApimHome = join(dir, OLD_HOME);
  if (options.oldHomeVersion !== false) {
    await makeApimHome(oldApimHome, {
      version: options.oldHomeVersion ?? '3.1.0',
      deploymentToml: false,
      registryXml: options.flags ?? ALL_FLAGS_FALSE,
    });
  }

  // The kits.
  const identityKit = join(dir, `${kitWrapperName('identity')}.zip`);
  const apimKit = join(dir, `${kitWrapperName('apim')}.zip`);
  const omit = options.omitKits ?? [];
  if (!omit.includes('identity'))
    await makeMigrationKitZip(identityKit, { kind: 'identity', version: defaultKitVersion('identity') });
  if (!omit.includes('apim')) await makeMigrationKitZip(apimKit, { kind: 'apim', version: defaultKitVersion('apim') });

  // The config.
  const configObject: Record<string, unknown> = {
    apimHome: `./${NEW_HOME}`,
    oldApimHome: `./${OLD_HOME}`,
    keyManager,
    ...(keyManager === 'is'
      ? { isHealthUrl: IS_HEALTH_URL }
      : { identity: { migrationKit: `./${kitWrapperName('identity')}.zip`, targetVersion: '6.0.0' } }),
    apim: { migrationKit: `./${kitWrapperName('apim')}.zip` },
    ...(options.strictDbmsCheck === undefined ? {} : { strictDbmsCheck: options.strictDbmsCheck }),
    backup: { passphraseEnv: PASSPHRASE_ENV },
    store: { dir: STORE_DIR },
    ...options.config,
  };
  const configFile = join(dir, CONFIG_FILE);
  await writeFile(configFile, `# apim-migrate test setup (${engine})\n${stringify(configObject)}`);

  const passphrase = `passphrase-${uniqueName('bk')}`;
  const env: Record<string, string> = {
    [PASSWORD_ENV.apim_db]: password,
    [PASSWORD_ENV.shared_db]: password,
    [PASSPHRASE_ENV]: passphrase,
  };
  const adminTarget = scratch?.target;
  return {
    engine,
    dir,
    configFile,
    apimHome,
    oldApimHome,
    deploymentToml: join(apimHome, 'repository', 'conf', 'deployment.toml'),
    registryXml: join(oldApimHome, 'repository', 'conf', 'registry.xml'),
    identityKit,
    apimKit,
    storeDir: join(dir, STORE_DIR),
    env,
    secrets: [password, passphrase].filter((value) => value.length > 0),
    username,
    password,
    database,
    ...(scratch ? { scratch } : {}),
    ...(login ? { login } : {}),
    configObject,
    async adminSession() {
      if (!adminTarget) throw new Error('this setup has no scratch database');
      return openSession(adminTarget);
    },
    cleanup,
  };
}

function deploymentToml(
  engine: SetupEngine,
  database: string,
  username: string,
  mariadbScheme: 'mysql' | 'mariadb',
): string {
  const url =
    engine === 'postgresql'
      ? `jdbc:postgresql://${POSTGRES_HOST}:${POSTGRES_PORT}/${database}`
      : `jdbc:${mariadbScheme}://${MARIADB_HOST}:${MARIADB_PORT}/${database}?useSSL=false`;
  return makeDeploymentToml(
    'deployment.toml written by apim-migrate tests',
    (['apim_db', 'shared_db'] as const).map((name) => ({
      name,
      type: engine === 'postgresql' ? 'postgre' : 'mysql',
      url,
      username,
      passwordEnv: PASSWORD_ENV[name],
      driver: engine === 'postgresql' ? 'org.postgresql.Driver' : 'com.mysql.cj.jdbc.Driver',
    })),
  );
}

/** Runs statements as the admin on the scratch database. */
async function runOn(scratch: ScratchDatabase, statements: string[]): Promise<void> {
  const session = await openSession(scratch.target);
  try {
    for (const statement of statements) await session.query(statement);
  } finally {
    await session.close();
  }
}

/** Rewrites the setup's config file from `configObject` with these top-level keys replaced. */
export async function rewriteConfig(setup: MigrationSetup, changes: Record<string, unknown>): Promise<void> {
  Object.assign(setup.configObject, changes);
  await writeFile(setup.configFile, stringify(setup.configObject));
}

/**
 * This process's environment without anything that would make the code think it runs inside GitHub Actions
 * (the tests may well run in a workflow), plus `extra`.
 */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(GITHUB_|RUNNER_|INPUT_|STATE_|ACTIONS_)/.test(name) || name === 'CI' || name === 'APIM_MIGRATE_RUN_ID')
      continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Holds a MariaDB named lock while `work` runs. Tests that change a GLOBAL setting (sql_safe_updates) and tests
 * that need the default one take it, so that test files running in parallel do not see each other's settings.
 */
export async function withMariadbGlobalsLock<T>(work: () => Promise<T>): Promise<T> {
  const session = await openSession(mariadbAdminTarget());
  try {
    const [row] = await session.query<{ got: number | string | null }>(
      "SELECT GET_LOCK('apim_migrate_tests_globals', 120) AS got",
    );
    if (Number(row?.got) !== 1)
      throw new Error('could not take the MariaDB lock apim_migrate_tests_globals within 120 s');
    try {
      return await work();
    } finally {
      await session.query("SELECT RELEASE_LOCK('apim_migrate_tests_globals')");
    }
  } finally {
    await session.close();
  }
}

/** Runs `work` with MariaDB's GLOBAL sql_safe_updates set to 1, restoring the previous value in any case. */
export async function withGlobalSqlSafeUpdates<T>(work: () => Promise<T>): Promise<T> {
  return withMariadbGlobalsLock(async () => {
    const session = await openSession(mariadbAdminTarget());
    try {
      const [original] = await session.query<{ value: number | string }>('SELECT @@GLOBAL.sql_safe_updates AS value');
      await session.query('SET GLOBAL sql_safe_updates = 1');
      try {
        return await work();
      } finally {
        await session.query('SET GLOBAL sql_safe_updates = ?', [Number(original?.value ?? 0)]);
      }
    } finally {
      await session.close();
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The built bundles

/** The repository root, where dist/ is. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export const BUNDLES = {
  cli: join(REPO_ROOT, 'dist', 'cli', 'index.js'),
  main: join(REPO_ROOT, 'dist', 'main', 'index.js'),
  post: join(REPO_ROOT, 'dist', 'post', 'index.js'),
} as const;

/** Fails with what to do when a bundle is missing: the tests run the built files and never build them. */
export function requireBundles(...names: Array<keyof typeof BUNDLES>): void {
  const missing = names.filter((name) => !existsSync(BUNDLES[name])).map((name) => BUNDLES[name]);
  if (missing.length > 0) throw new Error(`${missing.join(', ')} not found: run \`npm run build\` before these tests`);
}

export interface ScriptRun {
  /** The exit code; null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A `node <script>` process that is still running, for tests that kill it or watch it. */
export interface RunningScript {
  pid: number;
  /** What it printed so far. */
  output(): { stdout: string; stderr: string };
  ended: Promise<ScriptRun>;
}

/** Starts `node <script> ...args` as its own process with exactly `env`; it is killed after `timeoutMs`. */
export function startNodeScript(
  script: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined>; timeoutMs?: number },
): RunningScript {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd,
    env: options.env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const output = () => ({
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 45_000);
  const ended = new Promise<ScriptRun>((resolvePromise, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, ...output() });
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  return { pid: child.pid, output, ended };
}

/** Runs `node <script> ...args` as its own process with exactly `env` (this Node, as `node` on PATH would be). */
export function runNodeScript(
  script: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined>; timeoutMs?: number },
): Promise<ScriptRun> {
  try {
    return startNodeScript(script, args, options).ended;
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The stand-in does not create API-M 4.2.0's tables; the real migration client does. verify looks for them. */
export async function createApimTables(setup: MigrationSetup): Promise<void> {
  const session = await setup.adminSession();
  try {
    for (const table of APIM_420_TABLES) await session.query(`CREATE TABLE ${table} (ID INTEGER)`);
  } finally {
    await session.close();
  }
}

/**
 * What the real migrations leave and the stand-in server does not make, for verify: the API-M 4.2.0 tables and the
 * identity migration's tables and columns (empty).
 */
export async function createMigratedSchema(setup: MigrationSetup): Promise<void> {
  await createApimTables(setup);
  const session = await setup.adminSession();
  try {
    await addIdentitySchemaChanges(session, identityFactsToCheck('6.0.0'));
  } finally {
    await session.close();
  }
}

/** The ledger of the setup's database as `stage:state` lines, oldest first (none when there is no ledger). */
export async function ledgerStates(setup: MigrationSetup): Promise<string[]> {
  const session = await setup.adminSession();
  try {
    const reading = await readLedger(session);
    return reading.exists ? reading.entries.map((entry) => `${entry.stage}:${entry.state}`) : [];
  } finally {
    await session.close();
  }
}

let cliRuns = 0;

/**
 * Runs the CLI in-process in the setup's folder with its environment, as a new local run each time (the test's
 * `runIdPrefix` and a counter name it), and returns the exit code and everything it printed, in order.
 */
export async function runCliIn(
  setup: MigrationSetup,
  argv: string[],
  options: {
    env?: Record<string, string>;
    runIdPrefix?: string;
    platform?: NodeJS.Platform;
    /** Called with each text the CLI prints, as it prints it. */
    onOutput?: (text: string) => void;
  } = {},
): Promise<{ code: number; output: string }> {
  cliRuns += 1;
  const lines: string[] = [];
  const print = (text: string) => {
    lines.push(text);
    options.onOutput?.(text);
  };
  const code = await runCli(argv, {
    out: print,
    err: print,
    env: baseEnv({
      ...setup.env,
      APIM_MIGRATE_RUN_ID: `${options.runIdPrefix ?? 'test-run'}-${cliRuns}`,
      ...options.env,
    }),
    cwd: setup.dir,
    platform: options.platform ?? 'linux',
  });
  return { code, output: lines.join('\n') };
}

/**
 * Readies a setup for the server stages: shared_db gets the 3.1.0 registry tables with seeded versioning details
 * (40 resources of `tenants` tenants), the identity kit an unedited migration-config.yaml, and the 4.2.0 home the
 * stand-in server with `behaviour`.
 */
export async function prepareServerStages(
  setup: MigrationSetup,
  options: { seed: number; tenants: number; behaviour: StandInBehaviour },
): Promise<SeededRegistry> {
  const session = await setup.adminSession();
  let seeded: SeededRegistry;
  try {
    await createRegistrySchema(session);
    seeded = await seedRegistry(session, {
      seed: options.seed,
      resources: 40,
      versionsPerResource: 3,
      tenants: options.tenants,
      versioningOffRows: 2,
      orphanEntities: 2,
    });
  } finally {
    await session.close();
  }
  await makeMigrationKitZip(setup.identityKit, {
    kind: 'identity',
    migrationConfigContent: makeIdentityMigrationConfig({
      currentVersion: '5.9.0',
      migrateVersion: '5.11.0',
      keepRemovedMigrators: true,
    }),
  });
  await installStandIn(setup.apimHome, { kit: 'none', behaviour: options.behaviour });
  return seeded;
}
