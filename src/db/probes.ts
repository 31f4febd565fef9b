/**
 * Read-only questions the preflight asks each database: which server, which privileges,
 * which settings, which data would block the migration.
 */

import type { Check } from '../core/check.js';
import type { ServerInfo } from './server-info.js';
import type { DbSession } from './session.js';
import { dialectOf } from './dialects.js';

export interface TestedDbmsVerdict {
  tested: boolean;
  message: string;
}

export type AdminRoleConflicts =
  { checked: false; reason: string } | { checked: true; conflicts: Array<{ tenantId: number }> };

export function readServerInfo(session: DbSession): Promise<ServerInfo> {
  return dialectOf(session.engine).readServerInfo(session);
}

/** The DBMSs API-M 4.2.0 was tested with (wso2-facts.md "Databases"): MySQL 5.7 and 8, PostgreSQL 10. */
export function checkTestedDbms(info: ServerInfo): TestedDbmsVerdict {
  const tested = isTestedDbms(info);
  const name = `${info.product} ${info.version}`;
  if (tested) return { tested, message: `${name} is a DBMS WSO2 tested API-M 4.2.0 with` };
  return {
    tested,
    message:
      `${name} is not among the DBMSs WSO2 tested API-M 4.2.0 with ` +
      `(MySQL 5.7 and 8, PostgreSQL 10, Oracle 12c R2 and 19c, SQL Server 2017); WSO2 supports migration only on those`,
  };
}

function isTestedDbms(info: ServerInfo): boolean {
  if (info.product === 'MySQL') return (info.major === 5 && info.minor === 7) || info.major === 8;
  if (info.product === 'PostgreSQL') return info.major === 10;
  return false;
}

/** The WSO2 migration scripts need a PostgreSQL SUPERUSER (they change owners and create extensions). */
export async function isSuperuser(session: DbSession): Promise<boolean> {
  requireEngine(session, 'isSuperuser', ['postgresql']);
  const rows = await session.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
  return requireFirst(rows, 'pg_roles of current_user').rolsuper === true;
}

/**
 * The GLOBAL sql_safe_updates: the migration clients open their own sessions, which start from
 * the global value, so a session-level setting here would prove nothing.
 */
export async function readSqlSafeUpdates(session: DbSession): Promise<boolean> {
  requireEngine(session, 'readSqlSafeUpdates', ['mysql', 'mariadb']);
  const rows = await session.query<{ value: number | string }>('SELECT @@GLOBAL.sql_safe_updates AS value');
  return Number(requireFirst(rows, '@@GLOBAL.sql_safe_updates').value) === 1;
}

/** Whether the login may do what WSO2's migration needs on its DBMS (see `Dialect.migrationPrivilege`). */
export async function checkMigrationPrivileges(session: DbSession, label: string): Promise<Check[]> {
  const user = session.target.username;
  if (dialectOf(session.engine).family === 'postgresql') {
    return (await isSuperuser(session))
      ? [{ verdict: 'pass', message: `${label}: user ${user} is SUPERUSER` }]
      : [
          {
            verdict: 'fail',
            message: `${label}: user ${user} is not SUPERUSER, which WSO2's migration needs on PostgreSQL: run ALTER ROLE "${user}" SUPERUSER; for the migration window`,
          },
        ];
  }
  return (await readSqlSafeUpdates(session))
    ? [
        {
          verdict: 'fail',
          message: `${label}: sql_safe_updates is ON globally, so the migration clients' unkeyed UPDATE and DELETE statements would be rejected: run SET GLOBAL sql_safe_updates = 0; for the migration window`,
        },
      ]
    : [{ verdict: 'pass', message: `${label}: sql_safe_updates is off` }];
}

const USER_STORE_TABLES = ['um_role', 'um_hybrid_role'] as const;

/**
 * Tenants where `admin` is both a PRIMARY role (UM_ROLE) and an INTERNAL one (UM_HYBRID_ROLE):
 * IS 5.11+ refuses that, so the role must be renamed before the migration.
 */
export async function findAdminRoleConflicts(session: DbSession): Promise<AdminRoleConflicts> {
  const tables = await findUserStoreTables(session);
  const missing = USER_STORE_TABLES.filter((table) => !tables.has(table));
  if (missing.length > 0) {
    const names = missing.map((table) => table.toUpperCase()).join(' and ');
    return { checked: false, reason: `${names} not found in ${session.target.database} (not the user store database)` };
  }
  const role = dialectOf(session.engine).quote(tables.get('um_role') ?? 'um_role');
  const hybrid = dialectOf(session.engine).quote(tables.get('um_hybrid_role') ?? 'um_hybrid_role');
  const rows = await session.query<{ tenant_id: number | string }>(
    `SELECT DISTINCT r.UM_TENANT_ID AS tenant_id FROM ${role} r ` +
      `JOIN ${hybrid} h ON h.UM_TENANT_ID = r.UM_TENANT_ID ` +
      `WHERE LOWER(r.UM_ROLE_NAME) = 'admin' AND LOWER(h.UM_ROLE_NAME) = 'admin' ORDER BY 1`,
  );
  return { checked: true, conflicts: rows.map((row) => ({ tenantId: Number(row.tenant_id) })) };
}

/**
 * Maps lower-case table name → name as stored. PostgreSQL folds the unquoted names of the WSO2
 * scripts to lower case; MySQL keeps them as created (upper case) and may compare them case-sensitively.
 * On PostgreSQL the catalog is asked, not information_schema, which hides the tables the user has no
 * privilege on: such tables exist, and reading them must fail as "permission denied", not pass as absent.
 */
async function findUserStoreTables(session: DbSession): Promise<Map<string, string>> {
  return dialectOf(session.engine).storedTableNames(session, USER_STORE_TABLES);
}

/** Size of the current database, to tell how long a backup takes and how much disk it needs. */
export async function readDatabaseSizeBytes(session: DbSession): Promise<number> {
  // Both drivers return 64-bit sums as strings.
  const rows = await session.query<{ size: number | string }>(dialectOf(session.engine).databaseSizeSql);
  return Number(requireFirst(rows, 'database size').size);
}

function requireFirst<T>(rows: T[], what: string): T {
  const first = rows[0];
  if (first === undefined) throw new Error(`${what} returned no row`);
  return first;
}

function requireEngine(session: DbSession, probe: string, engines: DbSession['engine'][]): void {
  if (!engines.includes(session.engine)) {
    throw new Error(`${probe} applies to ${engines.join('/')} only, not to ${session.engine} (${session.target.name})`);
  }
}
