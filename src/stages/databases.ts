import type { DatabaseName, DatabaseTarget, ResolvedConfig } from '../config/types.js';
import { describeAddress, withSession, type DbSession, type OpenSessionOptions } from '../db/session.js';
import { holdsRegistryTables } from '../db/verify-probes.js';
import { dialectOf } from '../db/dialects.js';
import {
  groupPhysicalDatabases,
  isRegistryDatabase,
  physicalDatabases,
  type PhysicalTarget,
  type ServerIdentities,
} from '../plan/build-plan.js';
import { errorMessage, InputError } from '../core/errors.js';
import type { DatabaseProfile } from '../core/data-profile.js';
import { readDataProfile, type ReadDataProfileOptions } from '../db/data-profile.js';

/** The configured database of that name; shared_db and apim_db always are, config and user may not be. */
export function configuredDatabase(config: ResolvedConfig, name: DatabaseName): DatabaseTarget {
  const target = config.databases.find((db) => db.name === name);
  if (!target) throw new InputError({ file: config.configFile, message: `no ${name} is configured` });
  return target;
}

/** A short-lived session on a configured database (a restore may drop and recreate it under a long one). */
export function withDatabase<T>(
  config: ResolvedConfig,
  name: DatabaseName,
  work: (session: DbSession) => Promise<T>,
): Promise<T> {
  return withSession(configuredDatabase(config, name), work);
}

/** How long identifying a server may wait for it to answer before the address has to do. */
const IDENTIFY_TIMEOUT_MS = 5_000;

/**
 * Asks the server behind each configured database who it is (Dialect.serverIdentity). A database that does not
 * answer, or whose server will not say, is left out: it is then grouped by its address, and whatever connects to it
 * next reports why it cannot.
 */
export async function identifyServers(
  config: ResolvedConfig,
  options: OpenSessionOptions = { connectTimeoutMs: IDENTIFY_TIMEOUT_MS },
): Promise<ServerIdentities> {
  const identities = new Map<DatabaseName, string>();
  await Promise.all(
    config.databases.map(async (db) => {
      const identity = await withSession(db, (session) => dialectOf(db.engine).serverIdentity(session), options).catch(
        () => undefined,
      );
      if (identity !== undefined) identities.set(db.name, identity);
    }),
  );
  return identities;
}

/**
 * The server identities that could merge two configured databases: only databases of one DBMS family and one
 * database name, written with two addresses, are asked about (for the others the address already decides).
 */
export async function serverIdentities(
  config: ResolvedConfig,
  options: OpenSessionOptions = { connectTimeoutMs: IDENTIFY_TIMEOUT_MS },
): Promise<ServerIdentities> {
  const byName = new Map<string, DatabaseName[][]>();
  for (const db of physicalDatabases(config.databases)) {
    const target = config.databases.find((candidate) => candidate.name === db.names[0]);
    if (!target) continue;
    const dialect = dialectOf(target.engine);
    const name = dialect.caseSensitiveDatabaseNames ? target.database : target.database.toLowerCase();
    const key = `${dialect.family}/${name}`;
    byName.set(key, [...(byName.get(key) ?? []), db.names]);
  }
  const ambiguous = new Set([...byName.values()].filter((groups) => groups.length > 1).flat(2));
  if (ambiguous.size === 0) return new Map();
  return identifyServers({ ...config, databases: config.databases.filter((db) => ambiguous.has(db.name)) }, options);
}

/** Each physical database of the config once, as its servers say (see physicalDatabases). */
export async function physicalTargets(config: ResolvedConfig): Promise<PhysicalTarget[]> {
  return groupPhysicalDatabases(config.databases, await serverIdentities(config));
}

/**
 * The physical databases an operation works on, found once, when a step first asks: finding them asks the servers,
 * so it belongs in a step (whose failure the stage reports), not before the stage.
 */
export type TargetsOnce = () => Promise<readonly PhysicalTarget[]>;

export function targetsOnce(find: () => Promise<readonly PhysicalTarget[]>): TargetsOnce {
  let found: Promise<readonly PhysicalTarget[]> | undefined;
  return () => (found ??= find());
}

/** A physical database that holds the registry tables; `key` names it in the ledger (shared_db or config). */
export interface RegistryDatabase {
  names: DatabaseName[];
  label: string;
  target: DatabaseTarget;
  key: 'shared_db' | 'config';
}

/**
 * The databases that hold the registry: shared_db always, and `[database.config]` when it is another database with
 * REG_RESOURCE (the API-M client's pre-DB-script step runs the registry scripts on each). `without` are the
 * configured registry databases that hold no registry tables.
 */
export async function findRegistryDatabases(
  config: ResolvedConfig,
  options: OpenSessionOptions = {},
): Promise<{ databases: RegistryDatabase[]; without: RegistryDatabase[] }> {
  const databases: RegistryDatabase[] = [];
  const without: RegistryDatabase[] = [];
  for (const db of (await physicalTargets(config)).filter(isRegistryDatabase)) {
    const found: RegistryDatabase = { ...db, key: db.names.includes('shared_db') ? 'shared_db' : 'config' };
    const holds =
      found.key === 'shared_db' || (await withSession(db.target, (session) => holdsRegistryTables(session), options));
    (holds ? databases : without).push(found);
  }
  return { databases, without };
}

/** `shared_db (host:port/db)`, for messages. */
export function describeDatabase(db: { label: string; target: DatabaseTarget }): string {
  return `${db.label} (${describeAddress(db.target)})`;
}

/**
 * The data profile of each physical database (db/data-profile.ts), read-only; a database that cannot be read is a
 * problem in the list, and the others are still profiled.
 */
export async function readProfiles(
  targets: readonly PhysicalTarget[],
  options: OpenSessionOptions & Pick<ReadDataProfileOptions, 'exactCountBelowRows'> = {},
): Promise<{ profiles: DatabaseProfile[]; problems: string[] }> {
  const profiles: DatabaseProfile[] = [];
  const problems: string[] = [];
  for (const db of targets) {
    try {
      profiles.push(
        await withSession(
          db.target,
          (session) =>
            readDataProfile(session, {
              label: db.label,
              ...(options.exactCountBelowRows === undefined
                ? {}
                : { exactCountBelowRows: options.exactCountBelowRows }),
            }),
          options,
        ),
      );
    } catch (error) {
      problems.push(`the data profile of ${describeDatabase(db)} is not available: ${errorMessage(error)}`);
    }
  }
  return { profiles, problems };
}
