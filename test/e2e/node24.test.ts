import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDirs, makeApimHome, makeMigrationKitZip } from '../helpers/wso2-fixtures.js';

/**
 * The action runs on the runner's Node 24: the built bundles must load and work there too.
 * scripts/install-node24.sh (run by the README's test command) installs that Node from the npm registry.
 */
const repo = path.resolve(import.meta.dirname, '../..');
const node24 = path.join(repo, '.cache/node24/node_modules/.bin/node');
const run = promisify(execFile);

const temp = createTempDirs('node24-');
let dir: string;

beforeAll(async () => {
  if (!existsSync(node24)) throw new Error(`Node 24 is not installed at ${node24}: run scripts/install-node24.sh`);
  dir = await temp.make();
  const toml = [
    '[database.apim_db]',
    'type = "postgre"',
    'url = "jdbc:postgresql://127.0.0.1:5432/apim"',
    'username = "wso2"',
    'password = "$env{NODE24_DB_PASSWORD}"',
    '',
    '[database.shared_db]',
    'type = "mysql"',
    'url = "jdbc:mysql://127.0.0.1:3306/shared?useSSL=false"',
    'username = "wso2"',
    'password = "$env{NODE24_DB_PASSWORD}"',
  ].join('\n');
  await makeApimHome(path.join(dir, 'new'), { version: '4.2.0', deploymentToml: toml });
  await makeApimHome(path.join(dir, 'old'), { version: '3.1.0', registryXml: { tags: true } });
  await makeMigrationKitZip(path.join(dir, 'am.zip'), { kind: 'apim' });
  await writeFile(
    path.join(dir, 'apim-migration.yml'),
    'apimHome: ./new\noldApimHome: ./old\nkeyManager: is\nisHealthUrl: https://is.example:9443/health\napim:\n  migrationKit: ./am.zip\n',
  );
});
afterAll(() => temp.cleanup());

async function runNode24(script: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(node24, [path.join(repo, script), ...args], {
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '', NODE24_DB_PASSWORD: 'n24-secret', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('the bundles under Node 24', () => {
  it('is really Node 24', async () => {
    const { stdout } = await run(node24, ['--version']);
    expect(stdout).toMatch(/^v24\./);
  });

  it('runs the CLI plan', async () => {
    const result = await runNode24('dist/cli/index.js', ['plan']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('remove versioning details of REG_RESOURCE_TAG / REG_TAG');
    expect(result.stdout).toContain('keep versioning details of REG_RESOURCE_COMMENT');
    expect(result.stdout).not.toContain('n24-secret');
  });

  it('reports a config error with exit code 2 and no stack trace', async () => {
    const result = await runNode24('dist/cli/index.js', ['plan', '--config', 'missing.yml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing.yml');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('runs the action main and post steps', async () => {
    const files = {
      output: path.join(dir, 'output'),
      state: path.join(dir, 'state'),
      summary: path.join(dir, 'summary'),
    };
    for (const file of Object.values(files)) await writeFile(file, '');
    const env = {
      GITHUB_ACTIONS: 'true',
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_RUN_ID: '42',
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_WORKSPACE: dir,
      RUNNER_TEMP: dir,
      INPUT_STAGE: 'preflight',
      INPUT_CONFIG: 'apim-migration.yml',
    };
    const main = await runNode24('dist/main/index.js', [], env);
    expect(main.code).toBe(2);
    expect(main.stdout).toContain('ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL are not set');
    expect(await readFile(files.output, 'utf8')).toContain('failed');
    const post = await runNode24('dist/post/index.js', [], {
      ...env,
      'STATE_apim-migrate': '{"stage":"preflight","config":"apim-migration.yml"}',
    });
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('nothing to clean up');
  });
});
