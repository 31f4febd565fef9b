import type { DatabaseName, DatabaseTarget, RegistryVersioningFlags, ResolvedConfig } from '../config/types.js';
import { jdbcParam } from '../config/jdbc-url.js';
import {
  PG_STATEMENT_CACHE_PARAM,
  IDENTITY_CURRENT_VERSION,
  IDENTITY_MIGRATORS_TO_REMOVE,
  REGISTRY_INDICES,
  VERSIONED_METADATA,
} from '../wso2/registry.js';
import { dialectOf } from '../db/dialects.js';
import { describeJavaHome, isJavaHomeProblem, type JavaHome, type JavaHomeProblem } from '../server/java.js';
import {
  buildNormalStartCommand,
  buildServerCommand,
  type ServerCommand,
  type ServerStage,
} from '../server/server-command.js';
import { STAGE_NAMES, type StageName } from '../core/results.js';
import type { BackupEstimate, DatabaseProfile } from '../core/data-profile.js';
import type { LedgerEntry } from '../db/ledger.js';
import { estimateBackup } from './data-profile.js';

/** What the plan is computed from besides the config: facts read from disk, and what the servers say they are. */
export interface PlanFacts {
  registryFlags: RegistryVersioningFlags;
  /** Flags whose registry.xml element was absent (taken as false, carbon-kernel's default). */
  absentFlags: readonly (keyof RegistryVersioningFlags)[];
  platform: NodeJS.Platform;
  /** The JDK the launcher would get as JAVA_HOME, or why there is none. */
  javaHome: JavaHome | JavaHomeProblem;
  /** What each database's server says identifies it, for the databases that answered (see physicalDatabases). */
  servers?: ServerIdentities;
}

/** The identity of the server behind each configured database, where it answered (Dialect.serverIdentity). */
export type ServerIdentities = ReadonlyMap<DatabaseName, string>;

/** One physical database: several logical names may point at it (shared_db and config often do). */
export interface PhysicalDatabase {
  names: DatabaseName[];
  engine: DatabaseTarget['engine'];
  /** host:port/database, for people. */
  address: string;
  /** Other addresses the config reaches the same database by (the server said it is one). */
  sameAs?: string[];
}

export interface IndexAction {
  table: string;
  name: string;
  columns: string[];
}

export interface VersioningAction {
  flag: keyof RegistryVersioningFlags;
  element: string;
  mappingTable: string;
  entityTable: string;
  versioningWasOn: boolean;
  /** Whether the removal runs for this table: only where versioning was on in the old registry. */
  runs: boolean;
  reason: string;
  /** What the removal would delete, counted in shared_db when it answered. */
  rowsToDelete?: { mapping: number; entity: number };
}

export interface ConfigEdit {
  file: string;
  change: string;
}

export interface StagePlan {
  stage: StageName;
  title: string;
  officialStep: string;
  readOnly: boolean;
  /** Why the stage will not run, when it will not. */
  skipped?: string;
  backups: PhysicalDatabase[];
  indices: IndexAction[];
  versioningRemoval: VersioningAction[];
  serverRun?: ServerCommand;
  configEdits: ConfigEdit[];
  /** The config edits as unified diffs against the files as they are now, when they could be read. */
  diffs: Array<{ file: string; diff: string }>;
  checks: string[];
  notes: string[];
  /** What its backup will likely take (see plan/data-profile.ts), when the databases answered. */
  backupEstimate?: BackupEstimate;
}

export interface Plan {
  apimHome: string;
  oldApimHome: string;
  stages: StagePlan[];
  /** Each physical database's tables and WSO2 figures, when the databases answered. */
  profile?: DatabaseProfile[];
  /** Why a database is missing from the profile. */
  profileNotes?: string[];
}

const TITLES: Record<StageName, { title: string; officialStep: string }> = {
  preflight: { title: 'Preflight', officialStep: 'prerequisites' },
  'registry-scripts': { title: 'Registry scripts', officialStep: 'Step 1: registry indices and versioning details' },
  identity: { title: 'Identity migration', officialStep: 'Step 2: identity component migration' },
  'apim-validate': { title: 'API-M pre-migration validation', officialStep: 'Step 3.4: pre-migration validation' },
  apim: { title: 'API-M data migration', officialStep: 'Step 3.5: API-M data migration' },
  verify: { title: 'Verify', officialStep: 'after migration' },
  startup: { title: 'First start', officialStep: 'Step 5: server startup (re-indexing)' },
};

