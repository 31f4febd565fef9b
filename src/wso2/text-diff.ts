/**
 * Text-level edits of configuration files, and the unified diffs that `plan` and the logs show of them.
 * The config edits splice new text into the original so that everything they do not change stays byte-identical.
 */
import { FILE_HEADERS_ONLY, createTwoFilesPatch } from 'diff';

/** Replace `text.slice(start, end)` with `text`; `start === end` inserts. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** Applies non-overlapping edits (in any order) to `text`. */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let result = '';
  let position = 0;
  for (const edit of sorted) {
    if (edit.start < position || edit.end < edit.start || edit.end > text.length) {
      throw new Error(`overlapping or out-of-range text edits at offset ${edit.start}`);
    }
    result += text.slice(position, edit.start) + edit.text;
    position = edit.end;
  }
  return result + text.slice(position);
}

/**
 * A unified diff of `before` and `after` with 3 lines of context, headed `--- file` / `+++ file`; empty when the
 * texts are equal. Carriage returns are left out of the comparison so that CRLF files show as ordinary lines.
 */
export function unifiedDiff(file: string, before: string, after: string): string {
  if (before === after) return '';
  return createTwoFilesPatch(file, file, before, after, undefined, undefined, {
    context: 3,
    stripTrailingCr: true,
    headerOptions: FILE_HEADERS_ONLY,
  });
}
