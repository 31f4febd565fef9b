import type { DbSession } from './session.js';

/** The ledger of design.md: what apim-migrate has done to these databases, kept in shared_db. */
export const LEDGER_TABLE = 'APIM_MIGRATE_LEDGER';

export type LedgerReading = { exists: false } | { exists: true; rows: Array<Record<string, unknown>> };

/** Reads the ledger if it exists; it is created by the first mutating stage, never by a read. */
export async function readLedger(session: DbSession): Promise<LedgerReading> {
  if (!(await ledgerExists(session))) return { exists: false };
  const rows = await session.query(`SELECT * FROM ${LEDGER_TABLE} ORDER BY 1`);
  return { exists: true, rows };
}

async function ledgerExists(session: DbSession): Promise<boolean> {
  // PostgreSQL folds the unquoted name to lower case; MySQL keeps it as created.
  const rows =
    session.engine === 'postgresql'
      ? await session.query(
          'SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1',
          [LEDGER_TABLE.toLowerCase()],
        )
      : await session.query(
          'SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND UPPER(table_name) = ?',
          [LEDGER_TABLE],
        );
  return rows.length > 0;
}
