import { readdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { dialectOf } from '../db/dialects.js';
import { checkClientTools, checkZstd, findClientTools, findZstd } from '../db/client-tools.js';
import {
  checkTestedDbms,
  findAdminRoleConflicts,
  checkMigrationPrivileges,
  readDatabaseSizeBytes,
  readServerInfo,
} from '../db/probes.js';
import type { ServerInfo } from '../db/server-info.js';
import { openSession } from '../db/session.js';
import { errorMessage } from '../core/errors.js';
import { formatBytes } from '../core/format.js';
import type { PhysicalTarget } from '../plan/build-plan.js';
import { checkJava, configuredJavaHome, findJava } from '../server/java.js';
import { checkNewHome, checkOldHome, inspectApimHome } from '../wso2/apim-home.js';
import { inspectMigrationKit, type KitKind } from '../wso2/migration-kit.js';
import { readOldHomeVersioning, registryXmlPath } from '../wso2/registry-flags.js';
import { reportChecks } from './check-step.js';
import { connectedClientsChecks } from './connected-clients.js';
import { physicalTargets, readProfiles } from './databases.js';
import { checkCharacterSets } from '../db/index-widths.js';
import { withSession } from '../db/session.js';
import { renderProfileLines, tokenCleanupHint } from '../plan/data-profile.js';
import { checkServerHeap, serverHeap } from '../server/heap.js';
import { scrubbedServerEnv } from '../server/server-env.js';
import { checkKeystores } from '../wso2/keystores.js';
import type { Check } from '../core/check.js';
import type { DatabaseTarget } from '../config/types.js';
import type { StageContext, StageDefinition, StepOutput } from './types.js';

/** What one step learns and a later one needs: the servers and the sizes of the databases. */
interface PreflightFacts {
  /** The physical databases, as their servers say (found by the database checks). */
  physical: PhysicalTarget[];
  servers: Map<string, ServerInfo>;
  sizes: Map<string, number>;
}

/**
 * The read-only checks that WSO2's guide and its prerequisites imply. Every step runs, so that
 * a failed preflight lists every failed check at once.
 */
export const preflightStage: StageDefinition = {
  name: 'preflight',
  title: 'Preflight',
  runAllSteps: true,
  steps() {
    const facts: PreflightFacts = { physical: [], servers: new Map(), sizes: new Map() };
    return [
      { id: 'homes', title: 'API-M homes', run: checkHomes },
      { id: 'kits', title: 'Migration kits', run: checkKits },
      { id: 'databases', title: 'Databases', run: (context) => checkDatabases(context, facts) },
      { id: 'connected-clients', title: 'Connected clients', run: (context) => checkClients(context, facts) },
      { id: 'client-tools', title: 'Dump and restore tools', run: (context) => checkTools(context, facts) },
      { id: 'java', title: 'Java', run: checkJavaStep },
      { id: 'jdbc-drivers', title: 'JDBC drivers', run: checkJdbcDrivers },
      { id: 'store-space', title: 'Room for the backups', run: (context) => checkStoreSpace(context, facts) },
      { id: 'data-profile', title: 'Data profile', run: (context) => profileDatabases(context, facts) },
      {
        id: 'character-sets',
        title: 'Character sets (MySQL/MariaDB)',
        run: (context) => checkCharsets(context, facts),
      },
      { id: 'keystores', title: 'Keystores', run: checkKeystoresStep },
      { id: 'heap', title: 'Server heap', run: (context) => checkHeap(context, facts) },
    ];
  },
};

async function checkHomes(context: StageContext): Promise<StepOutput> {
  const { config } = context;
  const checks: Check[] = [
    ...checkNewHome(await inspectApimHome(config.apimHome)),
    ...checkOldHome(await inspectApimHome(config.oldApimHome)),
  ];
  const registryXml = registryXmlPath(config.oldApimHome);
  try {
    const versioning = await readOldHomeVersioning(config.oldApimHome);
    const result = versioning.registry;
    const on = Object.entries(result.flags)
      .filter(([, value]) => value)
      .map(([name]) => name);
    const absent = result.absent.length > 0 ? `; absent, so false: ${result.absent.join(', ')}` : '';
    checks.push({
      verdict: 'pass',
      message: `registry versioning in ${registryXml}: ${on.length > 0 ? `on for ${on.join(', ')}` : 'off for every kind'}${absent}`,
    });
    checks.push(...versioning.warnings.map((message) => ({ verdict: 'warn' as const, message })));
  } catch (error) {
    // A missing registry.xml is already a failed check of the old home.
    if (!checks.some((check) => check.verdict === 'fail' && check.message.includes('registry.xml'))) {
      checks.push({ verdict: 'fail', message: errorMessage(error) });
    }
  }
  return reportChecks(context, checks);
}

async function checkKits(context: StageContext): Promise<StepOutput> {
  const { config } = context;
  const kits: Array<{ kind: KitKind; path: string }> = [];
  if (config.keyManager === 'resident' && config.identity)
    kits.push({ kind: 'identity', path: config.identity.migrationKit });
  kits.push({ kind: 'apim', path: config.apim.migrationKit });
  const checks: Check[] = [];
  if (config.keyManager === 'is') {
    checks.push({ verdict: 'pass', message: 'identity kit not needed: WSO2 Identity Server is the Key Manager' });
  }
  for (const kit of kits) {
    const inspection = await inspectMigrationKit(kit.path, kit.kind);
    const label = kit.kind === 'identity' ? 'identity migration kit' : 'API-M migration kit';
    if (inspection.problems.length > 0) {
      checks.push(
        ...inspection.problems.map((problem) => ({
          verdict: 'fail' as const,
          message: `${label} ${kit.path}: ${problem}`,
        })),
      );
    } else {
      checks.push({
        verdict: 'pass',
        message: `${label} ${kit.path}: ${inspection.jarPath ?? ''} (version ${inspection.jarVersion ?? 'unknown'}) and migration-resources/`,
      });
    }
  }
  return reportChecks(context, checks);
}

async function checkDatabases(context: StageContext, facts: PreflightFacts): Promise<StepOutput> {
  const { config } = context;
  const checks: Check[] = [];
  const userStore =
    config.databases.find((db) => db.name === 'user') ?? config.databases.find((db) => db.name === 'shared_db');
  checks.push(...checkPasswords(config.databases));
  facts.physical = await physicalTargets(config);
  for (const { label, names, target } of facts.physical) {
    let session;
    try {
      session = await openSession(target);
    } catch (error) {
      checks.push({ verdict: 'fail', message: errorMessage(error) });
      continue;
    }
    try {
      const server = await readServerInfo(session);
      facts.servers.set(target.name, server);
      checks.push({
        verdict: 'pass',
        message: `${label} answers: ${server.product} ${server.version} at ${target.host}:${target.port}/${target.database}`,
      });
      const tested = checkTestedDbms(server);
      if (!tested.tested)
        checks.push({ verdict: config.strictDbmsCheck ? 'fail' : 'warn', message: `${label}: ${tested.message}` });
      checks.push(...(await checkMigrationPrivileges(session, label)));
      if (userStore && names.includes(userStore.name)) checks.push(await checkAdminRole(session, label));
      facts.sizes.set(target.name, await readDatabaseSizeBytes(session));
    } catch (error) {
      checks.push({
        verdict: 'fail',
        message: `${label} (${target.host}:${target.port}/${target.database}): ${errorMessage(error)}`,
      });
    } finally {
      await session.close();
    }
  }
  return reportChecks(context, checks);
}

/** WSO2's well-known default passwords (deployment.toml, the docs' examples). */
const DEFAULT_PASSWORDS: readonly string[] = ['wso2carbon', 'admin', 'root'];
const SHORT_PASSWORD = 8;

/**
 * A warning for a database password that is one of WSO2's defaults or short: besides being weak, every occurrence of
 * it in a log is masked, so a common word would turn into `***` all over the logs. The password is never named.
 */
function checkPasswords(databases: readonly DatabaseTarget[]): Check[] {
  const checks: Check[] = [];
  for (const db of databases) {
    const password = db.password;
    if (password === '') continue;
    const isDefault = DEFAULT_PASSWORDS.includes(password.toLowerCase());
    if (!isDefault && [...password].length >= SHORT_PASSWORD) continue;
    // Which default it is stays unsaid: the list would name it (and masking would show which one).
    const why = isDefault
      ? "is one of WSO2's well-known default passwords"
      : `is shorter than ${SHORT_PASSWORD} characters`;
    checks.push({
      verdict: 'warn',
      message: `${db.name}: the database password ${why}: change it before migrating production data. apim-migrate masks it in every log, so wherever that text appears in a log it reads *** instead`,
    });
  }
  return checks;
}

async function checkAdminRole(session: Awaited<ReturnType<typeof openSession>>, label: string): Promise<Check> {
  const result = await findAdminRoleConflicts(session);
  if (!result.checked)
    return { verdict: 'warn', message: `${label}: admin role conflict not checked: ${result.reason}` };
  if (result.conflicts.length === 0) {
    return { verdict: 'pass', message: `${label}: no "admin" role exists both in UM_ROLE and UM_HYBRID_ROLE` };
  }
  const tenants = result.conflicts.map((conflict) => conflict.tenantId).join(', ');
  return {
    verdict: 'fail',
    message: `${label}: a role named "admin" exists both as a PRIMARY role (UM_ROLE) and an INTERNAL role (UM_HYBRID_ROLE) in tenant ${tenants}, which IS 5.11+ rejects: rename one of them before migrating, as WSO2's guide says`,
  };
}

/**
 * Who else is connected now, as the stages that change data will ask before they lock: a warning, not a failure,
 * because preflight runs before the maintenance window, while the 3.1.0 nodes are still meant to run.
 */
async function checkClients(context: StageContext, facts: PreflightFacts): Promise<StepOutput> {
  const answering = facts.physical.filter(({ target }) => facts.servers.has(target.name));
  return reportChecks(context, await connectedClientsChecks(context, answering));
}

async function checkTools(context: StageContext, facts: PreflightFacts): Promise<StepOutput> {
  const checks: Check[] = [checkZstd(await findZstd())];
  for (const { label, target } of facts.physical) {
    const server = facts.servers.get(target.name);
    const tools = await findClientTools(target.engine);
    if (server) {
      checks.push(
        ...checkClientTools(server, tools).map((check) => ({ ...check, message: `${label}: ${check.message}` })),
      );
      continue;
    }
    // The server did not answer: presence is all that can be judged.
    for (const tool of [tools.dump, tools.restore]) {
      checks.push(
        tool.path
          ? {
              verdict: 'warn',
              message: `${label}: ${tool.name} found at ${tool.path}, but the server's version is unknown, so its fit was not checked`,
            }
          : {
              verdict: 'fail',
              message: `${label}: ${tool.name} not found on PATH: install the client tools for ${target.engine}`,
            },
      );
    }
  }
  return reportChecks(context, checks);
}

async function checkJavaStep(context: StageContext): Promise<StepOutput> {
  const { config, deps } = context;
  const java = await findJava({
    env: deps.env,
    ...configuredJavaHome(config),
    ...(deps.platform ? { platform: deps.platform } : {}),
  });
  return reportChecks(context, [checkJava(java)]);
}

/**
 * Step 4 of WSO2's "Resource & Artifact Migration": the JDBC driver of each DBMS goes into
 * `<4.2.0>/repository/components/lib`; without it the server cannot open its datasources.
 */
async function checkJdbcDrivers(context: StageContext): Promise<StepOutput> {
  const lib = path.join(context.config.apimHome, 'repository', 'components', 'lib');
  const jars = (await readdir(lib).catch(() => [])).filter((name) => name.endsWith('.jar'));
  const engines = [...new Set(context.config.databases.map((db) => db.engine))];
  const checks: Check[] = engines.map((engine) => {
    const { jdbcDriverJars, product } = dialectOf(engine);
    const found = jars.filter((jar) => jdbcDriverJars.some((prefix) => jar.startsWith(prefix)));
    const urls = `jdbc:${engine}: URLs`;
    if (found.length > 0) return { verdict: 'pass', message: `JDBC driver for ${urls} in ${lib}: ${found.join(', ')}` };
    const wanted = jdbcDriverJars.map((prefix) => `${prefix}*.jar`).join(' or ');
    return {
      verdict: 'fail',
      message: `${lib} has no JDBC driver for ${urls} (${product}'s, ${wanted}): copy the driver jar there, as step 4 of WSO2's "Resource & Artifact Migration" says; without it API-M 4.2.0 cannot open its datasources`,
    };
  });
  return reportChecks(context, checks);
}

async function checkStoreSpace(context: StageContext, facts: PreflightFacts): Promise<StepOutput> {
  const { config } = context;
  const databases = facts.physical;
  const unmeasured = databases.filter(({ target }) => !facts.sizes.has(target.name)).map(({ label }) => label);
  const needed = [...facts.sizes.values()].reduce((sum, size) => sum + size, 0);
  // A folder store keeps the backups; another store gets them from the work folder, where they are written first.
  const inFolder = config.store.kind === 'folder';
  const where = await nearestExistingFolder(inFolder ? config.store.dir : context.workDir);
  const stats = await statfs(where);
  const free = stats.bavail * stats.bsize;
  const checks: Check[] = [];
  if (unmeasured.length > 0) {
    checks.push({
      verdict: 'warn',
      message: `the size of ${unmeasured.join(', ')} is unknown (no answer), so it is not counted below`,
    });
  }
  checks.push(
    free >= needed
      ? {
          verdict: 'pass',
          message: `${formatBytes(free)} free at ${where} for backups of ${formatBytes(needed)} of data`,
        }
      : {
          verdict: 'fail',
          message: `only ${formatBytes(free)} free at ${where}, but the databases hold ${formatBytes(needed)}: free some space or point ${inFolder ? 'store.dir' : 'the work folder (RUNNER_TEMP in Actions, TMPDIR elsewhere)'} at a larger disk`,
        },
  );
  return reportChecks(context, checks);
}

/**
 * The data profile of every physical database (db/data-profile.ts): printed, and kept in the report. The token
 * cleanup hint and a database that could not be profiled are warnings; the profile never fails preflight.
 */
async function profileDatabases(context: StageContext, facts: PreflightFacts): Promise<StepOutput> {
  const answered = facts.physical.filter(({ target }) => facts.servers.has(target.name));
  const { profiles, problems } = await readProfiles(answered);
  context.outcome.profile = profiles;
  for (const line of renderProfileLines(profiles)) context.deps.logger.info(line);
  const checks: Check[] = profiles.map((profile) => {
    const hint = tokenCleanupHint(profile);
    return hint
      ? { verdict: 'warn', message: hint }
      : {
          verdict: 'pass',
          message: `${profile.label}: profiled, ${formatBytes(profile.totalBytes)} in ${profile.tables.length} tables`,
        };
  });
  checks.push(...problems.map((message) => ({ verdict: 'warn' as const, message })));
  return reportChecks(context, checks);
}

/** MySQL/MariaDB: the character sets of each database and its tables against InnoDB's key limits (warnings only). */
async function checkCharsets(context: StageContext, facts: PreflightFacts): Promise<StepOutput> {
  const checks: Check[] = [];
  for (const { label, target } of facts.physical.filter(({ target }) => facts.servers.has(target.name))) {
    try {
      const found = await withSession(target, (session) => dialectOf(target.engine).characterSets(session));
      if (found) checks.push(...checkCharacterSets(label, found));
    } catch (error) {
      checks.push({ verdict: 'warn', message: `${label}: character sets not read: ${errorMessage(error)}` });
    }
  }
  if (checks.length === 0) checks.push({ verdict: 'pass', message: 'no MySQL or MariaDB database to check' });
  return reportChecks(context, checks);
}

async function checkKeystoresStep(context: StageContext): Promise<StepOutput> {
  return reportChecks(context, await checkKeystores(context.config.apimHome, context.config.oldApimHome));
}

/** The heap the server starts with against the data it migrates (server/heap.ts). */
async function checkHeap(context: StageContext, facts: PreflightFacts): Promise<StepOutput> {
  const heap = serverHeap(scrubbedServerEnv(context.deps.env, [], context.deps.platform));
  const data = [...facts.sizes.values()].reduce((sum, size) => sum + size, 0);
  return reportChecks(context, [checkServerHeap(heap, data)]);
}

async function nearestExistingFolder(dir: string): Promise<string> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      await statfs(current);
      return current;
    } catch (error) {
      const parent = path.dirname(current);
      if (parent === current) throw error;
      current = parent;
    }
  }
}
