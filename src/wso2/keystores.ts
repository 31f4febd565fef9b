/**
 * The primary and internal keystores of an API-M home: `[keystore.primary] file_name` and `[keystore.internal]
 * file_name` of deployment.toml, under `repository/resources/security/` (carbon.xml.j2 of carbon-kernel 4.6.0 and
 * 4.8.1). Defaults from the kernel's config mapper defaults (default.json): the primary's file_name is
 * `wso2carbon.jks`, the internal's is the primary's (`$ref{keystore.primary.file_name}`). Data that 3.1.0 encrypted
 * (OAuth consumer secrets, registry properties) decrypts under 4.2.0 only with the same keys.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Check } from '../core/check.js';
import { errorMessage } from '../core/errors.js';
import { sha256File } from '../core/files.js';
import { getPath, parseTomlText } from '../config/toml-document.js';

export const DEFAULT_KEYSTORE_FILE = 'wso2carbon.jks';
/** The id of the known problem (a CryptoException when the identity migration decrypts). */
export const KEYSTORE_MISMATCH_PROBLEM = 'keystore-mismatch';

export type KeystoreKind = 'primary' | 'internal';

/** The keystore files a home's deployment.toml names, as paths. */
export async function keystorePaths(home: string): Promise<Record<KeystoreKind, string>> {
  const file = path.join(home, 'repository', 'conf', 'deployment.toml');
  const data = parseTomlText(await readFile(file, 'utf8'), file);
  const named = (kind: KeystoreKind): string | undefined => {
    const value = getPath(data, ['keystore', kind, 'file_name']);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const primary = named('primary') ?? DEFAULT_KEYSTORE_FILE;
  const internal = named('internal') ?? primary;
  const security = path.join(home, 'repository', 'resources', 'security');
  return { primary: path.join(security, primary), internal: path.join(security, internal) };
}

/** Whether the new home's primary and internal keystores are the old home's files (sha256). Warnings only. */
export async function checkKeystores(newHome: string, oldHome: string): Promise<Check[]> {
  let paths: Record<'new' | 'old', Record<KeystoreKind, string>>;
  try {
    paths = { new: await keystorePaths(newHome), old: await keystorePaths(oldHome) };
  } catch (error) {
    return [{ verdict: 'warn', message: `keystores not compared: ${errorMessage(error)}` }];
  }
  const checks: Check[] = [];
  for (const kind of ['primary', 'internal'] as const) {
    const [fresh, old] = [paths.new[kind], paths.old[kind]];
    const [freshSum, oldSum] = await Promise.all([
      sha256File(fresh).catch(() => undefined),
      sha256File(old).catch(() => undefined),
    ]);
    const consequence =
      `data that 3.1.0 encrypted (OAuth consumer secrets, registry properties) may not decrypt during or after the ` +
      `migration (known problem ${KEYSTORE_MISMATCH_PROBLEM}): copy the old home's keystore and its [keystore.${kind}] settings into the new home before migrating`;
    if (freshSum === undefined || oldSum === undefined) {
      const missing = [freshSum === undefined ? fresh : undefined, oldSum === undefined ? old : undefined].filter(
        Boolean,
      );
      checks.push({
        verdict: 'warn',
        message: `${kind} keystore not compared: ${missing.join(' and ')} cannot be read; ${consequence}`,
      });
    } else if (freshSum !== oldSum) {
      checks.push({
        verdict: 'warn',
        message: `the ${kind} keystore of the new home (${fresh}, sha256 ${freshSum.slice(0, 12)}) is not the old home's (${old}, sha256 ${oldSum.slice(0, 12)}): ${consequence}`,
      });
    } else {
      checks.push({
        verdict: 'pass',
        message: `the ${kind} keystore ${fresh} is the old home's (sha256 ${freshSum.slice(0, 12)})`,
      });
    }
  }
  return checks;
}
