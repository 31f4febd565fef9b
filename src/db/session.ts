/**
 * One open connection to one logical database of the deployment, over `pg` (postgres/session.ts) or `mysql2`
 * (mysql/session.ts). Only `src/db/` talks to the drivers; everything else goes through a DbSession.
 */

import type { DatabaseName, DatabaseTarget, DbEngine } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import { openMysqlSession } from './mysql/session.js';
import { openPostgresSession } from './postgres/session.js';

export interface DbSession {
  readonly target: DatabaseTarget;
  readonly engine: DbEngine;
  /**
   * Runs one statement and returns its rows (an empty list for statements without rows).
   * Placeholders follow the driver: `$1, $2, ...` on PostgreSQL, `?` on MySQL/MariaDB.
   * Unquoted column aliases come back lower-case on PostgreSQL, as written on MySQL/MariaDB,
   * so queries meant for both should use lower-case aliases.
   */
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * What apim-migrate calls itself to the servers, so that the connected-clients check and the run monitor can tell its
 * sessions from others: PostgreSQL application_name (its sessions, and PGAPPNAME for pg_dump, pg_restore and psql),
 * MySQL/MariaDB the program_name connection attribute.
 */
export const APIM_MIGRATE_CLIENT_NAME = 'apim-migrate';

/** Whether a session's application_name or program_name is apim-migrate's (the stage lock adds `: <holder>`). */
export function isApimMigrateClientName(name: string | null | undefined): boolean {
  return name === APIM_MIGRATE_CLIENT_NAME || (name ?? '').startsWith(`${APIM_MIGRATE_CLIENT_NAME}:`);
}

export interface OpenSessionOptions {
  /** How long to wait for the server to accept the connection. Default 10 s. */
  connectTimeoutMs?: number;
}

/** Why a connection could not be opened, in the terms a person acts on. */
export type DbConnectFailure =
  | 'authentication'
  | 'database-missing'
  | 'access-denied'
  | 'refused'
  | 'timeout'
  | 'host-unknown'
  | 'unreachable'
  | 'tls'
  | 'other';

/**
 * A connection to a configured database failed. The message names the database entry,
 * where it points and what to check; it never contains the password.
 */
export class DbConnectError extends Error {
  readonly databaseName: DatabaseName;
  readonly address: string;
  readonly failure: DbConnectFailure;
  /** A wrong URL, user or password is a config problem (2); an unreachable server fails the stage (1). */
  readonly exitCode: 1 | 2;

  constructor(target: DatabaseTarget, failure: DbConnectFailure, detail: string, cause: unknown) {
    const address = describeAddress(target);
    super(`cannot connect to ${target.name} (${address}): ${detail}`, { cause });
    this.name = 'DbConnectError';
    this.databaseName = target.name;
    this.address = address;
    this.failure = failure;
    this.exitCode = isConfigFailure(failure) ? 2 : 1;
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export async function openSession(target: DatabaseTarget, options: OpenSessionOptions = {}): Promise<DbSession> {
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return target.engine === 'postgresql' ? openPostgresSession(target, timeoutMs) : openMysqlSession(target, timeoutMs);
}

export function describeAddress(target: Pick<DatabaseTarget, 'host' | 'port' | 'database'>): string {
  return `${target.host}:${target.port}/${target.database}`;
}

function isConfigFailure(failure: DbConnectFailure): boolean {
  return ['authentication', 'database-missing', 'access-denied', 'host-unknown'].includes(failure);
}

interface DriverErrorFacts {
  codes: string[];
  errno?: number;
  message: string;
}

/** Drivers report the cause as a SQLSTATE, a MySQL code or a socket code, sometimes nested (AggregateError). */
function collectErrorFacts(error: unknown): DriverErrorFacts {
  const codes: string[] = [];
  let errno: number | undefined;
  const visit = (value: unknown, depth: number): void => {
    if (depth > 3 || typeof value !== 'object' || value === null) return;
    const record = value as { code?: unknown; errno?: unknown; errors?: unknown; cause?: unknown };
    if (typeof record.code === 'string') codes.push(record.code);
    if (typeof record.errno === 'number' && errno === undefined && record.errno > 0) errno = record.errno;
    if (Array.isArray(record.errors)) for (const inner of record.errors) visit(inner, depth + 1);
    visit(record.cause, depth + 1);
  };
  visit(error, 0);
  return { codes, errno, message: errorMessage(error) };
}

function classifyFailure(facts: DriverErrorFacts): DbConnectFailure {
  const has = (...wanted: string[]): boolean => facts.codes.some((code) => wanted.includes(code));
  // 28P01 invalid_password, 28000 invalid_authorization_specification (e.g. no pg_hba entry); 1045 on MySQL.
  if (has('28P01', '28000', 'ER_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR')) return 'authentication';
  if (has('3D000', 'ER_BAD_DB_ERROR')) return 'database-missing';
  if (has('ER_DBACCESS_DENIED_ERROR')) return 'access-denied';
  if (has('ECONNREFUSED')) return 'refused';
  if (has('ETIMEDOUT') || /timeout/i.test(facts.message)) return 'timeout';
  if (has('ENOTFOUND', 'EAI_AGAIN')) return 'host-unknown';
  if (has('EHOSTUNREACH', 'ENETUNREACH')) return 'unreachable';
  if (has('HANDSHAKE_NO_SSL_SUPPORT') || /\b(ssl|tls|certificate)\b/i.test(facts.message)) return 'tls';
  return 'other';
}

function describeFailure(target: DatabaseTarget, failure: DbConnectFailure, facts: DriverErrorFacts): string {
  const user = target.username;
  switch (failure) {
    case 'authentication':
      return `authentication failed for user ${user}; check the username and password for ${target.name}`;
    case 'database-missing':
      return `database ${target.database} does not exist; create it or fix the URL of ${target.name}`;
    case 'access-denied':
      return `user ${user} may not use database ${target.database} (or it does not exist); grant access or fix the URL of ${target.name}`;
    case 'refused':
      return `connection refused; is the server running on ${target.host}:${target.port} and reachable from this runner?`;
    case 'timeout':
      return `no answer within the connect timeout; is ${target.host}:${target.port} reachable from this runner (firewall, VPN)?`;
    case 'host-unknown':
      return `host ${target.host} is not known (DNS); fix the URL of ${target.name}`;
    case 'unreachable':
      return `host ${target.host} is unreachable from this runner; check the network route`;
    case 'tls':
      return `TLS/SSL negotiation failed (${facts.message}); check the ssl parameters of the URL`;
    case 'other':
      return facts.message;
  }
}

/** A driver's connection error as a DbConnectError that says what to check, without the password. */
export function toConnectError(target: DatabaseTarget, error: unknown): DbConnectError {
  const facts = collectErrorFacts(error);
  const failure = classifyFailure(facts);
  const detail = redactPassword(describeFailure(target, failure, facts), target.password);
  return new DbConnectError(target, failure, detail, error);
}

/** Drivers do not echo passwords, but a raw driver message passes through for unknown causes; be sure. */
function redactPassword(text: string, password: string): string {
  return password.length > 0 ? text.split(password).join('***') : text;
}

/** Opens a session, runs `work` in it, and closes it whatever happens. */
export async function withSession<T>(
  target: DatabaseTarget,
  work: (session: DbSession) => Promise<T>,
  options: OpenSessionOptions = {},
): Promise<T> {
  const session = await openSession(target, options);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}
