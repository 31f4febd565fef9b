/**
 * Proof that a backup's manifest was written by a holder of the backup key. A backup that the ledger records is
 * trusted through the manifest digest the ledger pins; one from a run the ledger never saw (named with
 * `--from-run`) must carry this proof, or anyone who can put an artifact in the store could have it restored.
 *
 * - Passphrase backups: an HMAC-SHA256 keyed by scrypt(passphrase, salt). Only a holder of the passphrase, who could
 *   decrypt the dumps anyway, can make one.
 * - Any backup, and the only proof for recipient backups (anyone with the public key can encrypt to it): an Ed25519
 *   signature made with `backup.signingKeyEnv`'s private key, checked with `backup.signingPublicKey`.
 *
 * Both cover the manifest's canonical text without its `authentication` field, behind a domain-separation line.
 * The manifest's sha256 of every dump then ties the dumps to it.
 */

import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  scrypt,
  sign,
  timingSafeEqual,
  verify,
  createHmac,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { errorMessage } from '../core/errors.js';
import { serializeManifest, type BackupManifest, type ManifestAuthentication } from './manifest.js';

/** What the manifest's authentication covers, before the manifest's own text. */
const DOMAIN = 'apim-migrate-backup-manifest-authentication/1\n';

/** scrypt's cost for the manifest key: 32 MiB and about 0.1 s, like age's own passphrase work factor class. */
export const MANIFEST_SCRYPT = { n: 32_768, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** A key in the config or the environment that is not an Ed25519 key of the right kind. */
export class SigningKeyError extends Error {
  readonly exitCode = 2;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SigningKeyError';
  }
}

export interface ManifestSigner {
  /** The backup passphrase: the manifest gets an HMAC keyed from it. */
  passphrase?: string;
  /** `backup.signingKeyEnv`'s key: the manifest gets an Ed25519 signature. */
  signingKey?: KeyObject;
}

export interface ManifestVerifier {
  /** The passphrase given for the restore. */
  passphrase?: string;
  /** `backup.signingPublicKey`. */
  signingPublicKey?: KeyObject;
}

/** Reads `backup.signingPublicKey`: the base64 line of `openssl pkey -pubout`, or the whole PEM. */
export function parseSigningPublicKey(text: string): KeyObject {
  const body = text
    .replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '')
    .replace(/\s+/g, '')
    .trim();
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(body, 'base64'), format: 'der', type: 'spki' });
  } catch (error) {
    throw new SigningKeyError(
      `backup.signingPublicKey is not a public key (${errorMessage(error)}): give the base64 line that ` +
        '`openssl pkey -in signing-key.pem -pubout` prints between its BEGIN and END lines',
      { cause: error },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(
      `backup.signingPublicKey is an ${key.asymmetricKeyType ?? 'unknown'} key; apim-migrate signs with Ed25519 (openssl genpkey -algorithm ed25519)`,
    );
  }
  return key;
}

/** Reads the private key in `variable`: a PKCS#8 PEM (`openssl genpkey -algorithm ed25519`). */
export function parseSigningKey(text: string, variable: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text.trim(), format: 'pem' });
  } catch (error) {
    // The message of a key that does not parse never quotes the key.
    throw new SigningKeyError(
      `${variable} does not hold a private key in PEM form (${errorMessage(error).split('\n')[0] ?? ''}): create one ` +
        'with `openssl genpkey -algorithm ed25519 -out signing-key.pem` and put the whole file in the variable',
      { cause: error },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(
      `${variable} holds an ${key.asymmetricKeyType ?? 'unknown'} key; apim-migrate signs with Ed25519 (openssl genpkey -algorithm ed25519)`,
    );
  }
  return key;
}

/** The SPKI of a public key in base64: how the manifest names the key that signed it. */
export function publicKeyText(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
}

/** The manifest with its authentication: an HMAC for a passphrase, a signature for a signing key. */
export async function authenticateManifest(manifest: BackupManifest, signer: ManifestSigner): Promise<BackupManifest> {
  const { authentication: _none, ...rest } = manifest;
  const covered = coveredBytes(serializeManifest(rest));
  const authentication: ManifestAuthentication = {};
  if (signer.passphrase !== undefined) {
    const salt = randomBytes(16);
    const key = await manifestKey(signer.passphrase, salt);
    authentication.passphraseMac = {
      algorithm: 'hmac-sha256',
      kdf: 'scrypt',
      ...MANIFEST_SCRYPT,
      salt: salt.toString('base64'),
      mac: createHmac('sha256', key).update(covered).digest('hex'),
    };
  }
  if (signer.signingKey !== undefined) {
    authentication.signature = {
      algorithm: 'ed25519',
      publicKey: publicKeyText(signer.signingKey),
      value: sign(null, covered, signer.signingKey).toString('base64'),
    };
  }
  return Object.keys(authentication).length === 0 ? rest : { ...rest, authentication };
}

