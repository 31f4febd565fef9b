import { z } from 'zod';

/**
 * The schema of `apim-migration.yml`. Every object is strict: an unknown key is an error
 * that names the key, because a typo in a migration config must never be silently ignored.
 */

const path = z.string().trim().min(1, 'must be a path');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const positive = z.number().positive();

const databaseEntry = z.strictObject({
  url: z.string().min(1).optional(),
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  type: z.string().min(1).optional(),
});

export const configSchema = z.strictObject({
  apimHome: path,
  oldApimHome: path,
  profile: z.literal('control-plane').optional(),
  keyManager: z.enum(['resident', 'is']).default('resident'),
  isHealthUrl: z.url({ protocol: /^https?$/ }).optional(),
  strictDbmsCheck: z.boolean().default(false),
  identity: z
    .strictObject({
      migrationKit: path,
      targetVersion: z.enum(['6.0.0', '6.1.0']),
      uniqueIdUserStore: z.boolean().default(false),
      /** With uniqueIdUserStore: the user-store managers were migrated as WSO2 Support's guidelines ask. */
      userStoreManagersMigrated: z.boolean().default(false),
    })
    .optional(),
  apim: z.strictObject({
    migrationKit: path,
    saveInvalidDefinitions: z.boolean().default(true),
    allowInvalidDefinitions: z.boolean().default(false),
  }),
  databases: z
    .strictObject({
      apim_db: databaseEntry.optional(),
      shared_db: databaseEntry.optional(),
      config: databaseEntry.optional(),
      user: databaseEntry.optional(),
    })
    .optional(),
  backup: z
    .strictObject({
      passphraseEnv: envName.optional(),
      recipient: z
        .string()
        .regex(/^age1[0-9a-z]+$/, 'must be an age public key (age1...)')
        .optional(),
      identityEnv: envName.optional(),
      retentionDays: z.number().int().min(1).max(90).default(30),
      allowPlaintextBackups: z.boolean().default(false),
      /** The variable that holds the Ed25519 private key (PKCS#8 PEM) that signs new backups' manifests. */
      signingKeyEnv: envName.optional(),
      /** The Ed25519 public key (SPKI, base64 or PEM) that checks the manifests of backups from unrecorded runs. */
      signingPublicKey: z
        .string()
        .trim()
        .regex(
          /^(?:-----BEGIN PUBLIC KEY-----\s+)?[A-Za-z0-9+/=\s]+(?:-----END PUBLIC KEY-----)?$/,
          'must be an Ed25519 public key: the base64 line of `openssl pkey -pubout`, or the whole PEM',
        )
        .optional(),
      /**
       * Workflow files whose runs' backups may be restored from another run inside GitHub Actions, e.g.
       * `.github/workflows/migrate.yml`. Default: this run's own workflow, migrate.yml and rehearsal.yml.
       */
      trustedWorkflows: z
        .array(
          z
            .string()
            .regex(/^\.github\/workflows\/[^/\s]+\.ya?ml$/, 'must be a path such as .github/workflows/migrate.yml'),
        )
        .optional(),
    })
    .default({ retentionDays: 30, allowPlaintextBackups: false }),
  server: z
    .strictObject({
      timeoutMinutes: positive.default(180),
      stopGraceSeconds: positive.default(60),
      /** Regular expressions of migration-client ERROR lines that do not fail a run, besides WSO2's own. */
      harmlessErrors: z.array(z.string().min(1).refine(isRegExp, 'must be a valid regular expression')).default([]),
      /** The JDK the launcher gets as JAVA_HOME; default the environment's JAVA_HOME, else the JDK of `java` on PATH. */
      javaHome: path.optional(),
      /** ERROR lines outside the migration client's window fail the stage too, as WSO2's own test runs do. */
      failOnAnyError: z.boolean().default(false),
      /** After the identity core's "Waiting for migration client.", how long the client may take to show up. */
      clientStartSeconds: positive.default(300),
      /** A server log silent this long gets one warning per silent stretch; the server is never stopped for it. */
      stallWarnMinutes: positive.default(15),
      /** Environment variables the API-M server gets besides the ones it needs (see docs/security.md). */
      env: z.array(envName).default([]),
    })
    .default({
      env: [],
      timeoutMinutes: 180,
      stopGraceSeconds: 60,
      harmlessErrors: [],
      failOnAnyError: false,
      clientStartSeconds: 300,
      stallWarnMinutes: 15,
    }),
  startup: z
    .strictObject({
      /** The variable that holds the admin's user name, for the Publisher API's count of APIs. */
      adminUserEnv: envName.optional(),
      /** The variable that holds the admin's password; set with adminUserEnv or not at all. */
      adminPasswordEnv: envName.optional(),
      /** How long the Publisher API may take to list every super-tenant API of AM_API (the new index complete). */
      indexWaitMinutes: positive.default(30),
      /** Leave the server running after the checks: the first start after the migration is then the live one. */
      leaveRunning: z.boolean().default(false),
    })
    .default({ indexWaitMinutes: 30, leaveRunning: false }),
  store: z
    .strictObject({
      dir: path.default('.apim-migrate'),
      /** Folders 0750 and files 0640 instead of 0700 and 0600: for runner accounts of one group sharing the store. */
      groupAccess: z.boolean().default(false),
    })
    .default({ dir: '.apim-migrate', groupAccess: false }),
});

