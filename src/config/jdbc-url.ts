/**
 * Takes apart the JDBC URLs of deployment.toml. Messages never repeat the whole URL, because
 * MySQL and PostgreSQL URLs may carry a `password=` parameter.
 */
import type { DbEngine, JdbcUrl } from './types.js';

export class JdbcUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JdbcUrlError';
  }
}

/** A JDBC URL of a database system apim-migrate recognises but does not support. */
export class UnsupportedDbmsError extends JdbcUrlError {
  readonly dbms: string;

  constructor(dbms: string) {
    super(`${dbms} is not supported by apim-migrate, which works on PostgreSQL, MySQL and MariaDB`);
    this.name = 'UnsupportedDbmsError';
    this.dbms = dbms;
  }
}

const DEFAULT_PORTS: Record<DbEngine, number> = { postgresql: 5432, mysql: 3306, mariadb: 3306 };

const UNSUPPORTED_PREFIXES: ReadonlyArray<{ prefix: string; dbms: string }> = [
  { prefix: 'sqlserver:', dbms: 'Microsoft SQL Server' },
  { prefix: 'jtds:sqlserver:', dbms: 'Microsoft SQL Server' },
  { prefix: 'oracle:', dbms: 'Oracle' },
  { prefix: 'db2:', dbms: 'IBM Db2' },
  { prefix: 'h2:', dbms: 'H2' },
];

const EXAMPLE = 'jdbc:postgresql://db.example.com:5432/apim_db';
const HOSTNAME = /^[A-Za-z0-9._-]+$/;
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9._-]+)?$/;
// WSO2 renders deployment.toml into XML templates, so its own docs write `&amp;` between parameters.
const PARAM_SEPARATOR = /&amp;|&/;

export function parseJdbcUrl(url: string): JdbcUrl {
  const text = url.trim();
  if (text === '') throw new JdbcUrlError(`the JDBC URL is empty: write one like ${EXAMPLE}`);
  if (!/^jdbc:/i.test(text)) {
    throw new JdbcUrlError(`this is not a JDBC URL: it must start with "jdbc:", like ${EXAMPLE}`);
  }
  const afterJdbc = text.slice('jdbc:'.length);
  rejectUnsupportedDbms(afterJdbc);
  const engine = readEngine(afterJdbc);
  const afterEngine = afterJdbc.slice(engine.length + 1);
  if (!afterEngine.startsWith('//')) throw describeMissingSlashes(engine, afterEngine);

  const { before: location, after: query } = splitOnce(afterEngine.slice(2), '?');
  const { before: authority, after: path } = splitOnce(location, '/');
  const { host, port } = parseAuthority(authority, engine);
  return { engine, host, port, database: parseDatabase(path, engine), params: parseParams(query ?? '') };
}

/**
 * Whether an engine is of a DBMS family: a `jdbc:mariadb:` URL is of the MySQL family (WSO2 has no MariaDB type:
 * MariaDB runs with type = "mysql").
 */
export function isEngineOfFamily(engine: DbEngine, family: 'postgresql' | 'mysql'): boolean {
  return family === 'mysql' ? engine === 'mysql' || engine === 'mariadb' : engine === family;
}

/**
 * The value of URL parameter `name` as the engine's JDBC driver reads it, or undefined when the driver would not see
 * it. PgJDBC keeps parameters in a java.util.Properties and reads them by their exact name, so
 * `PreparedStatementCacheQueries=0` is not `preparedStatementCacheQueries`; MySQL Connector/J matches every property
 * apim-migrate reads (`sslMode`, `useSSL`, ...) by its exact name too. MariaDB Connector/J matches option names in any
 * case from 3.0.10 (its 2.7 line matched them exactly). Sources: docs/wso2-compatibility.md, "JDBC URL parameters".
 */
export function jdbcParam(url: Pick<JdbcUrl, 'engine' | 'params'>, name: string): string | undefined {
  if (url.engine !== 'mariadb') return Object.hasOwn(url.params, name) ? url.params[name] : undefined;
  const wanted = name.toLowerCase();
  const key = Object.keys(url.params).find((candidate) => candidate.toLowerCase() === wanted);
  return key === undefined ? undefined : url.params[key];
}

/** A JDBC boolean parameter that is on: `true`, `1` or `yes`, in any case. */
export function isJdbcTrue(value: string | undefined): boolean {
  return value !== undefined && ['true', '1', 'yes'].includes(value.toLowerCase());
}

/**
 * Returns `url` with the parameter `name` set to `value`, leaving the rest of the text as written.
 * A parameter that is already there gets the new value instead of a second copy.
 */
export function withJdbcParam(url: string, name: string, value: string): string {
  parseJdbcUrl(url);
  const text = url.trim();
  const questionMark = text.indexOf('?');
  const param = formatParam(name, value);
  if (questionMark === -1) return `${text}?${param}`;

  const base = text.slice(0, questionMark + 1);
  const query = text.slice(questionMark + 1);
  const pieces = query.split(/(&amp;|&)/);
  let found = false;
  const updated = pieces.map((piece, index) => {
    const isSeparator = index % 2 === 1;
    if (isSeparator || readParamName(piece) !== name) return piece;
    found = true;
    return param;
  });
  if (found) return base + updated.join('');
  const endsWithSeparator = query === '' || query.endsWith('&') || query.endsWith('&amp;');
  const separator = query.includes('&amp;') ? '&amp;' : '&';
  return base + query + (endsWithSeparator ? '' : separator) + param;
}

