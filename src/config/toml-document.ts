/**
 * The one reader of `deployment.toml`: smol-toml for the values, and a scanner of TOML's structure for where each
 * table and value is written (smol-toml reports no positions). Config loading names the line of each database
 * entry, the edits replace values in place keeping comments and layout, and verify reads values, all through it.
 */
import { isDeepStrictEqual } from 'node:util';
import { parse, TomlDate, TomlError } from 'smol-toml';
import type { TomlTable, TomlValue } from 'smol-toml';
import { InputError, UnsupportedError } from '../core/errors.js';

export type { TomlTable, TomlValue } from 'smol-toml';

export interface TomlDocument {
  file: string;
  text: string;
  /** The values, as smol-toml reads them. */
  data: TomlTable;
  /** Where the tables and values are written; undefined when the scanner could not follow the layout. */
  layout?: TomlLayout;
  /** Why the layout is unknown. */
  layoutProblem?: string;
}

/** Reads a TOML file: its values (a syntax error is an InputError at its line) and where they are written. */
export function readTomlDocument(text: string, file: string): TomlDocument {
  const data = parseTomlText(text, file);
  try {
    return { file, text, data, layout: new TomlScanner(text).scan() };
  } catch (error) {
    return { file, text, data, layoutProblem: (error as Error).message };
  }
}

/** The layout, for a caller that edits the text: without it nothing can be changed safely. */
export function requireLayout(document: TomlDocument): TomlLayout {
  if (document.layout) return document.layout;
  throw new UnsupportedError(
    `apim-migrate could not follow the layout of this file (${document.layoutProblem ?? 'unknown layout'}); nothing was changed`,
    document.file,
  );
}

/** The values of a TOML text; a syntax error is an InputError at its line and column. */
export function parseTomlText(text: string, file: string): TomlTable {
  try {
    return parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    // smol-toml appends a code excerpt after a blank line; the location is reported separately.
    const headline = (error.message.split('\n\n')[0] ?? error.message).replace(/^Invalid TOML document:\s*/, '');
    throw new InputError(
      {
        file,
        line: error.line,
        column: error.column,
        message: `invalid TOML: ${headline}: fix the TOML syntax at this place (WSO2 would not start with this file either)`,
      },
      { cause: error },
    );
  }
}

/** The 1-based line where the first table header or value under `prefix` is written. */
export function lineOf(document: TomlDocument, prefix: readonly string[]): number | undefined {
  const under = (path: readonly string[]) => prefix.every((key, index) => path[index] === key);
  const lines = [
    ...(document.layout?.tables ?? []).filter((table) => under(table.path)).map((table) => table.line),
    ...(document.layout?.values ?? []).filter((value) => under(value.path)).map((value) => value.line),
  ];
  return lines.length === 0 ? undefined : Math.min(...lines);
}

/** The value at `path` of a table, or undefined. */
export function getPath(table: TomlTable, path: readonly string[]): TomlValue | undefined {
  let current: TomlValue | undefined = table;
  for (const key of path) current = current !== undefined && isTable(current) ? current[key] : undefined;
  return current;
}

/** What a value is, for messages: `an integer`, `a table`, ... */
export function describeTomlType(value: TomlValue): string {
  if (typeof value === 'bigint') return 'an integer';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof TomlDate) return 'a date';
  return 'a table';
}

export function isTable(value: TomlValue): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof TomlDate);
}

// ---------------------------------------------------------------------------------------------------------------
// Where things are written: a scanner of TOML's structure (the text is known to be valid TOML by now)

export interface TableHeader {
  path: string[];
  array: boolean;
  /** 1-based line of the header. */
  line: number;
  /** Offset after the header line's line break (or the end of the text). */
  end: number;
}

export interface ValueSpan {
  /** The full key path, table included. */
  path: string[];
  start: number;
  end: number;
  kind: 'basic' | 'literal' | 'multiline' | 'other';
  /** 1-based line of the value. */
  line: number;
}

export interface TomlLayout {
  eol: '\n' | '\r\n';
  tables: TableHeader[];
  values: ValueSpan[];
}

export function findValue(layout: TomlLayout, path: readonly string[]): ValueSpan | undefined {
  return layout.values.find((value) => isDeepStrictEqual(value.path, path));
}

class TomlScanner {
  private position = 0;

  constructor(private readonly text: string) {}

  scan(): TomlLayout {
    const newline = this.text.indexOf('\n');
    const layout: TomlLayout = {
      eol: newline > 0 && this.text[newline - 1] === '\r' ? '\r\n' : '\n',
      tables: [],
      values: [],
    };
    let table: string[] = [];
    while (this.position < this.text.length) {
      this.skipSpaces();
      if (this.atLineEnd()) {
        this.endLine();
        continue;
      }
      if (this.peek() === '[') {
        const line = this.lineOf(this.position);
        const array = this.text.startsWith('[[', this.position);
        this.position += array ? 2 : 1;
        const path = this.readKeyPath();
        this.expect(array ? ']]' : ']');
        this.endLine();
        layout.tables.push({ path, array, line, end: this.position });
        table = path;
        continue;
      }
      const key = this.readKeyPath();
      this.expect('=');
      this.skipSpaces();
      const value = this.readValue();
      layout.values.push({ path: [...table, ...key], ...value, line: this.lineOf(value.start) });
      this.endLine();
    }
    return layout;
  }

  private peek(offset = 0): string | undefined {
    return this.text[this.position + offset];
  }

  private lineOf(offset: number): number {
    return this.text.slice(0, offset).split('\n').length;
  }

