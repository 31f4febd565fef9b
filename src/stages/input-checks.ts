/**
 * What a stage checks of its own input files before it does anything else: before the run folder, the lock, the
 * backup and the ledger. Bad input ends here with an InputError (exit code 2) naming the file and the fix, and
 * nothing is stored or changed. The stage's steps read the same files again; these checks only make sure they will
 * not fail on them halfway.
 */
import { readFile, stat } from 'node:fs/promises';
import { deploymentTomlPath } from '../config/load-config.js';
import type { ResolvedConfig } from '../config/types.js';
import { errorMessage, InputError, type Problem } from '../core/errors.js';
import type { Check } from '../core/check.js';
import { checkNewHome, checkOldHome, inspectApimHome } from '../wso2/apim-home.js';
import { editDeploymentToml, type EditDeploymentTomlOptions } from '../wso2/deployment-toml-edit.js';
import { editMigrationConfig } from '../wso2/migration-config-edit.js';
import { inspectMigrationKit, MIGRATION_CONFIG_PATH, readKitText, type KitKind } from '../wso2/migration-kit.js';
import { readRegistryVersioningFlags, registryXmlPath } from '../wso2/registry-flags.js';
import { configuredJavaHome, isJavaHomeProblem, resolveJavaHome } from '../server/java.js';
import { bumpReIndexing } from '../wso2/deployment-toml-edit.js';
import { readManagementPort } from '../wso2/management-port.js';
import { windowsHomeProblem } from '../server/server-command.js';
import { readServerEnvNames } from '../server/server-env-names.js';
import { BackupKeyError, checkDecryptionMode, checkEncryptionMode } from '../backup/encryption.js';
import { backupDecryption, backupEncryption, backupSigningKey, signingPublicKey } from './backup-keys.js';
import { statementCacheTargets } from '../plan/build-plan.js';

/** The folder store's folder is a folder (or does not exist yet: it is created). */
export async function checkStoreDirInput(config: ResolvedConfig): Promise<void> {
  const info = await stat(config.store.dir).catch(() => undefined);
  if (info && !info.isDirectory()) {
    throw new InputError({
      file: config.configFile,
      message: `store.dir ${config.store.dir} is not a folder: set store.dir to the folder of the artifact store (it is created when missing)`,
    });
  }
}

/** A stage that backs up can encrypt: its passphrase variable is set, its recipient is an age public key. */
export function checkBackupKeyInput(config: ResolvedConfig, env: Record<string, string | undefined>): void {
  const encryption = backupEncryption(config, env, config.store.kind);
  asConfigError(config, 'backup.recipient', () => checkEncryptionMode(encryption));
  backupSigningKey(config, env);
}

/** A restore can decrypt: the passphrase or identity variable is set, and the identity is an age secret key. */
export function checkRestoreKeyInput(config: ResolvedConfig, env: Record<string, string | undefined>): void {
  const decryption = backupDecryption(config, env);
  asConfigError(config, 'backup.identityEnv', () => checkDecryptionMode(decryption));
  signingPublicKey(config);
}

/** A key the config leads to that age refuses is a config error, named by its setting. */
function asConfigError(config: ResolvedConfig, setting: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    if (!(error instanceof BackupKeyError)) throw error;
    throw new InputError({ file: config.configFile, message: `${setting}: ${error.message}` }, { cause: error });
  }
}

/** The 3.1.0 home the data comes from, and its registry.xml, whose flags decide what the registry scripts remove. */
export async function checkOldHomeInput(config: ResolvedConfig): Promise<void> {
  const problems = failedChecks(checkOldHome(await inspectApimHome(config.oldApimHome)));
  if (problems.length > 0) throw new InputError(problems);
  await readRegistryVersioningFlags(registryXmlPath(config.oldApimHome));
}

/**
 * The 4.2.0 home the server runs from (on Windows, one cmd.exe can be given), the migration kit that goes into it
 * (none for the first normal start), the JDK it runs on, and the variables it would get from the environment.
 */
