/** The tool's version, recorded in reports, manifests and the ledger. Kept in step with package.json by a test. */
export const TOOL_VERSION = '0.1.0';
