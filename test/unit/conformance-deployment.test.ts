import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readDeploymentDatabases, resolveDatabases } from '../../src/config/deployment-toml.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const file = path.resolve(repoRoot, '../shared/fixtures/wso2/deployment-4.2.0.toml');
const dir = path.dirname(file);

describe.runIf(existsSync(dir))('the stock WSO2 API-M 4.2.0 deployment.toml', () => {
  const readFixture = () => readDeploymentDatabases(readFileSync(file, 'utf8'), file);

  it('holds apim_db and shared_db at their header lines', () => {
    const databases = readFixture();
    expect(databases.map(({ name, type, line }) => ({ name, type, line }))).toEqual([
      { name: 'apim_db', type: 'h2', line: 16 },
      { name: 'shared_db', type: 'h2', line: 22 },
    ]);
  });

  it('reports H2 as not supported for each database', () => {
    const { databases, problems } = resolveDatabases({
      discovered: readFixture(),
      deploymentFile: file,
      overrides: undefined,
      configFile: '/work/apim-migrate.yml',
      env: {},
    });
    expect(databases).toEqual([]);
    expect(problems).toEqual([
      {
        file,
        line: 16,
        message: expect.stringMatching(
          /^`\[database\.apim_db\]` in .*deployment-4\.2\.0\.toml:16 uses H2, which apim-migrate does not support/,
        ),
      },
      {
        file,
        line: 22,
        message: expect.stringMatching(
          /^`\[database\.shared_db\]` in .*deployment-4\.2\.0\.toml:22 uses H2, which apim-migrate does not support/,
        ),
      },
    ]);
    for (const problem of problems) expect(problem.message).not.toContain('wso2carbon');
  });
});
