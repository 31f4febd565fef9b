/**
 * The files of the demo's sandbox, shaped like the real ones: the identity client's migration-config.yaml (before
 * the edits WSO2's guide asks for), the old home's registry.xml, and the new home's deployment.toml.
 */
import type { RegistryVersioningFlags } from '../config/types.js';

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

const FLAG_ELEMENTS: Record<keyof RegistryVersioningFlags, string> = {
  properties: 'versioningProperties',
  comments: 'versioningComments',
  tags: 'versioningTags',
  ratings: 'versioningRatings',
};

/** The `<staticConfiguration>` part of API-M 3.1.0's registry.xml, with these versioning flags. */
export function makeSandboxRegistryXml(flags: RegistryVersioningFlags): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!-- registry.xml of the apim-migrate demo sandbox (a simulation) -->',
    '<wso2registry>',
    '    <currentDBConfig>wso2registry</currentDBConfig>',
    '    <readOnly>false</readOnly>',
    '    <enableCache>true</enableCache>',
    '    <registryRoot>/</registryRoot>',
    '    <!-- NOTE: You can edit the options under "StaticConfiguration" only before the startup. -->',
    '    <staticConfiguration>',
    ...(Object.keys(FLAG_ELEMENTS) as Array<keyof RegistryVersioningFlags>).map(
      (flag) => `        <${FLAG_ELEMENTS[flag]}>${String(flags[flag])}</${FLAG_ELEMENTS[flag]}>`,
    ),
    '        <servicePath>/trunk/services/</servicePath>',
    '    </staticConfiguration>',
    '    <versionResourcesOnChange>false</versionResourcesOnChange>',
    '</wso2registry>',
    '',
  ].join('\n');
}

/** One `[database.<name>]` table of deployment.toml. */
export interface DeploymentDatabaseEntry {
  name: string;
  /** WSO2's type: `postgre`, `mysql`, ... */
  type: string;
  url: string;
  username: string;
  /** The environment variable the password is read from (`$env{}`). */
  passwordEnv: string;
  driver: string;
}

/**
 * A deployment.toml shaped like a 4.2.0 one, with these database tables, `[server] offset` (default 0) and the
 * `[super_admin]` (default admin/admin).
 */
export function makeDeploymentToml(
  title: string,
  databases: readonly DeploymentDatabaseEntry[],
  options: { offset?: number; admin?: { user: string; password: string } } = {},
): string {
  return [
    `# ${title}`,
    '[server]',
    'hostname = "localhost"',
    `offset = ${options.offset ?? 0}`,
    '',
    '[super_admin]',
    `username = "${options.admin?.user ?? 'admin'}"`,
    `password = "${options.admin?.password ?? 'admin'}"`,
    'create_admin_account = true',
    '',
    ...databases.flatMap((db) => [
      `[database.${db.name}]`,
      `type = "${db.type}"`,
      `url = "${db.url}"`,
      `username = "${db.username}"`,
      `password = "$env{${db.passwordEnv}}"`,
      `driver = "${db.driver}"`,
      'validationQuery = "SELECT 1"',
      '',
    ]),
  ].join('\n');
}
