/**
 * The stand-in API-M server (stand-in-apim/bin next to this module, and next to the bundled CLI): two POSIX sh
 * scripts, no Java. `api-manager.sh` behaves like WSO2 API Manager 4.2.0's launcher (CARBON_HOME, the JAVA_HOME
 * checks, --start/--stop/--restart/--version/--test, the loop that runs the JVM as its child and again on exit
 * status 121); `stand-in-jvm.sh` is the "JVM" it runs: it writes wso2carbon.pid, turns the -D arguments into
 * properties, prints the log records of the real server and its migration clients in the real console and file
 * layouts, and stays up until it is stopped; on a normal start it also runs `stand-in-https.mjs` with node, the
 * management HTTPS port. The demo runs it, and so do the tests; the scripts' headers say what they do,
 * stand-in-jvm.sh's lists the behaviour switches.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const STAND_IN_BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'stand-in-apim', 'bin');

/**
 * The launcher shipped with the package: src/demo/stand-in-apim when running from the sources, dist/cli/stand-in-apim
 * in the bundle (scripts/build.mjs copies the folder next to it).
 */
export const STAND_IN_LAUNCHER = path.join(STAND_IN_BIN, 'api-manager.sh');

/** The stand-in's "JVM", which the launcher runs as `sh <CARBON_HOME>/bin/stand-in-jvm.sh <options> Bootstrap ...`. */
export const STAND_IN_JVM = path.join(STAND_IN_BIN, 'stand-in-jvm.sh');

/** The management HTTPS port of a normal start, which the JVM runs with node (see its header). */
export const STAND_IN_HTTPS = path.join(STAND_IN_BIN, 'stand-in-https.mjs');

/** The switches of `<HOME>/stand-in.conf`; see the header of stand-in-jvm.sh. */
export interface StandInBehaviour {
  /** The client fails: identity "Migration process was stopped.", API-M "API Migration exception ...", validation "Error while running the pre-migration validation". */
  fail?: boolean;
  /** A migration-client ERROR, then the client still prints its success line (as the real clients do). */
  errorBeforeSuccess?: boolean;
  /** API-M: the "SQL script not found at .../migration-4.1.0_to_4.2.0/..." ERROR WSO2's test runs ignore. */
  harmlessError?: boolean;
  /** An ERROR from a client class whose name has no "Migrat" (DataSourceManager, RegistryServiceImpl, validator Utils); the client carries on. */
  clientError?: boolean;
  /** One ERROR of a non-migration component before the client starts, one after its verdict (before "WSO2 Carbon started"). */
  errorOutsideWindow?: boolean;
  /** The client starts a step and goes quiet, with no success or failure line; the server goes on to "WSO2 Carbon started". */
  noVerdict?: boolean;
  /** The client never finishes; the server never finishes starting. */
  hang?: boolean;
  /** The JVM crashes (exit 1) before the client's verdict. */
  dieEarly?: boolean;
  /** The identity jar is in dropins but its bundle stays INSTALLED: "Waiting for migration client." and the start stalls. */
  bundleInactive?: boolean;
  /** The JVM restarts itself once (exit 121) before any client line; once per home (marker `<HOME>/stand-in-restarted-once`). */
  restartOnce?: boolean;
  /** N invalid APIs in the pre-migration validation, of eight kinds in turn. */
  invalidDefinitions?: number;
  /** N ms after every log record. */
  slowMs?: number;
  /** API-M: the log is silent for N ms in the middle of the data migration, then the client carries on. */
  silentMs?: number;
  /** API-M: meanwhile the server's database session runs a statement of N seconds on apim_db (pg_sleep / SLEEP). */
  dbSleepSeconds?: number;
  /** SIGTERM/SIGINT do not stop the server: it must be killed. */
  ignoreTerm?: boolean;
  /** Logs the value of this environment variable, as a server that logs a password would. */
  printEnv?: string;
  /** API-M: registry text echoed as it is (runner commands, escape sequences, quoted verdict lines, one ERROR). */
  hostileOutput?: boolean;
  /** API-M: the 4.2.0 DAO queries the ORGANIZATION column before the schema has it (known problem organization-column-missing). */
  organizationColumn?: boolean;
  /** The start fails before any log record: SEVERE "Error while performing configuration changes" on stderr, the JVM exits 1. */
  startFails?: boolean;
  /** The start fails later: FATAL "WSO2 Carbon initialization Failed" (CarbonServerManager) with its trace; the JVM stays up. */
  initFatal?: boolean;
  /** Normal start: nothing answers on the management HTTPS port. */
  noHttps?: boolean;
  /** Normal start: for N ms after the start the Publisher API lists no API (the index is being built). */
  indexDelayMs?: number;
  /** Normal start: the index never holds the last API, so the Publisher API's count stays one short of AM_API's. */
  indexNeverCompletes?: boolean;
}

/**
 * Puts the stand-in launcher into `<home>/bin/api-manager.sh`, its JVM into `<home>/bin/stand-in-jvm.sh` and the
 * JVM's HTTPS responder into `<home>/bin/stand-in-https.mjs`, all executable, and returns the launcher's path.
 */
export async function installStandInLauncher(home: string): Promise<string> {
  const bin = path.join(home, 'bin');
  await mkdir(bin, { recursive: true });
  const launcher = path.join(bin, 'api-manager.sh');
  for (const [source, target] of [
    [STAND_IN_LAUNCHER, launcher],
    [STAND_IN_JVM, path.join(bin, 'stand-in-jvm.sh')],
    [STAND_IN_HTTPS, path.join(bin, 'stand-in-https.mjs')],
  ] as const) {
    await copyFile(source, target);
    await chmod(target, 0o755);
  }
  return launcher;
}

/** Writes `<HOME>/stand-in.conf`, one switch per line. */
export async function writeStandInConf(home: string, behaviour: StandInBehaviour): Promise<void> {
  const lines = [
    behaviour.fail && 'fail',
    behaviour.errorBeforeSuccess && 'error-before-success',
    behaviour.harmlessError && 'harmless-error',
    behaviour.clientError && 'client-error',
    behaviour.errorOutsideWindow && 'error-outside-window',
    behaviour.noVerdict && 'no-verdict',
    behaviour.hang && 'hang',
    behaviour.dieEarly && 'die-early',
    behaviour.bundleInactive && 'bundle-inactive',
    behaviour.restartOnce && 'restart-once',
    behaviour.ignoreTerm && 'ignore-term',
    behaviour.hostileOutput && 'hostile-output',
    behaviour.organizationColumn && 'organization-column',
    behaviour.startFails && 'start-fails',
    behaviour.initFatal && 'init-fatal',
    behaviour.noHttps && 'no-https',
    behaviour.indexNeverCompletes && 'index-never-completes',
    behaviour.indexDelayMs !== undefined && `index-delay-ms=${behaviour.indexDelayMs}`,
    behaviour.invalidDefinitions !== undefined && `invalid-definitions=${behaviour.invalidDefinitions}`,
    behaviour.slowMs !== undefined && `slow-ms=${behaviour.slowMs}`,
    behaviour.silentMs !== undefined && `silent-ms=${behaviour.silentMs}`,
    behaviour.dbSleepSeconds !== undefined && `db-sleep-seconds=${behaviour.dbSleepSeconds}`,
    behaviour.printEnv !== undefined && `print-env=${behaviour.printEnv}`,
  ].filter((line): line is string => typeof line === 'string');
  await writeFile(
    path.join(home, 'stand-in.conf'),
    ['# stand-in behaviour switches (see bin/stand-in-jvm.sh)', ...lines, ''].join('\n'),
  );
}
