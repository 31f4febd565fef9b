/**
 * The `[database.*]` tables of WSO2's deployment.toml, and how they combine with the
 * `databases:` overrides of apim-migrate's own config into connectable targets.
 */
import { InputError } from '../core/errors.js';
import type { Problem } from '../core/errors.js';
import { isEngineOfFamily, JdbcUrlError, UnsupportedDbmsError, parseJdbcUrl } from './jdbc-url.js';
import { resolvePlaceholders } from './placeholders.js';
import {
  describeTomlType,
  isTable,
  lineOf,
  readTomlDocument,
  type TomlDocument,
  type TomlTable,
  type TomlValue,
} from './toml-document.js';
import { DATABASE_NAMES } from './types.js';
import type { DatabaseName, DatabaseTarget, DbEngine, JdbcUrl } from './types.js';

/** One `[database.<name>]` table as written, placeholders unresolved. */
export interface DeploymentDatabase {
  name: DatabaseName;
  type?: string;
  url?: string;
  username?: string;
  password?: string;
  /** 1-based line of the table header. */
  line?: number;
}

/** One entry of the `databases:` section of apim-migrate's config. */
export interface DatabaseOverride {
  name: DatabaseName;
  url?: string;
  username?: string;
  password?: string;
  type?: string;
  /** 1-based line of the entry in the config file. */
  line?: number;
}

export interface ResolveDatabasesInput {
  discovered: DeploymentDatabase[];
  deploymentFile: string;
  overrides: DatabaseOverride[] | undefined;
  configFile: string;
  env: Record<string, string | undefined>;
  /**
   * deployment.toml could not be read or parsed (a problem that says so is reported already): a database it would
   * have given is not reported missing on top of that.
   */
  deploymentUnusable?: boolean;
}

export interface ResolvedDatabases {
  databases: DatabaseTarget[];
  problems: Problem[];
}

type Field = 'type' | 'url' | 'username' | 'password';
const FIELDS: readonly Field[] = ['type', 'url', 'username', 'password'];
const REQUIRED_DATABASES: readonly DatabaseName[] = ['apim_db', 'shared_db'];

// ---------------------------------------------------------------------------------------------
// Reading deployment.toml

export function readDeploymentDatabases(tomlText: string, file: string): DeploymentDatabase[] {
  const document = readTomlDocument(tomlText, file);
  const section = document.data['database'];
  if (section === undefined) return [];
  if (!isTable(section)) {
    throw new InputError({
      file,
      line: lineOf(document, ['database']),
      message: '`database` must be a table: write the databases as [database.apim_db] and [database.shared_db]',
    });
  }
  const problems: Problem[] = [];
  const databases: DeploymentDatabase[] = [];
  for (const name of DATABASE_NAMES) {
    const entry = section[name];
    if (entry === undefined) continue;
    const line = lineOf(document, ['database', name]);
    if (!isTable(entry)) {
      problems.push({ file, line, message: `\`database.${name}\` must be a table: write it as [database.${name}]` });
      continue;
    }
    databases.push(readDatabaseTable({ name, table: entry, line, document, problems }));
  }
  if (problems.length > 0) throw new InputError(problems);
  return databases;
}

function readDatabaseTable(input: {
  name: DatabaseName;
  table: TomlTable;
  line: number | undefined;
  document: TomlDocument;
  problems: Problem[];
}): DeploymentDatabase {
  const { name, table, line, document, problems } = input;
  const { file } = document;
  const database: DeploymentDatabase = { name };
  if (line !== undefined) database.line = line;
  for (const field of FIELDS) {
    const value = table[field];
    if (value === undefined) continue;
    if (typeof value === 'string') {
      database[field] = value;
      continue;
    }
    problems.push({
      file,
      line: lineOf(document, ['database', name, field]) ?? line,
      message: `\`${field}\` in [database.${name}] must be a string in quotes, not ${describeTomlType(value)}: write ${field} = "..."`,
    });
  }
  return database;
}

// ---------------------------------------------------------------------------------------------
// Combining deployment.toml with the config's overrides

