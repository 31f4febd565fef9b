import { describe, expect, it } from 'vitest';
import { createConsoleTail, LAST_LINES, TRAILING_PROBLEM_TEXTS } from '../../src/server/console-tail.js';
import { parseLogRecord } from '../../src/server/log-matcher.js';
import type { ProblemText } from '../../src/server/problem-lines.js';
import { createRecordingLogger } from '../helpers/fakes.js';

const record = (level: string, message: string): string =>
  `[2026-12-07 10:00:00,000] ${level} {org.wso2.carbon.Example} - ${message}`;

function feed(tail: ReturnType<typeof createConsoleTail>, lines: string[]): void {
  for (const line of lines) {
    tail.keep(line);
    tail.examine(line, parseLogRecord(line));
  }
}

describe('createConsoleTail', () => {
  it('keeps the last lines and the latest problem texts, relaying each once as it completes', () => {
    const relayed: ProblemText[] = [];
    const tail = createConsoleTail((text) => relayed.push(text), createRecordingLogger());
    const lines = Array.from({ length: LAST_LINES + 10 }, (_, index) => record('INFO', `line ${index}`));
    feed(tail, [record('ERROR', 'first failure'), '\tat org.example.A.run(A.java:1)', ...lines]);
    expect(tail.lastLines()).toHaveLength(LAST_LINES);
    expect(tail.lastLines()[0]).toContain('line 10');
    expect(relayed.map((text) => text.head)).toEqual(['first failure']);
    expect(relayed[0]?.text).toContain('A.java:1');

    feed(tail, [record('WARN', 'open at the end')]);
    expect(relayed).toHaveLength(1);
    tail.flush();
    expect(relayed.map((text) => text.head)).toEqual(['first failure', 'open at the end']);
    expect(tail.problemTexts().map((text) => text.head)).toEqual(['first failure', 'open at the end']);
  });

  it(`keeps at most ${TRAILING_PROBLEM_TEXTS} problem texts, and forgets them on demand but still relays`, () => {
    const relayed: string[] = [];
    const tail = createConsoleTail((text) => relayed.push(text.head), createRecordingLogger());
    feed(
      tail,
      Array.from({ length: TRAILING_PROBLEM_TEXTS + 5 }, (_, index) => record('ERROR', `e${index}`)),
    );
    tail.flush();
    expect(relayed).toHaveLength(TRAILING_PROBLEM_TEXTS + 5);
    expect(tail.problemTexts()).toHaveLength(TRAILING_PROBLEM_TEXTS);
    expect(tail.problemTexts()[0]?.head).toBe('e5');
    tail.forgetProblemTexts();
    expect(tail.problemTexts()).toEqual([]);
    feed(tail, [record('ERROR', 'after'), record('INFO', 'next')]);
    expect(tail.problemTexts().map((text) => text.head)).toEqual(['after']);
  });

  it('a callback that throws is logged as a warning and costs nothing else', () => {
    const logger = createRecordingLogger();
    const tail = createConsoleTail(() => {
      throw new Error('matcher broke');
    }, logger);
    feed(tail, [record('ERROR', 'boom'), record('INFO', 'after')]);
    expect(logger.lines).toContain('warning: Could not match a server line against the known problems: matcher broke');
    expect(tail.problemTexts().map((text) => text.head)).toEqual(['boom']);
  });
});
