/**
 * The catalogue of known WSO2 migration failures (known-problems.json): each entry's signature is a regular
 * expression on the text of a server's WARN/ERROR record (with its stack trace) or on a database error of
 * apim-migrate's own SQL. The file is checked when it is loaded; matching is pure.
 */
import { z } from 'zod';
import { STAGE_NAMES, type KnownProblemMatch, type OperationName } from '../core/results.js';
import catalogueFile from './known-problems.json' with { type: 'json' };

const OPERATIONS = [...STAGE_NAMES, 'restore', 'backup'] as const satisfies readonly OperationName[];

/** Where a signature is looked for: the server's console output, or a database error of apim-migrate's own SQL. */
export type KnownProblemSource = KnownProblemMatch['source'];
export type { KnownProblemMatch };

const entrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'ids are kebab-case'),
    signature: z.string().min(1),
    /** Only `i` (ignore case) is allowed: `g`/`y` would make `test` stateful. */
    flags: z.enum(['i']).optional(),
    sources: z.array(z.enum(['server-log', 'database'])).min(1),
    stages: z.array(z.enum(OPERATIONS)).min(1),
    /**
     * `line` (default): any matching line counts. `last-line-of-failed-run`: the line only counts when the run
     * failed and the migration client printed nothing after it (a line whose silence is the problem).
     */
    when: z.enum(['line', 'last-line-of-failed-run']).optional(),
    cause: z.string().min(1),
    fix: z.string().min(1),
    reference: z.string().url(),
  })
  .strict();

const catalogueSchema = z.object({ problems: z.array(entrySchema).min(1) }).strict();

export interface KnownProblem {
  id: string;
  signature: RegExp;
  sources: readonly KnownProblemSource[];
  stages: readonly OperationName[];
  when: 'line' | 'last-line-of-failed-run';
  cause: string;
  fix: string;
  reference: string;
}

/**
 * Checks a catalogue: the schema, every signature compiles, ids are unique. Throws one error that lists every
 * problem, so that a bad entry is found before any stage runs.
 */
export function parseKnownProblems(data: unknown, file = 'known-problems.json'): KnownProblem[] {
  const parsed = catalogueSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new Error(`${file} is not a valid catalogue of known problems:\n  - ${problems.join('\n  - ')}`);
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  const entries: KnownProblem[] = [];
  for (const entry of parsed.data.problems) {
    if (seen.has(entry.id)) problems.push(`id ${entry.id} is used twice`);
    seen.add(entry.id);
    let signature: RegExp;
    try {
      signature = new RegExp(entry.signature, entry.flags ?? '');
    } catch (error) {
      problems.push(`${entry.id}: the signature does not compile (${(error as Error).message})`);
      continue;
    }
    entries.push({
      id: entry.id,
      signature,
      sources: entry.sources,
      stages: entry.stages,
      when: entry.when ?? 'line',
      cause: entry.cause,
      fix: entry.fix,
      reference: entry.reference,
    });
  }
  if (problems.length > 0) {
    throw new Error(`${file} is not a valid catalogue of known problems:\n  - ${problems.join('\n  - ')}`);
  }
  return entries;
}

let bundled: KnownProblem[] | undefined;

/** The catalogue shipped with apim-migrate, checked once on first use. */
export function knownProblems(): readonly KnownProblem[] {
  bundled ??= parseKnownProblems(catalogueFile);
  return bundled;
}

export interface MatchOptions {
  stage: OperationName;
  source: KnownProblemSource;
  /** Which entries to consider; default the ones that count on any line. */
  when?: KnownProblem['when'];
  catalogue?: readonly KnownProblem[];
}

/** The entries whose signature is in `text`, for this stage and source. */
export function matchKnownProblems(text: string, options: MatchOptions): KnownProblem[] {
  const when = options.when ?? 'line';
  return (options.catalogue ?? knownProblems()).filter(
    (entry) =>
      entry.when === when &&
      entry.sources.includes(options.source) &&
      entry.stages.includes(options.stage) &&
      entry.signature.test(text),
  );
}

/** The line printed for a match, in the CLI output and the annotation alike. */
export function formatKnownProblem(problem: Pick<KnownProblemMatch, 'id' | 'cause' | 'fix' | 'reference'>): string {
  return `Known problem ${problem.id}: ${problem.cause} Fix: ${problem.fix} (${problem.reference})`;
}
