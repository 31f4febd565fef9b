/**
 * The registry tables of carbon-kernel 4.6.0 (API-M 3.1.0), described once and rendered as the DDL of WSO2's
 * `dbscripts/postgresql.sql` and `dbscripts/mysql.sql` (unquoted names; without the two indices 4.2.0 adds). Where
 * WSO2's two scripts differ, the description says so: the generated ids (a sequence on PostgreSQL, AUTO_INCREMENT on
 * MySQL), the width of REG_PATH_VALUE, MySQL's unique path instead of PostgreSQL's path index, MySQL's hash indices
 * and timestamp defaults, and the one index name MySQL's script cuts short.
 */

import type { Dialect } from '../db/dialect.js';

/** Column types as far as the checksums care: integer, string, timestamp, bytes. */
export type ColumnType = 'i' | 's' | 't' | 'b';

interface ColumnSpec {
  name: string;
  sql: 'INTEGER' | 'SMALLINT' | 'TIMESTAMP' | 'BYTES' | { varchar: number; mysqlVarchar?: number };
  notNull?: boolean;
  /** `DEFAULT 0`, as WSO2 writes REG_TENANT_ID. */
  defaultZero?: boolean;
  /** Generated: PostgreSQL `DEFAULT NEXTVAL('<table>_PK_SEQ')`, MySQL `NOT NULL AUTO_INCREMENT`. */
  generated?: string;
  /** MySQL's script gives the timestamps of REG_RESOURCE and its history `DEFAULT CURRENT_TIMESTAMP`. */
  mysqlDefaultNow?: boolean;
}

interface IndexSpec {
  name: string;
  /** The table the index is on, when WSO2's script puts it on another one than it is named after. */
  on?: string;
  columns: readonly string[];
  /** The name MySQL's script gives it, where that differs. */
  mysqlName?: string;
  /** Only in PostgreSQL's script (MySQL's has a unique constraint instead). */
  postgresOnly?: boolean;
}

interface TableSpec {
  name: string;
  columns: readonly ColumnSpec[];
  primaryKey: { name: string; columns: readonly string[] };
  /** MySQL's script only. */
  mysqlUnique?: { name: string; columns: readonly string[] };
  foreignKeys: ReadonlyArray<{ name: string; columns: readonly string[]; references: string; to: readonly string[] }>;
  indices: readonly IndexSpec[];
}

const TENANT: ColumnSpec = { name: 'REG_TENANT_ID', sql: 'INTEGER', defaultZero: true };
const VARCHAR = (length: number, mysqlLength?: number): ColumnSpec['sql'] =>
  mysqlLength === undefined ? { varchar: length } : { varchar: length, mysqlVarchar: mysqlLength };
const PATH_FK = (table: string, name = `${table}_FK_BY_PATH_ID`) => ({
  name,
  columns: ['REG_PATH_ID', 'REG_TENANT_ID'],
  references: 'REG_PATH',
  to: ['REG_PATH_ID', 'REG_TENANT_ID'],
});

