import { expect, it } from 'vitest';
import { readRegistryVersioningFlags } from '../../src/wso2/registry-flags.js';
import { describeConformance } from '../helpers/wso2-conformance.js';

describeConformance('conformance: the default registry.xml of API-M 3.1.0', 'registry-3.1.0.xml', (registryFile) => {
  it('has all four versioning flags present and false', async () => {
    const result = await readRegistryVersioningFlags(registryFile);
    expect(result.flags).toEqual({ properties: false, comments: false, tags: false, ratings: false });
    expect(result.absent).toEqual([]);
  });
});