function rejectUnsupportedDbms(afterJdbc: string): void {
  const lower = afterJdbc.toLowerCase();
  const match = UNSUPPORTED_PREFIXES.find(({ prefix }) => lower.startsWith(prefix));
  if (match) throw new UnsupportedDbmsError(match.dbms);
}

function readEngine(afterJdbc: string): DbEngine {
  const match = /^(postgresql|mysql|mariadb):/i.exec(afterJdbc);
  const engine = match?.[1]?.toLowerCase();
  if (engine === 'postgresql' || engine === 'mysql' || engine === 'mariadb') return engine;
  const subprotocol = /^([^:/?]*)/.exec(afterJdbc)?.[1] ?? '';
  throw new JdbcUrlError(
    `the JDBC driver "jdbc:${subprotocol}:" is not supported: apim-migrate works on ` +
      `jdbc:postgresql:, jdbc:mysql: and jdbc:mariadb: URLs`,
  );
}

function describeMissingSlashes(engine: DbEngine, afterEngine: string): JdbcUrlError {
  const variant = /^([A-Za-z+]+):\/\//.exec(afterEngine)?.[1];
  if (variant !== undefined) {
    return new JdbcUrlError(
      `the jdbc:${engine}:${variant}: form (several hosts or a special connection mode) is not supported: ` +
        `point the URL at one server, like jdbc:${engine}://host:${DEFAULT_PORTS[engine]}/database`,
    );
  }
  return new JdbcUrlError(`the URL has no host: write it as jdbc:${engine}://host:${DEFAULT_PORTS[engine]}/database`);
}

function parseAuthority(authority: string, engine: DbEngine): { host: string; port: number } {
  if (authority.includes('@')) {
    throw new JdbcUrlError(
      'the URL holds a user name or password before the host: remove it and set username and password instead',
    );
  }
  if (authority.startsWith('(') || /^address=/i.test(authority)) {
    throw new JdbcUrlError(
      `the Connector/J address=(...) form is not supported: write the host as jdbc:${engine}://host:port/database`,
    );
  }
  if (authority.includes(',')) {
    throw new JdbcUrlError(
      'the URL names several hosts: apim-migrate connects to one server, so keep only the primary host',
    );
  }
  if (authority === '')
    throw new JdbcUrlError(`the URL has an empty host: write it as jdbc:${engine}://host:port/database`);
  const { host, portText } = authority.startsWith('[') ? splitIpv6Authority(authority) : splitHostPort(authority);
  return { host, port: portText === undefined ? DEFAULT_PORTS[engine] : parsePort(portText) };
}

function splitIpv6Authority(authority: string): { host: string; portText: string | undefined } {
  const close = authority.indexOf(']');
  if (close === -1) throw new JdbcUrlError('the IPv6 address has no closing "]"');
  const host = authority.slice(1, close);
  if (!IPV6.test(host)) throw new JdbcUrlError(`"[${host}]" is not an IPv6 address`);
  const rest = authority.slice(close + 1);
  if (rest === '') return { host, portText: undefined };
  if (!rest.startsWith(':'))
    throw new JdbcUrlError(`unexpected "${rest}" after the IPv6 address: write [address]:port`);
  return { host, portText: rest.slice(1) };
}

function splitHostPort(authority: string): { host: string; portText: string | undefined } {
  const colons = authority.split(':').length - 1;
  if (colons > 1) {
    throw new JdbcUrlError(`"${authority}" looks like an IPv6 address: put it in brackets, like [::1]:5432`);
  }
  const { before: host, after: portText } = splitOnce(authority, ':');
  if (host === '') throw new JdbcUrlError('the URL has an empty host before the port');
  if (!HOSTNAME.test(host)) throw new JdbcUrlError(`"${host}" is not a valid host name`);
  return { host, portText };
}

function parsePort(text: string): number {
  if (text === '') throw new JdbcUrlError('the port after ":" is empty: remove the ":" or write the port');
  if (!/^\d+$/.test(text)) throw new JdbcUrlError(`the port "${text}" is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new JdbcUrlError(`the port ${text} is out of range: use 1 to 65535`);
  return port;
}

function parseDatabase(path: string | undefined, engine: DbEngine): string {
  if (path === undefined || path === '') {
    throw new JdbcUrlError(
      `the URL names no database: add it after the host, like jdbc:${engine}://host:${DEFAULT_PORTS[engine]}/apim_db`,
    );
  }
  if (path.includes('/')) throw new JdbcUrlError(`"${path}" is not a database name: it holds a "/"`);
  return decodeComponent(path, 'the database name');
}

function parseParams(query: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const piece of query.split(PARAM_SEPARATOR)) {
    if (piece === '') continue;
    const { before: rawName, after: rawValue } = splitOnce(piece, '=');
    if (rawName === '') throw new JdbcUrlError('a URL parameter has no name before its "="');
    const name = decodeComponent(rawName, 'a URL parameter name');
    params[name] = decodeComponent(rawValue ?? '', `the value of URL parameter "${name}"`);
  }
  return params;
}

function readParamName(piece: string): string | undefined {
  const rawName = splitOnce(piece, '=').before;
  try {
    return decodeURIComponent(rawName);
  } catch {
    return undefined;
  }
}

function formatParam(name: string, value: string): string {
  return `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
}

function decodeComponent(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new JdbcUrlError(`${what} has a broken %-escape: write "%25" for a literal "%"`);
  }
}

function splitOnce(text: string, separator: string): { before: string; after: string | undefined } {
  const index = text.indexOf(separator);
  if (index === -1) return { before: text, after: undefined };
  return { before: text.slice(0, index), after: text.slice(index + separator.length) };
}