function resourceTable(name: 'REG_RESOURCE' | 'REG_RESOURCE_HISTORY'): TableSpec {
  const history = name === 'REG_RESOURCE_HISTORY';
  return {
    name,
    columns: [
      { name: 'REG_PATH_ID', sql: 'INTEGER', notNull: true },
      { name: 'REG_NAME', sql: VARCHAR(256) },
      history
        ? { name: 'REG_VERSION', sql: 'INTEGER', notNull: true }
        : { name: 'REG_VERSION', sql: 'INTEGER', generated: 'REG_RESOURCE_PK_SEQ' },
      { name: 'REG_MEDIA_TYPE', sql: VARCHAR(500) },
      { name: 'REG_CREATOR', sql: VARCHAR(31), notNull: true },
      { name: 'REG_CREATED_TIME', sql: 'TIMESTAMP', notNull: true, mysqlDefaultNow: true },
      { name: 'REG_LAST_UPDATOR', sql: VARCHAR(31) },
      { name: 'REG_LAST_UPDATED_TIME', sql: 'TIMESTAMP', notNull: true, mysqlDefaultNow: true },
      { name: 'REG_DESCRIPTION', sql: VARCHAR(1000) },
      { name: 'REG_CONTENT_ID', sql: 'INTEGER' },
      ...(history ? [{ name: 'REG_DELETED', sql: 'SMALLINT' } as const] : []),
      TENANT,
      { name: 'REG_UUID', sql: VARCHAR(100), notNull: true },
    ],
    primaryKey: { name: `PK_${name}`, columns: ['REG_VERSION', 'REG_TENANT_ID'] },
    foreignKeys: history
      ? [
          PATH_FK(name, 'REG_RESOURCE_HIST_FK_BY_PATHID'),
          {
            name: 'REG_RESOURCE_HIST_FK_BY_CONTENT_ID',
            columns: ['REG_CONTENT_ID', 'REG_TENANT_ID'],
            references: 'REG_CONTENT_HISTORY',
            to: ['REG_CONTENT_ID', 'REG_TENANT_ID'],
          },
        ]
      : [
          PATH_FK(name),
          {
            name: 'REG_RESOURCE_FK_BY_CONTENT_ID',
            columns: ['REG_CONTENT_ID', 'REG_TENANT_ID'],
            references: 'REG_CONTENT',
            to: ['REG_CONTENT_ID', 'REG_TENANT_ID'],
          },
        ],
    indices: history
      ? [
          { name: 'REG_RESOURCE_HISTORY_IND_BY_NAME', columns: ['REG_NAME', 'REG_TENANT_ID'] },
          // Sic: WSO2's scripts put this index on REG_RESOURCE.
          {
            name: 'REG_RESOURCE_HISTORY_IND_BY_PATH_ID_NAME',
            on: 'REG_RESOURCE',
            columns: ['REG_PATH_ID', 'REG_NAME', 'REG_TENANT_ID'],
          },
        ]
      : [
          { name: 'REG_RESOURCE_IND_BY_NAME', columns: ['REG_NAME', 'REG_TENANT_ID'] },
          { name: 'REG_RESOURCE_IND_BY_PATH_ID_NAME', columns: ['REG_PATH_ID', 'REG_NAME', 'REG_TENANT_ID'] },
          { name: 'REG_RESOURCE_IND_BY_UUID', columns: ['REG_UUID'] },
          // Sic: MySQL's script cuts the name short.
          {
            name: 'REG_RESOURCE_IND_BY_TENANT',
            mysqlName: 'REG_RESOURCE_IND_BY_TENAN',
            columns: ['REG_TENANT_ID', 'REG_UUID'],
          },
          { name: 'REG_RESOURCE_IND_BY_TYPE', columns: ['REG_TENANT_ID', 'REG_MEDIA_TYPE'] },
        ],
  };
}

function entityTable(name: string, columns: readonly ColumnSpec[]): TableSpec {
  return {
    name,
    columns: [{ name: 'REG_ID', sql: 'INTEGER', generated: `${name}_PK_SEQ` }, ...columns, TENANT],
    primaryKey: { name: `PK_${name}`, columns: ['REG_ID', 'REG_TENANT_ID'] },
    foreignKeys: [],
    indices: [],
  };
}

function mappingTable(name: string, idColumn: string, entity: string, fkName: string): TableSpec {
  return {
    name,
    columns: [
      { name: idColumn, sql: 'INTEGER', notNull: true },
      { name: 'REG_VERSION', sql: 'INTEGER' },
      { name: 'REG_PATH_ID', sql: 'INTEGER' },
      { name: 'REG_RESOURCE_NAME', sql: VARCHAR(256) },
      TENANT,
    ],
    primaryKey: { name: '', columns: [] },
    foreignKeys: [
      PATH_FK(name),
      { name: fkName, columns: [idColumn, 'REG_TENANT_ID'], references: entity, to: ['REG_ID', 'REG_TENANT_ID'] },
    ],
    indices: [
      {
        name: `${name}_IND_BY_PATH_ID_AND_RESOURCE_NAME`,
        columns: ['REG_PATH_ID', 'REG_RESOURCE_NAME', 'REG_TENANT_ID'],
      },
      { name: `${name}_IND_BY_VERSION`, columns: ['REG_VERSION', 'REG_TENANT_ID'] },
    ],
  };
}

