/**
 * The data profile of the configured databases, as plan and preflight report it: each table's rows and bytes, and
 * the WSO2 figures that decide how long a migration runs. db/data-profile.ts reads it; plan/data-profile.ts judges it.
 */

/** A count, exact or the catalog's estimate (above the exact-count threshold, or when counting would scan a huge table). */
export interface RowCount {
  rows: number;
  /** True when `rows` is the catalog's estimate, not a count. */
  estimate: boolean;
}

export interface TableProfile {
  /** The table as stored (`schema.table` on PostgreSQL, `table` on MySQL/MariaDB). */
  table: string;
  rows: RowCount;
  /** Bytes of the table and its indices (and TOAST on PostgreSQL). */
  bytes: number;
}

/** One figure that decides a migration's length, e.g. the tenants or the expired OAuth tokens. */
export interface WorkloadFigure {
  id: WorkloadFigureId;
  /** What it counts, for people: `OAuth access tokens (IDN_OAUTH2_ACCESS_TOKEN)`. */
  label: string;
  table: string;
  count: RowCount;
  /** Counts by a column's value, e.g. TOKEN_STATE; absent when the table is above the exact-count threshold. */
  byValue?: Record<string, number>;
  /** Access tokens whose validity has run out (see db/data-profile.ts); absent above the threshold. */
  expired?: number;
  /** Why a part of the figure was not counted. */
  note?: string;
}

export const WORKLOAD_FIGURE_IDS = [
  'tenants',
  'apis',
  'applications',
  'subscriptions',
  'access-tokens',
  'authorization-codes',
  'registry-resource-history',
  'registry-content-history',
  'registry-log',
] as const;
export type WorkloadFigureId = (typeof WORKLOAD_FIGURE_IDS)[number];

/** One physical database's profile. */
export interface DatabaseProfile {
  /** `apim_db = shared_db` */
  label: string;
  /** host:port/database */
  address: string;
  engine: string;
  /** Sum of the tables' bytes. */
  totalBytes: number;
  /** The database's size as `Dialect.databaseSizeSql` gives it: what backup records and estimates are measured by. */
  databaseBytes: number;
  /** Every base table, the largest first. */
  tables: TableProfile[];
  figures: WorkloadFigure[];
  /** Bytes of the OAuth token and authorization-code tables, and their share of `totalBytes` (0 to 1). */
  tokenTables: { bytes: number; share: number };
}

/** What a data-changing stage's backup will likely take, from the ledger's records or a default rate. */
export interface BackupEstimate {
  /** Bytes of the databases it backs up, as their catalogs say now. */
  dataBytes: number;
  bytes: number;
  seconds: number;
  /** `ledger`: from the last backups of these databases; `default`: a rough rate measured on one machine. */
  basis: 'ledger' | 'default';
  /** How many recorded backups the rate comes from (0 for the default). */
  records: number;
}
