/**
 * Preflight's check of MySQL/MariaDB character sets against InnoDB's index key limit: 767 bytes for the COMPACT and
 * REDUNDANT row formats, 3072 for DYNAMIC and COMPRESSED. A character takes up to MAXLEN bytes in a key (4 in utf8mb4,
 * so a VARCHAR(255) key column takes 1020 bytes), and WSO2's scripts index such columns, alone and several together.
 * Tables the migration creates get the database's default character set and `innodb_default_row_format`.
 */

import type { Check } from '../core/check.js';
import type { CharacterSetFacts } from './dialect.js';

const KEY_LIMITS: Readonly<Record<string, number>> = { compact: 767, redundant: 767, dynamic: 3072, compressed: 3072 };
/** WSO2's usual key column, VARCHAR(255). */
const WSO2_KEY_CHARS = 255;
/** The id of the known problem (MySQL error 1071, "Specified key was too long"). */
export const KEY_TOO_LONG_PROBLEM = 'mysql-key-too-long';
const LISTED_TABLES = 8;

/** InnoDB's key prefix limit for a row format; DYNAMIC's when the format is unknown (the default since MySQL 5.7). */
export function keyLimitBytes(rowFormat: string | null): number {
  return KEY_LIMITS[rowFormat ?? 'dynamic'] ?? 3072;
}

export function checkCharacterSets(label: string, facts: CharacterSetFacts): Check[] {
  const width = (set: string | null) => (set === null ? 1 : (facts.maxBytesPerChar[set] ?? 1));
  const groups = new Map<string, string[]>();
  for (const table of facts.tables) {
    const key = `${table.characterSet ?? 'unknown'}/${table.collation ?? 'unknown'}`;
    groups.set(key, [...(groups.get(key) ?? []), table.table]);
  }
  const byGroup = [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(
      ([key, tables]) => `${key} ${tables.length}${tables.length <= LISTED_TABLES ? ` (${tables.join(', ')})` : ''}`,
    );
  const { characterSet, collation } = facts.database;
  const checks: Check[] = [
    {
      verdict: 'pass',
      message: `${label}: database character set ${characterSet}, collation ${collation}; tables by character set/collation: ${byGroup.length > 0 ? byGroup.join('; ') : 'none'}`,
    },
  ];
  const advice =
    `WSO2 asks for latin1 for these databases on MySQL 8 (CREATE DATABASE ... CHARACTER SET latin1) to avoid ERROR 1071 ` +
    `"Specified key was too long" (known problem ${KEY_TOO_LONG_PROBLEM}): rehearse the migration on a copy, or move the database to latin1 first`;
  const databaseWidth = width(characterSet);
  if (databaseWidth > 1) {
    const limit = keyLimitBytes(facts.defaultRowFormat);
    checks.push({
      verdict: 'warn',
      message:
        `${label}: the database's default character set is ${characterSet} (${databaseWidth} bytes a character), which the tables ` +
        `the migration creates get: a VARCHAR(${WSO2_KEY_CHARS}) key column takes ${databaseWidth * WSO2_KEY_CHARS} bytes, and InnoDB ` +
        `allows ${limit} bytes a key for row format ${facts.defaultRowFormat ?? 'dynamic'} (innodb_default_row_format), so WSO2's ` +
        `indices may fail. ${advice}`,
    });
  }
  const wide = facts.tables.filter((table) => width(table.characterSet) > 1);
  if (wide.length > 0) {
    const tight = wide.filter((table) => keyLimitBytes(table.rowFormat) < width(table.characterSet) * WSO2_KEY_CHARS);
    const names = (tables: typeof wide) =>
      tables
        .slice(0, LISTED_TABLES)
        .map(
          (table) => `${table.table} (${table.characterSet ?? 'unknown'}, ${table.rowFormat ?? 'unknown row format'})`,
        )
        .join(', ') + (tables.length > LISTED_TABLES ? ` and ${tables.length - LISTED_TABLES} more` : '');
    checks.push({
      verdict: 'warn',
      message:
        tight.length > 0
          ? `${label}: ${tight.length} tables hold a multi-byte character set in a row format whose key limit is 767 bytes, less than one VARCHAR(${WSO2_KEY_CHARS}) key column: ${names(tight)}; an index the migration adds to them fails. ${advice}`
          : `${label}: ${wide.length} tables hold a multi-byte character set: ${names(wide)}; an index the migration adds over several VARCHAR(${WSO2_KEY_CHARS}) columns of them may pass InnoDB's 3072-byte key limit. ${advice}`,
    });
  }
  return checks;
}
