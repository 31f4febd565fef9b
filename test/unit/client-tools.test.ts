import { describe, expect, it } from 'vitest';
import {
  checkClientTools,
  checkZstd,
  findClientTools,
  findZstd,
  parseToolVersion,
  type ClientTool,
  type ClientTools,
  type ToolVersion,
} from '../../src/db/client-tools.js';
import type { ServerInfo } from '../../src/db/server-info.js';

describe('parseToolVersion', () => {
  it.each<[string, ToolVersion | undefined]>([
    [
      'pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)',
      { flavor: 'PostgreSQL', version: '15.20', major: 15, minor: 20 },
    ],
    ['pg_restore (PostgreSQL) 10.23', { flavor: 'PostgreSQL', version: '10.23', major: 10, minor: 23 }],
    ['pg_dump (PostgreSQL) 9.6.24', { flavor: 'PostgreSQL', version: '9.6.24', major: 9, minor: 6 }],
    ['pg_dump (PostgreSQL) 17beta1', { flavor: 'PostgreSQL', version: '17', major: 17, minor: 0 }],
    [
      'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)',
      { flavor: 'MariaDB', version: '10.11.19', major: 10, minor: 11 },
    ],
    [
      'mariadb-dump from 11.4.2-MariaDB, client 10.19 for debian-linux-gnu (x86_64)',
      { flavor: 'MariaDB', version: '11.4.2', major: 11, minor: 4 },
    ],
    [
      'mariadb  Ver 15.1 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64) using  EditLine wrapper',
      { flavor: 'MariaDB', version: '10.11.19', major: 10, minor: 11 },
    ],
    [
      'mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)',
      { flavor: 'MySQL', version: '8.0.36', major: 8, minor: 0 },
    ],
    [
      'mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)',
      { flavor: 'MySQL', version: '5.7.44', major: 5, minor: 7 },
    ],
    [
      'mysql  Ver 14.14 Distrib 5.7.44, for Linux (x86_64) using  EditLine wrapper',
      { flavor: 'MySQL', version: '5.7.44', major: 5, minor: 7 },
    ],
    [
      'mysql  Ver 8.4.2 for Linux on aarch64 (MySQL Community Server - GPL)',
      { flavor: 'MySQL', version: '8.4.2', major: 8, minor: 4 },
    ],
    ['command not found', undefined],
    ['', undefined],
  ])('%s', (text, expected) => {
    expect(parseToolVersion(text)).toEqual(expected);
  });
});

const PG15: ServerInfo = { product: 'PostgreSQL', version: '15.20', major: 15, minor: 20 };
const PG10: ServerInfo = { product: 'PostgreSQL', version: '10.23', major: 10, minor: 23 };
const MYSQL80: ServerInfo = { product: 'MySQL', version: '8.0.36', major: 8, minor: 0 };
const MYSQL84: ServerInfo = { product: 'MySQL', version: '8.4.2', major: 8, minor: 4 };
const MYSQL57: ServerInfo = { product: 'MySQL', version: '5.7.44', major: 5, minor: 7 };
const MARIADB: ServerInfo = { product: 'MariaDB', version: '10.11.19', major: 10, minor: 11 };

function tool(role: ClientTool['role'], name: string, versionText?: string): ClientTool {
  const version = versionText === undefined ? undefined : parseToolVersion(versionText);
  return {
    role,
    name,
    path: `/usr/bin/${name}`,
    ...(versionText ? { versionText } : {}),
    ...(version ? { version } : {}),
  };
}

function missing(role: ClientTool['role'], name: string): ClientTool {
  return { role, name };
}

function pgTools(dumpText: string, restoreText = dumpText.replace('pg_dump', 'pg_restore')): ClientTools {
  return {
    engine: 'postgresql',
    dump: tool('dump', 'pg_dump', dumpText),
    restore: tool('restore', 'pg_restore', restoreText),
  };
}

function mysqlTools(dumpText: string, restoreText: string): ClientTools {
  return { engine: 'mysql', dump: tool('dump', 'mysqldump', dumpText), restore: tool('restore', 'mysql', restoreText) };
}

const PG_DUMP_15 = 'pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)';
const PG_DUMP_13 = 'pg_dump (PostgreSQL) 13.16';
const MARIADB_DUMP = 'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)';
const MARIADB_CLIENT =
  'mysql  Ver 15.1 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64) using  EditLine wrapper';
const MYSQL_DUMP_80 = 'mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)';
const MYSQL_CLIENT_80 = 'mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)';
const MYSQL_DUMP_57 = 'mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)';
const MYSQL_CLIENT_57 = 'mysql  Ver 14.14 Distrib 5.7.44, for Linux (x86_64) using  EditLine wrapper';

