/**
 * `manifest.json`, the last file of every backup artifact: what each dump holds and how to check it. One schema gives
 * both the TypeScript type that writes it and the check that reads it back, so the two cannot drift apart.
 */

import { z } from 'zod';
import { DATABASE_NAMES, DB_ENGINES } from '../config/types.js';
import { DUMP_FORMATS } from '../db/dialect.js';
import { DB_PRODUCTS } from '../db/server-info.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'apim-migrate-backup/1';

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
  /** A plain file name: the manifest must not point outside the download folder. */
  file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Rows of every table of the database's current schema(s): `schema.table` on PostgreSQL, `table` on MySQL. */
  rowCounts: z.record(z.string(), z.number().int().nonnegative()),
  /** `dump-snapshot`: counted inside the snapshot pg_dump used. `separate-snapshot`: see rowCountNote. */
  rowCountSnapshot: z.enum(['dump-snapshot', 'separate-snapshot']),
  rowCountNote: z.string().optional(),
  durationMs: z.number(),
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

export const backupManifestSchema = z.object({
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
  databases: z.array(manifestDatabase).min(1),
  /** Written last, over everything above it; absent in backups of earlier versions. */
  authentication: manifestAuthentication.optional(),
});

export type BackupManifest = z.infer<typeof backupManifestSchema>;
export type BackupManifestDatabase = z.infer<typeof manifestDatabase>;
export type ManifestAuthentication = z.infer<typeof manifestAuthentication>;

/** The manifest as it is stored: the same bytes for the same manifest, so a stored copy can be compared. */
export function serializeManifest(manifest: BackupManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
