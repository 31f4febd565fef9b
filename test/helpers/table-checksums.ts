// The table checksums are part of the package (the demo checks its rollback with them); the tests use the same ones.
export * from '../../src/db/table-checksums.js';
