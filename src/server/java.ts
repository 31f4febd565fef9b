import { getExecOutput } from '@actions/exec';
import { access, constants, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Check } from '../core/check.js';

/** JDKs API-M 4.2.0 is supported on. */
export const SUPPORTED_JAVA_MAJORS = [11, 17] as const;

/** Where the JDK the server runs on was found, in the order they are tried. */
export type JavaHomeSource = 'server.javaHome' | 'JAVA_HOME' | 'PATH';

/** The JDK the launcher gets as `JAVA_HOME`: api-manager.sh exits 1 without it, `--stop` included. */
export interface JavaHome {
  /** The folder that holds `bin/java`. */
  home: string;
  source: JavaHomeSource;
  /** `<home>/bin/java`. */
  java: string;
}

/** Why no JDK could be used, for people. */
export interface JavaHomeProblem {
  problem: string;
}

export interface ResolveJavaHomeOptions {
  /** `server.javaHome` of the config, resolved against the config file. */
  configured?: string;
  env: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
}

const HOW_TO_SET = 'set server.javaHome in the config or JAVA_HOME in the environment to a JDK 11 or 17';

/**
 * `server.javaHome`, else the environment's `JAVA_HOME`, else the JDK of the `java` on PATH with its links resolved
 * (`/usr/bin/java` -> `/usr/lib/jvm/java-17-openjdk-amd64/bin/java`). A configured or inherited home whose
 * `bin/java` cannot run is a problem, not a reason to try the next: api-manager.sh would refuse it too
 * ("Error: JAVA_HOME is not defined correctly.").
 */
export async function resolveJavaHome(options: ResolveJavaHomeOptions): Promise<JavaHome | JavaHomeProblem> {
  const binary = (options.platform ?? process.platform) === 'win32' ? 'java.exe' : 'java';
  const named: Array<{ home: string | undefined; source: 'server.javaHome' | 'JAVA_HOME' }> = [
    { home: options.configured, source: 'server.javaHome' },
    { home: options.env['JAVA_HOME'], source: 'JAVA_HOME' },
  ];
  for (const { home, source } of named) {
    if (home === undefined || home === '') continue;
    const java = path.join(home, 'bin', binary);
    if (await isExecutable(java)) return { home, source, java };
    return { problem: `${source} is ${home}, but ${java} is not an executable file: ${HOW_TO_SET}` };
  }
  // Windows spells it Path; a copied environment keeps the spelling.
  const onPath = await findOnPath(binary, options.env['PATH'] ?? options.env['Path']);
  if (!onPath) return { problem: `JAVA_HOME is not set and there is no java on PATH: ${HOW_TO_SET}` };
  const real = await realpath(onPath).catch(() => onPath);
  const bin = path.dirname(real);
  if (path.basename(bin) !== 'bin') {
    return { problem: `the java on PATH (${real}) is not inside a JDK's bin folder: ${HOW_TO_SET}` };
  }
  return { home: path.dirname(bin), source: 'PATH', java: path.join(bin, path.basename(real)) };
}

/** The `configured` option for {@link resolveJavaHome} from the config's `server.javaHome`. */
export function configuredJavaHome(config: { server: { javaHome?: string } }): { configured?: string } {
  return config.server.javaHome === undefined ? {} : { configured: config.server.javaHome };
}

export function isJavaHomeProblem(value: JavaHome | JavaHomeProblem): value is JavaHomeProblem {
  return 'problem' in value;
}

/** `JAVA_HOME=/usr/lib/jvm/x (from server.javaHome)`, for logs and checks. */
export function describeJavaHome(javaHome: JavaHome): string {
  const from =
    javaHome.source === 'PATH'
      ? 'the JDK of the java on PATH'
      : javaHome.source === 'JAVA_HOME'
        ? 'the environment'
        : 'server.javaHome';
  return `JAVA_HOME=${javaHome.home} (from ${from})`;
}

/** The first executable `binary` in the folders of `PATH` (the environment given, not necessarily this process's). */
async function findOnPath(binary: string, searchPath: string | undefined): Promise<string | undefined> {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, binary);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(file: string): Promise<boolean> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return false;
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

export interface JavaInstallation extends JavaHome {
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

/** The JDK the server would run on, and what its `java -version` says. */
export async function findJava(options: ResolveJavaHomeOptions): Promise<JavaInstallation | JavaHomeProblem> {
  const javaHome = await resolveJavaHome(options);
  if (isJavaHomeProblem(javaHome)) return javaHome;
  try {
    // `java -version` writes to stderr.
    const output = await getExecOutput(javaHome.java, ['-version'], { silent: true, ignoreReturnCode: true });
    const text = `${output.stderr}\n${output.stdout}`.trim();
    const versionText = text.split('\n')[0]?.trim();
    const major = parseJavaMajor(text);
    return { ...javaHome, ...(versionText ? { versionText } : {}), ...(major === undefined ? {} : { major }) };
  } catch {
    return { ...javaHome };
  }
}

export function checkJava(java: JavaInstallation | JavaHomeProblem): Check {
  if (isJavaHomeProblem(java)) return { verdict: 'fail', message: java.problem };
  const where = `${java.java}, ${describeJavaHome(java)}`;
  if (java.major === undefined) {
    return { verdict: 'fail', message: `${where}: did not report a Java version; check the installation` };
  }
  const supported = (SUPPORTED_JAVA_MAJORS as readonly number[]).includes(java.major);
  return supported
    ? { verdict: 'pass', message: `Java ${java.major} at ${where} (${java.versionText ?? ''})` }
    : {
        verdict: 'warn',
        message: `Java ${java.major} at ${where}: API-M 4.2.0 is supported on JDK 11 and 17; the migration may fail on other versions`,
      };
}