/** Where a value was written, for messages. */
interface Origin {
  kind: DatabaseTarget['source'];
  file: string;
  line?: number;
  /** How the entry is named in its file, e.g. `[database.apim_db]` or `databases.apim_db`. */
  label: string;
}

interface SourcedValue {
  value: string;
  origin: Origin;
}

interface DatabaseContext {
  name: DatabaseName;
  /** The entry that defines the database: deployment.toml's table when there is one. */
  entry: Origin;
  configFile: string;
  deploymentFile: string;
  problems: Problem[];
}

type TypeVerdict =
  { kind: 'engine'; engine: 'postgresql' | 'mysql' } | { kind: 'unsupported'; dbms: string } | { kind: 'unknown' };

const WSO2_TYPES: Record<string, TypeVerdict> = {
  postgre: { kind: 'engine', engine: 'postgresql' },
  mysql: { kind: 'engine', engine: 'mysql' },
  mssql: { kind: 'unsupported', dbms: 'Microsoft SQL Server' },
  oracle: { kind: 'unsupported', dbms: 'Oracle' },
  db2: { kind: 'unsupported', dbms: 'IBM Db2' },
  h2: { kind: 'unsupported', dbms: 'H2' },
};

const ENGINE_NAMES: Record<DbEngine, string> = { postgresql: 'PostgreSQL', mysql: 'MySQL', mariadb: 'MariaDB' };

export function resolveDatabases(input: ResolveDatabasesInput): ResolvedDatabases {
  const problems: Problem[] = [];
  const databases: DatabaseTarget[] = [];
  for (const name of DATABASE_NAMES) {
    const discovered = input.discovered.find((database) => database.name === name);
    const override = input.overrides?.find((entry) => entry.name === name);
    if (discovered === undefined && override === undefined) {
      if (REQUIRED_DATABASES.includes(name) && !input.deploymentUnusable) {
        problems.push(describeAbsentDatabase(name, input));
      }
      continue;
    }
    const target = resolveDatabase({ name, discovered, override, input, problems });
    if (target !== undefined) databases.push(target);
  }
  return { databases, problems };
}

function describeAbsentDatabase(name: DatabaseName, input: ResolveDatabasesInput): Problem {
  return {
    file: input.deploymentFile,
    message:
      `the ${name} database is not configured: add [database.${name}] to ${input.deploymentFile} ` +
      `or databases.${name} to ${input.configFile}`,
  };
}

function resolveDatabase(args: {
  name: DatabaseName;
  discovered: DeploymentDatabase | undefined;
  override: DatabaseOverride | undefined;
  input: ResolveDatabasesInput;
  problems: Problem[];
}): DatabaseTarget | undefined {
  const { name, discovered, override, input } = args;
  const discoveredOrigin =
    discovered && createOrigin('deployment.toml', input.deploymentFile, discovered.line, `[database.${name}]`);
  const overrideOrigin = override && createOrigin('config', input.configFile, override.line, `databases.${name}`);
  const entry = discoveredOrigin ?? overrideOrigin;
  if (entry === undefined) return undefined;
  const context: DatabaseContext = {
    name,
    entry,
    configFile: input.configFile,
    deploymentFile: input.deploymentFile,
    problems: [],
  };
  const pick = (field: Field): SourcedValue | undefined =>
    pickField(field, { discovered, discoveredOrigin, override, overrideOrigin });

  const url = resolveRequiredField(context, 'url', pick('url'), input.env);
  const username = resolveRequiredField(context, 'username', pick('username'), input.env);
  const password = resolveRequiredField(context, 'password', pick('password'), input.env);
  if (username?.value === '') reportEmptyUsername(context, username.origin);
  const jdbc = determineJdbcUrl(context, pick('type'), url);

  args.problems.push(...context.problems);
  if (context.problems.length > 0 || jdbc === undefined || url === undefined) return undefined;
  if (username === undefined || password === undefined) return undefined;
  return {
    name,
    engine: jdbc.engine,
    url: url.value,
    host: jdbc.host,
    port: jdbc.port,
    database: jdbc.database,
    params: jdbc.params,
    username: username.value,
    password: password.value,
    source: url.origin.kind,
  };
}

