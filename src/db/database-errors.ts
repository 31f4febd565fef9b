/**
 * The database's own words in an error from apim-migrate's SQL, wherever it was thrown: a `pg` DatabaseError
 * (severity, SQLSTATE code, message), a `mysql2` error (errno, sqlState, sqlMessage), or the stderr of a dump or
 * restore tool, which prints the server's error (e.g. `ERROR 1071 (42000) at line 12: Specified key was too long`).
 * Wrappers that keep the driver's error as their `cause` are followed.
 */
import { ClientToolError } from './client-process.js';

const MAX_DEPTH = 5;

/** The database errors in `error` and its causes, one per line; undefined when it carries none. */
export function databaseErrorText(error: unknown): string | undefined {
  const lines: string[] = [];
  let value: unknown = error;
  for (let depth = 0; depth < MAX_DEPTH && typeof value === 'object' && value !== null; depth += 1) {
    lines.push(...ownDatabaseError(value));
    value = (value as { cause?: unknown }).cause;
  }
  return lines.length > 0 ? lines.join('\n') : undefined;
}

function ownDatabaseError(value: object): string[] {
  if (value instanceof ClientToolError) return value.stderrTail;
  const record = value as {
    message?: unknown;
    severity?: unknown;
    code?: unknown;
    errno?: unknown;
    sqlState?: unknown;
    sqlMessage?: unknown;
  };
  // mysql2: `ER_LOCK_WAIT_TIMEOUT`, errno 1205, sqlState HY000, sqlMessage "Lock wait timeout exceeded; ...".
  if (typeof record.sqlMessage === 'string') {
    const state = typeof record.sqlState === 'string' ? ` (${record.sqlState})` : '';
    const errno = typeof record.errno === 'number' ? `ERROR ${record.errno}${state}: ` : '';
    return [`${errno}${record.sqlMessage}`];
  }
  // pg: a DatabaseError carries the server's severity and its five-character SQLSTATE.
  if (
    typeof record.severity === 'string' &&
    typeof record.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(record.code) &&
    typeof record.message === 'string'
  ) {
    return [`${record.severity}: ${record.message} (SQLSTATE ${record.code})`];
  }
  return [];
}
