import type { DatabaseName, DatabaseTarget, ResolvedConfig } from '../config/types.js';
import { withSession, type DbSession } from '../db/session.js';
import { InputError } from '../errors.js';

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
