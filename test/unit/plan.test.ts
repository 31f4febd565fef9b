import { describe, expect, it } from 'vitest';
import type { DatabaseName, RegistryVersioningFlags, ResolvedConfig } from '../../src/config/types.js';
import {
  buildPlan,
  describePhysicalDatabase,
  physicalDatabases,
  type Plan,
  type PlanFacts,
  type StagePlan,
} from '../../src/plan/build-plan.js';
import { renderPlanText } from '../../src/plan/render-plan.js';
import type { StageName } from '../../src/core/results.js';
import { makeResolvedConfig, makeTarget } from '../helpers/config-fixtures.js';

const JDK = '/usr/lib/jvm/java-17-openjdk-amd64';
const NO_FLAGS: RegistryVersioningFlags = { properties: false, comments: false, tags: false, ratings: false };

function facts(overrides: Partial<PlanFacts> = {}): PlanFacts {
  return {
    registryFlags: NO_FLAGS,
    absentFlags: [],
    platform: 'linux',
    javaHome: { home: JDK, source: 'PATH', java: `${JDK}/bin/java` },
    ...overrides,
  };
}

function stageOf(plan: Plan, name: StageName): StagePlan {
  const stage = plan.stages.find((candidate) => candidate.stage === name);
  if (!stage) throw new Error(`no stage ${name} in the plan`);
  return stage;
}

const SERVER_STAGES = ['identity', 'apim-validate', 'apim', 'startup'] as const;

/** Every one of the 16 combinations of the four registry versioning flags. */
const FLAG_COMBINATIONS: RegistryVersioningFlags[] = Array.from({ length: 16 }, (_, bits) => ({
  tags: (bits & 1) !== 0,
  comments: (bits & 2) !== 0,
  properties: (bits & 4) !== 0,
  ratings: (bits & 8) !== 0,
}));

const MAPPING_TABLE_OF_FLAG: Record<keyof RegistryVersioningFlags, string> = {
  tags: 'REG_RESOURCE_TAG',
  comments: 'REG_RESOURCE_COMMENT',
  properties: 'REG_RESOURCE_PROPERTY',
  ratings: 'REG_RESOURCE_RATING',
};

describe('buildPlan: stages', () => {
  it('lists the seven stages in order', () => {
    const plan = buildPlan(makeResolvedConfig(), facts());
    expect(plan.stages.map((stage) => stage.stage)).toEqual([
      'preflight',
      'registry-scripts',
      'identity',
      'apim-validate',
      'apim',
      'verify',
      'startup',
    ]);
    expect(plan.stages.map((stage) => stage.readOnly)).toEqual([true, false, false, true, false, true, false]);
    expect(plan.apimHome).toBe('/opt/wso2am-4.2.0');
    expect(plan.oldApimHome).toBe('/opt/wso2am-3.1.0');
  });
});

