import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkNewHome, checkOldHome, inspectApimHome, type HomeInspection } from '../../src/wso2/apim-home.js';
import { createTempDirs, makeApimHome } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-home-');
afterEach(() => temp.cleanup());

async function newHome(options: Partial<Parameters<typeof makeApimHome>[1]> = {}): Promise<string> {
  return makeApimHome(join(await temp.make(), 'wso2am-4.2.0'), { version: '4.2.0', ...options });
}

async function oldHome(options: Partial<Parameters<typeof makeApimHome>[1]> = {}): Promise<string> {
  return makeApimHome(join(await temp.make(), 'wso2am-3.1.0'), { version: '3.1.0', ...options });
}

function verdicts(checks: ReturnType<typeof checkNewHome>): string[] {
  return checks.map((check) => check.verdict);
}

function failures(checks: ReturnType<typeof checkNewHome>): string[] {
  return checks.filter((check) => check.verdict !== 'pass').map((check) => check.message);
}

describe('inspectApimHome', () => {
  it('sees everything in a 4.2.0 home', async () => {
    const path = await newHome();
    expect(await inspectApimHome(path)).toEqual<HomeInspection>({
      path,
      exists: true,
      isDirectory: true,
      hasApiManagerSh: true,
      hasApiManagerBat: true,
      hasWso2serverSh: false,
      hasDropinsDir: true,
      hasDeploymentToml: true,
      hasRegistryXml: true,
      version: '4.2.0',
      versionSource: 'bin/version.txt',
    });
  });

  it('sees a 3.1.0 home with its wso2server.sh launcher', async () => {
    const inspection = await inspectApimHome(await oldHome());
    expect(inspection).toMatchObject({ hasApiManagerSh: false, hasWso2serverSh: true, version: '3.1.0' });
  });

  it('sees what is missing', async () => {
    const path = await newHome({ launchers: [], dropins: false, deploymentToml: false, registryXml: false });
    expect(await inspectApimHome(path)).toMatchObject({
      hasApiManagerSh: false,
      hasApiManagerBat: false,
      hasWso2serverSh: false,
      hasDropinsDir: false,
      hasDeploymentToml: false,
      hasRegistryXml: false,
    });
  });

  it.each([
    ['version.txt', '4.2.0', 'bin/version.txt', '4.2.0'],
    ['product.txt', '4.2.0', 'updates/product.txt', '4.2.0'],
    ['carbon', '4.2.0', 'bin/wso2carbon-version.txt', '4.2.0'],
    ['carbon', '3.1.0', 'bin/wso2carbon-version.txt', '3.1.0'],
    ['product.txt', '3.1.0', 'updates/product.txt', '3.1.0'],
  ] as const)('reads the version from %s (%s)', async (versionFile, version, source, detected) => {
    const inspection = await inspectApimHome(await newHome({ version, versionFile }));
    expect(inspection.version).toBe(detected);
    expect(inspection.versionSource).toBe(source);
  });

  it('prefers bin/version.txt over the other files', async () => {
    const path = await newHome({ version: '4.2.0', versionFile: 'version.txt' });
    await makeApimHome(path, { version: '3.1.0', versionFile: 'product.txt', launchers: [] });
    await makeApimHome(path, { version: '3.1.0', versionFile: 'carbon', launchers: [] });
    expect(await inspectApimHome(path)).toMatchObject({ version: '4.2.0', versionSource: 'bin/version.txt' });
    await rm(join(path, 'bin', 'version.txt'));
    expect(await inspectApimHome(path)).toMatchObject({ version: '3.1.0', versionSource: 'updates/product.txt' });
  });

  it('falls through a version file it cannot read a version from', async () => {
    const path = await newHome({ versionFile: 'carbon' });
    await writeFile(join(path, 'bin', 'version.txt'), 'something else\n');
    expect(await inspectApimHome(path)).toMatchObject({
      version: '4.2.0',
      versionSource: 'bin/wso2carbon-version.txt',
    });
  });

  it('does not guess from an unknown carbon-kernel version', async () => {
    const inspection = await inspectApimHome(await newHome({ versionFile: 'carbon', kernelVersion: '4.7.0' }));
    expect(inspection).toMatchObject({ version: null, versionSource: null });
  });

  it('reports a missing path and a file', async () => {
    const dir = await temp.make();
    expect(await inspectApimHome(join(dir, 'absent'))).toMatchObject({ exists: false, isDirectory: false });
    const file = join(dir, 'file.txt');
    await writeFile(file, 'x');
    expect(await inspectApimHome(file)).toMatchObject({ exists: true, isDirectory: false, version: null });
  });
});

