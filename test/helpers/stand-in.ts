/**
 * The stand-in API-M server (test/stand-in-apim/bin/api-manager.sh) in a test home: installs the launcher, a
 * migration kit and the behaviour switches, and reads back the arguments the stand-in was started with.
 */
import { access, chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kitJarName, makeApimHome } from './wso2-fixtures.js';

/** The stand-in launcher in the repository. */
export const STAND_IN_LAUNCHER = fileURLToPath(new URL('../stand-in-apim/bin/api-manager.sh', import.meta.url));

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
}

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
  const launcher = join(home, 'bin', 'api-manager.sh');
  await mkdir(join(home, 'bin'), { recursive: true });
  await copyFile(STAND_IN_LAUNCHER, launcher);
  await chmod(launcher, 0o755);
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

/** Writes `<HOME>/stand-in.conf`. */
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
  ].filter((line): line is string => typeof line === 'string');
  await writeFile(join(home, 'stand-in.conf'), ['# written by test/helpers/stand-in.ts', ...lines, ''].join('\n'));
}

/** The arguments of every invocation of the stand-in, in order. */
export async function readStandInArgs(home: string): Promise<string[][]> {
  const text = await readFile(join(home, 'stand-in-args.log'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => (line === '' ? [] : line.split('\t')));
}

export interface IdentityConfigOptions {
  currentVersion?: string;
  migrateVersion?: string;
  /** Keep the migrators API-M must not run (the ones WSO2's guide says to remove). */
  keepRemovedMigrators?: boolean;
  /** Extra top-level lines, e.g. an unknown key. */
  extraTopLevel?: string[];
}

/**
 * A migration-config.yaml shaped like the identity client's (comments, mixed list styles), already edited as
 * WSO2's guide says unless `keepRemovedMigrators`.
 */
export function makeIdentityMigrationConfig(options: IdentityConfigOptions = {}): string {
  const removed = options.keepRemovedMigrators ?? false;
  return [
    'migrationEnable: "true"',
    '',
    '# Migration Start Version',
    `currentVersion: "${options.currentVersion ?? '5.10.0'}"`,
    '# Migration End Version',
    `migrateVersion: "${options.migrateVersion ?? '6.0.0'}"`,
    '',
    'continueOnError: "false"',
    'batchUpdate: "true"',
    'ignoreForInactiveTenants: "true"',
    'migrateTenantRange: "false"',
    'migrationStartingTenantID: "0"',
    'migrationEndingTenantID: "0"',
    ...(options.extraTopLevel ?? []),
    '',
    'versions:',
    ' -',
    '   version: "5.10.0"',
    '   migratorConfigs:',
    '   - name: "SchemaMigrator"',
    '     order: 1',
    ' -',
    '   version: "5.11.0"',
    '   migratorConfigs:',
    ...(removed
      ? [
          '   -',
          '     name: "EncryptionAdminFlowMigrator"',
          '     order: 1',
          '   -',
          '     name: "EncryptionUserFlowMigrator"',
          '     order: 2',
        ]
      : []),
    '   -',
    '    name: "SchemaMigrator"',
    '    order: 3',
    '    parameters:',
    '      location: "step1"',
    '      schema: "um"',
    '   - name: "GroupsAndRolesMigrator"',
    '     order: 4',
    '     # parameters:',
    '       # reportPath:',
    ...(removed ? ['   - name: "SCIMGroupRoleMigrator"', '     order: 18'] : []),
    ' -',
    '   version: "6.0.0"',
    '   migratorConfigs:',
    '   - name: "SchemaMigrator"',
    '     order: 3',
    '     parameters:',
    '       location: "step2"',
    '       schema: "identity"',
    '',
    ...(removed
      ? [
          '   - name: "SchemaMigrator"',
          '     order: 4',
          '     parameters:',
          '       location: "step3"',
          '       schema: "consent"',
          '',
        ]
      : []),
    '   - name: "SchemaMigrator"',
    '     order: 11',
    '     parameters:',
    '       location: "step7"',
    '       schema: "consent"',
    '',
    '   - name: "RecoveryDataMigrator"',
    '     order: 13',
    '',
  ].join('\n');
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
