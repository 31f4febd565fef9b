/**
 * The demo's throw-away sandbox: a scratch database in the local PostgreSQL shaped like an API-M 3.1.0 database
 * with versioned registry data, the old and new API-M homes (the new one runs the stand-in server), both migration
 * kits as the folders they unpack to, and the config that ties them together.
 *
 *   <dir>/apim-migration.yml
 *   <dir>/wso2am-3.1.0/repository/conf/registry.xml
 *   <dir>/wso2am-4.2.0/                             bin/api-manager.sh is the stand-in
 *   <dir>/wso2is-migration-1.0.225/                 the identity kit (dropins/, migration-resources/)
 *   <dir>/wso2am-migration-4.2.0.67/                the API-M kit
 *   <dir>/.apim-migrate/                            the local store
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import type { DatabaseTarget, RegistryVersioningFlags } from '../config/types.js';
import { withSession, type DbSession } from '../db/session.js';
import { SUPER_TENANT_DOMAIN } from '../db/verify-probes.js';
import { createRegistrySchema, seedRegistry, type SeededRegistry } from './registry-seed.js';
import { makeIdentityMigrationConfig, makeDeploymentToml, makeSandboxRegistryXml } from './sandbox-files.js';
import { DEFAULT_HTTPS_PORT } from '../wso2/management-port.js';
import { installStandInLauncher, writeStandInConf } from './stand-in.js';

/** Versioning was on for tags and properties in the demo's 3.1.0 registry, off for comments and ratings. */
export const SANDBOX_FLAGS: RegistryVersioningFlags = { properties: true, comments: false, tags: true, ratings: false };

/** The environment variables the sandbox's files name. */
export const SANDBOX_ENV = {
  password: 'APIM_MIGRATE_DEMO_DB_PASSWORD',
  passphrase: 'APIM_MIGRATE_DEMO_BACKUP_PASSPHRASE',
  adminUser: 'APIM_MIGRATE_DEMO_ADMIN_USER',
  adminPassword: 'APIM_MIGRATE_DEMO_ADMIN_PASSWORD',
} as const;

/** The admin of the sandbox's 4.2.0 home ([super_admin]), whom the startup stage reads the Publisher API as. */
const SANDBOX_ADMIN = 'admin';

const KITS = {
  identity: { folder: 'wso2is-migration-1.0.225', jar: 'org.wso2.carbon.is.migration-1.0.225.jar' },
  apim: { folder: 'wso2am-migration-4.2.0.67', jar: 'org.wso2.carbon.apimgt.migrate.client-4.2.0.67.jar' },
} as const;

export interface Sandbox {
  dir: string;
  configFile: string;
  /** The sandbox database, logged in as the local PostgreSQL's admin. */
  target: DatabaseTarget;
  /** What the sandbox's files need from the environment: the database password and the backup passphrase. */
  env: Record<string, string>;
  seeded: SeededRegistry;
  /** Drops the database and removes the folder. */
  remove(): Promise<void>;
}

/**
 * Where the local PostgreSQL is and who may create a database there: the libpq variables PGHOST, PGPORT, PGUSER
 * and PGPASSWORD, by default 127.0.0.1:5432 as postgres.
 */
export function localPostgres(env: Record<string, string | undefined>, database = 'postgres'): DatabaseTarget {
  const host = env['PGHOST'] && !env['PGHOST'].startsWith('/') ? env['PGHOST'] : '127.0.0.1';
  const port = Number(env['PGPORT'] ?? 5432);
  return {
    name: 'shared_db',
    engine: 'postgresql',
    url: `jdbc:postgresql://${host}:${port}/${database}`,
    host,
    port: Number.isInteger(port) && port > 0 ? port : 5432,
    database,
    params: {},
    username: env['PGUSER'] ?? 'postgres',
    password: env['PGPASSWORD'] ?? '',
    source: 'config',
  };
}

/** Registry rows of the demo: a few hundred resources, most of them with older versions. */
const SEED = { seed: 20, resources: 300, versionsPerResource: 4, tenants: 2, versioningOffRows: 30, orphanEntities: 5 };