describe('checkNewHome', () => {
  it('passes a 4.2.0 home', async () => {
    const checks = checkNewHome(await inspectApimHome(await newHome()));
    expect(verdicts(checks)).toEqual(['pass', 'pass', 'pass', 'pass']);
  });

  it('fails the 3.1.0 home given as the new one, and says it looks like the old home', async () => {
    const path = await oldHome();
    const problems = failures(checkNewHome(await inspectApimHome(path)));
    expect(problems).toEqual([
      expect.stringMatching(
        /api-manager\.sh is missing but bin\/wso2server\.sh, the API-M 3\.1\.0 launcher, so this looks like the old home; set apimHome/,
      ),
      `${path} is API-M 3.1.0 (from bin/version.txt), not 4.2.0; set apimHome to the folder API-M 4.2.0 is unpacked into (it holds bin/ and repository/)`,
    ]);
    expect(problems[0]).toContain(join(path, 'bin', 'api-manager.sh'));
  });

  it('fails a missing dropins folder and deployment.toml, naming their paths', async () => {
    const path = await newHome({ dropins: false, deploymentToml: false });
    const checks = checkNewHome(await inspectApimHome(path));
    expect(verdicts(checks)).toEqual(['pass', 'fail', 'fail', 'pass']);
    expect(checks[1]?.message).toContain(join(path, 'repository', 'components', 'dropins'));
    expect(checks[2]?.message).toContain(join(path, 'repository', 'conf', 'deployment.toml'));
  });

  it('warns when the version cannot be told', async () => {
    const path = await newHome({ versionFile: 'none' });
    const checks = checkNewHome(await inspectApimHome(path));
    expect(verdicts(checks)).toEqual(['pass', 'pass', 'pass', 'warn']);
    expect(checks[3]?.message).toMatch(
      new RegExp(`cannot tell the API-M version of ${path}.*make sure it is API-M 4\\.2\\.0`),
    );
  });

  it('fails a path that does not exist or is a file, and stops there', async () => {
    const dir = await temp.make();
    const absent = join(dir, 'absent');
    expect(checkNewHome(await inspectApimHome(absent))).toEqual([
      {
        verdict: 'fail',
        message: `${absent} does not exist; set apimHome to the folder API-M 4.2.0 is unpacked into (it holds bin/ and repository/)`,
      },
    ]);
    const file = join(dir, 'file');
    await writeFile(file, '');
    expect(checkNewHome(await inspectApimHome(file))).toEqual([
      { verdict: 'fail', message: expect.stringContaining(`${file} is a file, not a folder`) },
    ]);
  });
});

describe('checkOldHome', () => {
  it('passes a 3.1.0 home', async () => {
    expect(verdicts(checkOldHome(await inspectApimHome(await oldHome())))).toEqual(['pass', 'pass']);
  });

  it('fails a missing registry.xml, naming it', async () => {
    const path = await oldHome({ registryXml: false });
    const checks = checkOldHome(await inspectApimHome(path));
    expect(verdicts(checks)).toEqual(['fail', 'pass']);
    expect(checks[0]?.message).toContain(join(path, 'repository', 'conf', 'registry.xml'));
    expect(checks[0]?.message).toMatch(/set oldApimHome/);
  });

  it('fails the 4.2.0 home given as the old one', async () => {
    const path = await newHome();
    expect(failures(checkOldHome(await inspectApimHome(path)))).toEqual([
      `${path} is API-M 4.2.0 (from bin/version.txt), not 3.1.0; set oldApimHome to the API-M 3.1.0 home the data comes from`,
    ]);
  });

  it('warns when the version cannot be told', async () => {
    const checks = checkOldHome(await inspectApimHome(await oldHome({ versionFile: 'none' })));
    expect(verdicts(checks)).toEqual(['pass', 'warn']);
  });

  it('fails a missing path', async () => {
    const absent = join(await temp.make(), 'nope');
    expect(checkOldHome(await inspectApimHome(absent))).toEqual([
      {
        verdict: 'fail',
        message: `${absent} does not exist; set oldApimHome to the API-M 3.1.0 home the data comes from`,
      },
    ]);
  });
});
