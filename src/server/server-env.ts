/**
 * The environment the API-M launcher gets: a short list of what a shell script and a JVM need, the variables that
 * `deployment.toml` names in `$env{NAME}` placeholders (WSO2's config mapper reads them at every start, and a missing
 * one stops it), and those the config's `server.env` lists. Nothing else of the runner's environment reaches the
 * server: not the runner's tokens, not the backup key, not store credentials. A config that names one of those for
 * the server is refused (docs/security.md, "The server gets only what it needs"); server-env-names.ts reads the names
 * and refuses those, apart from this module so that the post step, which only stops the server, needs no config.
 */
/** What api-manager.sh and the JVM read on every platform; JAVA_HOME and CARBON_HOME are the command's own. */
const BASE_NAMES = [
  'PATH',
  'HOME',
  'USER',
  'LANG',
  'TZ',
  'TMPDIR',
  'JAVA_HOME',
  'CARBON_HOME',
  'JAVA_OPTS',
  'JVM_MEM_OPTS',
];

/**
 * Windows: the variables libuv adds to a child's environment when it lacks them (src/win/process.c,
 * `required_vars`), cmd.exe's own (ComSpec, PATHEXT), `OS` (api-manager.bat reads it) and TMP (GetTempPath's first).
 */
const WINDOWS_NAMES = [
  'HOMEDRIVE',
  'HOMEPATH',
  'LOGONSERVER',
  'SYSTEMDRIVE',
  'SYSTEMROOT',
  'TEMP',
  'TMP',
  'USERDOMAIN',
  'USERNAME',
  'USERPROFILE',
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'OS',
];

/**
 * `base` reduced to what the server needs and the variables `extra` names. Windows compares names without case, as
 * Windows does (`Path`, `SystemRoot`).
 */
export function scrubbedServerEnv(
  base: Record<string, string | undefined>,
  extra: readonly string[],
  platform: NodeJS.Platform = process.platform,
): Record<string, string> {
  const windows = platform === 'win32';
  const key = (name: string) => (windows ? name.toUpperCase() : name);
  const allowed = new Set([...BASE_NAMES, ...(windows ? WINDOWS_NAMES : []), ...extra].map(key));
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined) continue;
    if (allowed.has(key(name)) || name.startsWith('LC_')) env[name] = value;
  }
  return env;
}
