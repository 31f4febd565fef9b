/**
 * The edits of WSO2's guide to the new API-M home's `repository/conf/deployment.toml`: before the API-M step
 * on PostgreSQL, `preparedStatementCacheQueries=0` in the JDBC URLs of `[database.shared_db]` and
 * `[database.config]`; after the identity step with `uniqueIdUserStore`, `[user_store] type = "database_unique_id"`.
 *
 * The file is edited as text, so that comments and layout stay; the one deployment.toml reader
 * (config/toml-document.ts) says where each value is written. The result is parsed again and must differ from the
 * original in exactly the intended values.
 */
import { isDeepStrictEqual } from 'node:util';
import { jdbcParam, JdbcUrlError, parseJdbcUrl, withJdbcParam } from '../config/jdbc-url.js';
import {
  describeTomlType,
  findValue,
  getPath,
  isTable,
  parseTomlText,
  readTomlDocument,
  requireLayout,
  type TomlLayout,
  type TomlTable,
  type TomlValue,
  type ValueSpan,
} from '../config/toml-document.js';
import { InputError, UnsupportedError } from '../core/errors.js';
import { PG_STATEMENT_CACHE_PARAM } from './registry.js';
import { applyTextEdits } from './text-diff.js';
import type { TextEdit } from './text-diff.js';

export type StatementCacheDatabase = 'shared_db' | 'config';

export interface EditDeploymentTomlOptions {
  /** The path of the file, for messages. */
  file: string;
  /** The `[database.<name>]` tables whose PostgreSQL URL gets `preparedStatementCacheQueries=0`. */
  addStatementCacheParam: readonly StatementCacheDatabase[];
  /** Set `[user_store] type = "database_unique_id"`. */
  userStoreUniqueId: boolean;
}

export interface EditDeploymentTomlResult {
  /** The edited text; the input itself when nothing had to change. */
  text: string;
  /** One line per change made, for the logs. Never holds a URL (it may carry a password). */
  changes: string[];
  /** What was asked for but left alone, and why: a MySQL URL, a URL that is a placeholder, a table that is absent. */
  notes: string[];
}

const UNIQUE_ID_USER_STORE = 'database_unique_id';
const STATEMENT_CACHE_VALUE = '0';

export function editDeploymentToml(text: string, options: EditDeploymentTomlOptions): EditDeploymentTomlResult {
  const { file } = options;
  const document = readTomlDocument(text, file);
  const before = document.data;
  const layout = requireLayout(document);
  const edits: TextEdit[] = [];
  const changes: string[] = [];
  const notes: string[] = [];
  /** The values the edits set, by key path: the re-parse must show exactly these differences. */
  const expected: Array<{ path: string[]; value: string }> = [];

  for (const name of new Set(options.addStatementCacheParam)) {
    const planned = planStatementCacheParam({ name, before, layout, file, notes });
    if (planned === undefined) continue;
    edits.push(planned.edit);
    changes.push(planned.change);
    expected.push({ path: ['database', name, 'url'], value: planned.url });
  }
  if (options.userStoreUniqueId) {
    const planned = planUniqueIdUserStore({ text, before, layout, file });
    if (planned !== undefined) {
      edits.push(planned.edit);
      changes.push(planned.change);
      expected.push({ path: ['user_store', 'type'], value: UNIQUE_ID_USER_STORE });
    }
  }

  const edited = edits.length === 0 ? text : applyTextEdits(text, edits);
  checkEditedToml({ before, edited, expected, file });
  return { text: edited, changes, notes };
}

// ---------------------------------------------------------------------------------------------------------------
// preparedStatementCacheQueries=0

