/**
 * `manifest.json`, the last file of every backup artifact: what each dump or file of the API-M home holds and how to
 * check it. One schema gives both the TypeScript type that writes it and the check that reads it back, so the two
 * cannot drift apart.
 */

import { z } from 'zod';
import { DATABASE_NAMES, DB_ENGINES } from '../config/types.js';
import { DUMP_FORMATS } from '../db/dialect.js';
import { DB_PRODUCTS } from '../db/server-info.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'apim-migrate-backup/1';

/** A plain file name: the manifest must not point outside the download folder. */
const storedFileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const byteCount = z.number().int().nonnegative();

const manifestDatabase = z.object({
  /** The configured names this physical database serves, e.g. `["apim_db", "shared_db"]`. */
  names: z.array(z.enum(DATABASE_NAMES)).min(1),
  engine: z.enum(DB_ENGINES),
  /** Where the dump was taken from (never credentials). */
  host: z.string(),
  port: z.number(),
  database: z.string(),
  server: z.object({ product: z.enum(DB_PRODUCTS), version: z.string() }),
  dumpTool: z.object({ name: z.string(), version: z.string() }),
  format: z.enum(DUMP_FORMATS),
  encrypted: z.boolean(),
  file: storedFileName,
  bytes: byteCount,
  sha256: sha256Hex,
  /** Rows of every table of the database's current schema(s): `schema.table` on PostgreSQL, `table` on MySQL. */
  rowCounts: z.record(z.string(), z.number().int().nonnegative()),
  /** `dump-snapshot`: counted inside the snapshot pg_dump used. `separate-snapshot`: see rowCountNote. */
  rowCountSnapshot: z.enum(['dump-snapshot', 'separate-snapshot']),
  rowCountNote: z.string().optional(),
  durationMs: z.number(),
});

/**
 * A path inside the API-M home, as a backup names it: relative, POSIX separators, no `.` or `..` segment and none
 * that starts with `-` (it is handed to tar). A restore writes there, so nothing else may pass.
 */
export const homeFilePathSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be a relative path of letters, digits, ".", "_", "-" and "/"')
  .refine(
    (value) => value.split('/').every((segment) => segment !== '.' && segment !== '..' && !segment.startsWith('-')),
    'must not hold a "." or ".." segment, nor one that starts with "-"',
  );

/** A path that is listed twice, or inside another: items are put back one by one, so it would be replaced twice. */
export function overlappingHomePath(paths: readonly string[]): string | undefined {
  return paths.find((value, index) =>
    paths.some((other, at) => at !== index && (value === other || value.startsWith(`${other}/`))),
  );
}

export const HOME_FILE_KINDS = ['folder', 'file'] as const;
/** What a present item has and an absent one lacks (a file has no `entries`). */
const HOME_FILE_FIELDS = ['file', 'bytes', 'sha256', 'entries', 'contentBytes'] as const;

/**
 * A file or folder of the API-M home. A folder is stored as a gzip'd tar of its path, a file as it is; either is age
 * encrypted when the backup is. An item that was absent is recorded as such: a restore removes what is there now.
 */
const manifestHomeFile = z
  .object({
    path: homeFilePathSchema,
    kind: z.enum(HOME_FILE_KINDS),
    present: z.boolean(),
    file: storedFileName.optional(),
    /** Size and sha256 of the stored file. */
    bytes: byteCount.optional(),
    sha256: sha256Hex.optional(),
    encrypted: z.boolean(),
    /** The regular files of a folder. */
    entries: byteCount.optional(),
    /** The sum of the sizes of a folder's regular files, or the file's size. */
    contentBytes: byteCount.optional(),
  })
  .superRefine((entry, context) => {
    const required: readonly string[] = !entry.present
      ? []
      : entry.kind === 'folder'
        ? HOME_FILE_FIELDS
        : HOME_FILE_FIELDS.filter((key) => key !== 'entries');
    for (const key of HOME_FILE_FIELDS) {
      const given = entry[key] !== undefined;
      if (given === required.includes(key)) continue;
      const message = given
        ? `is not allowed for ${entry.present ? 'a file' : 'an absent item'}`
        : `is required for a present ${entry.kind}`;
      context.addIssue({ code: 'custom', path: [key], message });
    }
  });