describe('buildPlan: registry versioning removal', () => {
  it.each(FLAG_COMBINATIONS.map((flags) => ({ flags, label: JSON.stringify(flags) })))(
    'runs exactly for the tables whose flag is true: $label',
    ({ flags }) => {
      const stage = stageOf(buildPlan(makeResolvedConfig(), facts({ registryFlags: flags })), 'registry-scripts');
      const runs = Object.fromEntries(stage.versioningRemoval.map((action) => [action.mappingTable, action.runs]));
      expect(runs).toEqual({
        REG_RESOURCE_TAG: flags.tags,
        REG_RESOURCE_COMMENT: flags.comments,
        REG_RESOURCE_PROPERTY: flags.properties,
        REG_RESOURCE_RATING: flags.ratings,
      });
      for (const action of stage.versioningRemoval) {
        expect(action.mappingTable).toBe(MAPPING_TABLE_OF_FLAG[action.flag]);
        expect(action.versioningWasOn).toBe(flags[action.flag]);
      }
    },
  );

  it('names the element, the entity table and the reason for each table', () => {
    const stage = stageOf(
      buildPlan(makeResolvedConfig(), facts({ registryFlags: { ...NO_FLAGS, tags: true }, absentFlags: ['ratings'] })),
      'registry-scripts',
    );
    expect(
      stage.versioningRemoval.map(({ flag, element, mappingTable, entityTable, runs, reason }) => ({
        flag,
        element,
        mappingTable,
        entityTable,
        runs,
        reason,
      })),
    ).toEqual([
      {
        flag: 'tags',
        element: 'versioningTags',
        mappingTable: 'REG_RESOURCE_TAG',
        entityTable: 'REG_TAG',
        runs: true,
        reason: 'versioningTags was true in the old registry.xml',
      },
      {
        flag: 'comments',
        element: 'versioningComments',
        mappingTable: 'REG_RESOURCE_COMMENT',
        entityTable: 'REG_COMMENT',
        runs: false,
        reason:
          'versioningComments was false in the old registry.xml: removal would delete live REG_RESOURCE_COMMENT rows',
      },
      {
        flag: 'properties',
        element: 'versioningProperties',
        mappingTable: 'REG_RESOURCE_PROPERTY',
        entityTable: 'REG_PROPERTY',
        runs: false,
        reason:
          'versioningProperties was false in the old registry.xml: removal would delete live REG_RESOURCE_PROPERTY rows',
      },
      {
        flag: 'ratings',
        element: 'versioningRatings',
        mappingTable: 'REG_RESOURCE_RATING',
        entityTable: 'REG_RATING',
        runs: false,
        reason:
          'versioningRatings was absent (false by default) in the old registry.xml: removal would delete live REG_RESOURCE_RATING rows',
      },
    ]);
  });

  it('adds the two registry indices with their names and column order', () => {
    const stage = stageOf(buildPlan(makeResolvedConfig(), facts()), 'registry-scripts');
    expect(stage.indices).toEqual([
      {
        table: 'REG_RESOURCE_TAG',
        name: 'REG_RESOURCE_TAG_IND_BY_REG_TAG_ID',
        columns: ['REG_TAG_ID', 'REG_TENANT_ID'],
      },
      {
        table: 'REG_RESOURCE_PROPERTY',
        name: 'REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID',
        columns: ['REG_TENANT_ID', 'REG_PROPERTY_ID'],
      },
    ]);
  });
});