  private fail(what: string): never {
    throw new Error(`${what} at line ${this.lineOf(this.position)}`);
  }

  private expect(token: string): void {
    this.skipSpaces();
    if (!this.text.startsWith(token, this.position)) this.fail(`expected "${token}"`);
    this.position += token.length;
  }

  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.position += 1;
  }

  /** Spaces, comments and line breaks, as allowed inside arrays. */
  private skipBlankSpace(): void {
    for (;;) {
      this.skipSpaces();
      if (this.peek() === '#') this.skipComment();
      else if (this.peek() === '\n') this.position += 1;
      else if (this.peek() === '\r' && this.peek(1) === '\n') this.position += 2;
      else return;
    }
  }

  private skipComment(): void {
    while (this.position < this.text.length && this.peek() !== '\n' && !this.atCrLf()) this.position += 1;
  }

  private atCrLf(): boolean {
    return this.peek() === '\r' && this.peek(1) === '\n';
  }

  private atLineEnd(): boolean {
    return this.position >= this.text.length || this.peek() === '\n' || this.peek() === '#' || this.atCrLf();
  }

  /** Expects the rest of the line to be blank or a comment, and moves past its line break. */
  private endLine(): void {
    this.skipSpaces();
    if (this.peek() === '#') this.skipComment();
    if (this.position >= this.text.length) return;
    if (this.peek() === '\n') this.position += 1;
    else if (this.atCrLf()) this.position += 2;
    else this.fail('unexpected text after a value');
  }

  private readKeyPath(): string[] {
    const path: string[] = [];
    for (;;) {
      this.skipSpaces();
      path.push(this.readKey());
      this.skipSpaces();
      if (this.peek() !== '.') return path;
      this.position += 1;
    }
  }

  private readKey(): string {
    const quote = this.peek();
    if (quote === '"' || quote === "'") {
      const { start, end } = this.readQuoted(quote);
      const inner = this.text.slice(start + 1, end - 1);
      return quote === '"' ? decodeBasicEscapes(inner) : inner;
    }
    const bare = /^[A-Za-z0-9_-]+/.exec(this.text.slice(this.position, this.position + 256))?.[0];
    if (bare === undefined) this.fail('expected a key');
    this.position += bare.length;
    return bare;
  }

  private readQuoted(quote: string): { start: number; end: number } {
    const start = this.position;
    this.position += 1;
    while (this.position < this.text.length) {
      const char = this.peek();
      if (char === '\n') break;
      if (quote === '"' && char === '\\') this.position += 2;
      else if (char === quote) {
        this.position += 1;
        return { start, end: this.position };
      } else this.position += 1;
    }
    return this.fail('unclosed string');
  }

  private readMultiline(delimiter: string): void {
    this.position += 3;
    while (this.position < this.text.length) {
      if (delimiter === '"""' && this.peek() === '\\') this.position += 2;
      else if (this.text.startsWith(delimiter, this.position)) {
        this.position += 3;
        // Up to two quotes right before the closing delimiter belong to the string.
        for (let extra = 0; extra < 2 && this.peek() === delimiter[0]; extra += 1) this.position += 1;
        return;
      } else this.position += 1;
    }
    this.fail('unclosed multi-line string');
  }

  private readValue(): { start: number; end: number; kind: ValueSpan['kind'] } {
    const start = this.position;
    const char = this.peek();
    if (this.text.startsWith('"""', start) || this.text.startsWith("'''", start)) {
      this.readMultiline(this.text.slice(start, start + 3));
      return { start, end: this.position, kind: 'multiline' };
    }
    if (char === '"' || char === "'") {
      this.readQuoted(char);
      return { start, end: this.position, kind: char === '"' ? 'basic' : 'literal' };
    }
    if (char === '[') this.readArray();
    else if (char === '{') this.readInlineTable();
    else this.readBareValue();
    return { start, end: this.position, kind: 'other' };
  }

  private readArray(): void {
    this.position += 1;
    for (;;) {
      this.skipBlankSpace();
      if (this.peek() === ']') break;
      this.readValue();
      this.skipBlankSpace();
      if (this.peek() === ',') this.position += 1;
      else if (this.peek() !== ']') this.fail('expected "," or "]" in an array');
    }
    this.position += 1;
  }

  private readInlineTable(): void {
    this.position += 1;
    for (;;) {
      this.skipBlankSpace();
      if (this.peek() === '}') break;
      this.readKeyPath();
      this.expect('=');
      this.skipSpaces();
      this.readValue();
      this.skipBlankSpace();
      if (this.peek() === ',') this.position += 1;
      else if (this.peek() !== '}') this.fail('expected "," or "}" in an inline table');
    }
    this.position += 1;
  }

  /** Numbers, booleans, dates and times; a date and a time may be separated by one space. */
  private readBareValue(): void {
    const rest = this.text.slice(this.position, this.position + 256);
    const token = /^(\d{4}-\d{2}-\d{2} \d{2}:[^\s,\]}#]*|[^\s,\]}#]+)/.exec(rest)?.[0];
    if (token === undefined) this.fail('expected a value');
    this.position += token.length;
  }
}

const ESCAPES: Record<string, string> = {
  b: '\b',
  t: '\t',
  n: '\n',
  f: '\f',
  r: '\r',
  e: '\u001b',
  '"': '"',
  '\\': '\\',
};

function decodeBasicEscapes(inner: string): string {
  return inner.replace(/\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|.)/g, (_, escape: string) =>
    escape.length > 1 ? String.fromCodePoint(parseInt(escape.slice(1), 16)) : (ESCAPES[escape] ?? escape),
  );
}
