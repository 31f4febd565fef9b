/**
 * What a server run keeps of the console while it is watched, the same for a migration run (server-runner.ts) and
 * a normal start (server-start.ts): the last lines, for the message of a failure, and the latest WARN/ERROR texts
 * (problem-lines.ts), each handed once to the caller's `onProblemText` as it completes.
 */
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import type { LogRecord } from './log-matcher.js';
import { createProblemLineCollector, type ProblemText } from './problem-lines.js';

/** How many lines of console output a result keeps. */
export const LAST_LINES = 50;

/** How many trailing WARN/ERROR texts a result keeps. */
export const TRAILING_PROBLEM_TEXTS = 20;

export interface ConsoleTail {
  /** Keeps a (masked) line among the last ones. */
  keep(line: string): void;
  /** Feeds a line, parsed already, to the problem texts; relays and keeps each text it completes. */
  examine(line: string, record: LogRecord | undefined): void;
  /** Relays and keeps the text still open at the end of the output. */
  flush(): void;
  /** Forgets the problem texts kept so far (not the relayed ones: they are the caller's). */
  forgetProblemTexts(): void;
  lastLines(): string[];
  /** The latest problem texts, at most {@link TRAILING_PROBLEM_TEXTS}, oldest first. */
  problemTexts(): ProblemText[];
}

export function createConsoleTail(
  onProblemText: ((problem: ProblemText) => void) | undefined,
  logger: Logger,
): ConsoleTail {
  const lines: string[] = [];
  const collector = createProblemLineCollector();
  let texts: ProblemText[] = [];
  const relay = (completed: ProblemText[]): void => {
    for (const text of completed) {
      texts.push(text);
      if (texts.length > TRAILING_PROBLEM_TEXTS) texts.shift();
      // Explaining a line must never cost the run its log or its verdict: a callback that throws is only logged.
      try {
        onProblemText?.(text);
      } catch (error) {
        logger.warning(`Could not match a server line against the known problems: ${errorMessage(error)}`);
      }
    }
  };
  return {
    keep(line) {
      lines.push(line);
      if (lines.length > LAST_LINES) lines.shift();
    },
    examine(line, record) {
      relay(collector.pushParsed(line, record));
    },
    flush() {
      relay(collector.flush());
    },
    forgetProblemTexts() {
      texts = [];
    },
    lastLines: () => [...lines],
    problemTexts: () => [...texts],
  };
}