/** From the config and the facts on disk to what every stage would do. Pure. */
export function buildPlan(config: ResolvedConfig, facts: PlanFacts): Plan {
  return {
    apimHome: config.apimHome,
    oldApimHome: config.oldApimHome,
    stages: STAGE_NAMES.map((stage) => withLauncherNote(planStage(stage, config, facts), config, facts)),
  };
}

/** The environment every server run gets, whatever the runner's holds; or why the server cannot start. */
function withLauncherNote(stage: StagePlan, config: ResolvedConfig, facts: PlanFacts): StagePlan {
  if (!stage.serverRun || stage.skipped) return stage;
  const note = isJavaHomeProblem(facts.javaHome)
    ? `the server cannot start: ${facts.javaHome.problem}`
    : `the launcher runs with CARBON_HOME=${config.apimHome} and ${describeJavaHome(facts.javaHome)}, whatever the environment holds`;
  return { ...stage, notes: [note, ...stage.notes] };
}

function planStage(stage: StageName, config: ResolvedConfig, facts: PlanFacts): StagePlan {
  const base: StagePlan = {
    stage,
    ...TITLES[stage],
    readOnly: true,
    backups: [],
    indices: [],
    versioningRemoval: [],
    configEdits: [],
    diffs: [],
    checks: [],
    notes: [],
  };
  switch (stage) {
    case 'preflight':
      return { ...base, checks: preflightChecks(config) };
    case 'registry-scripts':
      return planRegistryScripts(base, config, facts);
    case 'identity':
      return planIdentity(base, config, facts);
    case 'apim-validate':
      return {
        ...base,
        serverRun: serverRun('apim-validate', config, facts),
        notes: [
          `installs the API-M migration kit ${config.apim.migrationKit} and removes it afterwards`,
          config.apim.allowInvalidDefinitions
            ? 'invalid API definitions are reported but do not fail the stage (apim.allowInvalidDefinitions)'
            : 'fails when any API definition is invalid',
        ],
      };
    case 'apim':
      return planApim(base, config, facts);
    case 'verify':
      return {
        ...base,
        checks: [
          'no migration jar in repository/components/dropins and no migration-resources folder',
          'the deployment.toml edits are in place',
          'the registry indices exist in every database that holds the registry',
          'tables that API-M 4.2.0 has and 3.1.0 lacks exist (AM_REVISION, AM_GATEWAY_ENVIRONMENT, AM_OPERATION_POLICY, ...)',
          ...(config.keyManager === 'resident'
            ? ['the tables and columns the identity migration adds exist (IDN_CORS_ORIGIN, SP_SHARED_APP, UM_ORG, ...)']
            : []),
          'no registry mapping row of a table whose versioning was on refers to an older version',
          "the business tables' row counts against the first backup of every database",
          'every published API has a revision and a deployed revision; every tenant has its Resident Key Manager',
        ],
      };
    case 'startup':
      return planStartup(base, config, facts);
  }
}

/** Step 5 of WSO2's guide: the search index rebuilt at a first normal start. */
function planStartup(base: StagePlan, config: ResolvedConfig, facts: PlanFacts): StagePlan {
  const admin = config.startup.adminUserEnv
    ? [
        `the Publisher REST API (as $${config.startup.adminUserEnv}) lists every super-tenant API of AM_API, waiting up to ${config.startup.indexWaitMinutes} minutes for the new index`,
      ]
    : [];
  return {
    ...base,
    readOnly: false,
    serverRun: buildNormalStartCommand({
      apimHome: config.apimHome,
      javaHome: isJavaHomeProblem(facts.javaHome) ? '' : facts.javaHome.home,
      platform: facts.platform,
      ...(config.profile ? { profile: config.profile } : {}),
    }),
    configEdits: [{ file: 'repository/conf/deployment.toml', change: 'set [indexing] re_indexing one higher' }],
    checks: [
      "verify's checks pass first",
      'the server prints WSO2 Carbon started',
      'the management HTTPS port (9443 + [server] offset) answers on 127.0.0.1',
      ...admin,
    ],
    notes: [
      `backs up ${config.apimHome}/solr and repository/conf/deployment.toml (apim-migrate-startup-backup-a<attempt>), then removes solr`,
      config.startup.leaveRunning
        ? 'leaves the server running afterwards (startup.leaveRunning)'
        : 'stops the server afterwards (startup.leaveRunning: true leaves it running)',
      'on failure puts solr and deployment.toml back from the backup',
    ],
  };
}

