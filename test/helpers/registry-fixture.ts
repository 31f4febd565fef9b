// The registry seed generator ships with the demo; the tests use the same one.
export * from '../../src/demo/registry-seed.js';