export async function createSandbox(env: Record<string, string | undefined>): Promise<Sandbox> {
  const admin = localPostgres(env);
  const database = `apim_migrate_demo_${new Date().toISOString().slice(0, 10).replace(/-/g, '')}_${randomBytes(3).toString('hex')}`;
  const target = localPostgres(env, database);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-demo-'));
  let created = false;
  const remove = async () => {
    if (created) await runAs(admin, [`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]);
    created = false;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await runAs(admin, [`CREATE DATABASE ${database}`]);
    created = true;
    const seeded = await seedDatabase(target);
    // Made for the run, as the passphrase is: a secret that a word like "admin" would be, masked everywhere.
    const adminPassword = randomBytes(18).toString('base64url');
    await writeHomes(dir, target, adminPassword);
    const configFile = path.join(dir, 'apim-migration.yml');
    await writeFile(configFile, sandboxConfig());
    return {
      dir,
      configFile,
      target,
      env: {
        [SANDBOX_ENV.password]: admin.password,
        [SANDBOX_ENV.passphrase]: randomBytes(24).toString('base64url'),
        [SANDBOX_ENV.adminUser]: SANDBOX_ADMIN,
        [SANDBOX_ENV.adminPassword]: adminPassword,
      },
      seeded,
      remove,
    };
  } catch (error) {
    await remove().catch(() => undefined);
    throw error;
  }
}

function seedDatabase(target: DatabaseTarget): Promise<SeededRegistry> {
  return withSession(target, async (session) => {
    await createRegistrySchema(session);
    const seeded = await seedRegistry(session, {
      ...SEED,
      // The kinds whose versioning was off were written without versions, as the registry does then.
      writtenWithVersioningOff: { comments: !SANDBOX_FLAGS.comments, ratings: !SANDBOX_FLAGS.ratings },
    });
    await seedRealmTenants(session, seeded.tenantIds);
    await seedApis(session, seeded.tenantIds);
    return seeded;
  });
}

/** The domain the sandbox gives tenant `id`. */
export function sandboxTenantDomain(id: number): string {
  return id === SUPER_TENANT_ID ? SUPER_TENANT_DOMAIN : `tenant${id}.demo.test`;
}

const SUPER_TENANT_ID = -1234;

/**
 * The realm's UM_TENANT of API-M 3.1.0 (carbon-kernel 4.6.0 dbscripts/postgresql.sql), with a row for each tenant
 * the registry seed wrote data for but the super tenant, which has none: what plan's profile and verify read.
 */
async function seedRealmTenants(session: DbSession, tenantIds: readonly number[]): Promise<void> {
  await session.query(
    'CREATE TABLE UM_TENANT (UM_ID INTEGER NOT NULL, UM_DOMAIN_NAME VARCHAR(255) NOT NULL, UM_EMAIL VARCHAR(255), ' +
      'UM_ACTIVE BOOLEAN DEFAULT FALSE, UM_CREATED_DATE TIMESTAMP NOT NULL, UM_USER_CONFIG BYTEA DEFAULT NULL, ' +
      'PRIMARY KEY (UM_ID), UNIQUE (UM_DOMAIN_NAME))',
  );
  for (const id of tenantIds.filter((tenant) => tenant !== SUPER_TENANT_ID)) {
    await session.query(
      'INSERT INTO UM_TENANT (UM_ID, UM_DOMAIN_NAME, UM_EMAIL, UM_ACTIVE, UM_CREATED_DATE) VALUES ($1, $2, $3, TRUE, NOW())',
      [id, sandboxTenantDomain(id), `admin@${sandboxTenantDomain(id)}`],
    );
  }
}

/**
 * AM_API of API-M 3.1.0 (carbon-apimgt 6.6.163 dbscripts: no API_UUID, STATUS or ORGANIZATION yet; API_TYPE is
 * written for API Products only) with three APIs of the super tenant's admin, an API Product of his, and one API of
 * each other tenant's admin: what verify counts, and what the startup stage compares the Publisher API with.
 */
async function seedApis(session: DbSession, tenantIds: readonly number[]): Promise<void> {
  await session.query(
    'CREATE TABLE AM_API (API_ID SERIAL PRIMARY KEY, API_PROVIDER VARCHAR(200), API_NAME VARCHAR(200), ' +
      'API_VERSION VARCHAR(30), CONTEXT VARCHAR(256), CONTEXT_TEMPLATE VARCHAR(256), API_TIER VARCHAR(256), ' +
      'API_TYPE VARCHAR(10), CREATED_BY VARCHAR(100), CREATED_TIME TIMESTAMP, UNIQUE (API_PROVIDER, API_NAME, API_VERSION))',
  );
  const rows: Array<[string, string, string, string | null]> = [
    [SANDBOX_ADMIN, 'PizzaShackAPI', '/pizzashack', null],
    [SANDBOX_ADMIN, 'StarWarsAPI', '/swapi', null],
    [SANDBOX_ADMIN, 'PhoneVerification', '/phoneverify', null],
    [SANDBOX_ADMIN, 'PizzaProduct', '/pizzaproduct', 'APIProduct'],
    ...tenantIds
      .filter((id) => id !== SUPER_TENANT_ID)
      .map((id): [string, string, string, string | null] => {
        const domain = sandboxTenantDomain(id);
        return [`admin@${domain}`, 'WeatherAPI', `/t/${domain}/weather`, null];
      }),
  ];
  for (const [provider, name, context, type] of rows) {
    await session.query(
      'INSERT INTO AM_API (API_PROVIDER, API_NAME, API_VERSION, CONTEXT, CONTEXT_TEMPLATE, API_TYPE, CREATED_BY, CREATED_TIME) ' +
        "VALUES ($1, $2, '1.0.0', $3, $4, $5, $1, NOW())",
      [provider, name, `${context}/1.0.0`, `${context}/{version}`, type],
    );
  }
}

async function writeHomes(dir: string, target: DatabaseTarget, adminPassword: string): Promise<void> {
  const oldHome = path.join(dir, 'wso2am-3.1.0');
  await writeDeep(path.join(oldHome, 'bin', 'version.txt'), 'WSO2 API Manager v3.1.0\n');
  await writeDeep(path.join(oldHome, 'repository', 'conf', 'registry.xml'), makeSandboxRegistryXml(SANDBOX_FLAGS));

  const home = path.join(dir, 'wso2am-4.2.0');
  await writeDeep(path.join(home, 'bin', 'version.txt'), 'WSO2 API Manager v4.2.0\n');
  await installStandInLauncher(home);
  await writeStandInConf(home, { slowMs: 15, invalidDefinitions: 1 });
  await mkdir(path.join(home, 'repository', 'components', 'dropins'), { recursive: true });
  // What preflight looks for; the stand-in server loads no driver.
  await writeDeep(
    path.join(home, 'repository', 'components', 'lib', 'postgresql-42.6.0.jar'),
    'stand-in for the PostgreSQL JDBC driver (a simulation: the stand-in server runs no Java)\n',
  );
  await mkdir(path.join(home, 'repository', 'logs'), { recursive: true });
  await writeDeep(
    path.join(home, 'repository', 'conf', 'deployment.toml'),
    makeDeploymentToml(
      'deployment.toml of the apim-migrate demo sandbox (a simulation)',
      (['apim_db', 'shared_db'] as const).map((name) => ({
        name,
        type: 'postgre',
        url: `jdbc:postgresql://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}/${target.database}`,
        username: target.username,
        passwordEnv: SANDBOX_ENV.password,
        driver: 'org.postgresql.Driver',
      })),
      // The first start opens the management port: one that is free now, rather than 9443, which may be taken.
      {
        offset: (await freeLoopbackPort()) - DEFAULT_HTTPS_PORT,
        admin: { user: SANDBOX_ADMIN, password: adminPassword },
      },
    ),
  );

  const identity = path.join(dir, KITS.identity.folder);
  await writeDeep(path.join(identity, 'dropins', KITS.identity.jar), 'stand-in jar of the identity migration client\n');
  await writeDeep(
    path.join(identity, 'migration-resources', 'migration-config.yaml'),
    makeIdentityMigrationConfig({ currentVersion: '5.9.0', migrateVersion: '5.11.0', keepRemovedMigrators: true }),
  );
  const apim = path.join(dir, KITS.apim.folder);
  await writeDeep(path.join(apim, 'dropins', KITS.apim.jar), 'stand-in jar of the API-M migration client\n');
  await writeDeep(path.join(apim, 'migration-resources', 'README.txt'), 'API-M migration resources (demo)\n');
}

