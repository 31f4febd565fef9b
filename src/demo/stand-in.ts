/**
 * The stand-in API-M server (stand-in-apim/bin/api-manager.sh next to this module, and next to the bundled CLI):
 * a shell script that takes the real launcher's arguments, prints the log lines of the real server and its
 * migration clients, and stays up until it is stopped. The demo runs it, and so do the tests; see the script's
 * header for what it does.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The launcher shipped with the package: src/demo/stand-in-apim when running from the sources, dist/cli/stand-in-apim
 * in the bundle (scripts/build.mjs copies the folder next to it).
 */
export const STAND_IN_LAUNCHER = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'stand-in-apim',
  'bin',
  'api-manager.sh',
);

/** The switches of `<HOME>/stand-in.conf`; see the launcher's header. */
export interface StandInBehaviour {
  fail?: boolean;
  errorBeforeSuccess?: boolean;
  harmlessError?: boolean;
  hang?: boolean;
  dieEarly?: boolean;
  invalidDefinitions?: number;
  slowMs?: number;
  ignoreTerm?: boolean;
  /** Logs the value of this environment variable, as a server that logs a password would. */
  printEnv?: string;
}

/** Puts the stand-in launcher into `<home>/bin/api-manager.sh`, executable, and returns its path. */
export async function installStandInLauncher(home: string): Promise<string> {
  const launcher = path.join(home, 'bin', 'api-manager.sh');
  await mkdir(path.dirname(launcher), { recursive: true });
  await copyFile(STAND_IN_LAUNCHER, launcher);
  await chmod(launcher, 0o755);
  return launcher;
}

/** Writes `<HOME>/stand-in.conf`, one switch per line. */
export async function writeStandInConf(home: string, behaviour: StandInBehaviour): Promise<void> {
  const lines = [
    behaviour.fail && 'fail',
    behaviour.errorBeforeSuccess && 'error-before-success',
    behaviour.harmlessError && 'harmless-error',
    behaviour.hang && 'hang',
    behaviour.dieEarly && 'die-early',
    behaviour.ignoreTerm && 'ignore-term',
    behaviour.invalidDefinitions !== undefined && `invalid-definitions=${behaviour.invalidDefinitions}`,
    behaviour.slowMs !== undefined && `slow-ms=${behaviour.slowMs}`,
    behaviour.printEnv !== undefined && `print-env=${behaviour.printEnv}`,
  ].filter((line): line is string => typeof line === 'string');
  await writeFile(path.join(home, 'stand-in.conf'), ['# stand-in behaviour switches', ...lines, ''].join('\n'));
}
