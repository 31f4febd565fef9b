import path from 'node:path';
import { InputError } from '../core/errors.js';

/** The server runs of the migration, by stage, as WSO2's guide gives their flags. */
export const SERVER_RUN_FLAGS = {
  identity: ['-Dmigrate', '-Dcomponent=identity'],
  'apim-validate': ['-Dmigrate', '-DmigrateFromVersion=3.1.0', '-DmigratedVersion=4.2.0', '-DrunPreMigration'],
  apim: ['-Dmigrate', '-DmigrateFromVersion=3.1.0', '-DmigratedVersion=4.2.0'],
} as const;

export type ServerStage = keyof typeof SERVER_RUN_FLAGS;

export interface ServerCommandOptions {
  apimHome: string;
  /** The JDK the launcher gets as JAVA_HOME (see java.ts). */
  javaHome: string;
  stage: ServerStage;
  platform: NodeJS.Platform;
  profile?: 'control-plane';
  /** apim-validate only: `-DsaveInvalidDefinition`. */
  saveInvalidDefinitions?: boolean;
  /** Variables of the environment the server gets besides the base set (see server-env.ts). */
  passEnv?: readonly string[];
}

export interface ServerCommand {
  /** The program to spawn and its arguments: no shell parses them. */
  command: string;
  args: string[];
  /** The line an operator would type, for plans and logs. */
  display: string;
  /**
   * Set over the runner's environment for this command and for its `--stop`: api-manager.sh keeps an inherited
   * `CARBON_HOME` (`[ -z "$CARBON_HOME" ] && CARBON_HOME=...`), so one of another home would decide which home runs
   * and which server `--stop` kills; and it exits 1 without `JAVA_HOME`. Every command buildServerCommand makes has it.
   */
  env?: LauncherEnv;
  /**
   * The variables of the runner's environment the server run gets besides the base set of server-env.ts: those
   * deployment.toml's `$env{}` placeholders and `server.env` name. Its `--stop` gets the base set only.
   */
  passEnv?: string[];
}

export interface LauncherEnv {
  CARBON_HOME: string;
  JAVA_HOME: string;
}

export function buildServerFlags(options: Omit<ServerCommandOptions, 'apimHome' | 'javaHome' | 'platform'>): string[] {
  const flags: string[] = [...SERVER_RUN_FLAGS[options.stage]];
  if (options.stage === 'apim-validate' && options.saveInvalidDefinitions) flags.push('-DsaveInvalidDefinition');
  if (options.profile) flags.push(`-Dprofile=${options.profile}`);
  return flags;
}

/**
 * `sh <home>/bin/api-manager.sh <flags>` on Unix-likes (through sh, so a launcher unpacked without its
 * execute bit still runs), `cmd.exe /d /c <home>\bin\api-manager.bat <flags>` on Windows. A Windows home that
 * cmd.exe would read as more than a path is an InputError (see {@link windowsHomeProblem}).
 */
export function buildServerCommand(options: ServerCommandOptions): ServerCommand {
  return launcherCommand(options, buildServerFlags(options));
}

export type NormalStartOptions = Omit<ServerCommandOptions, 'stage' | 'saveInvalidDefinitions'>;

/**
 * The server's normal start, the guide's Server Startup Actions step 2 (`sh api-manager.sh`): no migration flags,
 * only `-Dprofile=...` for a distributed setup's node; the same launcher, environment and Windows rules as the
 * migration runs.
 */
export function buildNormalStartCommand(options: NormalStartOptions): ServerCommand {
  return launcherCommand(options, options.profile ? [`-Dprofile=${options.profile}`] : []);
}

function launcherCommand(options: NormalStartOptions, flags: string[]): ServerCommand {
  const env: LauncherEnv = { CARBON_HOME: options.apimHome, JAVA_HOME: options.javaHome };
  const passEnv = options.passEnv === undefined ? {} : { passEnv: [...options.passEnv] };
  if (options.platform === 'win32') {
    const problem = windowsHomeProblem(options.apimHome);
    if (problem !== undefined) throw new InputError({ message: problem });
    const launcher = path.win32.join(options.apimHome, 'bin', 'api-manager.bat');
    return {
      command: 'cmd.exe',
      args: ['/d', '/c', launcher, ...flags],
      display: [quoteWindows(launcher), ...flags].join(' '),
      env,
      ...passEnv,
    };
  }
  const launcher = path.posix.join(options.apimHome, 'bin', 'api-manager.sh');
  return {
    command: 'sh',
    args: [launcher, ...flags],
    display: ['sh', quotePosix(launcher), ...flags].join(' '),
    env,
    ...passEnv,
  };
}

/**
 * cmd.exe reads `/c`'s command line itself, and api-manager.bat expands CARBON_HOME unquoted (`cd %CARBON_HOME%`)
 * after `setlocal enabledelayedexpansion`: in the home, `&` `|` `<` `>` would run or redirect commands, `^` escapes,
 * `"` ends the quoting, `%` and `!` expand variables. No quoting makes them safe, so such a home is refused.
 */
const CMD_METACHARACTERS = /[&|%^<>"!]/g;

/** Why cmd.exe cannot be given `apimHome`, or undefined when it can. */
export function windowsHomeProblem(apimHome: string): string | undefined {
  const found = [...new Set(apimHome.match(CMD_METACHARACTERS) ?? [])];
  if (found.length === 0) return undefined;
  return (
    `apimHome ${apimHome} holds ${found.map((character) => `"${character}"`).join(', ')}, which cmd.exe reads as ` +
    'commands, redirections or variables when it runs bin\\api-manager.bat: move or link the API-M home to a path ' +
    'without & | % ^ < > " ! and set apimHome to it'
  );
}

function quotePosix(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function quoteWindows(value: string): string {
  return /[\s&()^|<>"]/.test(value) ? `"${value}"` : value;
}