function sandboxConfig(): string {
  const config = {
    apimHome: './wso2am-4.2.0',
    oldApimHome: './wso2am-3.1.0',
    keyManager: 'resident',
    identity: { migrationKit: `./${KITS.identity.folder}`, targetVersion: '6.0.0' },
    apim: { migrationKit: `./${KITS.apim.folder}`, saveInvalidDefinitions: true, allowInvalidDefinitions: true },
    backup: { passphraseEnv: SANDBOX_ENV.passphrase },
    server: { timeoutMinutes: 5, stopGraceSeconds: 10 },
    startup: { adminUserEnv: SANDBOX_ENV.adminUser, adminPasswordEnv: SANDBOX_ENV.adminPassword, indexWaitMinutes: 2 },
    store: { dir: './.apim-migrate' },
  };
  return `# apim-migrate demo sandbox: a simulation (stand-in API-M server, scratch database)\n${stringify(config)}`;
}

async function writeDeep(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

function runAs(target: DatabaseTarget, statements: string[]): Promise<void> {
  return withSession(target, async (session) => {
    for (const statement of statements) await session.query(statement);
  });
}

/**
 * A TCP port that nothing listens on at 127.0.0.1 now, between 10443 and 30442: 9443 plus an offset, and below
 * Linux's ephemeral range (32768 and up), where the stages' own database connections would take local ports.
 */
async function freeLoopbackPort(): Promise<number> {
  for (;;) {
    const port = 10_443 + Math.floor(Math.random() * 20_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