function planStatementCacheParam(input: {
  name: StatementCacheDatabase;
  before: TomlTable;
  layout: TomlLayout;
  file: string;
  notes: string[];
}): { edit: TextEdit; change: string; url: string } | undefined {
  const { name, before, layout, file, notes } = input;
  const label = `[database.${name}]`;
  const table = getPath(before, ['database', name]);
  if (table === undefined) {
    notes.push(`${label} is not in the file: no ${PG_STATEMENT_CACHE_PARAM} to add there`);
    return undefined;
  }
  const url = isTable(table) ? table['url'] : undefined;
  if (typeof url !== 'string') {
    notes.push(`${label} has no url string: no ${PG_STATEMENT_CACHE_PARAM} to add there`);
    return undefined;
  }
  const dbms = readDbms(url);
  if (dbms === undefined) {
    notes.push(
      `the url of ${label} does not start with jdbc: (a placeholder?), so apim-migrate cannot add ` +
        `${PG_STATEMENT_CACHE_PARAM}=0 to it: if it is a PostgreSQL URL, make sure it ends with that parameter`,
    );
    return undefined;
  }
  if (dbms !== 'PostgreSQL') {
    notes.push(
      `the url of ${label} points at ${dbms}, not PostgreSQL: left as it is (${PG_STATEMENT_CACHE_PARAM} is a setting of the PostgreSQL driver)`,
    );
    return undefined;
  }

  const value = findValue(layout, ['database', name, 'url']);
  const updated = setUrlParam(url, { file, line: value?.line, label });
  if (updated.previous === STATEMENT_CACHE_VALUE) return undefined;
  if (value === undefined) {
    throw new UnsupportedError(
      `apim-migrate cannot find where the url of ${label} is written (an inline table?): write it as url = "..." ` +
        `under a ${label} header, or add ${PG_STATEMENT_CACHE_PARAM}=0 to it by hand`,
      file,
    );
  }
  const change =
    updated.previous === undefined
      ? `added ${PG_STATEMENT_CACHE_PARAM}=0 to the url of ${label}`
      : `set ${PG_STATEMENT_CACHE_PARAM} from ${updated.previous} to 0 in the url of ${label}`;
  return { edit: replaceString(value, updated.url, label, file), change, url: updated.url };
}

/** The database system a JDBC URL names, or undefined when the value is no JDBC URL as written. */
function readDbms(url: string): string | undefined {
  const subprotocol = /^\s*jdbc:([^:/?]*)/i.exec(url)?.[1]?.toLowerCase();
  if (subprotocol === undefined) return undefined;
  return DBMS_NAMES[subprotocol] ?? `jdbc:${subprotocol}`;
}

const DBMS_NAMES: Record<string, string> = {
  postgresql: 'PostgreSQL',
  mysql: 'MySQL',
  mariadb: 'MariaDB',
  sqlserver: 'SQL Server',
  oracle: 'Oracle',
  db2: 'Db2',
  h2: 'H2',
};

/** WSO2 resolves `$env{}`, `$sys{}`, `$secret{}` and `${}` in values; they stay as written. */
const PLACEHOLDER = /\$(?:env|sys|secret)?\{[^}]*\}/g;

/**
 * Sets the parameter with `withJdbcParam`, which validates the URL. Placeholders would not pass as a host or a
 * port, so each stands in as a five-digit number (valid anywhere in a URL) that occurs nowhere else, and goes
 * back in afterwards.
 */
