import { z } from 'zod';
import { isGitHubActions } from '../core/github-actions.js';
import { STORE_KINDS, type StoreKind } from './types.js';

/**
 * The schema of `apim-migration.yml`. Every object is strict: an unknown key is an error
 * that names the key, because a typo in a migration config must never be silently ignored.
 */

const path = z.string().trim().min(1, 'must be a path');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const positive = z.number().positive();

/** An object key prefix: segments of S3's safe characters, no empty, `.` or `..` one; a trailing slash is dropped. */
function isKeyPrefix(value: string): boolean {
  if (value === '') return true;
  const segments = value.replace(/\/$/, '').split('/');
  return segments.every((segment) => /^[A-Za-z0-9!_.*'()-]+$/.test(segment) && segment !== '.' && segment !== '..');
}

/** A URL without user and password: the store's credentials come from the AWS SDK's chain, never from the config. */
function hasNoCredentials(value: string): boolean {
  const url = URL.parse(value);
  return url === null || (url.username === '' && url.password === '');
}

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
  /** Which keys go with which kind is checked by {@link checkStoreRules}, which knows where apim-migrate runs. */
  store: z
    .strictObject({
      /** github (the default inside GitHub Actions), folder (the default elsewhere) or s3. */
      kind: z.enum(STORE_KINDS).optional(),
      /** folder: where the store is; default `.apim-migrate`. */
      dir: path.optional(),
      /** folder: folders 0750 and files 0640 instead of 0700 and 0600, for runner accounts of one group. */
      groupAccess: z.boolean().optional(),
      bucket: z
        .string()
        .regex(
          /^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/,
          'must be a bucket name: letters, digits, dots, hyphens and underscores, at least 3',
        )
        .optional(),
      prefix: z
        .string()
        .refine(
          isKeyPrefix,
          "must be a key prefix such as migrations/prod: segments of letters, digits and . _ - ! * ' ( ) separated by /, none empty, . or .., no leading /",
        )
        .optional(),
      region: z
        .string()
        .regex(/^[A-Za-z0-9_-]+$/, 'must be a region name such as eu-west-1')
        .optional(),
      endpoint: z
        .url({ protocol: /^https?$/ })
        .refine(
          hasNoCredentials,
          'must not hold a user or password: the credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, a role)',
        )
        .optional(),
      forcePathStyle: z.boolean().optional(),
    })
    .default({}),
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

/** The keys of `store` that each kind takes, besides `kind`. */
const STORE_KEYS: Readonly<Record<StoreKind, readonly string[]>> = {
  github: [],
  folder: ['dir', 'groupAccess'],
  s3: ['bucket', 'prefix', 'region', 'endpoint', 'forcePathStyle'],
};

/** `store.kind` as written, or where apim-migrate runs decides: GitHub's artifact service inside Actions, else a folder. */
export function storeKindOf(kind: StoreKind | undefined, env: Record<string, string | undefined>): StoreKind {
  return kind ?? (isGitHubActions(env) ? 'github' : 'folder');
}

/**
 * The `store` rules that depend on the kind, and so on where apim-migrate runs: a key of another kind is an error
 * (one config can serve the CLI and the action when the kind is left to default: `dir` and `groupAccess` then apply
 * outside Actions only), github needs Actions, s3 needs a bucket and a region.
 */
export function checkStoreRules(raw: unknown, env: Record<string, string | undefined>): RuleViolation[] {
  const store = isRecord(raw) ? raw['store'] : undefined;
  if (!isRecord(store)) return [];
  const written = store['kind'];
  // A kind that is not one of the three is the schema's to report.
  if (written !== undefined && !STORE_KINDS.includes(written as StoreKind)) return [];
  const kind = storeKindOf(written as StoreKind | undefined, env);
  const owner = (key: string) => STORE_KINDS.find((candidate) => STORE_KEYS[candidate].includes(key));
  const violations: RuleViolation[] = [];
  for (const key of Object.keys(store)) {
    const belongs = owner(key);
    if (belongs === undefined || belongs === kind) continue;
    if (written === undefined && belongs === 'folder') continue;
    violations.push({
      path: ['store', key],
      message:
        written === undefined
          ? `is a setting of store.kind ${belongs}, and the store here is ${kind} (the default ${isGitHubActions(env) ? 'inside' : 'outside'} GitHub Actions): add store.kind: ${belongs}, or remove it`
          : `is a setting of store.kind ${belongs}, not ${kind}: remove it, or set store.kind: ${belongs}`,
    });
  }
  if (kind === 'github' && !isGitHubActions(env)) {
    violations.push({
      path: ['store', 'kind'],
      message:
        "github (GitHub's artifact service) works only inside GitHub Actions: here, set store.kind: folder (with store.dir) or s3 (with store.bucket)",
    });
  }
  if (kind === 's3') {
    if (store['bucket'] === undefined) {
      violations.push({
        path: ['store', 'kind'],
        message: 's3 needs store.bucket: the bucket that holds the artifacts',
      });
    }
    if (store['region'] === undefined && !env['AWS_REGION'] && !env['AWS_DEFAULT_REGION']) {
      violations.push({
        path: ['store', 'kind'],
        message:
          "s3 needs store.region (the bucket's region, e.g. eu-west-1; an S3-compatible service names its own, often us-east-1), unless AWS_REGION or AWS_DEFAULT_REGION is set",
      });
    }
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
