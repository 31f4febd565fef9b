/**
 * Which variables the API-M server gets besides the base set of server-env.ts: those deployment.toml's `$env{}`
 * placeholders name and the config's `server.env`. A name the server must never have is refused with where it is
 * named and why (docs/security.md, "The server gets only what it needs").
 */
import { readFile } from 'node:fs/promises';
import { deploymentTomlPath } from '../config/load-config.js';
import { envPlaceholderNames } from '../config/placeholders.js';
import { isTable, parseTomlText, type TomlValue } from '../config/toml-document.js';
import type { ResolvedConfig } from '../config/types.js';
import { InputError, type Problem } from '../core/errors.js';

/**
 * Why the server must never get `name`, or undefined when it may. The runner hands its tokens to actions only
 * (ACTIONS_RUNTIME_TOKEN, ACTIONS_ID_TOKEN_REQUEST_TOKEN, and the inputs as INPUT_<NAME>, the github-token too).
 */
export function forbiddenServerVariable(name: string, config: ResolvedConfig): string | undefined {
  const upper = name.toUpperCase();
  if (upper.startsWith('ACTIONS_')) return 'it belongs to the GitHub Actions runner (its runtime and OIDC tokens)';
  if (upper === 'GITHUB_TOKEN') return 'it is a GitHub token';
  if (upper.startsWith('INPUT_')) return 'it is an input of the action (the github-token input among them)';
  if (upper.startsWith('AWS_')) return 'it is a credential of an artifact store';
  const keys: Array<[string | undefined, string]> = [
    [config.backup.passphraseEnv, 'backup.passphraseEnv: it holds the backup passphrase'],
    [config.backup.identityEnv, 'backup.identityEnv: it holds the key that decrypts the backups'],
    [config.backup.signingKeyEnv, "backup.signingKeyEnv: it holds the key that signs the backups' manifests"],
  ];
  const key = keys.find(([variable]) => variable !== undefined && variable === name);
  return key ? `it is ${key[1]}` : undefined;
}

/**
 * The variables the server gets besides the base set: those deployment.toml's `$env{}` placeholders name and
 * `server.env`. A name the server must never get is an InputError that says where it is named and why.
 */
export async function readServerEnvNames(config: ResolvedConfig): Promise<string[]> {
  const file = deploymentTomlPath(config.apimHome);
  // A missing or broken deployment.toml is the home checks' and the config loader's to report.
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const placeholders = text === undefined ? [] : deploymentEnvNames(text, file);
  const problems: Problem[] = [];
  for (const name of placeholders) {
    const why = forbiddenServerVariable(name, config);
    if (why === undefined) continue;
    problems.push({
      file,
      ...lineOf(text ?? '', `$env{${name}}`),
      message: `$env{${name}}: the API-M server never gets ${name}, because ${why}; give the server the value in a variable of its own and name that one`,
    });
  }
  for (const name of config.server.env) {
    const why = forbiddenServerVariable(name, config);
    if (why === undefined) continue;
    problems.push({
      file: config.configFile,
      message: `server.env: the API-M server never gets ${name}, because ${why}; remove it from server.env`,
    });
  }
  if (problems.length > 0) {
    throw new InputError(problems, { headline: 'The config gives the API-M server a variable it must not have:' });
  }
  return [...new Set([...placeholders, ...config.server.env])];
}

/** Every variable a `$env{}` placeholder of deployment.toml names: in every string value, in tables and arrays. */
export function deploymentEnvNames(text: string, file: string): string[] {
  const names = new Set<string>();
  const visit = (value: TomlValue): void => {
    if (typeof value === 'string') for (const name of envPlaceholderNames(value)) names.add(name);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (isTable(value)) Object.values(value).forEach(visit);
  };
  visit(parseTomlText(text, file));
  return [...names];
}

function lineOf(text: string, needle: string): { line: number } | Record<string, never> {
  const at = text.indexOf(needle);
  return at < 0 ? {} : { line: text.slice(0, at).split('\n').length };
}
