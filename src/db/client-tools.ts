/**
 * The command-line tools the backup stage runs, found on PATH: the dump and restore tools, checked against the server
 * they will talk to, and zstd, which compresses dumps where it is installed.
 */

import { getExecOutput } from '@actions/exec';
import { which } from '@actions/io';
import type { Check } from '../core/check.js';
import type { DbEngine } from '../config/types.js';
import type { DbProduct, ServerInfo } from './server-info.js';
import { dialectOf } from './dialects.js';

export type ToolRole = 'dump' | 'restore' | 'compress';

export interface ToolVersion {
  /** Whose build the tool is: MariaDB's client answers for `mysqldump` too. */
  flavor: DbProduct;
  version: string;
  major: number;
  minor: number;
}

export interface ClientTool {
  role: ToolRole;
  /** The executable found, or the first name looked for when none was found. */
  name: string;
  /** Absolute path; absent when the tool is not on PATH. */
  path?: string;
  /** First line of `--version`, for messages. */
  versionText?: string;
  version?: ToolVersion;
}

export interface ClientTools {
  engine: DbEngine;
  dump: ClientTool;
  restore: ClientTool;
}

/** Runs `<path> --version` and returns its output, or undefined when it could not run. */
export type RunVersion = (path: string) => Promise<string | undefined>;
/** Finds an executable by name, or undefined. */
export type LocateExecutable = (name: string) => Promise<string | undefined>;

export interface FindClientToolsOptions {
  runVersion?: RunVersion;
  locate?: LocateExecutable;
}

export async function findClientTools(engine: DbEngine, options: FindClientToolsOptions = {}): Promise<ClientTools> {
  const runVersion = options.runVersion ?? runVersionCommand;
  const locate = options.locate ?? locateOnPath;
  const [dump, restore] = await Promise.all([
    findTool(engine, 'dump', locate, runVersion),
    findTool(engine, 'restore', locate, runVersion),
  ]);
  return { engine, dump, restore };
}

async function findTool(
  engine: DbEngine,
  role: 'dump' | 'restore',
  locate: LocateExecutable,
  runVersion: RunVersion,
): Promise<ClientTool> {
  const names = dialectOf(engine).clientToolNames[role];
  for (const name of names) {
    const path = await locate(name);
    if (path === undefined) continue;
    const output = await runVersion(path);
    const versionText = output
      ?.split('\n')
      .find((line) => line.trim() !== '')
      ?.trim();
    const version = versionText === undefined ? undefined : parseToolVersion(versionText);
    return { role, name, path, ...(versionText ? { versionText } : {}), ...(version ? { version } : {}) };
  }
  return { role, name: names[0] ?? role };
}

/** The Debian package that brings zstd. */
export const ZSTD_PACKAGE = 'zstd';

/** zstd's command-line tool, when it is on PATH (`zstd --version`: `*** Zstandard CLI (64-bit) v1.5.4, by Yann Collet ***`). */
export async function findZstd(options: FindClientToolsOptions = {}): Promise<ClientTool> {
  const path = await (options.locate ?? locateOnPath)('zstd');
  if (path === undefined) return { role: 'compress', name: 'zstd' };
  const versionText = (await (options.runVersion ?? runVersionCommand)(path))
    ?.split('\n')
    .find((line) => line.trim() !== '')
    ?.replace(/^[*\s]+|[*\s]+$/g, '');
  return { role: 'compress', name: 'zstd', path, ...(versionText ? { versionText } : {}) };
}

/** Whether backups here compress with zstd: a warning, not a failure, since they fall back to slower compression. */
export function checkZstd(zstd: ClientTool): Check {
  if (zstd.path !== undefined) {
    return {
      verdict: 'pass',
      message: `zstd found at ${zstd.path} (${zstd.versionText ?? 'version unknown'}): backups are compressed on every core`,
    };
  }
  return {
    verdict: 'warn',
    message:
      "zstd is not on PATH: backups fall back to pg_dump's own compression or gzip, several times slower, and " +
      `backups taken where zstd is installed cannot be restored here; install the Debian package ${ZSTD_PACKAGE}`,
  };
}

export async function runVersionCommand(path: string): Promise<string | undefined> {
  try {
    const result = await getExecOutput(path, ['--version'], { silent: true, ignoreReturnCode: true });
    const output = `${result.stdout}\n${result.stderr}`.trim();
    return output === '' ? undefined : output;
  } catch {
    return undefined;
  }
}

/** Finds an executable on PATH as @actions/io does (PATHEXT on Windows too). */
export async function locateOnPath(name: string): Promise<string | undefined> {
  const found = await which(name, false);
  return found === '' ? undefined : found;
}

/**
 * Reads the version a client tool reports:
 * `pg_dump (PostgreSQL) 15.20 (Debian ...)`, `mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, ...`,
 * `mariadb-dump from 11.4.2-MariaDB, client 10.19 ...`, `mysqldump  Ver 8.0.36 for Linux ...`,
 * `mysqldump  Ver 10.13 Distrib 5.7.44, for Linux ...`.
 */
