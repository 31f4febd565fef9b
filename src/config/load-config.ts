import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { InputError, type Problem } from '../core/errors.js';
import {
  readDeploymentDatabases,
  resolveDatabases,
  type DatabaseOverride,
  type DeploymentDatabase,
} from './deployment-toml.js';
import { resolvePlaceholders } from './placeholders.js';
import {
  checkCrossFieldRules,
  checkStoreRules,
  configSchema,
  isRecord,
  storeKindOf,
  type ConfigFile,
} from './schema.js';
import { DATABASE_NAMES, type DatabaseName, type ResolvedConfig, type StoreConfig } from './types.js';

export const DEFAULT_CONFIG_FILE = 'apim-migration.yml';

export interface LoadConfigOptions {
  /** The config file; relative paths resolve against `cwd`. */
  file?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/**
 * Reads, validates and resolves `apim-migration.yml`. Every problem found in the config file and in
 * the deployment.toml it leads to is collected and thrown together as one {@link InputError}.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const configFile = path.resolve(cwd, options.file ?? DEFAULT_CONFIG_FILE);
  const text = await readConfigText(configFile, options.file === undefined);
  const located = parseYaml(text, configFile);

  const problems: Problem[] = [];
  const raw = located.doc.toJS() as unknown;
  if (!isRecord(raw)) {
    throw new InputError({
      file: configFile,
      line: 1,
      message: 'the config must be a YAML mapping with at least apimHome, oldApimHome and apim.migrationKit',
    });
  }
  const expanded = expandPlaceholders(raw, env, located, problems);
  // reportInput: without it zod leaves `input` out of every issue, and a wrong value would read as a missing one.
  const parsed = configSchema.safeParse(expanded, { reportInput: true });
  if (!parsed.success) problems.push(...parsed.error.issues.map((issue) => problemFromIssue(issue, located)));
  for (const violation of [...checkCrossFieldRules(expanded), ...checkStoreRules(expanded, env)]) {
    problems.push({ ...located.at(violation.path), message: `${violation.path.join('.')}: ${violation.message}` });
  }
  if (!parsed.success || problems.length > 0) throw configError(configFile, problems);

  const resolved = await resolveConfig(parsed.data, { configFile, env, located, problems });
  if (problems.length > 0) throw configError(configFile, problems);
  return resolved;
}

function configError(configFile: string, problems: Problem[]): InputError {
  return new InputError(problems, {
    headline: `the configuration (${configFile}) has ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}; fix ${problems.length === 1 ? 'it' : 'them'} and run again:`,
  });
}

async function readConfigText(file: string, isDefault: boolean): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const hint = isDefault
      ? `create ${DEFAULT_CONFIG_FILE} (see the README's config reference) or pass --config FILE`
      : 'check the path given with --config (or the action input "config")';
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : 'cannot be read';
    throw new InputError({ file, message: `config file ${what}: ${hint}` }, { cause: error });
  }
}

/** A parsed YAML document that can say on which line a value was written. */
interface LocatedDocument {
  doc: Document.Parsed;
  at(path: readonly (string | number)[]): Pick<Problem, 'file' | 'line' | 'column'>;
}

function parseYaml(text: string, file: string): LocatedDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InputError(
      doc.errors.map((error) => {
        const pos = lineCounter.linePos(error.pos[0]);
        return { file, line: pos.line, column: pos.col, message: `YAML syntax: ${firstLine(error.message)}` };
      }),
      { headline: `${file} is not valid YAML; fix it and run again:` },
    );
  }
  const locate = (offset: number | undefined): Pick<Problem, 'file' | 'line' | 'column'> => {
    if (offset === undefined) return { file };
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, column: pos.col };
  };
  return {
    doc,
    at(valuePath) {
      // Walk down as far as the document goes: a missing key is reported where its parent is.
      let offset: number | undefined;
      let node: unknown = doc.contents;
      for (const key of valuePath) {
        if (isSeq(node) && typeof key === 'number') {
          node = node.items[key];
          offset = (node as Node | undefined)?.range?.[0] ?? offset;
          continue;
        }
        if (!isMap(node)) break;
        const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
        if (!pair) break;
        offset = (pair.key as Node).range?.[0];
        node = pair.value;
      }
      return locate(offset);
    },
  };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

function problemFromIssue(issue: z.core.$ZodIssue, located: LocatedDocument): Problem {
  const where = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const parent = where.length > 0 ? `${where.join('.')}.` : '';
    const keys = issue.keys;
    const first = keys[0] ?? '';
    const message =
      keys.length === 1
        ? `unknown key "${parent}${first}": remove it or fix its spelling (see the README's config reference)`
        : `unknown keys ${keys.map((key) => `"${parent}${key}"`).join(', ')}: remove them or fix their spelling`;
    return { ...located.at([...where, first]), message };
  }
  const name = where.join('.') || '(top level)';
  return { ...located.at(where), message: `${name}: ${describeIssue(issue)}` };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${article(issue.expected)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'string' ? 'must not be empty' : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.format === 'url' ? 'must be an http(s) URL' : issue.message;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  return expected === 'object' ? 'a mapping' : expected === 'array' ? 'a list' : `a ${expected}`;
}

/**
 * Resolves `$env{NAME}` in every string of the config except `databases`, whose values are resolved
 * together with what deployment.toml says (a password there may be overridden here).
 */
