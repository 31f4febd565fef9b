import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readRegistryVersioningFlags } from '../../src/wso2/registry-flags.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixturesDir = resolve(repoRoot, '../shared/fixtures/wso2');
const registryFile = resolve(repoRoot, '../shared/fixtures/wso2/registry-3.1.0.xml');

describe.runIf(existsSync(fixturesDir))('conformance: the default registry.xml of API-M 3.1.0', () => {
  it('has all four versioning flags present and false', async () => {
    const result = await readRegistryVersioningFlags(registryFile);
    expect(result.flags).toEqual({ properties: false, comments: false, tags: false, ratings: false });
    expect(result.absent).toEqual([]);
  });
});