function preflightChecks(config: ResolvedConfig): string[] {
  const privileges = new Set(config.databases.map((db) => dialectOf(db.engine).migrationPrivilege));
  return [
    `${config.apimHome} looks like an API-M 4.2.0 home and ${config.oldApimHome} like a 3.1.0 home`,
    `the migration kits hold their jar and migration-resources`,
    `every database answers: ${config.databases.map((db) => db.name).join(', ')}`,
    'the DBMS and its version are on the tested list for API-M 4.2.0',
    ...privileges,
    'no "admin" role exists both as a PRIMARY (UM_ROLE) and an INTERNAL (UM_HYBRID_ROLE) role',
    'the dump and restore tools are present and new enough for the servers',
    'a JDK 11 or 17 for the launcher (server.javaHome, JAVA_HOME or the java on PATH)',
    'repository/components/lib holds the JDBC driver of each database',
    config.store.kind === 'folder'
      ? `the store (${config.store.dir}) has room for the backups`
      : 'the work folder has room for the backups, which are written there before they are stored',
    "the data profile of every database; WSO2's token cleanup first when the token tables hold most of its bytes",
    "MySQL/MariaDB: the character sets of the databases and tables against InnoDB's index key limits",
    "the new home's primary and internal keystores are the old home's files",
    'the heap the server starts with (JVM_MEM_OPTS) for the size of the data',
  ];
}

function planRegistryScripts(base: StagePlan, config: ResolvedConfig, facts: PlanFacts): StagePlan {
  const versioningRemoval = VERSIONED_METADATA.map((meta): VersioningAction => {
    const on = facts.registryFlags[meta.flag];
    const absent = facts.absentFlags.includes(meta.flag);
    return {
      flag: meta.flag,
      element: meta.element,
      mappingTable: meta.mappingTable,
      entityTable: meta.entityTable,
      versioningWasOn: on,
      runs: on,
      reason: on
        ? `${meta.element} was true in the old registry.xml`
        : `${meta.element} was ${absent ? 'absent (false by default)' : 'false'} in the old registry.xml: removal would delete live ${meta.mappingTable} rows`,
    };
  });
  return {
    ...base,
    readOnly: false,
    // The whole physical database is dumped, so the names that share it with shared_db are listed too.
    backups: physicalDatabases(config.databases, facts.servers).filter(isRegistryDatabase),
    indices: REGISTRY_INDICES.map((index) => ({ table: index.table, name: index.name, columns: [...index.columns] })),
    versioningRemoval,
    notes: [
      `runs on ${registryDatabasesText(config, facts)}`,
      'an index that already exists is left as it is',
      'the versioning removal runs at most once on these databases',
    ],
  };
}

function planIdentity(base: StagePlan, config: ResolvedConfig, facts: PlanFacts): StagePlan {
  if (config.keyManager === 'is' || config.identity === undefined) {
    return {
      ...base,
      skipped: 'WSO2 Identity Server is the Key Manager: the identity component is migrated on the IS side',
    };
  }
  const identity = config.identity;
  const yaml = 'migration-resources/migration-config.yaml of the identity kit';
  const configEdits: ConfigEdit[] = [
    { file: yaml, change: 'set migrationEnable: "true"' },
    { file: yaml, change: `set currentVersion: "${IDENTITY_CURRENT_VERSION}"` },
    { file: yaml, change: `set migrateVersion: "${identity.targetVersion}"` },
    ...IDENTITY_MIGRATORS_TO_REMOVE.map((migrator) => ({
      file: yaml,
      change: `remove ${migrator.name} under version "${migrator.version}"${
        migrator.parameters
          ? ` with ${Object.entries(migrator.parameters)
              .map(([key, value]) => `${key}: "${value}"`)
              .join(', ')}`
          : ''
      } (order ${migrator.usualOrder} in client 1.0.225)`,
    })),
  ];
  if (identity.uniqueIdUserStore) {
    configEdits.push({
      file: 'repository/conf/deployment.toml',
      change: 'after the run, set [user_store] type = "database_unique_id"',
    });
  }
  return {
    ...base,
    readOnly: false,
    backups: physicalDatabases(config.databases, facts.servers),
    serverRun: serverRun('identity', config, facts),
    configEdits,
    notes: [
      `installs the identity migration kit ${identity.migrationKit} and removes it afterwards, whatever the outcome`,
      `the kit's versions list must have a "${identity.targetVersion}" entry: the client stops only there`,
    ],
  };
}