function createOrigin(kind: Origin['kind'], file: string, line: number | undefined, label: string): Origin {
  return line === undefined ? { kind, file, label } : { kind, file, line, label };
}

function pickField(
  field: Field,
  sources: {
    discovered: DeploymentDatabase | undefined;
    discoveredOrigin: Origin | undefined;
    override: DatabaseOverride | undefined;
    overrideOrigin: Origin | undefined;
  },
): SourcedValue | undefined {
  const fromOverride = sources.override?.[field];
  if (fromOverride !== undefined && sources.overrideOrigin)
    return { value: fromOverride, origin: sources.overrideOrigin };
  const fromDeployment = sources.discovered?.[field];
  if (fromDeployment !== undefined && sources.discoveredOrigin) {
    return { value: fromDeployment, origin: sources.discoveredOrigin };
  }
  return undefined;
}

/** Resolves `$env{}` in a value; reports a missing value, unset variables and secrets. */
function resolveRequiredField(
  context: DatabaseContext,
  field: 'url' | 'username' | 'password',
  sourced: SourcedValue | undefined,
  env: Record<string, string | undefined>,
): SourcedValue | undefined {
  if (sourced === undefined) {
    reportMissingField(context, field);
    return undefined;
  }
  const resolved = resolvePlaceholders(sourced.value, env);
  if (resolved.ok) return { value: resolved.value, origin: sourced.origin };
  for (const variable of resolved.missingEnv) reportUnsetVariable(context, field, sourced.origin, variable);
  for (const alias of resolved.secrets) reportSecret(context, field, sourced.origin, alias);
  return undefined;
}

function determineJdbcUrl(
  context: DatabaseContext,
  type: SourcedValue | undefined,
  url: SourcedValue | undefined,
): JdbcUrl | undefined {
  const verdict = type === undefined ? undefined : judgeType(type.value);
  const parsed = url === undefined ? undefined : parseUrl(url.value);

  if (type !== undefined && verdict?.kind === 'unsupported') {
    if (parsed instanceof Error || parsed === undefined) reportUnsupported(context, type.origin, verdict.dbms);
    else if (url !== undefined) reportContradiction(context, type, url, ENGINE_NAMES[parsed.engine]);
    return undefined;
  }
  if (type !== undefined && verdict?.kind === 'unknown') reportUnknownType(context, type);
  if (url === undefined || parsed === undefined) return undefined;
  if (parsed instanceof UnsupportedDbmsError) {
    reportUnsupported(context, url.origin, parsed.dbms);
    return undefined;
  }
  if (parsed instanceof JdbcUrlError) {
    report(context, url.origin, `the url of \`${url.origin.label}\` cannot be used: ${parsed.message}`);
    return undefined;
  }
  if (type !== undefined && verdict?.kind === 'engine' && !isEngineOfFamily(parsed.engine, verdict.engine)) {
    reportContradiction(context, type, url, ENGINE_NAMES[parsed.engine]);
    return undefined;
  }
  return verdict?.kind === 'unknown' ? undefined : parsed;
}

function judgeType(type: string): TypeVerdict {
  return WSO2_TYPES[type.trim().toLowerCase()] ?? { kind: 'unknown' };
}

