/** One verdict line of a check, as preflight and verify print them. */
export interface Check {
  verdict: 'pass' | 'warn' | 'fail';
  message: string;
}

/** How a verdict reads in a terminal line and in a summary table. */
export const VERDICT_MARK: Record<Check['verdict'], string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL' };

/** A check as one log line: `[FAIL] table REG_RESOURCE_TAG not found`. */
export function formatCheck(check: Check): string {
  return `[${VERDICT_MARK[check.verdict]}] ${check.message}`;
}