describe('buildPlan: backups', () => {
  const databases = [
    makeTarget('apim_db', { host: 'pg.example', database: 'apim' }),
    makeTarget('shared_db', { host: 'pg.example', database: 'shared' }),
    makeTarget('config', { host: 'PG.example', database: 'shared' }),
    makeTarget('user', { engine: 'mysql', host: 'my.example', database: 'users' }),
  ];
  const plan = buildPlan(makeResolvedConfig({ databases }), facts());

  it.each<{ stage: StageName; expected: StagePlan['backups'] }>([
    { stage: 'preflight', expected: [] },
    {
      stage: 'registry-scripts',
      expected: [{ names: ['shared_db', 'config'], engine: 'postgresql', address: 'pg.example:5432/shared' }],
    },
    {
      stage: 'identity',
      expected: [
        { names: ['apim_db'], engine: 'postgresql', address: 'pg.example:5432/apim' },
        { names: ['shared_db', 'config'], engine: 'postgresql', address: 'pg.example:5432/shared' },
        { names: ['user'], engine: 'mysql', address: 'my.example:3306/users' },
      ],
    },
    { stage: 'apim-validate', expected: [] },
    {
      stage: 'apim',
      expected: [
        { names: ['apim_db'], engine: 'postgresql', address: 'pg.example:5432/apim' },
        { names: ['shared_db', 'config'], engine: 'postgresql', address: 'pg.example:5432/shared' },
        { names: ['user'], engine: 'mysql', address: 'my.example:3306/users' },
      ],
    },
    { stage: 'verify', expected: [] },
  ])('$stage backs up each physical database it touches once', ({ stage, expected }) => {
    expect(stageOf(plan, stage).backups).toEqual(expected);
  });

  it('runs Step 1 on a config database of its own too, backs it up, and says so', () => {
    const config = makeResolvedConfig({
      databases: [makeTarget('apim_db'), makeTarget('shared_db'), makeTarget('config', { database: 'reg' })],
    });
    const stage = stageOf(buildPlan(config, facts()), 'registry-scripts');
    expect(stage.backups.map((db) => db.names)).toEqual([['shared_db'], ['config']]);
    expect(stage.notes[0]).toBe(
      'runs on shared_db (postgresql, db.example:5432/shared_db) and config (postgresql, db.example:5432/reg) when it holds the registry tables (REG_RESOURCE)',
    );
  });

  it.each([
    {
      title: 'different ports are different databases',
      dbs: [
        makeTarget('apim_db', { database: 'x', port: 5432 }),
        makeTarget('shared_db', { database: 'x', port: 5433 }),
      ],
      names: [['apim_db'], ['shared_db']],
    },
    {
      title: 'PostgreSQL database names that differ in case are two databases, as the server takes them',
      dbs: [makeTarget('apim_db', { database: 'Shared' }), makeTarget('shared_db', { database: 'shared' })],
      names: [['apim_db'], ['shared_db']],
    },
    {
      title: 'host names do not differ by case',
      dbs: [
        makeTarget('apim_db', { host: 'DB.example' }),
        makeTarget('shared_db', { host: 'db.example', database: 'apim_db' }),
      ],
      names: [['apim_db', 'shared_db']],
    },
    {
      title: 'MySQL and MariaDB URLs of one server are one database',
      dbs: [
        makeTarget('apim_db', { engine: 'mysql', database: 'x' }),
        makeTarget('shared_db', { engine: 'mariadb', database: 'x' }),
      ],
      names: [['apim_db', 'shared_db']],
    },
    {
      title: 'PostgreSQL and MySQL on the same host and port are not',
      dbs: [
        makeTarget('apim_db', { engine: 'mysql', database: 'x', port: 1 }),
        makeTarget('shared_db', { database: 'x', port: 1 }),
      ],
      names: [['apim_db'], ['shared_db']],
    },
    {
      title: 'all four in one database',
      dbs: (['apim_db', 'shared_db', 'config', 'user'] as const).map((name) => makeTarget(name, { database: 'wso2' })),
      names: [['apim_db', 'shared_db', 'config', 'user']],
    },
  ])('physicalDatabases: $title', ({ dbs, names }) => {
    expect(physicalDatabases(dbs).map((db) => db.names)).toEqual(names);
  });

  it.each([
    {
      title: 'localhost and 127.0.0.1 are one database when the server says it is one',
      servers: { apim_db: 'pg-7715', shared_db: 'pg-7715' },
      names: [['apim_db', 'shared_db']],
      sameAs: [['127.0.0.1:5432/wso2']],
    },
    {
      title: 'two addresses of two servers stay two databases',
      servers: { apim_db: 'pg-7715', shared_db: 'pg-9001' },
      names: [['apim_db'], ['shared_db']],
      sameAs: [undefined, undefined],
    },
    {
      title: 'a database whose server did not answer is grouped by its address',
      servers: { apim_db: 'pg-7715' },
      names: [['apim_db'], ['shared_db']],
      sameAs: [undefined, undefined],
    },
  ])('physicalDatabases with server identities: $title', ({ servers, names, sameAs }) => {
    const dbs = [
      makeTarget('apim_db', { host: 'localhost', database: 'wso2' }),
      makeTarget('shared_db', { host: '127.0.0.1', database: 'wso2' }),
    ];
    const grouped = physicalDatabases(dbs, new Map(Object.entries(servers) as Array<[DatabaseName, string]>));
    expect(grouped.map((db) => db.names)).toEqual(names);
    expect(grouped.map((db) => db.sameAs)).toEqual(sameAs);
  });

  it('the same server with two database names is two databases', () => {
    const dbs = [makeTarget('apim_db', { database: 'apim' }), makeTarget('shared_db', { database: 'shared' })];
    const servers = new Map<DatabaseName, string>([
      ['apim_db', 'pg-7715'],
      ['shared_db', 'pg-7715'],
    ]);
    expect(physicalDatabases(dbs, servers).map((db) => db.names)).toEqual([['apim_db'], ['shared_db']]);
  });

  it('names every address of a database in the plan', () => {
    const dbs = [
      makeTarget('apim_db', { host: 'localhost', database: 'wso2' }),
      makeTarget('shared_db', { host: '127.0.0.1', database: 'wso2' }),
    ];
    const servers = new Map<DatabaseName, string>([
      ['apim_db', 'pg-7715'],
      ['shared_db', 'pg-7715'],
    ]);
    const [db] = physicalDatabases(dbs, servers);
    expect(db && describePhysicalDatabase(db)).toBe(
      'apim_db = shared_db (postgresql, localhost:5432/wso2, also reached as 127.0.0.1:5432/wso2)',
    );
  });
});

