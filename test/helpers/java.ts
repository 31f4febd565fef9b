/**
 * A JDK folder for the stand-in launcher, which, like api-manager.sh, refuses to run without `$JAVA_HOME/bin/java`
 * and asks it for its version. Its `bin/java` only answers `-version`: the stand-in runs no Java.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

let made: Promise<string> | undefined;

/** `<tmp>/apim-migrate-jdk-<pid>`, made once per test process; `version` is what `java -version` reports. */
export function fakeJavaHome(version = '17.0.15'): Promise<string> {
  made ??= makeFakeJdk(path.join(tmpdir(), `apim-migrate-jdk-${process.pid}`), version);
  return made;
}

export async function makeFakeJdk(home: string, version: string): Promise<string> {
  const java = path.join(home, 'bin', 'java');
  await mkdir(path.dirname(java), { recursive: true });
  await writeFile(
    java,
    [
      '#!/bin/sh',
      '# A stand-in JDK: it only answers -version, on stderr as the real java does.',
      `echo 'openjdk version "${version}" 2025-04-15' >&2`,
      `echo 'OpenJDK Runtime Environment (build ${version}+6-Debian-1)' >&2`,
      '',
    ].join('\n'),
  );
  await chmod(java, 0o755);
  return home;
}