/** How a manifest proved itself, for the log: e.g. "an HMAC of the backup passphrase". */
export type Proof = 'passphrase' | 'signature';

/**
 * Checks the authentication of a manifest as it was stored (`text`, parsed as `manifest`). Returns what proved it;
 * throws `ManifestAuthenticationError` when nothing the verifier holds proves it, or a proof is false.
 */
export async function verifyManifestAuthentication(
  text: string,
  manifest: BackupManifest,
  verifier: ManifestVerifier,
): Promise<Proof[]> {
  const authentication = manifest.authentication;
  if (authentication === undefined) {
    throw new ManifestAuthenticationError(
      'its manifest carries no authentication (backups made before apim-migrate authenticated manifests, or ' +
        'made without a passphrase or signing key, cannot prove where they come from)',
    );
  }
  const covered = coveredBytes(canonicalWithoutAuthentication(text));
  const proofs: Proof[] = [];
  const mac = authentication.passphraseMac;
  if (mac !== undefined && verifier.passphrase !== undefined) {
    const key = await manifestKey(verifier.passphrase, Buffer.from(mac.salt, 'base64'));
    const expected = createHmac('sha256', key).update(covered).digest();
    const actual = Buffer.from(mac.mac, 'hex');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new ManifestAuthenticationError(
        "its manifest's HMAC does not match the backup passphrase: the manifest was written or altered by someone " +
          'without this passphrase',
      );
    }
    proofs.push('passphrase');
  }
  const signature = authentication.signature;
  if (signature !== undefined && verifier.signingPublicKey !== undefined) {
    const trusted = publicKeyText(verifier.signingPublicKey);
    if (signature.publicKey !== trusted) {
      throw new ManifestAuthenticationError(
        'its manifest is signed with another key than backup.signingPublicKey (signed by ' +
          `${signature.publicKey.slice(-16)}..., the config trusts ${trusted.slice(-16)}...)`,
      );
    }
    if (!verify(null, covered, verifier.signingPublicKey, Buffer.from(signature.value, 'base64'))) {
      throw new ManifestAuthenticationError(
        "its manifest's signature does not verify with backup.signingPublicKey: the manifest was altered after it was signed",
      );
    }
    proofs.push('signature');
  }
  if (proofs.length === 0) {
    const has = [mac ? 'an HMAC of a backup passphrase' : '', signature ? 'an Ed25519 signature' : ''].filter(Boolean);
    const can = [
      verifier.passphrase !== undefined ? 'a passphrase' : '',
      verifier.signingPublicKey !== undefined ? 'backup.signingPublicKey' : '',
    ].filter(Boolean);
    throw new ManifestAuthenticationError(
      `its manifest carries ${has.join(' and ')}, which the config cannot check (it gives ${can.join(' and ') || 'neither a passphrase nor backup.signingPublicKey'})`,
    );
  }
  return proofs;
}

/** The manifest cannot prove it came from a holder of the backup key. */
export class ManifestAuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestAuthenticationError';
  }
}

/**
 * The stored manifest's text without `authentication`, as serializeManifest would write it: JSON keeps the order of
 * keys, so a manifest that apim-migrate wrote gives back the very bytes it authenticated, and any other text fails.
 */
function canonicalWithoutAuthentication(text: string): string {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const { authentication: _proof, ...rest } = parsed;
  return `${JSON.stringify(rest, null, 2)}\n`;
}

function coveredBytes(canonical: string): Buffer {
  return Buffer.from(DOMAIN + canonical, 'utf8');
}

function manifestKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  return scryptAsync(passphrase, salt, 32, {
    N: MANIFEST_SCRYPT.n,
    r: MANIFEST_SCRYPT.r,
    p: MANIFEST_SCRYPT.p,
    maxmem: SCRYPT_MAXMEM,
  });
}