export type ConfigFile = z.infer<typeof configSchema>;

export interface RuleViolation {
  path: (string | number)[];
  message: string;
}

/**
 * Rules that tie several keys together. They read the raw document defensively so that they
 * run, and are reported, in the same pass as the schema's own problems.
 */
export function checkCrossFieldRules(raw: unknown): RuleViolation[] {
  if (!isRecord(raw)) return [];
  const violations: RuleViolation[] = [];
  const keyManager = raw['keyManager'] ?? 'resident';
  if (keyManager === 'is' && raw['isHealthUrl'] === undefined) {
    violations.push({
      path: ['keyManager'],
      message: 'keyManager "is" needs isHealthUrl: the IS health-check URL that must answer during the API-M stages',
    });
  }
  if (keyManager === 'resident' && raw['identity'] === undefined) {
    violations.push({
      path: ['keyManager'],
      message:
        'with the resident Key Manager (the default) the identity stage runs: add identity.migrationKit and identity.targetVersion, or set keyManager: is',
    });
  }
  const identity = raw['identity'];
  if (isRecord(identity) && identity['uniqueIdUserStore'] === true && identity['userStoreManagersMigrated'] !== true) {
    violations.push({
      path: ['identity', 'uniqueIdUserStore'],
      message:
        'identity.uniqueIdUserStore: true also needs identity.userStoreManagersMigrated: true. WSO2\'s guide (Data Migration, steps 2.7 and 2.10) ties [user_store] type = "database_unique_id" to a migration of the user-store managers done with WSO2 Support\'s guidelines: do that first, then say so with identity.userStoreManagersMigrated: true; or set identity.uniqueIdUserStore: false',
    });
  }
  const backup = raw['backup'];
  if (isRecord(backup)) {
    if (backup['passphraseEnv'] !== undefined && backup['recipient'] !== undefined) {
      violations.push({
        path: ['backup', 'recipient'],
        message: 'set either backup.passphraseEnv or backup.recipient, not both',
      });
    }
    if (backup['signingKeyEnv'] !== undefined && backup['signingPublicKey'] === undefined) {
      violations.push({
        path: ['backup', 'signingKeyEnv'],
        message:
          'backup.signingKeyEnv needs backup.signingPublicKey: the public key of the signing key, which restores check signatures with (openssl pkey -in signing-key.pem -pubout)',
      });
    }
    if (backup['recipient'] !== undefined && backup['identityEnv'] === undefined) {
      violations.push({
        path: ['backup', 'recipient'],
        message:
          'backup.recipient needs backup.identityEnv: the variable that holds the age identity used for restores',
      });
    }
  }
  const startup = raw['startup'];
  if (isRecord(startup) && (startup['adminUserEnv'] === undefined) !== (startup['adminPasswordEnv'] === undefined)) {
    violations.push({
      path: ['startup', startup['adminUserEnv'] === undefined ? 'adminPasswordEnv' : 'adminUserEnv'],
      message:
        'startup.adminUserEnv and startup.adminPasswordEnv go together: set both (the variables that hold the admin user and password the Publisher API is read with) or neither',
    });
  }
  return violations;
}

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
