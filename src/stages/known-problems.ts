/**
 * Where a stage tells the operator about known problems: each match of the catalogue (wso2/known-problems.ts) is
 * printed once per stage, as a warning (an annotation in the action), and kept for the report and the job summary.
 */
import type { OperationName } from '../core/results.js';
import { databaseErrorText } from '../db/database-errors.js';
import {
  formatKnownProblem,
  matchKnownProblems,
  type KnownProblem,
  type KnownProblemMatch,
  type KnownProblemSource,
} from '../wso2/known-problems.js';
import type { StageContext } from './types.js';

/** How much of the line a match was seen in goes into the output and the report. */
const SEEN_LINE_CHARS = 300;

export interface ProblemSighting {
  stage: OperationName;
  source: KnownProblemSource;
  /** What the signatures are matched against: a record with its stack trace, or a database error. */
  text: string;
  /**
   * The line reported as where it was seen (a record's message); default the first line of `text` that the problem's
   * signature matches (a database error among the lines of a tool's stderr).
   */
  line?: string;
  when?: KnownProblem['when'];
}

/** Matches `sighting` against the catalogue; reports and records each problem not yet seen in this stage. */
export function noteKnownProblems(context: StageContext, sighting: ProblemSighting): void {
  const found = matchKnownProblems(sighting.text, {
    stage: sighting.stage,
    source: sighting.source,
    ...(sighting.when ? { when: sighting.when } : {}),
  });
  if (found.length === 0) return;
  const known = (context.outcome.knownProblems ??= []);
  for (const problem of found) {
    if (known.some((entry) => entry.id === problem.id)) continue;
    const lines = sighting.text.split('\n');
    const seenIn = sighting.line ?? lines.find((line) => problem.signature.test(line)) ?? lines[0] ?? '';
    const line = shorten(context.deps.secrets.mask(seenIn));
    const match: KnownProblemMatch = {
      id: problem.id,
      source: sighting.source,
      cause: problem.cause,
      fix: problem.fix,
      reference: problem.reference,
      line,
    };
    known.push(match);
    context.deps.logger.warning(formatKnownProblem(match));
    context.deps.logger.info(`Known problem ${match.id} was seen in: ${line}`);
  }
}

/** A step's error, when it carries a database error of apim-migrate's own SQL (or of a dump/restore tool). */
export function noteDatabaseError(context: StageContext, stage: OperationName, error: unknown): void {
  const text = databaseErrorText(error);
  if (text === undefined) return;
  noteKnownProblems(context, { stage, source: 'database', text });
}

function shorten(line: string): string {
  const single = line.replace(/\s*\n\s*/g, ' | ');
  return single.length > SEEN_LINE_CHARS ? `${single.slice(0, SEEN_LINE_CHARS)}...` : single;
}
