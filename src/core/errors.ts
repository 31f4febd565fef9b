/**
 * Errors that carry what a person needs: what failed, where, and what to do next.
 * `exitCode` follows the CLI contract: 1 a stage failed, 2 the input or config is wrong.
 */

export interface Problem {
  /** The file the problem is in, when there is one. */
  file?: string;
  /** 1-based line and column in that file. */
  line?: number;
  column?: number;
  message: string;
}

export function formatProblem(problem: Problem): string {
  const where = problem.file
    ? `${problem.file}${problem.line ? `:${problem.line}${problem.column ? `:${problem.column}` : ''}` : ''}: `
    : '';
  return `${where}${problem.message}`;
}

/** Wrong input: a bad config, a missing file, an unknown flag. Exit code 2, no stack trace. */
export class InputError extends Error {
  readonly exitCode = 2;
  readonly problems: Problem[];

  constructor(problems: Problem | Problem[], options?: { cause?: unknown; headline?: string }) {
    const list = Array.isArray(problems) ? problems : [problems];
    const headline = options?.headline;
    const body = list.map(formatProblem);
    const message =
      headline !== undefined
        ? [headline, ...body.map((line) => `  - ${line}`)].join('\n')
        : body.length === 1
          ? (body[0] ?? '')
          : [`${body.length} problems:`, ...body.map((line) => `  - ${line}`)].join('\n');
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InputError';
    this.problems = list;
  }
}

/** Something this version of apim-migrate cannot do yet or does not support here. Exit code 2. */
export class UnsupportedError extends InputError {
  constructor(message: string, file?: string) {
    super(file === undefined ? { message } : { file, message });
    this.name = 'UnsupportedError';
  }
}

/**
 * The exit code of a failure, the same for the CLI and the action: an error that carries its own (an InputError,
 * a DbConnectError for credentials the database refuses: 2; one for a database that does not answer: 1) gives it,
 * anything else is a failed stage (1).
 */
export function exitCodeOf(error: unknown): 1 | 2 {
  if (error instanceof Error && 'exitCode' in error && (error.exitCode === 1 || error.exitCode === 2))
    return error.exitCode;
  return 1;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
