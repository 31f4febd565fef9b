/** The tables apim-migrate reads on MySQL/MariaDB: one definition for every catalog query that lists them. */

/** The base tables of the session's database: the FROM and WHERE of an information_schema query that lists them. */
export const DATABASE_BASE_TABLES = `FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`;
