/**
 * Builders for apim-migrate config setups on disk (a config file, a 4.2.0 home with its deployment.toml and a
 * 3.1.0 home with its registry.xml) and for ResolvedConfig values built in code.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DatabaseName, DatabaseTarget, DbEngine, ResolvedConfig } from '../../src/config/types.js';
import { InputError } from '../../src/core/errors.js';
import { makeApimHome, type RegistryXmlFlags } from './wso2-fixtures.js';

/** Joins lines with `\n`; a trailing newline is added. */
export function lines(...text: string[]): string {
  return `${text.join('\n')}\n`;
}

export interface TomlDatabase {
  name: DatabaseName;
  type?: string;
  url?: string;
  username?: string;
  password?: string;
}

/** A deployment.toml with a `[server]` table and the given `[database.*]` tables, in order. */
export function makeDeploymentToml(databases: readonly TomlDatabase[]): string {
  const out = ['[server]', 'hostname = "localhost"', ''];
  for (const db of databases) {
    out.push(`[database.${db.name}]`);
    for (const field of ['type', 'url', 'username', 'password'] as const) {
      const value = db[field];
      if (value !== undefined) out.push(`${field} = ${JSON.stringify(value)}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** A PostgreSQL deployment: apim_db and shared_db on one server. */
export const PG_TOML_DATABASES: readonly TomlDatabase[] = [
  {
    name: 'apim_db',
    type: 'postgre',
    url: 'jdbc:postgresql://pg.example:5432/apim_db',
    username: 'apimadmin',
    password: 'apim-pw',
  },
  {
    name: 'shared_db',
    type: 'postgre',
    url: 'jdbc:postgresql://pg.example:5432/shared_db',
    username: 'sharedadmin',
    password: 'shared-pw',
  },
];

/** The least a valid config needs, with homes and kits relative to the config file. */
export const MINIMAL_CONFIG = lines(
  'apimHome: new-home',
  'oldApimHome: old-home',
  'identity:',
  '  migrationKit: kits/wso2is-migration-1.0.225.zip',
  '  targetVersion: "6.0.0"',
  'apim:',
  '  migrationKit: kits/wso2am-migration-4.2.0.67.zip',
);

export interface SetupOptions {
  /** The config file's text; default {@link MINIMAL_CONFIG}. */
  config?: string;
  /** Where the config is written, relative to the root; default `apim-migration.yml`. */
  configName?: string;
  /** deployment.toml of the 4.2.0 home (written at `<root>/new-home`); false for none. */
  deploymentToml?: string | false;
  /** Flags of the old registry.xml (at `<root>/old-home`). */
  registryFlags?: RegistryXmlFlags;
}

export interface Setup {
  root: string;
  configFile: string;
  newHome: string;
  oldHome: string;
}

/** Lays out a config, a 4.2.0 home and a 3.1.0 home in `root`. */
export async function writeSetup(root: string, options: SetupOptions = {}): Promise<Setup> {
  const newHome = join(root, 'new-home');
  const oldHome = join(root, 'old-home');
  await makeApimHome(newHome, {
    version: '4.2.0',
    deploymentToml: options.deploymentToml ?? makeDeploymentToml(PG_TOML_DATABASES),
  });
  await makeApimHome(oldHome, {
    version: '3.1.0',
    deploymentToml: false,
    ...(options.registryFlags === undefined ? {} : { registryXml: options.registryFlags }),
  });
  const configFile = join(root, options.configName ?? 'apim-migration.yml');
  await mkdir(dirname(configFile), { recursive: true });
  await writeFile(configFile, options.config ?? MINIMAL_CONFIG);
  return { root, configFile, newHome, oldHome };
}

/** Runs `fn` and returns the InputError it throws; fails when it throws something else or nothing. */
export async function catchInputError(fn: () => Promise<unknown>): Promise<InputError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError, but nothing was thrown');
}

// ---------------------------------------------------------------------------------------------------------------
// ResolvedConfig built in code

export function makeTarget(name: DatabaseName, overrides: Partial<Omit<DatabaseTarget, 'name'>> = {}): DatabaseTarget {
  const engine: DbEngine = overrides.engine ?? 'postgresql';
  const host = overrides.host ?? 'db.example';
  const port = overrides.port ?? (engine === 'postgresql' ? 5432 : 3306);
  const database = overrides.database ?? name;
  const params = overrides.params ?? {};
  const query = Object.entries(params)
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  return {
    name,
    engine,
    host,
    port,
    database,
    params,
    url: overrides.url ?? `jdbc:${engine}://${host}:${port}/${database}${query === '' ? '' : `?${query}`}`,
    username: overrides.username ?? 'wso2',
    password: overrides.password ?? `${name}-password`,
    source: overrides.source ?? 'deployment.toml',
  };
}

export function makeResolvedConfig(overrides: Partial<ResolvedConfig> = {}): ResolvedConfig {
  return {
    configFile: '/cfg/apim-migration.yml',
    apimHome: '/opt/wso2am-4.2.0',
    oldApimHome: '/opt/wso2am-3.1.0',
    keyManager: 'resident',
    strictDbmsCheck: false,
    identity: {
      migrationKit: '/cfg/wso2is-migration-1.0.225.zip',
      targetVersion: '6.0.0',
      uniqueIdUserStore: false,
      userStoreManagersMigrated: false,
    },
    apim: {
      migrationKit: '/cfg/wso2am-migration-4.2.0.67.zip',
      saveInvalidDefinitions: true,
      allowInvalidDefinitions: false,
    },
    databases: [makeTarget('apim_db'), makeTarget('shared_db')],
    backup: { passphraseEnv: 'APIM_MIGRATE_BACKUP_PASSPHRASE', retentionDays: 30, allowPlaintextBackups: false },
    server: {
      timeoutMinutes: 180,
      stopGraceSeconds: 60,
      harmlessErrors: [],
      failOnAnyError: false,
      clientStartSeconds: 300,
      stallWarnMinutes: 15,
      env: [],
    },
    startup: { indexWaitMinutes: 30, leaveRunning: false },
    store: { kind: 'folder', dir: '/cfg/.apim-migrate', groupAccess: false },
    ...overrides,
  };
}