/** The tables in the order of WSO2's scripts (parents before children). */
const TABLES: readonly TableSpec[] = [
  {
    name: 'REG_PATH',
    columns: [
      { name: 'REG_PATH_ID', sql: 'INTEGER', generated: 'REG_PATH_PK_SEQ' },
      { name: 'REG_PATH_VALUE', sql: VARCHAR(2000, 750), notNull: true },
      { name: 'REG_PATH_PARENT_ID', sql: 'INTEGER' },
      TENANT,
    ],
    primaryKey: { name: 'PK_REG_PATH', columns: ['REG_PATH_ID', 'REG_TENANT_ID'] },
    mysqlUnique: { name: 'UNIQUE_REG_PATH_TENANT_ID', columns: ['REG_PATH_VALUE', 'REG_TENANT_ID'] },
    foreignKeys: [],
    indices: [
      { name: 'REG_PATH_IND_BY_PATH_VALUE', columns: ['REG_PATH_VALUE', 'REG_TENANT_ID'], postgresOnly: true },
      { name: 'REG_PATH_IND_BY_PATH_PARENT_ID', columns: ['REG_PATH_PARENT_ID', 'REG_TENANT_ID'] },
    ],
  },
  {
    name: 'REG_CONTENT',
    columns: [
      { name: 'REG_CONTENT_ID', sql: 'INTEGER', generated: 'REG_CONTENT_PK_SEQ' },
      { name: 'REG_CONTENT_DATA', sql: 'BYTES' },
      TENANT,
    ],
    primaryKey: { name: 'PK_REG_CONTENT', columns: ['REG_CONTENT_ID', 'REG_TENANT_ID'] },
    foreignKeys: [],
    indices: [],
  },
  {
    name: 'REG_CONTENT_HISTORY',
    columns: [
      { name: 'REG_CONTENT_ID', sql: 'INTEGER', notNull: true },
      { name: 'REG_CONTENT_DATA', sql: 'BYTES' },
      { name: 'REG_DELETED', sql: 'SMALLINT' },
      TENANT,
    ],
    primaryKey: { name: 'PK_REG_CONTENT_HISTORY', columns: ['REG_CONTENT_ID', 'REG_TENANT_ID'] },
    foreignKeys: [],
    indices: [],
  },
  resourceTable('REG_RESOURCE'),
  resourceTable('REG_RESOURCE_HISTORY'),
  entityTable('REG_COMMENT', [
    { name: 'REG_COMMENT_TEXT', sql: VARCHAR(500), notNull: true },
    { name: 'REG_USER_ID', sql: VARCHAR(31), notNull: true },
    { name: 'REG_COMMENTED_TIME', sql: 'TIMESTAMP', notNull: true },
  ]),
  mappingTable('REG_RESOURCE_COMMENT', 'REG_COMMENT_ID', 'REG_COMMENT', 'REG_RESOURCE_COMMENT_FK_BY_COMMENT_ID'),
  entityTable('REG_RATING', [
    { name: 'REG_RATING', sql: 'INTEGER', notNull: true },
    { name: 'REG_USER_ID', sql: VARCHAR(31), notNull: true },
    { name: 'REG_RATED_TIME', sql: 'TIMESTAMP', notNull: true },
  ]),
  mappingTable('REG_RESOURCE_RATING', 'REG_RATING_ID', 'REG_RATING', 'REG_RESOURCE_RATING_FK_BY_RATING_ID'),
  entityTable('REG_TAG', [
    { name: 'REG_TAG_NAME', sql: VARCHAR(500), notNull: true },
    { name: 'REG_USER_ID', sql: VARCHAR(31), notNull: true },
    { name: 'REG_TAGGED_TIME', sql: 'TIMESTAMP', notNull: true },
  ]),
  mappingTable('REG_RESOURCE_TAG', 'REG_TAG_ID', 'REG_TAG', 'REG_RESOURCE_TAG_FK_BY_TAG_ID'),
  entityTable('REG_PROPERTY', [
    { name: 'REG_NAME', sql: VARCHAR(100), notNull: true },
    { name: 'REG_VALUE', sql: VARCHAR(1000) },
  ]),
  // Sic: WSO2 names the property foreign key ..._FK_BY_TAG_ID.
  mappingTable('REG_RESOURCE_PROPERTY', 'REG_PROPERTY_ID', 'REG_PROPERTY', 'REG_RESOURCE_PROPERTY_FK_BY_TAG_ID'),
];

