/**
 * The stand-in API-M server (src/demo/stand-in-apim/bin/api-manager.sh, the one the demo runs) in a test home:
 * installs the launcher, a migration kit and the behaviour switches, and reads back the arguments the stand-in was
 * started with.
 */
import { access, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeIdentityMigrationConfig } from '../../src/demo/sandbox-files.js';
import { installStandInLauncher, writeStandInConf, type StandInBehaviour } from '../../src/demo/stand-in.js';
import { kitJarName, makeApimHome } from './wso2-fixtures.js';

export { makeIdentityMigrationConfig, type IdentityConfigOptions } from '../../src/demo/sandbox-files.js';
export { STAND_IN_LAUNCHER, writeStandInConf, type StandInBehaviour } from '../../src/demo/stand-in.js';

export interface StandInOptions {
  /** Which migration kit to put into the home (the client jar in dropins and migration-resources/). */
  kit?: 'identity' | 'apim' | 'none';
  /** The kit's migration-resources/migration-config.yaml (identity only); default `makeIdentityMigrationConfig()`. */
  identityConfig?: string;
  behaviour?: StandInBehaviour;
}

export interface StandInHome {
  home: string;
  launcher: string;
  /** `<HOME>/repository/logs/wso2carbon.log`, which the stand-in appends to. */
  carbonLog: string;
  pidFile: string;
  argsFile: string;
}

/** Lays out an API-M 4.2.0 home in `home` when it has none, and installs the stand-in launcher and `options`. */
export async function installStandIn(home: string, options: StandInOptions = {}): Promise<StandInHome> {
  if (!(await exists(join(home, 'repository', 'conf')))) await makeApimHome(home, { version: '4.2.0' });
  const launcher = await installStandInLauncher(home);
  const kit = options.kit ?? 'none';
  if (kit !== 'none') {
    const dropins = join(home, 'repository', 'components', 'dropins');
    await mkdir(dropins, { recursive: true });
    await writeFile(join(dropins, kitJarName(kit)), 'PK jar placeholder');
    const resources = join(home, 'migration-resources');
    await mkdir(resources, { recursive: true });
    if (kit === 'identity') {
      await writeFile(
        join(resources, 'migration-config.yaml'),
        options.identityConfig ?? makeIdentityMigrationConfig(),
      );
    } else {
      await writeFile(join(resources, 'README.txt'), 'API-M migration resources (test)\n');
    }
  }
  if (options.behaviour) await writeStandInConf(home, options.behaviour);
  return {
    home,
    launcher,
    carbonLog: join(home, 'repository', 'logs', 'wso2carbon.log'),
    pidFile: join(home, 'wso2carbon.pid'),
    argsFile: join(home, 'stand-in-args.log'),
  };
}

/** The arguments of every invocation of the stand-in, in order. */
export async function readStandInArgs(home: string): Promise<string[][]> {
  const text = await readFile(join(home, 'stand-in-args.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => (line === '' ? [] : line.split('\t')));
}

/** One call of the launcher: its arguments, and its environment as `NAME=value` lines. */
export interface LauncherCall {
  args: string;
  env: string[];
}

/**
 * Puts a launcher in front of the stand-in's `bin/api-manager.sh` that writes its arguments and environment to a
 * file of the home per call, and returns a function that reads them back.
 */
export async function recordLauncherEnv(home: string): Promise<() => Promise<LauncherCall[]>> {
  const bin = join(home, 'bin');
  await rename(join(bin, 'api-manager.sh'), join(bin, 'stand-in-launcher.sh'));
  await writeFile(
    join(bin, 'api-manager.sh'),
    [
      '#!/bin/sh',
      '{ echo "ARGS=$*"; env; } > "$CARBON_HOME/launcher-env.$$"',
      'exec sh "$CARBON_HOME/bin/stand-in-launcher.sh" "$@"',
      '',
    ].join('\n'),
  );
  return async () => {
    const calls: LauncherCall[] = [];
    for (const name of (await readdir(home)).filter((entry) => entry.startsWith('launcher-env.'))) {
      const [first = '', ...env] = (await readFile(join(home, name), 'utf8')).split('\n');
      calls.push({ args: first.replace(/^ARGS=/, ''), env: env.filter(Boolean) });
    }
    return calls;
  };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