export async function checkServerRunInput(
  config: ResolvedConfig,
  env: Record<string, string | undefined>,
  kit: { path: string; kind: KitKind } | undefined,
  platform: NodeJS.Platform = process.platform,
): Promise<void> {
  const problems = failedChecks(checkNewHome(await inspectApimHome(config.apimHome)));
  const windowsHome = platform === 'win32' ? windowsHomeProblem(config.apimHome) : undefined;
  if (windowsHome !== undefined) problems.push({ file: config.configFile, message: windowsHome });
  if (kit !== undefined) {
    const inspection = await inspectMigrationKit(kit.path, kit.kind);
    problems.push(...inspection.problems.map((message) => ({ message })));
  }
  const javaHome = await resolveJavaHome({ env, ...configuredJavaHome(config) });
  if (isJavaHomeProblem(javaHome)) problems.push({ file: config.configFile, message: javaHome.problem });
  if (problems.length > 0) throw new InputError(problems);
  await readServerEnvNames(config);
}

function failedChecks(checks: readonly Check[]): Problem[] {
  return checks.filter((check) => check.verdict === 'fail').map((check) => ({ message: check.message }));
}

/** The identity kit's migration-config.yaml takes the edits WSO2's guide asks for. */
export async function checkIdentityConfigInput(config: ResolvedConfig): Promise<void> {
  const identity = config.identity;
  if (!identity) return;
  const file = `${identity.migrationKit}: ${MIGRATION_CONFIG_PATH}`;
  const text = await readKitText(identity.migrationKit, 'identity', MIGRATION_CONFIG_PATH);
  if (text === undefined) {
    throw new InputError({
      file: identity.migrationKit,
      message: `has no ${MIGRATION_CONFIG_PATH}; give the identity migration kit as WSO2 ships it (wso2is-migration-x.y.z.zip)`,
    });
  }
  editMigrationConfig(text, { targetVersion: identity.targetVersion, file });
}

/** deployment.toml takes the edits the stage will make (the edit re-parses its result). */
export async function checkDeploymentTomlInput(
  config: ResolvedConfig,
  edits: Pick<EditDeploymentTomlOptions, 'userStoreUniqueId'> & { statementCache: boolean },
): Promise<void> {
  const addStatementCacheParam = edits.statementCache ? statementCacheTargets(config) : [];
  if (addStatementCacheParam.length === 0 && !edits.userStoreUniqueId) return;
  const { file, text } = await readDeploymentTomlInput(config);
  editDeploymentToml(text, { file, addStatementCacheParam, userStoreUniqueId: edits.userStoreUniqueId });
}

/**
 * The startup stage's input: the variables that hold the admin's credentials are set when the config names them, and
 * deployment.toml takes the re_indexing edit and gives a management port.
 */
export async function checkStartupInput(
  config: ResolvedConfig,
  env: Record<string, string | undefined>,
): Promise<void> {
  const problems: Problem[] = [];
  const { adminUserEnv, adminPasswordEnv } = config.startup;
  for (const [key, name, what] of [
    ['adminUserEnv', adminUserEnv, 'user name'],
    ['adminPasswordEnv', adminPasswordEnv, 'password'],
  ] as const) {
    if (name !== undefined && !env[name]) {
      problems.push({
        file: config.configFile,
        message: `startup.${key} names ${name}, which is not set: set it to the admin's ${what} (a secret in GitHub), or remove startup.adminUserEnv and startup.adminPasswordEnv to skip the Publisher API's count`,
      });
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  const { file, text } = await readDeploymentTomlInput(config);
  bumpReIndexing(text, file);
  readManagementPort(text, file);
}

/** deployment.toml of the 4.2.0 home, or an InputError that says it cannot be read. */
async function readDeploymentTomlInput(config: ResolvedConfig): Promise<{ file: string; text: string }> {
  const file = deploymentTomlPath(config.apimHome);
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new InputError(
      { file, message: `cannot be read (${errorMessage(error)}); apimHome must be the API-M 4.2.0 home` },
      { cause: error },
    );
  });
  return { file, text };
}
