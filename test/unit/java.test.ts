import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkJava, findJava, resolveJavaHome, type JavaHomeProblem } from '../../src/server/java.js';
import { makeFakeJdk } from '../helpers/java.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-java-');
afterEach(() => temp.cleanup());

async function jdk(version = '17.0.15'): Promise<string> {
  return makeFakeJdk(path.join(await temp.make(), 'jdk'), version);
}

/** A folder like /usr/bin: `java` is a link into the JDK, through a second link as Debian's alternatives are. */
async function binWithLinkTo(home: string): Promise<string> {
  const root = await temp.make();
  const bin = path.join(root, 'usr-bin');
  const alternatives = path.join(root, 'alternatives');
  await mkdir(bin);
  await mkdir(alternatives);
  await symlink(path.join(home, 'bin', 'java'), path.join(alternatives, 'java'));
  await symlink(path.join(alternatives, 'java'), path.join(bin, 'java'));
  return bin;
}

describe('resolveJavaHome', () => {
  it('takes server.javaHome over JAVA_HOME and PATH', async () => {
    const configured = await jdk();
    const inherited = await jdk();
    const bin = await binWithLinkTo(await jdk());
    const result = await resolveJavaHome({ configured, env: { JAVA_HOME: inherited, PATH: bin } });
    expect(result).toEqual({ home: configured, source: 'server.javaHome', java: path.join(configured, 'bin', 'java') });
  });

  it("takes the environment's JAVA_HOME over PATH", async () => {
    const inherited = await jdk();
    const bin = await binWithLinkTo(await jdk());
    expect(await resolveJavaHome({ env: { JAVA_HOME: inherited, PATH: bin } })).toMatchObject({
      home: inherited,
      source: 'JAVA_HOME',
    });
  });

  it('finds the JDK of the java on PATH through its links', async () => {
    const home = await jdk();
    const bin = await binWithLinkTo(home);
    const empty = await temp.make();
    const result = await resolveJavaHome({ env: { PATH: [empty, bin].join(path.delimiter) } });
    expect(result).toEqual({ home, source: 'PATH', java: path.join(home, 'bin', 'java') });
  });

  it('refuses a configured home without an executable bin/java, naming the key', async () => {
    const home = await temp.make();
    await mkdir(path.join(home, 'bin'));
    await writeFile(path.join(home, 'bin', 'java'), 'not executable');
    await chmod(path.join(home, 'bin', 'java'), 0o644);
    const bin = await binWithLinkTo(await jdk());
    const result = (await resolveJavaHome({ configured: home, env: { PATH: bin } })) as JavaHomeProblem;
    expect(result.problem).toContain(`server.javaHome is ${home}`);
    expect(result.problem).toContain('is not an executable file');
  });

  it('refuses an inherited JAVA_HOME that is not a JDK instead of falling back to PATH', async () => {
    const bin = await binWithLinkTo(await jdk());
    const result = (await resolveJavaHome({ env: { JAVA_HOME: '/nonexistent/jdk', PATH: bin } })) as JavaHomeProblem;
    expect(result.problem).toMatch(/^JAVA_HOME is \/nonexistent\/jdk, but/);
  });

  it('names JAVA_HOME and server.javaHome when there is no JDK at all', async () => {
    const result = (await resolveJavaHome({ env: { PATH: await temp.make() } })) as JavaHomeProblem;
    expect(result.problem).toContain('JAVA_HOME is not set and there is no java on PATH');
    expect(result.problem).toContain('server.javaHome');
  });
});

describe('checkJava', () => {
  it('passes JDK 17 and says which JAVA_HOME the server gets', async () => {
    const home = await jdk('17.0.15');
    const check = checkJava(await findJava({ env: { JAVA_HOME: home } }));
    expect(check.verdict).toBe('pass');
    expect(check.message).toContain(`JAVA_HOME=${home} (from the environment)`);
  });

  it('warns about JDK 21', async () => {
    const check = checkJava(await findJava({ configured: await jdk('21.0.2'), env: {} }));
    expect(check).toMatchObject({ verdict: 'warn' });
    expect(check.message).toContain('from server.javaHome');
  });

  it('fails without a JDK', async () => {
    const check = checkJava(await findJava({ env: { PATH: await temp.make() } }));
    expect(check.verdict).toBe('fail');
    expect(check.message).toContain('server.javaHome');
  });
});
