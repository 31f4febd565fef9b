import { getExecOutput } from '@actions/exec';
import { which } from '@actions/io';
import path from 'node:path';
import type { Check } from '../stages/types.js';

/** JDKs API-M 4.2.0 is supported on. */
export const SUPPORTED_JAVA_MAJORS = [11, 17] as const;

export interface JavaInstallation {
  path: string;
  /** Where it was found: JAVA_HOME, as api-manager.sh prefers, or PATH. */
  source: 'JAVA_HOME' | 'PATH';
  versionText?: string;
  major?: number;
}

/** `openjdk version "17.0.15" 2025-04-15`, `java version "1.8.0_392"`, `openjdk version "21" 2023-09-19`. */
export function parseJavaMajor(text: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

export async function findJava(env: Record<string, string | undefined>): Promise<JavaInstallation | undefined> {
  const javaHome = env['JAVA_HOME'];
  const binary = process.platform === 'win32' ? 'java.exe' : 'java';
  const candidate = javaHome
    ? { path: path.join(javaHome, 'bin', binary), source: 'JAVA_HOME' as const }
    : { path: await which('java', false), source: 'PATH' as const };
  if (!candidate.path) return undefined;
  try {
    // `java -version` writes to stderr.
    const output = await getExecOutput(candidate.path, ['-version'], { silent: true, ignoreReturnCode: true });
    const text = `${output.stderr}\n${output.stdout}`.trim();
    const versionText = text.split('\n')[0]?.trim();
    const major = parseJavaMajor(text);
    return { ...candidate, ...(versionText ? { versionText } : {}), ...(major === undefined ? {} : { major }) };
  } catch {
    return { ...candidate };
  }
}

export function checkJava(java: JavaInstallation | undefined, env: Record<string, string | undefined>): Check {
  if (!java) {
    return {
      verdict: 'fail',
      message:
        'Java not found on PATH and JAVA_HOME is not set: install JDK 11 or 17 (API-M 4.2.0 runs on them) or set JAVA_HOME',
    };
  }
  if (java.major === undefined) {
    return {
      verdict: 'fail',
      message: `${java.path} (from ${java.source}${java.source === 'JAVA_HOME' ? `=${env['JAVA_HOME'] ?? ''}` : ''}) did not report a Java version: check the installation`,
    };
  }
  const supported = (SUPPORTED_JAVA_MAJORS as readonly number[]).includes(java.major);
  return supported
    ? { verdict: 'pass', message: `Java ${java.major} at ${java.path} (${java.versionText ?? ''})` }
    : {
        verdict: 'warn',
        message: `Java ${java.major} at ${java.path}: API-M 4.2.0 is supported on JDK 11 and 17; the migration may fail on other versions`,
      };
}
