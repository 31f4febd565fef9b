/**
 * Two addresses of one database are one physical database when the server says so: against the machine's real
 * PostgreSQL and MariaDB, reached as `localhost` and as `127.0.0.1`.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseTarget } from '../../src/config/types.js';
import { identifyServers, physicalTargets, serverIdentities } from '../../src/stages/databases.js';
import { makeResolvedConfig } from '../helpers/config-fixtures.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';

describe.each([
  { engine: 'PostgreSQL', create: createScratchPostgres },
  { engine: 'MariaDB', create: createScratchMariadb },
])('$engine reached by two addresses', ({ create }) => {
  let scratch: ScratchDatabase;
  let other: ScratchDatabase;

  beforeAll(async () => {
    scratch = await create('identity');
    other = await create('identity_other');
  });

  afterAll(async () => {
    await scratch?.drop();
    await other?.drop();
  });

  const at = (target: DatabaseTarget, name: DatabaseTarget['name'], host: string): DatabaseTarget => ({
    ...target,
    name,
    host,
    url: target.url.replace(target.host, host),
  });

  it('gives both addresses the same server identity, and one backup and lock target', async () => {
    const config = makeResolvedConfig({
      databases: [at(scratch.target, 'apim_db', 'localhost'), at(scratch.target, 'shared_db', '127.0.0.1')],
    });
    const identities = await identifyServers(config);
    expect(identities.get('apim_db')).toMatch(/\S/);
    expect(identities.get('shared_db')).toBe(identities.get('apim_db'));
    const targets = await physicalTargets(config);
    expect(targets.map((db) => db.label)).toEqual(['apim_db = shared_db']);
  });

  it('keeps two databases of one server apart', async () => {
    const config = makeResolvedConfig({
      databases: [at(scratch.target, 'apim_db', 'localhost'), at(other.target, 'shared_db', '127.0.0.1')],
    });
    expect((await physicalTargets(config)).map((db) => db.label)).toEqual(['apim_db', 'shared_db']);
  });

  it('asks no server when the addresses already decide: other database names, or one address', async () => {
    const unreachable = { ...at(scratch.target, 'shared_db', '127.0.0.1'), port: 1 };
    const config = makeResolvedConfig({
      databases: [
        { ...unreachable, name: 'apim_db', database: 'apim' },
        { ...unreachable, database: 'shared' },
        { ...unreachable, name: 'config', database: 'shared' },
      ],
    });
    expect(await serverIdentities(config)).toEqual(new Map());
    expect((await physicalTargets(config)).map((db) => db.label)).toEqual(['apim_db', 'shared_db = config']);
  });

  it('groups a database that does not answer by its address', async () => {
    const config = makeResolvedConfig({
      databases: [
        at(scratch.target, 'apim_db', '127.0.0.1'),
        { ...at(scratch.target, 'shared_db', '127.0.0.1'), port: 1 },
      ],
    });
    const identities = await identifyServers(config);
    expect([...identities.keys()]).toEqual(['apim_db']);
    expect((await physicalTargets(config)).map((db) => db.label)).toEqual(['apim_db', 'shared_db']);
  });
});
