import { formatCheck, type Check } from '../core/check.js';
import type { StageContext, StepOutput } from './types.js';

/** Prints one verdict line per check, in the order they were made, and sums them up for the step. */
export function reportChecks(context: StageContext, checks: Check[]): StepOutput {
  for (const check of checks) context.deps.logger.info(formatCheck(check));
  const count = (verdict: Check['verdict']) => checks.filter((check) => check.verdict === verdict).length;
  const failed = count('fail');
  const warned = count('warn');
  const summary =
    failed > 0
      ? `${failed} of ${checks.length} checks failed`
      : `${plural(count('pass'), 'check')} passed${warned > 0 ? `, ${plural(warned, 'warning')}` : ''}`;
  return { checks, summary };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
