/**
 * Picks out of a server's console output the text that may name a known problem: each WARN, ERROR or FATAL record
 * with the lines that follow it (its stack trace: log4j prints a throwable below the message), and the two kinds of
 * raw line the JVM prints of itself on a failure, wherever they come: `Exception in thread "..."` (an uncaught
 * exception) and `java.lang.OutOfMemoryError: ...` (the notice of -XX:+HeapDumpOnOutOfMemoryError). INFO and DEBUG
 * records, and the lines below them, are never picked: a registry name that quotes an error is no failure. Pure.
 */
import { parseLogRecord, type LogRecord } from './log-matcher.js';

/** One record and its stack trace. */
export interface ProblemText {
  /** The record's message (or the raw JVM line) that heads it. */
  head: string;
  /** The head and the lines below it, joined by line breaks. */
  text: string;
}

/** A stack trace is kept up to this many lines (a deep one still shows its causes near the top). */
const MAX_LINES = 200;
const MAX_CHARS = 40_000;
const JVM_FAILURE = /^(Exception in thread "|java\.lang\.OutOfMemoryError\b)/;

export interface ProblemLineCollector {
  /**
   * Feeds one console line; returns the texts it completed (the record before it, when this line starts another):
   * each text is handed over once, whole, so that matching costs one pass over the output.
   */
  push(line: string): ProblemText[];
  /** The same, for a caller that has parsed the line already (`parseLogRecord(line)`), so it is parsed once. */
  pushParsed(line: string, record: LogRecord | undefined): ProblemText[];
  /** The text still open at the end of the output. */
  flush(): ProblemText[];
}

export function createProblemLineCollector(): ProblemLineCollector {
  let current: { head: string; lines: string[]; chars: number } | undefined;
  const close = (): ProblemText[] => {
    const done = current;
    current = undefined;
    return done ? [{ head: done.head, text: done.lines.join('\n') }] : [];
  };
  const open = (head: string): void => {
    current = { head, lines: [head], chars: head.length };
  };
  const pushParsed = (line: string, record: LogRecord | undefined): ProblemText[] => {
    if (record) {
      const done = close();
      if (record.level === 'WARN' || record.level === 'ERROR' || record.level === 'FATAL') open(record.message);
      return done;
    }
    const raw = line.trimEnd();
    // Inside a WARN/ERROR record's lines it is part of that record's trace; elsewhere it heads a text of its own.
    if (!current && JVM_FAILURE.test(raw)) {
      open(raw);
      return [];
    }
    if (current && raw !== '' && current.lines.length < MAX_LINES && current.chars < MAX_CHARS) {
      current.lines.push(raw);
      current.chars += raw.length + 1;
    }
    return [];
  };
  return {
    push: (line) => pushParsed(line, parseLogRecord(line)),
    pushParsed,
    flush: close,
  };
}
