/**
 * Looks at an API-M home folder (the new 4.2.0 one or the old 3.1.0 one) and judges whether it is the one the
 * migration needs. Inspection touches the disk; the checks are pure.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Check } from '../core/check.js';

export type VersionSource = 'bin/version.txt' | 'updates/product.txt' | 'bin/wso2carbon-version.txt';

export interface HomeInspection {
  /** The path as given, resolved. */
  path: string;
  exists: boolean;
  isDirectory: boolean;
  hasApiManagerSh: boolean;
  hasApiManagerBat: boolean;
  /** The launcher of API-M 3.1.0, gone in 4.x. */
  hasWso2serverSh: boolean;
  hasDropinsDir: boolean;
  hasDeploymentToml: boolean;
  hasRegistryXml: boolean;
  /** The API-M version, e.g. `4.2.0`, or null when no version file tells it. */
  version: string | null;
  versionSource: VersionSource | null;
}

export const NEW_APIM_VERSION = '4.2.0';
export const OLD_APIM_VERSION = '3.1.0';

const API_MANAGER_SH = 'bin/api-manager.sh';
const API_MANAGER_BAT = 'bin/api-manager.bat';
const WSO2SERVER_SH = 'bin/wso2server.sh';
const DROPINS_DIR = 'repository/components/dropins';
const DEPLOYMENT_TOML = 'repository/conf/deployment.toml';
const REGISTRY_XML = 'repository/conf/registry.xml';

/** The carbon-kernel each API-M release ships, for homes that carry only `wso2carbon-version.txt`. */
const APIM_VERSION_BY_KERNEL: Readonly<Record<string, string>> = {
  '4.8.1': NEW_APIM_VERSION,
  '4.6.0': OLD_APIM_VERSION,
};

const VERSION_READERS: ReadonlyArray<{ source: VersionSource; parse: (text: string) => string | null }> = [
  { source: 'bin/version.txt', parse: (text) => matchVersion(/API Manager v?(\d+\.\d+\.\d+)/i, text) },
  { source: 'updates/product.txt', parse: (text) => matchVersion(/wso2am-(\d+\.\d+\.\d+)/i, text) },
  { source: 'bin/wso2carbon-version.txt', parse: parseKernelVersionFile },
];

export async function inspectApimHome(path: string): Promise<HomeInspection> {
  const home = resolve(path);
  const kind = await pathKind(home);
  const inspection: HomeInspection = {
    path: home,
    exists: kind !== 'missing',
    isDirectory: kind === 'directory',
    hasApiManagerSh: false,
    hasApiManagerBat: false,
    hasWso2serverSh: false,
    hasDropinsDir: false,
    hasDeploymentToml: false,
    hasRegistryXml: false,
    version: null,
    versionSource: null,
  };
  if (kind !== 'directory') return inspection;
  inspection.hasApiManagerSh = (await pathKind(join(home, API_MANAGER_SH))) === 'file';
  inspection.hasApiManagerBat = (await pathKind(join(home, API_MANAGER_BAT))) === 'file';
  inspection.hasWso2serverSh = (await pathKind(join(home, WSO2SERVER_SH))) === 'file';
  inspection.hasDropinsDir = (await pathKind(join(home, DROPINS_DIR))) === 'directory';
  inspection.hasDeploymentToml = (await pathKind(join(home, DEPLOYMENT_TOML))) === 'file';
  inspection.hasRegistryXml = (await pathKind(join(home, REGISTRY_XML))) === 'file';
  Object.assign(inspection, await detectVersion(home));
  return inspection;
}

