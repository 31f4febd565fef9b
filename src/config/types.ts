/** The resolved, validated configuration that every stage works from. */

export const DATABASE_NAMES = ['apim_db', 'shared_db', 'config', 'user'] as const;
export type DatabaseName = (typeof DATABASE_NAMES)[number];

/** The database engines apim-migrate can work on. */
export const DB_ENGINES = ['postgresql', 'mysql', 'mariadb'] as const;
export type DbEngine = (typeof DB_ENGINES)[number];

/** A JDBC URL taken apart. Only the engines apim-migrate supports come out of the parser. */
export interface JdbcUrl {
  engine: DbEngine;
  host: string;
  port: number;
  database: string;
  /** URL parameters in their order, e.g. `{ useSSL: 'false' }`. */
  params: Record<string, string>;
}

/** One logical database of the deployment (`[database.<name>]`), ready to connect to. */
export interface DatabaseTarget {
  name: DatabaseName;
  engine: DbEngine;
  /** The JDBC URL as written (passwords never appear in JDBC URLs that WSO2 reads). */
  url: string;
  host: string;
  port: number;
  database: string;
  params: Record<string, string>;
  username: string;
  password: string;
  /** Where the entry came from, for messages. */
  source: 'config' | 'deployment.toml';
}

export type KeyManager = 'resident' | 'is';
export type IdentityTargetVersion = '6.0.0' | '6.1.0';

export interface ResolvedConfig {
  /** Absolute path of the config file. */
  configFile: string;
  apimHome: string;
  oldApimHome: string;
  profile?: 'control-plane';
  keyManager: KeyManager;
  isHealthUrl?: string;
  strictDbmsCheck: boolean;
  identity?: {
    migrationKit: string;
    targetVersion: IdentityTargetVersion;
    uniqueIdUserStore: boolean;
    userStoreManagersMigrated: boolean;
  };
  apim: {
    migrationKit: string;
    saveInvalidDefinitions: boolean;
    allowInvalidDefinitions: boolean;
  };
  databases: DatabaseTarget[];
  backup: {
    passphraseEnv?: string;
    recipient?: string;
    identityEnv?: string;
    retentionDays: number;
    allowPlaintextBackups: boolean;
    /** The variable that holds the Ed25519 private key that signs new backups' manifests. */
    signingKeyEnv?: string;
    /** The Ed25519 public key that checks signed manifests. */
    signingPublicKey?: string;
    /** Workflow files whose runs' backups may be restored from another run in GitHub Actions. */
    trustedWorkflows?: string[];
  };
  server: {
    timeoutMinutes: number;
    stopGraceSeconds: number;
    /** Patterns of migration-client ERROR lines that do not fail a run, added to WSO2's known harmless one. */
    harmlessErrors: string[];
    /** Absolute path of the JDK for the launcher's JAVA_HOME, when the config names one. */
    javaHome?: string;
    /** ERROR lines of the server outside the client's window fail the stage too. */
    failOnAnyError: boolean;
    /** How long the identity client may take to appear after "Waiting for migration client.". */
    clientStartSeconds: number;
    /** After this long without a server log line, the run monitor warns (once per silent stretch). */
    stallWarnMinutes: number;
    /** Environment variables passed to the API-M server besides the ones it needs. */
    env: string[];
  };
  startup: {
    /** The variables that hold the admin's credentials for the Publisher API (both or neither). */
    adminUserEnv?: string;
    adminPasswordEnv?: string;
    /** How long to wait until the Publisher API lists every super-tenant API of AM_API. */
    indexWaitMinutes: number;
    /** Leave the server running after the checks. */
    leaveRunning: boolean;
  };
  store: StoreConfig;
}

/** Where artifacts go: GitHub's artifact service, a folder, or an S3 bucket (README, "Artifacts and stores"). */
export const STORE_KINDS = ['github', 'folder', 's3'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** `store`, resolved: the kind (defaulted by where apim-migrate runs) and its settings. Never a credential. */
export interface StoreConfig {
  kind: StoreKind;
  /** Absolute path of the folder store (`store.dir`, default `.apim-migrate`); used by kind `folder`. */
  dir: string;
  /** Share the folder store with the owner's group (0750/0640) instead of the owner only (0700/0600). */
  groupAccess: boolean;
  /** The bucket's settings, with kind `s3`. */
  s3?: S3StoreConfig;
}

export interface S3StoreConfig {
  bucket: string;
  /** The key prefix the store's objects go under, without slashes at either end; '' for the bucket's root. */
  prefix: string;
  /** `store.region`, else AWS_REGION, else AWS_DEFAULT_REGION. */
  region: string;
  /** An http(s) URL of an S3-compatible service (MinIO, Ceph RGW); AWS's own endpoint when absent. */
  endpoint?: string;
  /** Bucket in the path (`https://host/bucket/key`) instead of the host name: what most S3-compatible services need. */
  forcePathStyle: boolean;
}

/** Versioning flags of the old registry.xml `<staticConfiguration>`. */
export interface RegistryVersioningFlags {
  properties: boolean;
  comments: boolean;
  tags: boolean;
  ratings: boolean;
}
