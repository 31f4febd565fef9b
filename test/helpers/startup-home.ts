/**
 * A 4.2.0 home for the stand-in's normal start: a port offset of its own, the admin's credentials in [super_admin],
 * and, when asked, an apim_db that is a scratch database with AM_API rows, which the stand-in's Publisher API lists.
 */
import type { DatabaseTarget } from '../../src/config/types.js';
import { openSession } from '../../src/db/session.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from './databases.js';
import { installStandIn, type StandInBehaviour, type StandInHome } from './stand-in.js';
import { makeApimHome } from './wso2-fixtures.js';

/** The admin of every startup home. */
export const STARTUP_ADMIN = { user: 'admin', password: 'admin-pw' } as const;

/** How many of the rows seedApis writes are the super tenant's (ORGANIZATION 'carbon.super'). */
export const SUPER_TENANT_APIS = 3;

/**
 * A port offset of its own for each home, so that parallel test files do not meet on one port. The port (9443 plus
 * the offset) stays between 10443 and 30442, below Linux's ephemeral range (32768 and up), where the suite's own
 * database connections take local ports that a listener on 127.0.0.1 would then find in use.
 */
export function freshPortOffset(): number {
  return 1_000 + Math.floor(Math.random() * 20_000);
}

/**
 * The super tenant's APIs, one of a tenant and an API Product of the super tenant, in a 4.2.0-shaped AM_API
 * (ORGANIZATION since 4.0.0). A migrated 3.1.0 API has no API_TYPE; a product has 'APIProduct', and the Publisher
 * API's GET /apis leaves it out.
 */
export async function seedApis(target: DatabaseTarget): Promise<void> {
  const session = await openSession(target);
  try {
    await session.query(
      'CREATE TABLE AM_API (API_ID INTEGER PRIMARY KEY, API_UUID VARCHAR(256), API_PROVIDER VARCHAR(200), ' +
        'API_NAME VARCHAR(200), API_VERSION VARCHAR(30), CONTEXT VARCHAR(256), API_TYPE VARCHAR(10), ' +
        'STATUS VARCHAR(30), ORGANIZATION VARCHAR(100))',
    );
    await session.query(
      'INSERT INTO AM_API VALUES ' +
        "(1, 'a1', 'admin', 'PizzaShackAPI', '1.0.0', '/pizzashack/1.0.0', NULL, 'CREATED', 'carbon.super'), " +
        "(2, 'a2', 'admin', 'StarWarsAPI', '1.0.0', '/swapi/1.0.0', 'GRAPHQL', 'CREATED', 'carbon.super'), " +
        "(3, 'a3', 'tenantadmin@tenant.example', 'WeatherAPI', '2.1.0', '/t/tenant.example/weather', NULL, 'CREATED', 'tenant.example'), " +
        "(4, 'a4', 'admin', 'PhoneVerification', '2.0.0', '/phone/2.0.0', NULL, 'CREATED', 'carbon.super'), " +
        "(5, 'a5', 'admin', 'PizzaProduct', '1.0.0', '/pizzaproduct/1.0.0', 'APIProduct', 'CREATED', 'carbon.super')",
    );
  } finally {
    await session.close();
  }
}

export interface StartupHomeSetup {
  /** The apim_db: a seeded scratch database of this engine, or none (the default h2 entry; no API can be listed). */
  engine?: 'postgres' | 'mariadb' | 'none';
  behaviour?: StandInBehaviour;
}

export interface StartupHome {
  standIn: StandInHome;
  /** The management HTTPS port: 9443 + the home's offset. */
  port: number;
  /** The scratch database, for the caller to drop. */
  database?: ScratchDatabase;
}

/** Lays out the home in `dir` (an empty folder) and installs the stand-in. */
export async function makeStartupHome(dir: string, setup: StartupHomeSetup = {}): Promise<StartupHome> {
  const engine = setup.engine ?? 'postgres';
  let database: ScratchDatabase | undefined;
  let apimDb = ['type = "h2"', 'url = "jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE"'];
  if (engine !== 'none') {
    database =
      engine === 'postgres'
        ? await createScratchPostgres('standin_https')
        : await createScratchMariadb('standin_https');
    await seedApis(database.target);
    const { host, port, database: name, username, password } = database.target;
    const url =
      engine === 'postgres' ? `jdbc:postgresql://${host}:${port}/${name}` : `jdbc:mysql://${host}:${port}/${name}`;
    apimDb = [
      `type = "${engine === 'postgres' ? 'postgre' : 'mysql'}"`,
      `url = "${url}"`,
      `username = "${username}"`,
      `password = "${password}"`,
    ];
  }
  const offset = freshPortOffset();
  const toml = [
    '[server]',
    'hostname = "localhost"',
    `offset = ${offset}`,
    '',
    '[super_admin]',
    `username = "${STARTUP_ADMIN.user}"`,
    `password = "${STARTUP_ADMIN.password}"`,
    '',
    '[database.apim_db]',
    ...apimDb,
    '',
  ].join('\n');
  await makeApimHome(dir, { version: '4.2.0', deploymentToml: toml });
  const standIn = await installStandIn(dir, setup.behaviour ? { behaviour: setup.behaviour } : {});
  return { standIn, port: 9443 + offset, ...(database ? { database } : {}) };
}