describe('checkClientTools', () => {
  it.each<[string, ServerInfo, ClientTools, Array<ToolCheck['verdict']>, RegExp]>([
    ['pg 15 tools against a pg 15 server', PG15, pgTools(PG_DUMP_15), ['pass', 'pass'], /pg_dump 15\.20/],
    ['pg 15 tools against a pg 10 server', PG10, pgTools(PG_DUMP_15), ['pass', 'pass'], /PostgreSQL 10\.23/],
    ['pg 13 tools against a pg 15 server', PG15, pgTools(PG_DUMP_13), ['fail', 'fail'], /postgresql-client-15/],
    [
      'pg_dump missing',
      PG15,
      { engine: 'postgresql', dump: missing('dump', 'pg_dump'), restore: tool('restore', 'pg_restore', PG_DUMP_15) },
      ['fail', 'pass'],
      /pg_dump is not on PATH.*postgresql-client/,
    ],
    [
      'mysql clients missing',
      MYSQL80,
      { engine: 'mysql', dump: missing('dump', 'mysqldump'), restore: missing('restore', 'mysql') },
      ['fail', 'fail'],
      /mariadb-client \(or default-mysql-client\)/,
    ],
    [
      'MySQL 8.0 clients against MySQL 8.0',
      MYSQL80,
      mysqlTools(MYSQL_DUMP_80, MYSQL_CLIENT_80),
      ['pass', 'pass'],
      /8\.0\.36/,
    ],
    [
      'MySQL 8.0 clients against MySQL 8.4',
      MYSQL84,
      mysqlTools(MYSQL_DUMP_80, MYSQL_CLIENT_80),
      ['fail', 'fail'],
      /MySQL 8\.4/,
    ],
    [
      'MySQL 5.7 clients against MySQL 8.0',
      MYSQL80,
      mysqlTools(MYSQL_DUMP_57, MYSQL_CLIENT_57),
      ['fail', 'fail'],
      /older/,
    ],
    [
      'MySQL 8.0 clients against MySQL 5.7',
      MYSQL57,
      mysqlTools(MYSQL_DUMP_80, MYSQL_CLIENT_80),
      ['pass', 'pass'],
      /5\.7\.44/,
    ],
    [
      'MariaDB clients against MySQL 8.0',
      MYSQL80,
      mysqlTools(MARIADB_DUMP, MARIADB_CLIENT),
      ['warn', 'warn'],
      /column statistics/,
    ],
    [
      'MariaDB clients against MySQL 5.7',
      MYSQL57,
      mysqlTools(MARIADB_DUMP, MARIADB_CLIENT),
      ['pass', 'pass'],
      /MariaDB/,
    ],
    [
      'MariaDB clients against MariaDB',
      MARIADB,
      mysqlTools(MARIADB_DUMP, MARIADB_CLIENT),
      ['pass', 'pass'],
      /MariaDB 10\.11\.19/,
    ],
    [
      'MySQL 8 mysqldump against MariaDB',
      MARIADB,
      mysqlTools(MYSQL_DUMP_80, MARIADB_CLIENT),
      ['warn', 'pass'],
      /column-statistics=0/,
    ],
    [
      'unreadable version',
      PG15,
      {
        engine: 'postgresql',
        dump: tool('dump', 'pg_dump', 'garbage'),
        restore: tool('restore', 'pg_restore', PG_DUMP_15),
      },
      ['warn', 'pass'],
      /could not read the version/,
    ],
  ])('%s', (_label, server, tools, verdicts, firstMessage) => {
    const checks = checkClientTools(server, tools);
    expect(checks.map((check) => check.verdict)).toEqual(verdicts);
    expect(checks[0]?.message).toMatch(firstMessage);
  });
});

type ToolCheck = ReturnType<typeof checkClientTools>[number];

describe('findClientTools', () => {
  it('prefers the MariaDB tool names for a MariaDB target and reads their versions', async () => {
    const onPath = new Set(['mariadb-dump', 'mysqldump', 'mysql']);
    const tools = await findClientTools('mariadb', {
      locate: async (name) => (onPath.has(name) ? `/usr/bin/${name}` : undefined),
      runVersion: async (path) =>
        `${path.split('/').pop() ?? ''}  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu\n`,
    });
    expect(tools.dump).toMatchObject({
      name: 'mariadb-dump',
      path: '/usr/bin/mariadb-dump',
      version: { flavor: 'MariaDB' },
    });
    expect(tools.restore).toMatchObject({ name: 'mysql', path: '/usr/bin/mysql', version: { version: '10.11.19' } });
  });

  it('reports a tool that is not on PATH without a path', async () => {
    const tools = await findClientTools('postgresql', {
      locate: async () => undefined,
      runVersion: async () => undefined,
    });
    expect(tools.dump).toEqual({ role: 'dump', name: 'pg_dump' });
    expect(checkClientTools({ product: 'PostgreSQL', version: '15.2', major: 15, minor: 2 }, tools)[0]?.verdict).toBe(
      'fail',
    );
  });
});

describe('findZstd and checkZstd', () => {
  it('finds zstd with its version line, and passes the check', async () => {
    const zstd = await findZstd({
      locate: async (name) => (name === 'zstd' ? '/usr/bin/zstd' : undefined),
      runVersion: async () => '*** Zstandard CLI (64-bit) v1.5.4, by Yann Collet ***\n',
    });
    expect(zstd).toEqual({
      role: 'compress',
      name: 'zstd',
      path: '/usr/bin/zstd',
      versionText: 'Zstandard CLI (64-bit) v1.5.4, by Yann Collet',
    });
    expect(checkZstd(zstd)).toEqual({
      verdict: 'pass',
      message:
        'zstd found at /usr/bin/zstd (Zstandard CLI (64-bit) v1.5.4, by Yann Collet): backups are compressed on every core',
    });
  });

  it('warns, naming the package, when zstd is not on PATH', async () => {
    const zstd = await findZstd({ locate: async () => undefined, runVersion: async () => undefined });
    expect(zstd).toEqual({ role: 'compress', name: 'zstd' });
    const check = checkZstd(zstd);
    expect(check.verdict).toBe('warn');
    expect(check.message).toMatch(/slower.*cannot be restored here; install the Debian package zstd$/);
  });
});