function setUrlParam(
  url: string,
  where: { file: string; line: number | undefined; label: string },
): { url: string; previous: string | undefined } {
  const placeholders = [...new Set(url.match(PLACEHOLDER) ?? [])];
  const standIns = new Map<string, string>();
  for (let candidate = 65535; standIns.size < placeholders.length && candidate >= 10000; candidate -= 1) {
    const token = String(candidate);
    if (!url.includes(token)) standIns.set(placeholders[standIns.size] as string, token);
  }
  let sanitized = url;
  for (const [placeholder, token] of standIns) sanitized = sanitized.split(placeholder).join(token);
  try {
    const previous = jdbcParam(parseJdbcUrl(sanitized), PG_STATEMENT_CACHE_PARAM);
    let updated = withJdbcParam(sanitized, PG_STATEMENT_CACHE_PARAM, STATEMENT_CACHE_VALUE);
    let restoredPrevious = previous;
    for (const [placeholder, token] of standIns) {
      if (sanitized.split(token).length !== updated.split(token).length) throw new JdbcUrlError('placeholder mix-up');
      updated = updated.split(token).join(placeholder);
      restoredPrevious = restoredPrevious?.split(token).join(placeholder);
    }
    return { url: updated, previous: restoredPrevious };
  } catch (error) {
    if (!(error instanceof JdbcUrlError)) throw error;
    throw new InputError(
      {
        file: where.file,
        ...(where.line === undefined ? {} : { line: where.line }),
        message: `the url of ${where.label} cannot be read, so ${PG_STATEMENT_CACHE_PARAM}=0 cannot be added: ${error.message}`,
      },
      { cause: error },
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// [user_store] type = "database_unique_id"

function planUniqueIdUserStore(input: {
  text: string;
  before: TomlTable;
  layout: TomlLayout;
  file: string;
}): { edit: TextEdit; change: string } | undefined {
  const { text, before, layout, file } = input;
  const userStore = before['user_store'];
  if (userStore !== undefined && !isTable(userStore)) {
    throw new InputError({ file, message: '`user_store` must be a table: write it as [user_store]' });
  }
  const type = userStore?.['type'];
  if (type === UNIQUE_ID_USER_STORE) return undefined;
  const setting = `type = "${UNIQUE_ID_USER_STORE}"`;
  if (type !== undefined) {
    const value = findValue(layout, ['user_store', 'type']);
    if (value === undefined) {
      throw new UnsupportedError(
        `apim-migrate cannot find where the type of [user_store] is written: write it as type = "..." under a ` +
          `[user_store] header, or set it to "${UNIQUE_ID_USER_STORE}" by hand`,
        file,
      );
    }
    const previous = typeof type === 'string' ? `"${type}"` : String(type);
    return {
      edit: replaceString(value, UNIQUE_ID_USER_STORE, '[user_store]', file),
      change: `set [user_store] type from ${previous} to "${UNIQUE_ID_USER_STORE}"`,
    };
  }
  return addSetting(text, layout, 'user_store', setting);
}

/** Adds `setting` (a `key = value` line) under the `[table]` header, or appends `[table]` with it. */
function addSetting(
  text: string,
  layout: TomlLayout,
  table: string,
  setting: string,
): { edit: TextEdit; change: string } {
  const header = layout.tables.find((entry) => !entry.array && isDeepStrictEqual(entry.path, [table]));
  if (header !== undefined) {
    const needsBreak = header.end === text.length && !text.endsWith('\n');
    return {
      edit: { start: header.end, end: header.end, text: `${needsBreak ? layout.eol : ''}${setting}${layout.eol}` },
      change: `added ${setting} to [${table}]`,
    };
  }
  return {
    edit: {
      start: text.length,
      end: text.length,
      text: `${separateFromEnd(text, layout.eol)}[${table}]${layout.eol}${setting}${layout.eol}`,
    },
    change: `added [${table}] with ${setting} at the end of the file`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// [indexing] re_indexing one higher (the guide's Server Startup Actions, step 1)

export interface BumpReIndexingResult {
  /** The edited text. */
  text: string;
  /** The value before, or undefined when there was none. */
  previous: number | undefined;
  /** The value written: one more than `previous`, 1 when there was none. */
  value: number;
  /** One line for the logs. */
  change: string;
}

/**
 * Sets `[indexing] re_indexing` to one more than its value, 1 when there is none. API-M 4.2.0's registry.xml.j2
 * renders it into the registry's lastAccessTimeLocation (`.../indexing/lastaccesstime_<N>`), so a new value makes
 * the indexer start again from no last access time. Comments and layout stay; the result is parsed again and must
 * differ in that one value only.
 */
export function bumpReIndexing(text: string, file: string): BumpReIndexingResult {
  const document = readTomlDocument(text, file);
  const before = document.data;
  const layout = requireLayout(document);
  const indexing = before['indexing'];
  if (indexing !== undefined && !isTable(indexing)) {
    throw new InputError({ file, message: '`indexing` must be a table: write it as [indexing]' });
  }
  const current = indexing?.['re_indexing'];
  const previous = current === undefined ? undefined : readReIndexing(current, file);
  const value = previous === undefined ? 1 : previous + 1;
  let planned: { edit: TextEdit; change: string };
  if (previous === undefined) {
    planned = addSetting(text, layout, 'indexing', `re_indexing = ${value}`);
  } else {
    const span = findValue(layout, ['indexing', 're_indexing']);
    if (span === undefined) {
      throw new UnsupportedError(
        'apim-migrate cannot find where re_indexing of [indexing] is written: write it as re_indexing = N under an ' +
          `[indexing] header, or set it to ${value} by hand`,
        file,
      );
    }
    planned = {
      edit: { start: span.start, end: span.end, text: String(value) },
      change: `set [indexing] re_indexing from ${previous} to ${value}`,
    };
  }
  const edited = applyTextEdits(text, [planned.edit]);
  checkEditedToml({ before, edited, expected: [{ path: ['indexing', 're_indexing'], value }], file });
  return { text: edited, previous, value, change: planned.change };
}

/** re_indexing as a whole number: an integer, or a string of digits (the template only pastes it into a path). */
function readReIndexing(current: TomlValue, file: string): number {
  if (typeof current === 'number' && Number.isSafeInteger(current)) return current;
  if (typeof current === 'bigint') return readReIndexing(Number(current), file);
  if (typeof current === 'string' && /^-?\d{1,15}$/.test(current.trim())) return Number(current.trim());
  throw new InputError({
    file,
    message:
      `[indexing] re_indexing is ${typeof current === 'string' ? 'a string' : describeTomlType(current)}, not a whole number, so apim-migrate cannot make it ` +
      'one higher: set it to a whole number (re_indexing = 1) and run the stage again',
  });
}

/** What goes before a table appended to `text`: the missing line break, and a blank line after the last one. */
function separateFromEnd(text: string, eol: string): string {
  if (text === '') return '';
  const lines = (text.endsWith('\n') ? text : text + eol).split('\n');
  const lastLine = lines.at(-2) ?? '';
  return (text.endsWith('\n') ? '' : eol) + (lastLine.trim() === '' ? '' : eol);
}

// ---------------------------------------------------------------------------------------------------------------
// Writing string values

function replaceString(value: ValueSpan, content: string, label: string, file: string): TextEdit {
  let text: string;
  if (value.kind === 'literal' && !/['\n\r]/.test(content)) text = `'${content}'`;
  else if (value.kind === 'basic' || value.kind === 'literal') text = encodeBasicString(content);
  else {
    throw new UnsupportedError(
      `the value in ${label} at line ${value.line} is not a one-line string: write it as "..." so apim-migrate can edit it`,
      file,
    );
  }
  return { start: value.start, end: value.end, text };
}

/** JSON's escapes are all valid in a TOML basic string; DEL is the one control character JSON leaves alone. */
function encodeBasicString(content: string): string {
  return JSON.stringify(content).replace(/\u007f/g, '\\u007f');
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing and checking

function checkEditedToml(input: {
  before: TomlTable;
  edited: string;
  expected: ReadonlyArray<{ path: string[]; value: string | number }>;
  file: string;
}): void {
  const { before, edited, expected, file } = input;
  const fail = (detail: string): never => {
    throw new UnsupportedError(
      `apim-migrate could not edit this file safely (${detail}); nothing was written. Make the edit by hand ` +
        `and run the stage again`,
      file,
    );
  };
  let after: TomlTable;
  try {
    after = parseTomlText(edited, file);
  } catch (error) {
    return fail(`the edited text does not parse: ${(error as Error).message.split('\n')[0] ?? ''}`);
  }
  // `before` is this function's own parse result, so it can take the intended values.
  for (const { path, value } of expected) setPath(before, path, value);
  if (!isDeepStrictEqual(after, before)) fail('the parsed result differs from the intended one');
}

function setPath(table: TomlTable, path: readonly string[], value: string | number): void {
  let current = table;
  for (const key of path.slice(0, -1)) {
    const next = current[key];
    // smol-toml makes its tables without a prototype, and the comparison looks at prototypes.
    if (next === undefined) current[key] = Object.create(null) as TomlTable;
    const child = current[key];
    if (child === undefined || !isTable(child)) return;
    current = child;
  }
  current[path.at(-1) as string] = value;
}