describe('buildPlan: identity stage', () => {
  it('is skipped when IS is the Key Manager', () => {
    const config = makeResolvedConfig({ keyManager: 'is', isHealthUrl: 'https://is.example/health' });
    delete config.identity;
    const plan = buildPlan(config, facts());
    const identity = stageOf(plan, 'identity');
    expect(identity.skipped).toMatch(/Identity Server is the Key Manager/);
    expect(identity.serverRun).toBeUndefined();
    expect(identity.backups).toEqual([]);
    expect(identity.configEdits).toEqual([]);
    expect(stageOf(plan, 'apim').notes[1]).toBe('checks that https://is.example/health answers before starting');
  });

  it('is skipped when IS is the Key Manager even if an identity section is there', () => {
    const identity = stageOf(buildPlan(makeResolvedConfig({ keyManager: 'is' }), facts()), 'identity');
    expect(identity.skipped).toMatch(/Identity Server is the Key Manager/);
    expect(identity.serverRun).toBeUndefined();
  });

  it.each([
    { targetVersion: '6.0.0' as const, uniqueIdUserStore: false, userStoreEdit: false },
    { targetVersion: '6.1.0' as const, uniqueIdUserStore: true, userStoreEdit: true },
  ])(
    'edits migration-config.yaml for $targetVersion; [user_store] edit: $userStoreEdit',
    ({ targetVersion, uniqueIdUserStore, userStoreEdit }) => {
      const config = makeResolvedConfig({
        identity: {
          migrationKit: '/kits/is.zip',
          targetVersion,
          uniqueIdUserStore,
          userStoreManagersMigrated: uniqueIdUserStore,
        },
      });
      const stage = stageOf(buildPlan(config, facts()), 'identity');
      const changes = stage.configEdits.map((edit) => edit.change);
      expect(changes).toContain('set currentVersion: "5.10.0"');
      expect(changes).toContain(`set migrateVersion: "${targetVersion}"`);
      expect(changes.filter((change) => change.startsWith('remove '))).toHaveLength(4);
      const userStore = stage.configEdits.filter((edit) => edit.change.includes('[user_store]'));
      expect(userStore).toEqual(
        userStoreEdit
          ? [
              {
                file: 'repository/conf/deployment.toml',
                change: 'after the run, set [user_store] type = "database_unique_id"',
              },
            ]
          : [],
      );
    },
  );

  it('never edits [user_store] in another stage', () => {
    const config = makeResolvedConfig({
      identity: {
        migrationKit: '/k.zip',
        targetVersion: '6.0.0',
        uniqueIdUserStore: true,
        userStoreManagersMigrated: true,
      },
    });
    const plan = buildPlan(config, facts());
    const stagesWithEdit = plan.stages.filter((stage) =>
      stage.configEdits.some((edit) => edit.change.includes('[user_store]')),
    );
    expect(stagesWithEdit.map((stage) => stage.stage)).toEqual(['identity']);
  });
});

