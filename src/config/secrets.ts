/**
 * Every secret the config leads to, collected once: what the loggers, plan's diffs, stage logs, copied config files,
 * reports and the action's post step mask (core/secrets.ts masks; stages/operations.ts registers them).
 */
import type { ResolvedConfig } from './types.js';

/**
 * The credentials of the artifact stores: GitHub's artifact service takes the runner's ACTIONS_RUNTIME_TOKEN, the S3
 * store the AWS SDK's chain, whose secrets in the environment are these two (a profile's or a role's never pass
 * through apim-migrate). The folder store has none.
 */
const STORE_CREDENTIAL_ENV = ['ACTIONS_RUNTIME_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;

export interface CollectedSecrets {
  /** The values, as they are; a masker also masks each secret line of a multi-line one. */
  values: string[];
  /**
   * The environment variables that hold secrets, by name only: the ones the config names for keys, the store's
   * credentials, and every variable that holds a database password (a `$env{}` placeholder's).
   */
  envNames: string[];
}

/** URL parameters that carry a password in some JDBC driver: every name holding `password`, in any case. */
function isPasswordParam(name: string): boolean {
  return /password/i.test(name);
}

/**
 * The database passwords, the password parameters of their JDBC URLs, the backup passphrase, the age identity, the
 * manifest signing key, the admin password of the startup stage, the store's credentials and the GitHub token, with the variables that hold them.
 */
export function collectSecrets(
  config: ResolvedConfig,
  env: Record<string, string | undefined>,
  extra: { githubToken?: string } = {},
): CollectedSecrets {
  const values = new Set<string>();
  const names = new Set<string>();
  const fromDatabases = new Set<string>();
  for (const db of config.databases) {
    fromDatabases.add(db.password);
    for (const [name, value] of Object.entries(db.params)) if (isPasswordParam(name)) fromDatabases.add(value);
  }
  for (const value of fromDatabases) values.add(value);
  const { passphraseEnv, identityEnv, signingKeyEnv } = config.backup;
  const { adminPasswordEnv } = config.startup;
  const keyNames = [passphraseEnv, identityEnv, signingKeyEnv, adminPasswordEnv, ...STORE_CREDENTIAL_ENV].filter(
    (name): name is string => name !== undefined && Boolean(env[name]),
  );
  for (const name of keyNames) names.add(name);
  for (const [name, value] of Object.entries(env)) if (value && fromDatabases.has(value)) names.add(name);
  const envNames = [...names].sort();
  for (const value of envSecrets(envNames, env, extra)) values.add(value);
  return { values: [...values].filter((value) => value !== ''), envNames };
}

/** The values of the variables named as holding secrets, and the GitHub token: what the post step masks with. */
export function envSecrets(
  names: readonly string[],
  env: Record<string, string | undefined>,
  extra: { githubToken?: string } = {},
): string[] {
  const values = names.map((name) => env[name] ?? '').filter((value) => value !== '');
  return extra.githubToken ? [...values, extra.githubToken] : values;
}