function planApim(base: StagePlan, config: ResolvedConfig, facts: PlanFacts): StagePlan {
  const cacheTargets = new Set<DatabaseName>(statementCacheTargets(config));
  const configEdits = config.databases
    .filter((db) => cacheTargets.has(db.name) && jdbcParam(db, PG_STATEMENT_CACHE_PARAM) !== '0')
    .map((db) => ({
      file: 'repository/conf/deployment.toml',
      change: `add ${PG_STATEMENT_CACHE_PARAM}=0 to the url of [database.${db.name}]`,
    }));
  const notes = [
    `installs the API-M migration kit ${config.apim.migrationKit} and removes it afterwards, whatever the outcome`,
  ];
  if (config.keyManager === 'is')
    notes.unshift(`checks that ${config.isHealthUrl ?? 'the IS health URL'} answers before starting`);
  return {
    ...base,
    readOnly: false,
    backups: physicalDatabases(config.databases, facts.servers),
    serverRun: serverRun('apim', config, facts),
    configEdits,
    notes,
  };
}

function serverRun(stage: ServerStage, config: ResolvedConfig, facts: PlanFacts): ServerCommand {
  return buildServerCommand({
    apimHome: config.apimHome,
    javaHome: isJavaHomeProblem(facts.javaHome) ? '' : facts.javaHome.home,
    stage,
    platform: facts.platform,
    ...(config.profile ? { profile: config.profile } : {}),
    saveInvalidDefinitions: config.apim.saveInvalidDefinitions,
  });
}

/** Which databases Step 1 runs on, for people. */
function registryDatabasesText(config: ResolvedConfig, facts: PlanFacts): string {
  const [shared, ...others] = physicalDatabases(config.databases, facts.servers).filter(isRegistryDatabase);
  const first = shared ? describePhysicalDatabase(shared) : 'shared_db';
  if (others.length === 0) return first;
  return `${first} and ${others.map(describePhysicalDatabase).join(', ')} when it holds the registry tables (REG_RESOURCE)`;
}

/**
 * shared_db holds the registry (and the ledger); `[database.config]` is the config registry's mount, and another
 * database when configured apart: Step 1 runs on each that holds the REG_ tables.
 */
export function isRegistryDatabase(db: { names: readonly DatabaseName[] }): boolean {
  return db.names.includes('shared_db') || db.names.includes('config');
}

/**
 * Groups logical databases by where they physically are, so each is backed up and locked once. Two databases are
 * one when their servers are one and their names are the same as the server compares names: the server is the one
 * its identity names (`servers`, from the server itself), or, for a database that did not answer, its address.
 */
export function physicalDatabases(
  databases: readonly DatabaseTarget[],
  servers: ServerIdentities = new Map(),
): PhysicalDatabase[] {
  const byKey = new Map<string, PhysicalDatabase>();
  for (const db of databases) {
    const dialect = dialectOf(db.engine);
    const host = db.host.includes(':') ? `[${db.host}]` : db.host;
    const address = `${host}:${db.port}/${db.database}`;
    // Host names never differ by case; database names do where the server says so.
    const database = dialect.caseSensitiveDatabaseNames ? db.database : db.database.toLowerCase();
    const identity = servers.get(db.name);
    const server = identity === undefined ? `${host.toLowerCase()}:${db.port}` : `server ${identity}`;
    const key = `${dialect.family}://${server}/${database}`;
    const existing = byKey.get(key);
    if (!existing) byKey.set(key, { names: [db.name], engine: db.engine, address });
    else {
      existing.names.push(db.name);
      const seen = [existing.address, ...(existing.sameAs ?? [])].map((known) => known.toLowerCase());
      if (!seen.includes(address.toLowerCase())) existing.sameAs = [...(existing.sameAs ?? []), address];
    }
  }
  return [...byKey.values()];
}