describe('buildPlan: server runs', () => {
  it.each([
    { profile: undefined, saveInvalidDefinitions: true },
    { profile: undefined, saveInvalidDefinitions: false },
    { profile: 'control-plane' as const, saveInvalidDefinitions: true },
    { profile: 'control-plane' as const, saveInvalidDefinitions: false },
  ])('profile $profile, saveInvalidDefinitions $saveInvalidDefinitions', ({ profile, saveInvalidDefinitions }) => {
    const config = makeResolvedConfig({
      ...(profile ? { profile } : {}),
      apim: { migrationKit: '/k.zip', saveInvalidDefinitions, allowInvalidDefinitions: false },
    });
    const plan = buildPlan(config, facts());
    const withServer = plan.stages.filter((stage) => stage.serverRun !== undefined).map((stage) => stage.stage);
    expect(withServer).toEqual([...SERVER_STAGES]);
    for (const name of SERVER_STAGES) {
      const args = stageOf(plan, name).serverRun?.args ?? [];
      expect(args.filter((arg) => arg === '-Dprofile=control-plane')).toHaveLength(profile ? 1 : 0);
      expect(args.some((arg) => arg.startsWith('-Dprofile'))).toBe(profile !== undefined);
      expect(args.includes('-DsaveInvalidDefinition')).toBe(name === 'apim-validate' && saveInvalidDefinitions);
    }
  });

  it('builds the Unix launcher line', () => {
    const plan = buildPlan(makeResolvedConfig(), facts());
    expect(stageOf(plan, 'apim').serverRun).toEqual({
      command: 'sh',
      args: [
        '/opt/wso2am-4.2.0/bin/api-manager.sh',
        '-Dmigrate',
        '-DmigrateFromVersion=3.1.0',
        '-DmigratedVersion=4.2.0',
      ],
      display: 'sh /opt/wso2am-4.2.0/bin/api-manager.sh -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0',
      env: { CARBON_HOME: '/opt/wso2am-4.2.0', JAVA_HOME: JDK },
    });
  });

  it('says the launcher environment of every server run, or why the server cannot start', () => {
    const plan = buildPlan(makeResolvedConfig(), facts());
    for (const name of SERVER_STAGES) {
      expect(stageOf(plan, name).notes[0]).toBe(
        `the launcher runs with CARBON_HOME=/opt/wso2am-4.2.0 and JAVA_HOME=${JDK} (from the JDK of the java on PATH), whatever the environment holds`,
      );
    }
    const none = buildPlan(makeResolvedConfig(), facts({ javaHome: { problem: 'no JDK here' } }));
    for (const name of SERVER_STAGES) expect(stageOf(none, name).notes[0]).toBe('the server cannot start: no JDK here');
    expect(stageOf(none, 'registry-scripts').notes.some((note) => note.includes('JAVA_HOME'))).toBe(false);
  });

  it('builds the Windows launcher line on win32', () => {
    const config = makeResolvedConfig({ apimHome: 'C:\\wso2\\wso2am-4.2.0', profile: 'control-plane' });
    const plan = buildPlan(config, facts({ platform: 'win32' }));
    for (const name of SERVER_STAGES) {
      const run = stageOf(plan, name).serverRun;
      expect(run?.command).toBe('cmd.exe');
      expect(run?.args.slice(0, 3)).toEqual(['/d', '/c', 'C:\\wso2\\wso2am-4.2.0\\bin\\api-manager.bat']);
      // The first start has no migration flag, only the profile.
      const flag = name === 'startup' ? '-Dprofile' : '-Dmigrate';
      expect(run?.display.startsWith(`C:\\wso2\\wso2am-4.2.0\\bin\\api-manager.bat ${flag}`)).toBe(true);
      expect(run?.args.at(-1)).toBe('-Dprofile=control-plane');
    }
    expect(stageOf(plan, 'identity').serverRun?.args).toEqual([
      '/d',
      '/c',
      'C:\\wso2\\wso2am-4.2.0\\bin\\api-manager.bat',
      '-Dmigrate',
      '-Dcomponent=identity',
      '-Dprofile=control-plane',
    ]);
  });
});