/** Judges the API-M 4.2.0 home (`apimHome`). */
export function checkNewHome(insp: HomeInspection): Check[] {
  const setting = `set apimHome to the folder API-M ${NEW_APIM_VERSION} is unpacked into (it holds bin/ and repository/)`;
  const existence = checkExistence(insp, setting);
  if (existence) return [existence];
  return [
    checkLauncher(insp, setting),
    checkPresence(
      insp.hasDropinsDir,
      join(insp.path, DROPINS_DIR),
      `the migration clients are installed there; check that apimHome is an unpacked API-M ${NEW_APIM_VERSION}`,
    ),
    checkPresence(
      insp.hasDeploymentToml,
      join(insp.path, DEPLOYMENT_TOML),
      `API-M ${NEW_APIM_VERSION} reads its databases from it; restore it from the distribution and configure the databases`,
    ),
    checkVersion(insp, NEW_APIM_VERSION, setting),
  ];
}

/** Judges the API-M 3.1.0 home (`oldApimHome`), which is only read. */
export function checkOldHome(insp: HomeInspection): Check[] {
  const setting = `set oldApimHome to the API-M ${OLD_APIM_VERSION} home the data comes from`;
  const existence = checkExistence(insp, setting);
  if (existence) return [existence];
  return [
    checkPresence(
      insp.hasRegistryXml,
      join(insp.path, REGISTRY_XML),
      `its registry versioning flags decide whether versioning details are removed; ${setting}`,
    ),
    checkVersion(insp, OLD_APIM_VERSION, setting),
  ];
}

function checkExistence(insp: HomeInspection, setting: string): Check | null {
  if (!insp.exists) return fail(`${insp.path} does not exist; ${setting}`);
  if (!insp.isDirectory) return fail(`${insp.path} is a file, not a folder; ${setting}`);
  return null;
}

function checkLauncher(insp: HomeInspection, setting: string): Check {
  const launcher = join(insp.path, API_MANAGER_SH);
  if (insp.hasApiManagerSh) return pass(`${launcher} found`);
  const hint = insp.hasWso2serverSh
    ? ` but ${WSO2SERVER_SH}, the API-M ${OLD_APIM_VERSION} launcher, so this looks like the old home`
    : '';
  return fail(`${launcher} is missing${hint}; ${setting}`);
}

function checkPresence(present: boolean, path: string, why: string): Check {
  return present ? pass(`${path} found`) : fail(`${path} is missing; ${why}`);
}

function checkVersion(insp: HomeInspection, expected: string, setting: string): Check {
  if (insp.version === null) {
    return {
      verdict: 'warn',
      message:
        `cannot tell the API-M version of ${insp.path} (no ${VERSION_READERS.map((r) => r.source).join(', ')} ` +
        `naming it); make sure it is API-M ${expected}`,
    };
  }
  const from = `from ${insp.versionSource ?? 'its version file'}`;
  if (insp.version === expected) return pass(`${insp.path} is API-M ${expected} (${from})`);
  return fail(`${insp.path} is API-M ${insp.version} (${from}), not ${expected}; ${setting}`);
}

async function detectVersion(home: string): Promise<Pick<HomeInspection, 'version' | 'versionSource'>> {
  for (const { source, parse } of VERSION_READERS) {
    const text = await readOptionalFile(join(home, source));
    const version = text === null ? null : parse(text);
    if (version !== null) return { version, versionSource: source };
  }
  return { version: null, versionSource: null };
}

function parseKernelVersionFile(text: string): string | null {
  const kernel = matchVersion(/Carbon Framework v?(\d+\.\d+\.\d+)/i, text);
  return kernel === null ? null : (APIM_VERSION_BY_KERNEL[kernel] ?? null);
}

function matchVersion(pattern: RegExp, text: string): string | null {
  return pattern.exec(text)?.[1] ?? null;
}

async function readOptionalFile(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    // A missing or unreadable version file only means the next source is tried.
    return null;
  }
}

async function pathKind(path: string): Promise<'file' | 'directory' | 'missing'> {
  try {
    return (await stat(path)).isDirectory() ? 'directory' : 'file';
  } catch {
    return 'missing';
  }
}

function pass(message: string): Check {
  return { verdict: 'pass', message };
}

function fail(message: string): Check {
  return { verdict: 'fail', message };
}