function parseUrl(url: string): JdbcUrl | JdbcUrlError {
  try {
    return parseJdbcUrl(url);
  } catch (error) {
    if (error instanceof JdbcUrlError) return error;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Problem messages. None of them may contain a password, so values are never quoted except `type`.

function report(context: DatabaseContext, origin: Origin, message: string): void {
  const problem: Problem = { file: origin.file, message };
  if (origin.line !== undefined) problem.line = origin.line;
  context.problems.push(problem);
}

function describeLocation(origin: Origin): string {
  return origin.line === undefined ? origin.file : `${origin.file}:${origin.line}`;
}

function reportMissingField(context: DatabaseContext, field: 'url' | 'username' | 'password'): void {
  const { name, entry } = context;
  const fix =
    entry.kind === 'deployment.toml'
      ? `add ${field} = "..." to [database.${name}] in ${context.deploymentFile} or databases.${name}.${field} to ${context.configFile}`
      : `add databases.${name}.${field} to ${context.configFile}`;
  const allowEmpty = field === 'password' ? ' (an empty password is written as "")' : '';
  report(context, entry, `\`${entry.label}\` has no ${field}: ${fix}${allowEmpty}`);
}

function reportEmptyUsername(context: DatabaseContext, origin: Origin): void {
  report(
    context,
    origin,
    `the username of \`${origin.label}\` is empty: write the database user apim-migrate should connect as`,
  );
}

function reportUnsetVariable(context: DatabaseContext, field: Field, origin: Origin, variable: string): void {
  report(
    context,
    origin,
    `the ${field} of \`${origin.label}\` uses $env{${variable}}, but the environment variable ${variable} is not set: ` +
      `set it where apim-migrate runs`,
  );
}

function reportSecret(context: DatabaseContext, field: Field, origin: Origin, alias: string): void {
  const variable = suggestEnvVariable(context.name, field);
  const setting = `databases.${context.name}.${field}: $env{${variable}}`;
  const fix =
    origin.kind === 'config'
      ? `change it to \`${setting}\` in ${context.configFile}`
      : `add \`${setting}\` to ${context.configFile}`;
  report(
    context,
    origin,
    `the ${field} of \`${origin.label}\` is the WSO2 secure vault secret $secret{${alias}}, and apim-migrate cannot ` +
      `decrypt WSO2 secure vault secrets: ${fix} and set the environment variable ${variable} to the plain ${field}`,
  );
}

function suggestEnvVariable(name: DatabaseName, field: Field): string {
  const base = name.toUpperCase();
  return `${base.endsWith('_DB') ? base : `${base}_DB`}_${field.toUpperCase()}`;
}

function reportUnsupported(context: DatabaseContext, origin: Origin, dbms: string): void {
  report(
    context,
    origin,
    `\`${origin.label}\` in ${describeLocation(origin)} uses ${dbms}, which apim-migrate does not support: ` +
      `it migrates databases on PostgreSQL, MySQL or MariaDB, so move ${context.name} to one of them first and point its url there`,
  );
}

function reportUnknownType(context: DatabaseContext, type: SourcedValue): void {
  report(
    context,
    type.origin,
    `\`${type.origin.label}\` has type "${type.value}", which is not a WSO2 database type: ` +
      `use "postgre" for PostgreSQL or "mysql" for MySQL and MariaDB`,
  );
}

function reportContradiction(context: DatabaseContext, type: SourcedValue, url: SourcedValue, urlEngine: string): void {
  report(
    context,
    type.origin,
    `\`${type.origin.label}\` has type "${type.value}", but its url (${describeLocation(url.origin)}) is a ${urlEngine} URL: ` +
      `make type and url name the same database system`,
  );
}

// ---------------------------------------------------------------------------------------------
// The registry versioning keys of a 3.1.0 deployment.toml

/** One `[static_configuration] versioning_<kind>.enable` key of a 3.1.0 deployment.toml, when written. */
export interface StaticConfigurationKey {
  /** As written: API-M 3.1.0 renders it into registry.xml (`registry.xml.j2`), where only `true` is on. */
  value: TomlValue;
  line?: number;
}

/**
 * The `[static_configuration]` versioning keys (`versioning_properties.enable`, ...), by kind; a key that is not
 * written is left out (3.1.0's default.json makes it false).
 */
export function readStaticConfigurationVersioning(
  tomlText: string,
  file: string,
  kinds: readonly string[],
): Record<string, StaticConfigurationKey> {
  const document = readTomlDocument(tomlText, file);
  const section = document.data['static_configuration'];
  const found: Record<string, StaticConfigurationKey> = {};
  if (section === undefined || !isTable(section)) return found;
  for (const kind of kinds) {
    const entry = section[`versioning_${kind}`];
    const value = entry !== undefined && isTable(entry) ? entry['enable'] : undefined;
    if (value === undefined) continue;
    const line = lineOf(document, ['static_configuration', `versioning_${kind}`, 'enable']);
    found[kind] = { value, ...(line === undefined ? {} : { line }) };
  }
  return found;
}
