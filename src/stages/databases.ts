import type { DatabaseName, DatabaseTarget, ResolvedConfig } from '../config/types.js';
import { describeAddress, withSession, type DbSession, type OpenSessionOptions } from '../db/session.js';
import { holdsRegistryTables } from '../db/verify-probes.js';
import { groupPhysicalDatabases, isRegistryDatabase } from '../plan/build-plan.js';
import { InputError } from '../core/errors.js';

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
  for (const db of groupPhysicalDatabases(config.databases).filter(isRegistryDatabase)) {
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
