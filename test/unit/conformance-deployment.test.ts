import { expect, it } from 'vitest';
import { readDeploymentDatabases, resolveDatabases } from '../../src/config/deployment-toml.js';
import { describeConformance } from '../helpers/wso2-conformance.js';

describeConformance('the stock WSO2 API-M 4.2.0 deployment.toml', 'deployment-4.2.0.toml', (file, text) => {
  const readFixture = () => readDeploymentDatabases(text, file);

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