/** Each table's columns in order, with the type the checksums read them as. */
export function registryTableColumns(): Record<string, ReadonlyArray<readonly [string, ColumnType]>> {
  const checksumType = (column: ColumnSpec): ColumnType => {
    if (column.sql === 'TIMESTAMP') return 't';
    if (column.sql === 'BYTES') return 'b';
    return typeof column.sql === 'object' ? 's' : 'i';
  };
  return Object.fromEntries(
    TABLES.map((table) => [table.name, table.columns.map((column) => [column.name, checksumType(column)] as const)]),
  );
}

/** The sequences behind PostgreSQL's generated ids, by table. */
export function registrySequences(): Record<string, string> {
  return Object.fromEntries(
    TABLES.flatMap((table) => table.columns.filter((column) => column.generated).map((c) => [table.name, c.generated])),
  ) as Record<string, string>;
}

/**
 * After rows with explicit ids, the statements that move each table's generated-id counter to `next[table]`:
 * PostgreSQL's sequences stay behind explicit ids, MySQL's AUTO_INCREMENT follows them by itself.
 */
export function registryIdCounterStatements(
  dialect: Pick<Dialect, 'family' | 'placeholder'>,
  next: Readonly<Record<string, number>>,
): Array<{ sql: string; params: unknown[] }> {
  if (dialect.family === 'mysql') return [];
  return Object.entries(registrySequences()).map(([table, sequence]) => {
    const value = next[table];
    if (value === undefined) throw new Error(`internal: no next id for the sequence of ${table}`);
    return { sql: `SELECT setval('${sequence.toLowerCase()}', ${dialect.placeholder(1)}, false)`, params: [value] };
  });
}

/** The DDL of WSO2's script for the dialect's DBMS. */
export function registrySchemaStatements(dialect: Pick<Dialect, 'family'>): string[] {
  const mysql = dialect.family === 'mysql';
  const statements: string[] = [];
  for (const table of TABLES) {
    const sequence = table.columns.find((column) => column.generated)?.generated;
    if (sequence && !mysql) statements.push(`CREATE SEQUENCE ${sequence}`);
    const lines = table.columns.map((column) => `            ${column.name} ${columnSql(column, mysql)}`);
    if (table.primaryKey.columns.length > 0) {
      lines.push(`            CONSTRAINT ${table.primaryKey.name} PRIMARY KEY(${table.primaryKey.columns.join(', ')})`);
    }
    if (mysql && table.mysqlUnique) {
      lines.push(`            CONSTRAINT ${table.mysqlUnique.name} UNIQUE (${table.mysqlUnique.columns.join(',')})`);
    }
    statements.push(
      `CREATE TABLE ${mysql ? 'IF NOT EXISTS ' : ''}${table.name} (\n${lines.join(',\n')}\n)${mysql ? 'ENGINE INNODB' : ''}`,
    );
    for (const key of table.foreignKeys) {
      statements.push(
        `ALTER TABLE ${table.name} ADD CONSTRAINT ${key.name} FOREIGN KEY (${key.columns.join(', ')}) REFERENCES ${key.references} (${key.to.join(', ')})`,
      );
    }
    for (const index of table.indices) {
      if (mysql && index.postgresOnly) continue;
      const name = mysql ? (index.mysqlName ?? index.name) : index.name;
      const using = mysql ? ' USING HASH' : '';
      statements.push(`CREATE INDEX ${name}${using} ON ${index.on ?? table.name}(${index.columns.join(', ')})`);
    }
  }
  return statements;
}

function columnSql(column: ColumnSpec, mysql: boolean): string {
  if (column.generated) {
    return mysql ? 'INTEGER NOT NULL AUTO_INCREMENT' : `INTEGER DEFAULT NEXTVAL('${column.generated}')`;
  }
  const type =
    column.sql === 'BYTES'
      ? mysql
        ? 'LONGBLOB'
        : 'BYTEA'
      : typeof column.sql === 'object'
        ? `VARCHAR(${mysql ? (column.sql.mysqlVarchar ?? column.sql.varchar) : column.sql.varchar})`
        : column.sql;
  const parts = [type];
  if (column.notNull) parts.push('NOT NULL');
  if (column.defaultZero) parts.push('DEFAULT 0');
  if (mysql && column.mysqlDefaultNow) parts.push('DEFAULT CURRENT_TIMESTAMP');
  return parts.join(' ');
}
