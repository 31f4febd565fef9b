/**
 * The post step run in-process (src/entry/post.ts), as the unit and fault tests run it: what it writes to stdout (its
 * @actions/core commands and messages) is kept per test, and GITHUB_STATE, STATE_apim-migrate and process.exitCode are
 * put back after each test.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import { STATE_NAME } from './runner.js';

/** STATE_apim-migrate: where the runner hands the post step what the main step saved. */
export const POST_STATE_ENV = `STATE_${STATE_NAME}`;

/** Registers the hooks; the returned function gives what the post step printed in the current test. */
export function captureInProcessPostStep(): () => string {
  const saved = { state: process.env['GITHUB_STATE'], post: process.env[POST_STATE_ENV], exitCode: process.exitCode };
  let stdout: string[] = [];
  beforeEach(() => {
    stdout = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    for (const [name, value] of [
      ['GITHUB_STATE', saved.state],
      [POST_STATE_ENV, saved.post],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    process.exitCode = saved.exitCode;
  });
  return () => stdout.join('');
}