/** A physical database as people read it: `apim_db = shared_db (postgresql, db:5432/apim, also reached as ...)`. */
export function describePhysicalDatabase(db: PhysicalDatabase): string {
  const also = db.sameAs?.length ? `, also reached as ${db.sameAs.join(', ')}` : '';
  return `${db.names.join(' = ')} (${db.engine}, ${db.address}${also})`;
}

/** One physical database: the configured names it serves, the target to connect to, and a label naming them. */
export interface PhysicalTarget {
  names: DatabaseName[];
  /** `apim_db = shared_db` */
  label: string;
  target: DatabaseTarget;
}

/** Each physical database once, with the target to connect to and a label naming all its logical names. */
export function groupPhysicalDatabases(
  databases: readonly DatabaseTarget[],
  servers?: ServerIdentities,
): PhysicalTarget[] {
  return physicalDatabases(databases, servers).map((physical) => {
    const target = databases.find((db) => db.name === physical.names[0]);
    if (!target) throw new Error(`no database named ${physical.names[0] ?? ''}`);
    return { names: physical.names, label: physical.names.join(' = '), target };
  });
}

/** The plan with the row counts of the versioning removal added to the registry-scripts stage. */
export function withRemovalCounts(
  plan: Plan,
  counts: ReadonlyArray<{
    flag: keyof RegistryVersioningFlags;
    mappingRowsToDelete: number;
    entityRowsToDelete: number;
  }>,
): Plan {
  return {
    ...plan,
    stages: plan.stages.map((stage) => ({
      ...stage,
      versioningRemoval: stage.versioningRemoval.map((action) => {
        const count = counts.find((entry) => entry.flag === action.flag);
        return count && action.runs
          ? { ...action, rowsToDelete: { mapping: count.mappingRowsToDelete, entity: count.entityRowsToDelete } }
          : action;
      }),
    })),
  };
}

/** A note on a stage of the plan, e.g. why its row counts are missing. */
export function withNote(plan: Plan, stageName: StageName, note: string): Plan {
  return {
    ...plan,
    stages: plan.stages.map((stage) =>
      stage.stage === stageName ? { ...stage, notes: [...stage.notes, note] } : stage,
    ),
  };
}

/** The plan with the diff of an edit added to a stage. */
export function withDiff(plan: Plan, stageName: StageName, file: string, diff: string): Plan {
  if (diff === '') return plan;
  return {
    ...plan,
    stages: plan.stages.map((stage) =>
      stage.stage === stageName ? { ...stage, diffs: [...stage.diffs, { file, diff }] } : stage,
    ),
  };
}

/** `shared_db` and `config` on PostgreSQL need `preparedStatementCacheQueries=0` before the API-M migration. */
export function statementCacheTargets(config: ResolvedConfig): Array<'shared_db' | 'config'> {
  return config.databases
    .filter((db) => dialectOf(db.engine).disablesStatementCache)
    .map((db) => db.name)
    .filter((name): name is 'shared_db' | 'config' => name === 'shared_db' || name === 'config');
}

/**
 * The plan with the data profile, and each data-changing stage's backup estimated from the ledger's records (the
 * entries of shared_db's ledger) or its engines' default rates. A stage whose databases are not all profiled gets
 * no estimate.
 */
export function withDataProfile(
  plan: Plan,
  profiles: readonly DatabaseProfile[],
  entries: readonly LedgerEntry[],
): Plan {
  return {
    ...plan,
    profile: [...profiles],
    stages: plan.stages.map((stage) => {
      if (stage.skipped || stage.backups.length === 0) return stage;
      const inputs = stage.backups.map((db) => {
        const profile = profiles.find((candidate) => candidate.label === db.names.join(' = '));
        return profile && { dataBytes: profile.databaseBytes, defaultRate: dialectOf(db.engine).defaultBackupRate };
      });
      if (inputs.some((input) => input === undefined)) return stage;
      return {
        ...stage,
        backupEstimate: estimateBackup(
          inputs.filter((input) => input !== undefined),
          entries,
        ),
      };
    }),
  };
}