const base64 = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);

/** Proof that a holder of the backup key wrote the manifest (see authentication.ts). */
const manifestAuthentication = z.object({
  /** HMAC-SHA256 keyed by scrypt(passphrase, salt), for passphrase backups. Only this cost is accepted. */
  passphraseMac: z
    .object({
      algorithm: z.literal('hmac-sha256'),
      kdf: z.literal('scrypt'),
      n: z.literal(32_768),
      r: z.literal(8),
      p: z.literal(1),
      salt: base64,
      mac: z.string().regex(/^[0-9a-f]{64}$/),
    })
    .optional(),
  /** An Ed25519 signature with backup.signingKeyEnv's key; `publicKey` is its SPKI in base64. */
  signature: z.object({ algorithm: z.literal('ed25519'), publicKey: base64, value: base64 }).optional(),
});

export const backupManifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    stage: z.string(),
    artifact: z.string(),
    runId: z.string(),
    attempt: z.number(),
    createdAt: z.string(),
    completedAt: z.string(),
    toolVersion: z.string(),
    /** The mode and, for a recipient, the public key; never a passphrase or identity. */
    encryption: z.object({ mode: z.enum(['none', 'passphrase', 'recipient']), recipient: z.string().optional() }),
    /** Empty only in a backup of API-M home files. */
    databases: z.array(manifestDatabase),
    /** Files and folders of the API-M home (the startup stage's backup); absent in database backups. */
    homeFiles: z.array(manifestHomeFile).optional(),
    /** Written last, over everything above it; absent in backups of earlier versions. */
    authentication: manifestAuthentication.optional(),
  })
  .superRefine((manifest, context) => {
    const homeFiles = manifest.homeFiles ?? [];
    if (manifest.databases.length === 0 && homeFiles.length === 0) {
      context.addIssue({
        code: 'custom',
        path: ['databases'],
        message: 'a backup holds at least one database or home file',
      });
    }
    const paths = homeFiles.map((entry) => entry.path);
    const files = homeFiles.flatMap((entry) => (entry.file === undefined ? [] : [entry.file]));
    const taken = new Set([MANIFEST_FILE, ...manifest.databases.map((entry) => entry.file)]);
    const overlapping = overlappingHomePath(paths);
    if (overlapping !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['homeFiles'],
        message: `${overlapping} is listed twice, or inside another item`,
      });
    }
    const twice = files.find((value, index) => taken.has(value) || files.indexOf(value) !== index);
    if (twice !== undefined) {
      context.addIssue({ code: 'custom', path: ['homeFiles'], message: `file ${twice} is listed twice` });
    }
  });

export type BackupManifest = z.infer<typeof backupManifestSchema>;
export type BackupManifestDatabase = z.infer<typeof manifestDatabase>;
export type ManifestAuthentication = z.infer<typeof manifestAuthentication>;
export type BackupManifestHomeFile = z.infer<typeof manifestHomeFile>;
export type HomeFileKind = (typeof HOME_FILE_KINDS)[number];

/** A file of a backup artifact as its manifest describes it: a dump, or a stored file or folder of the home. */
export interface ManifestStoredFile {
  file: string;
  bytes: number;
  sha256: string;
  encrypted: boolean;
}

/** Every file the manifest lists (dumps first, then the home's present items), each to be checked before use. */
export function storedFilesOf(manifest: BackupManifest): ManifestStoredFile[] {
  const home = (manifest.homeFiles ?? []).flatMap((entry) =>
    entry.file === undefined || entry.bytes === undefined || entry.sha256 === undefined
      ? []
      : [{ file: entry.file, bytes: entry.bytes, sha256: entry.sha256, encrypted: entry.encrypted }],
  );
  return [...manifest.databases, ...home];
}

/** The manifest as it is stored: the same bytes for the same manifest, so a stored copy can be compared. */
export function serializeManifest(manifest: BackupManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