describe('buildPlan: the PostgreSQL URL edit of the apim stage', () => {
  const edit = (name: string) => ({
    file: 'repository/conf/deployment.toml',
    change: `add preparedStatementCacheQueries=0 to the url of [database.${name}]`,
  });
  it.each([
    {
      title: 'PostgreSQL shared_db',
      dbs: [makeTarget('apim_db'), makeTarget('shared_db')],
      edits: [edit('shared_db')],
    },
    {
      title: 'PostgreSQL shared_db and config',
      dbs: [makeTarget('apim_db'), makeTarget('shared_db'), makeTarget('config'), makeTarget('user')],
      edits: [edit('shared_db'), edit('config')],
    },
    {
      title: 'shared_db already with preparedStatementCacheQueries=0',
      dbs: [
        makeTarget('apim_db'),
        makeTarget('shared_db', { params: { preparedStatementCacheQueries: '0' } }),
        makeTarget('config'),
      ],
      edits: [edit('config')],
    },
    {
      title: 'shared_db with another preparedStatementCacheQueries value',
      dbs: [
        makeTarget('apim_db'),
        makeTarget('shared_db', { params: { ssl: 'true', preparedStatementCacheQueries: '256' } }),
      ],
      edits: [edit('shared_db')],
    },
    {
      title: 'MySQL shared_db and config',
      dbs: [
        makeTarget('apim_db'),
        makeTarget('shared_db', { engine: 'mysql' }),
        makeTarget('config', { engine: 'mariadb' }),
      ],
      edits: [],
    },
    {
      title: 'PostgreSQL apim_db and user only',
      dbs: [makeTarget('apim_db'), makeTarget('shared_db', { engine: 'mysql' }), makeTarget('user')],
      edits: [],
    },
  ])('$title', ({ dbs, edits }) => {
    const plan = buildPlan(makeResolvedConfig({ databases: dbs }), facts());
    expect(stageOf(plan, 'apim').configEdits).toEqual(edits);
    for (const stage of plan.stages) {
      if (stage.stage !== 'apim')
        expect(stage.configEdits.some((e) => e.change.includes('preparedStatementCacheQueries'))).toBe(false);
    }
  });
});