export function parseToolVersion(text: string): ToolVersion | undefined {
  const postgres = /\(PostgreSQL\)\s+(\d+(?:\.\d+){0,2})/.exec(text);
  if (postgres?.[1]) return toToolVersion('PostgreSQL', postgres[1]);
  const mariadb = /(\d+\.\d+(?:\.\d+)?)-MariaDB/i.exec(text);
  if (mariadb?.[1]) return toToolVersion('MariaDB', mariadb[1]);
  // Before 8.0 MySQL reported the client protocol after "Ver" and the server release after "Distrib".
  const distrib = /\bDistrib\s+(\d+\.\d+(?:\.\d+)?)/.exec(text);
  if (distrib?.[1]) return toToolVersion('MySQL', distrib[1]);
  const ver = /\bVer\s+(\d+\.\d+(?:\.\d+)?)/.exec(text);
  if (ver?.[1]) return toToolVersion('MySQL', ver[1]);
  return undefined;
}

function toToolVersion(flavor: DbProduct, version: string): ToolVersion {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return { flavor, version, major, minor };
}

/** Checks the dump and restore tool against the server they will run against. */
export function checkClientTools(server: ServerInfo, tools: ClientTools): Check[] {
  return [tools.dump, tools.restore].map((tool) => checkClientTool(server, tool));
}

function checkClientTool(server: ServerInfo, tool: ClientTool): Check {
  if (tool.path === undefined) return reportMissingTool(server, tool);
  if (tool.version === undefined) {
    return {
      verdict: 'warn',
      message: `could not read the version of ${tool.path} (${tool.versionText ?? 'no output from --version'})`,
    };
  }
  if (server.product === 'PostgreSQL') return checkPostgresTool(server, tool, tool.version);
  return checkMysqlFamilyTool(server, tool, tool.version);
}

function reportMissingTool(server: ServerInfo, tool: ClientTool): Check {
  if (server.product === 'PostgreSQL') {
    return {
      verdict: 'fail',
      message: `${tool.name} is not on PATH; install the Debian package postgresql-client (version ${server.major} or newer)`,
    };
  }
  const names = tool.role === 'dump' ? 'mariadb-dump/mysqldump' : 'mariadb/mysql';
  return {
    verdict: 'fail',
    message: `no ${names} on PATH; install the Debian package mariadb-client (or default-mysql-client)`,
  };
}

function checkPostgresTool(server: ServerInfo, tool: ClientTool, version: ToolVersion): Check {
  const label = describeTool(tool, version);
  if (version.flavor !== 'PostgreSQL') {
    return { verdict: 'fail', message: `${label} is not a PostgreSQL client; install postgresql-client` };
  }
  // pg_dump refuses servers newer than itself, and pg_restore cannot read archives of a newer pg_dump.
  if (version.major < server.major) {
    return {
      verdict: 'fail',
      message:
        `${label} is older than the PostgreSQL ${server.version} server; ` +
        `install postgresql-client-${server.major} (or newer) and put it first on PATH`,
    };
  }
  return { verdict: 'pass', message: `${label} can work with PostgreSQL ${server.version}` };
}

function checkMysqlFamilyTool(server: ServerInfo, tool: ClientTool, version: ToolVersion): Check {
  const label = describeTool(tool, version);
  const serverLabel = `${server.product} ${server.version}`;
  if (version.flavor === 'PostgreSQL') {
    return { verdict: 'fail', message: `${label} is not a MySQL/MariaDB client; install mariadb-client` };
  }
  if (server.product === 'MySQL' && version.flavor === 'MySQL' && isOlder(version, server)) {
    return {
      verdict: 'fail',
      message: `${label} is older than the ${serverLabel} server; install a MySQL ${server.major}.${server.minor} (or newer) client`,
    };
  }
  if (server.product === 'MySQL' && server.major >= 8 && version.flavor === 'MariaDB') {
    return {
      verdict: 'warn',
      message:
        `${label} is MariaDB's client against ${serverLabel}: it does not know MySQL 8's column statistics ` +
        `and other 8.0 specifics; prefer MySQL's own ${server.major}.${server.minor} client if the backup differs or fails`,
    };
  }
  // MySQL 8's mysqldump asks MariaDB for information_schema.COLUMN_STATISTICS, which MariaDB lacks.
  if (server.product === 'MariaDB' && version.flavor === 'MySQL' && version.major >= 8 && tool.role === 'dump') {
    return {
      verdict: 'warn',
      message: `${label} is MySQL's client against ${serverLabel}: it needs --column-statistics=0; prefer mariadb-client`,
    };
  }
  return { verdict: 'pass', message: `${label} can work with ${serverLabel}` };
}

function isOlder(version: ToolVersion, server: ServerInfo): boolean {
  return version.major < server.major || (version.major === server.major && version.minor < server.minor);
}

function describeTool(tool: ClientTool, version: ToolVersion): string {
  return `${tool.name} ${version.version} (${version.flavor})`;
}
