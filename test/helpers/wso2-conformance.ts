/**
 * Conformance suites read WSO2's own files where they are kept, `../shared/fixtures/wso2` beside the clone; they are
 * never copied into the project. Without that folder a suite shows as skipped and says why, and under CI (`CI` set)
 * it fails instead: CI must run it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The folder of WSO2's own files. */
export const WSO2_FIXTURES = path.resolve(repoRoot, '../shared/fixtures/wso2');

/**
 * A suite over one of WSO2's files: `body` gets its path and text. The file is read here, not in the suite, since
 * vitest runs the body of a skipped suite too, to list its tests.
 */
export function describeConformance(
  title: string,
  fixture: string,
  body: (file: string, text: string) => void,
  env: Record<string, string | undefined> = process.env,
): void {
  const file = path.join(WSO2_FIXTURES, fixture);
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    describe(title, () => body(file, text));
    return;
  }
  const reason = `WSO2's ${fixture} is not in ${WSO2_FIXTURES}`;
  if (env['CI']) {
    describe(title, () => {
      it('has the WSO2 file it checks against', () => {
        throw new Error(`${reason}: CI runs every conformance suite; put the shared folder beside the clone`);
      });
    });
    return;
  }
  // Skipped, as a suite without its WSO2 file must show (with the reason in its title); run, it fails for that reason.
  describe(`${title} (skipped: ${reason})`, () => {
    it.skip('has the WSO2 file it checks against', () => {
      throw new Error(`${reason}: put the shared folder beside the clone`);
    });
  });
}