function expandPlaceholders(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined>,
  located: LocatedDocument,
  problems: Problem[],
): Record<string, unknown> {
  const visit = (value: unknown, at: (string | number)[]): unknown => {
    if (typeof value === 'string') {
      const result = resolvePlaceholders(value, env);
      if (result.ok) return result.value;
      for (const name of result.missingEnv) {
        problems.push({
          ...located.at(at),
          message: `${at.join('.')}: environment variable ${name} is not set ($env{${name}})`,
        });
      }
      if (result.secrets.length > 0) {
        problems.push({ ...located.at(at), message: `${at.join('.')}: $secret{} placeholders are only for passwords` });
      }
      return value;
    }
    if (Array.isArray(value)) return value.map((item, index) => visit(item, [...at, index]));
    if (isRecord(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [
          key,
          at.length === 0 && key === 'databases' ? item : visit(item, [...at, key]),
        ]),
      );
    }
    return value;
  };
  return visit(raw, []) as Record<string, unknown>;
}

interface ResolveContext {
  configFile: string;
  env: Record<string, string | undefined>;
  located: LocatedDocument;
  problems: Problem[];
}

async function resolveConfig(file: ConfigFile, context: ResolveContext): Promise<ResolvedConfig> {
  const base = path.dirname(context.configFile);
  const resolvePath = (value: string): string => path.resolve(base, value);
  const apimHome = resolvePath(file.apimHome);
  const databases = await discoverDatabases(file, apimHome, context);
  return {
    configFile: context.configFile,
    apimHome,
    oldApimHome: resolvePath(file.oldApimHome),
    ...(file.profile ? { profile: file.profile } : {}),
    keyManager: file.keyManager,
    ...(file.isHealthUrl ? { isHealthUrl: file.isHealthUrl } : {}),
    strictDbmsCheck: file.strictDbmsCheck,
    ...(file.identity ? { identity: { ...file.identity, migrationKit: resolvePath(file.identity.migrationKit) } } : {}),
    apim: { ...file.apim, migrationKit: resolvePath(file.apim.migrationKit) },
    databases,
    backup: { ...file.backup },
    server: {
      ...file.server,
      ...(file.server.javaHome === undefined ? {} : { javaHome: resolvePath(file.server.javaHome) }),
    },
    startup: { ...file.startup },
    store: resolveStore(file.store, context.env, resolvePath),
  };
}

const DEFAULT_STORE_DIR = '.apim-migrate';

/** `store` with its kind decided and its defaults filled in; checkStoreRules has made sure the kind's keys are there. */
function resolveStore(
  store: ConfigFile['store'],
  env: Record<string, string | undefined>,
  resolvePath: (value: string) => string,
): StoreConfig {
  const kind = storeKindOf(store.kind, env);
  const resolved: StoreConfig = {
    kind,
    dir: resolvePath(store.dir ?? DEFAULT_STORE_DIR),
    groupAccess: store.groupAccess ?? false,
  };
  if (kind !== 's3') return resolved;
  return {
    ...resolved,
    s3: {
      bucket: store.bucket ?? '',
      prefix: (store.prefix ?? '').replace(/\/$/, ''),
      region: store.region ?? (env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || ''),
      ...(store.endpoint === undefined ? {} : { endpoint: store.endpoint }),
      forcePathStyle: store.forcePathStyle ?? false,
    },
  };
}

export function deploymentTomlPath(apimHome: string): string {
  return path.join(apimHome, 'repository', 'conf', 'deployment.toml');
}

async function discoverDatabases(file: ConfigFile, apimHome: string, context: ResolveContext) {
  const overrides = databaseOverrides(file, context.located);
  const deploymentFile = deploymentTomlPath(apimHome);
  const discovered = await readDiscoveredDatabases(deploymentFile, overrides, context);
  const result = resolveDatabases({
    discovered: discovered ?? [],
    deploymentUnusable: discovered === undefined,
    deploymentFile,
    overrides,
    configFile: context.configFile,
    env: context.env,
  });
  context.problems.push(...result.problems);
  return result.databases;
}

/**
 * deployment.toml is needed unless the config itself gives a URL and user for apim_db and shared_db. Undefined when
 * it is needed and cannot be used (the problem is reported).
 */
async function readDiscoveredDatabases(
  deploymentFile: string,
  overrides: DatabaseOverride[] | undefined,
  context: ResolveContext,
): Promise<DeploymentDatabase[] | undefined> {
  const complete = (name: DatabaseName) =>
    overrides?.some((entry) => entry.name === name && entry.url !== undefined && entry.username !== undefined) ?? false;
  const required = !(complete('apim_db') && complete('shared_db'));
  let text: string;
  try {
    if (!(await stat(deploymentFile)).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    text = await readFile(deploymentFile, 'utf8');
  } catch {
    if (required) {
      context.problems.push({
        ...context.located.at(['apimHome']),
        message: `apimHome: ${deploymentFile} not found; point apimHome at the API-M 4.2.0 home, or give databases.apim_db and databases.shared_db (url, username, password) in the config`,
      });
      return undefined;
    }
    return [];
  }
  try {
    return readDeploymentDatabases(text, deploymentFile);
  } catch (error) {
    if (error instanceof InputError) {
      context.problems.push(...error.problems);
      return undefined;
    }
    throw error;
  }
}

function databaseOverrides(file: ConfigFile, located: LocatedDocument): DatabaseOverride[] | undefined {
  if (file.databases === undefined) return undefined;
  const overrides: DatabaseOverride[] = [];
  for (const name of DATABASE_NAMES) {
    const entry = file.databases[name];
    if (entry === undefined) continue;
    const line = located.at(['databases', name]).line;
    overrides.push({ name, ...entry, ...(line === undefined ? {} : { line }) });
  }
  return overrides;
}