describe('renderPlanText', () => {
  const config: ResolvedConfig = makeResolvedConfig({
    databases: [
      makeTarget('apim_db', { password: 'Apim-Secret-1' }),
      makeTarget('shared_db', { password: 'Shared-Secret-2' }),
      makeTarget('config', { database: 'shared_db', password: 'Config-Secret-3' }),
    ],
  });

  it('renders the key lines', () => {
    const text = renderPlanText(
      buildPlan(
        config,
        facts({ registryFlags: { ...NO_FLAGS, tags: true, properties: true }, absentFlags: ['ratings'] }),
      ),
    );
    const out = text.split('\n');
    expect(out[0]).toBe('apim-migrate plan: API-M 3.1.0 (/opt/wso2am-3.1.0) to 4.2.0 (/opt/wso2am-4.2.0)');
    expect(out.at(-1)).toBe('Nothing was changed. Run a stage with: apim-migrate run <stage>');
    expect(out.filter((line) => /^\d\. /.test(line))).toEqual([
      '1. preflight: Preflight (prerequisites; read only)',
      '2. registry-scripts: Registry scripts (Step 1: registry indices and versioning details; changes data)',
      '3. identity: Identity migration (Step 2: identity component migration; changes data)',
      '4. apim-validate: API-M pre-migration validation (Step 3.4: pre-migration validation; read only)',
      '5. apim: API-M data migration (Step 3.5: API-M data migration; changes data)',
      '6. verify: Verify (after migration; read only)',
      '7. startup: First start (Step 5: server startup (re-indexing); changes data)',
    ]);
    const registry = out.slice(
      out.indexOf(
        '2. registry-scripts: Registry scripts (Step 1: registry indices and versioning details; changes data)',
      ),
    );
    expect(registry.slice(1, 8)).toEqual([
      '   - back up shared_db = config (postgresql, db.example:5432/shared_db) first',
      '   - add index REG_RESOURCE_TAG_IND_BY_REG_TAG_ID on REG_RESOURCE_TAG (REG_TAG_ID, REG_TENANT_ID) unless it exists',
      '   - add index REG_RESOURCE_PROPERTY_IND_BY_REG_PROP_ID on REG_RESOURCE_PROPERTY (REG_TENANT_ID, REG_PROPERTY_ID) unless it exists',
      '   - remove versioning details of REG_RESOURCE_TAG / REG_TAG: versioningTags was true in the old registry.xml',
      '   - keep versioning details of REG_RESOURCE_COMMENT / REG_COMMENT: versioningComments was false in the old registry.xml: removal would delete live REG_RESOURCE_COMMENT rows',
      '   - remove versioning details of REG_RESOURCE_PROPERTY / REG_PROPERTY: versioningProperties was true in the old registry.xml',
      '   - keep versioning details of REG_RESOURCE_RATING / REG_RATING: versioningRatings was absent (false by default) in the old registry.xml: removal would delete live REG_RESOURCE_RATING rows',
    ]);
    expect(out).toContain(
      '   - run the server: sh /opt/wso2am-4.2.0/bin/api-manager.sh -Dmigrate -Dcomponent=identity; watch its log; stop it',
    );
    expect(out).toContain(
      '   - run the server: sh /opt/wso2am-4.2.0/bin/api-manager.sh -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration -DsaveInvalidDefinition; watch its log; stop it',
    );
    expect(out).toContain(
      '   - edit repository/conf/deployment.toml: add preparedStatementCacheQueries=0 to the url of [database.shared_db]',
    );
    expect(out).toContain(
      '   - edit repository/conf/deployment.toml: add preparedStatementCacheQueries=0 to the url of [database.config]',
    );
    expect(out).toContain('   - back up apim_db (postgresql, db.example:5432/apim_db) first');
    expect(
      out.filter((line) => line === '   - back up shared_db = config (postgresql, db.example:5432/shared_db) first'),
    ).toHaveLength(3);
  });

  it('renders a skipped identity stage', () => {
    const text = renderPlanText(buildPlan({ ...config, keyManager: 'is', isHealthUrl: 'https://is/health' }, facts()));
    const out = text.split('\n');
    const at = out.indexOf('3. identity: Identity migration (Step 2: identity component migration; skipped)');
    expect(at).toBeGreaterThan(0);
    expect(out[at + 1]).toMatch(/^ {3}- skipped: WSO2 Identity Server is the Key Manager/);
    expect(out[at + 2]).toBe('');
    expect(text).not.toContain('-Dcomponent=identity');
  });

  it('never shows a password, in text or in JSON', () => {
    const plan = buildPlan(config, facts());
    for (const output of [renderPlanText(plan), JSON.stringify(plan)]) {
      for (const secret of ['Apim-Secret-1', 'Shared-Secret-2', 'Config-Secret-3'])
        expect(output).not.toContain(secret);
    }
  });
});

describe('the plan as JSON', () => {
  it.each([
    {
      title: 'resident Key Manager, all flags on, Linux',
      config: makeResolvedConfig(),
      facts: facts({ registryFlags: { tags: true, comments: true, properties: true, ratings: true } }),
    },
    {
      title: 'IS Key Manager, control plane, Windows',
      config: makeResolvedConfig({
        keyManager: 'is',
        isHealthUrl: 'https://is/health',
        profile: 'control-plane',
        apimHome: 'C:\\wso2am',
      }),
      facts: facts({ platform: 'win32', absentFlags: ['tags', 'comments', 'properties', 'ratings'] }),
    },
  ])('round-trips: $title', ({ config, facts: planFacts }) => {
    const plan = buildPlan(config, planFacts);
    expect(JSON.parse(JSON.stringify(plan))).toStrictEqual(plan);
  });
});
