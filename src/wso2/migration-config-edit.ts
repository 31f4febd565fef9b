/**
 * The edits of WSO2's guide (Step 2) to the identity migration client's `migration-resources/migration-config.yaml`:
 * `currentVersion` and `migrateVersion` get their values, `migrationEnable` becomes "true" (the client returns silently
 * otherwise), and four migrators leave `versions[]`. The target version must have its own entry in `versions[]`.
 *
 * The file is edited as text: yaml finds the nodes and their offsets, and only those spans change, so every
 * comment, blank line, quote and list style elsewhere stays byte for byte. The result is parsed again and
 * compared with the original, structure for structure, before it is returned.
 */
import { isDeepStrictEqual } from 'node:util';
import { LineCounter, Scalar, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, YAMLMap, YAMLSeq } from 'yaml';
import type { IdentityTargetVersion } from '../config/types.js';
import { InputError, UnsupportedError } from '../core/errors.js';
import type { Problem } from '../core/errors.js';
import { IDENTITY_CURRENT_VERSION, IDENTITY_MIGRATORS_TO_REMOVE } from './registry.js';
import type { MigratorRemoval } from './registry.js';
import { applyTextEdits } from './text-diff.js';
import type { TextEdit } from './text-diff.js';

export interface EditMigrationConfigOptions {
  targetVersion: IdentityTargetVersion;
  /** The path of the file, for messages. */
  file: string;
}

export interface EditMigrationConfigResult {
  /** The edited text; the input itself when nothing had to change. */
  text: string;
  /** One line per change made, for the logs; empty when the file already had every edit. */
  changes: string[];
}

const TARGET_VERSIONS: readonly string[] = ['6.0.0', '6.1.0'] satisfies readonly IdentityTargetVersion[];

/**
 * Sets `currentVersion` and `migrateVersion` and removes the migrators of `IDENTITY_MIGRATORS_TO_REMOVE`, each
 * matched by its version entry, its name and its parameters (never by position or `order`).
 *
 * A migrator that is not there is an InputError, unless the file was edited before: when `currentVersion` is
 * already "5.10.0" and `migrateVersion` already one of the 6.x targets, missing migrators count as already
 * removed, so running the edit again gives back the same text and no changes. (The client ships placeholder
 * versions such as "5.x.x", so both values set means someone, apim-migrate or a person following the guide, has
 * made these edits.)
 */
export function editMigrationConfig(text: string, options: EditMigrationConfigOptions): EditMigrationConfigResult {
  const { file, targetVersion } = options;
  const lineCounter = new LineCounter();
  const document = parseConfig(text, file, lineCounter);
  const root = document.contents;
  if (!isMap(root)) {
    throw new InputError({
      file,
      message:
        'is not an identity migration-config.yaml: its top level must be a map with currentVersion, migrateVersion and versions',
    });
  }
  rejectMigratedVersion(root, file, lineCounter);
  const current = readVersionValue(root, 'currentVersion', file, lineCounter);
  const migrate = readVersionValue(root, 'migrateVersion', file, lineCounter);
  const editedBefore = current.value === IDENTITY_CURRENT_VERSION && TARGET_VERSIONS.includes(migrate.value);

  const versions = readVersions(root, file, lineCounter);
  requireTargetEntry(versions, targetVersion, file, lineCounter);
  // The client returns silently unless migrationEnable reads as true.
  const enable = readVersionValue(root, 'migrationEnable', file, lineCounter);

  const edits: TextEdit[] = [];
  const changes: string[] = [];
  for (const [setting, value] of [
    [enable, 'true'],
    [current, IDENTITY_CURRENT_VERSION],
    [migrate, targetVersion],
  ] as const) {
    if (setting.value === value) continue;
    edits.push(replaceScalar(setting, value, file, lineCounter));
    changes.push(`set ${setting.key} from "${setting.value}" to "${value}"`);
  }

  const found = findRemovals(versions);
  const missing = IDENTITY_MIGRATORS_TO_REMOVE.filter((removal) => !found.some((match) => match.removal === removal));
  if (missing.length > 0 && !editedBefore) {
    throw new InputError(
      missing.map((removal) => describeMissing(removal, versions, file, lineCounter)),
      {
        headline:
          `${file} does not hold every migrator that WSO2's guide says to remove, so the identity migration kit may ` +
          `be a different client release than the one the guide for API-M 4.2.0 describes (1.0.225). Use that kit, ` +
          `or edit the kit's migration-config.yaml by hand: remove the migrators, set currentVersion: ` +
          `"${IDENTITY_CURRENT_VERSION}" and migrateVersion: "${targetVersion}" (with both set, apim-migrate takes ` +
          `the file as edited). What is missing:`,
      },
    );
  }
  for (const match of found) changes.push(describeRemoval(match));
  edits.push(...removeItems(text, found));

  const edited = edits.length === 0 ? text : applyTextEdits(text, edits);
  checkEditedConfig({ before: document, edited, found, targetVersion, file });
  return { text: edited, changes };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the file

function parseConfig(text: string, file: string, lineCounter: LineCounter): Document.Parsed {
  const document = parseDocument(text, { keepSourceTokens: true, lineCounter });
  const error = document.errors[0];
  if (error !== undefined) {
    const position = error.linePos?.[0];
    const problem: Problem = {
      file,
      message: `invalid YAML: ${error.message.split('\n')[0] ?? error.message}: fix the file (the identity migration client could not read it either)`,
    };
    if (position) {
      problem.line = position.line;
      problem.column = position.col;
    }
    throw new InputError(problem, { cause: error });
  }
  return document;
}

function locate(file: string, lineCounter: LineCounter, node: YamlNode | null | undefined): Problem {
  const offset = node?.range?.[0];
  return offset === undefined ? { file, message: '' } : { file, line: lineCounter.linePos(offset).line, message: '' };
}

/** SnakeYAML loads the file into a fixed class, so an unknown key stops the client. */
function rejectMigratedVersion(root: YAMLMap, file: string, lineCounter: LineCounter): void {
  const pair = root.items.find((item) => isScalar(item.key) && item.key.value === 'migratedVersion');
  if (pair === undefined) return;
  throw new InputError({
    ...locate(file, lineCounter, pair.key as YamlNode),
    message:
      'has a `migratedVersion` key, which the identity migration client does not know and stops at: the key is ' +
      '`migrateVersion`; remove `migratedVersion` (or take a fresh copy of the file from the migration kit)',
  });
}

interface VersionValue {
  key: 'currentVersion' | 'migrateVersion' | 'migrationEnable';
  node: Scalar;
  value: string;
}

function readVersionValue(
  root: YAMLMap,
  key: VersionValue['key'],
  file: string,
  lineCounter: LineCounter,
): VersionValue {
  const node = root.get(key, true);
  if (node === undefined) {
    throw new InputError({
      file,
      message:
        `has no \`${key}\` key: this is not the identity migration client's migration-config.yaml, or it was edited; ` +
        `take a fresh copy from the migration kit`,
    });
  }
  if (!isScalar(node) || !isVersionScalar(node)) {
    throw new InputError({
      ...locate(file, lineCounter, node as YamlNode),
      message: `\`${key}\` must be a one-line string, like ${key}: "5.x.x"`,
    });
  }
  return { key, node, value: String(node.value) };
}

function isVersionScalar(node: Scalar): boolean {
  return node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE || node.type === Scalar.PLAIN;
}

/** Replaces the value in the quoting it was written in (the client ships double-quoted strings). */
function replaceScalar(setting: VersionValue, value: string, file: string, lineCounter: LineCounter): TextEdit {
  const range = setting.node.range;
  if (!range) {
    throw new InputError({ ...locate(file, lineCounter, setting.node), message: `\`${setting.key}\` has no value` });
  }
  const quote = setting.node.type === Scalar.QUOTE_DOUBLE ? '"' : setting.node.type === Scalar.QUOTE_SINGLE ? "'" : '';
  return { start: range[0], end: range[1], text: `${quote}${value}${quote}` };
}

/**
 * The client walks `versions[]` and stops after the entry whose version equals migrateVersion; with no such entry it
 * runs to the end of its list and still prints its success line, so the target would silently not be reached.
 */
function requireTargetEntry(versions: YAMLSeq, targetVersion: string, file: string, lineCounter: LineCounter): void {
  const listed = listVersionEntries(versions).map((entry) => entry.version);
  if (listed.includes(targetVersion)) return;
  throw new InputError({
    ...locate(file, lineCounter, versions),
    message:
      `versions has no entry with version: "${targetVersion}" (identity.targetVersion); it lists ` +
      `${listed.length > 0 ? listed.map((version) => `"${version}"`).join(', ') : 'none'}. The identity migration ` +
      `client stops only at the entry that equals migrateVersion: without one it runs to the end of its list, migrates ` +
      `to ${listed.at(-1) ?? 'its last version'} only, and still prints its success line. Use a kit whose ` +
      `migration-config.yaml has a "${targetVersion}" entry, or set identity.targetVersion to a version it lists`,
  });
}

function readVersions(root: YAMLMap, file: string, lineCounter: LineCounter): YAMLSeq {
  const versions = root.get('versions', true);
  if (isSeq(versions)) return versions;
  throw new InputError({
    ...(versions === undefined ? { file } : locate(file, lineCounter, versions as YamlNode)),
    message:
      versions === undefined
        ? 'has no `versions` list: take a fresh copy of migration-config.yaml from the identity migration kit'
        : '`versions` must be a list of { version, migratorConfigs } entries',
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Finding the migrators

interface VersionEntry {
  node: YAMLMap;
  version: string;
  migrators: YAMLSeq | undefined;
}

interface RemovalMatch {
  removal: MigratorRemoval;
  version: VersionEntry;
  /** The list the migrator is in, and its index there. */
  list: YAMLSeq;
  index: number;
  item: YAMLMap;
}

function listVersionEntries(versions: YAMLSeq): VersionEntry[] {
  const entries: VersionEntry[] = [];
  for (const node of versions.items) {
    if (!isMap(node)) continue;
    const version = node.get('version');
    const migrators = node.get('migratorConfigs', true);
    entries.push({ node, version: String(version), migrators: isSeq(migrators) ? migrators : undefined });
  }
  return entries;
}

function findRemovals(versions: YAMLSeq): RemovalMatch[] {
  const matches: RemovalMatch[] = [];
  for (const version of listVersionEntries(versions)) {
    const list = version.migrators;
    if (list === undefined) continue;
    list.items.forEach((item, index) => {
      if (!isMap(item)) return;
      const migrator = readMigrator(item);
      const removal = IDENTITY_MIGRATORS_TO_REMOVE.find((candidate) =>
        isMigrator(candidate, version.version, migrator),
      );
      if (removal !== undefined) matches.push({ removal, version, list, index, item });
    });
  }
  return matches;
}

interface MigratorFields {
  name: string;
  order: unknown;
  parameters: Record<string, unknown>;
}

function readMigrator(item: YAMLMap): MigratorFields {
  const parameters: unknown = item.get('parameters', true);
  const plain: unknown = isMap(parameters) ? parameters.toJSON() : {};
  return {
    name: String(item.get('name')),
    order: item.get('order'),
    parameters: typeof plain === 'object' && plain !== null ? (plain as Record<string, unknown>) : {},
  };
}

function isMigrator(removal: MigratorRemoval, version: string, migrator: MigratorFields): boolean {
  if (version !== removal.version || migrator.name !== removal.name) return false;
  return Object.entries(removal.parameters ?? {}).every(([key, value]) => String(migrator.parameters[key]) === value);
}

function describeMigrator(removal: MigratorRemoval): string {
  const parameters = Object.entries(removal.parameters ?? {}).map(([key, value]) => `${key}: "${value}"`);
  return parameters.length === 0 ? removal.name : `${removal.name} with ${parameters.join(', ')}`;
}

function describeRemoval(match: RemovalMatch): string {
  const order = match.item.get('order');
  const where = order === undefined ? '' : ` (order ${String(order)})`;
  return `removed ${describeMigrator(match.removal)}${where} from version "${match.version.version}"`;
}

function describeMissing(removal: MigratorRemoval, versions: YAMLSeq, file: string, lineCounter: LineCounter): Problem {
  const entries = listVersionEntries(versions).filter((entry) => entry.version === removal.version);
  const wanted = `${describeMigrator(removal)} (order ${removal.usualOrder} in client 1.0.225)`;
  if (entries.length === 0) {
    return {
      ...locate(file, lineCounter, versions),
      message: `versions has no entry with version: "${removal.version}", so ${wanted} cannot be removed`,
    };
  }
  const entry = entries[0] as VersionEntry;
  const similar = entries.flatMap((candidate) =>
    (candidate.migrators?.items ?? [])
      .filter(isMap)
      .map(readMigrator)
      .filter((migrator) => isSimilar(removal, migrator)),
  );
  const hint =
    similar.length === 0
      ? ''
      : `; it has ${similar.map((migrator) => describeFound(migrator)).join(' and ')}, which must stay`;
  return {
    ...locate(file, lineCounter, entry.node),
    message: `version "${removal.version}" has no ${wanted}${hint}`,
  };
}

/** The same name, and a parameter in common when the removal names parameters: what a person might mistake for it. */
function isSimilar(removal: MigratorRemoval, migrator: MigratorFields): boolean {
  if (migrator.name !== removal.name) return false;
  const wanted = Object.entries(removal.parameters ?? {});
  return wanted.length === 0 || wanted.some(([key, value]) => String(migrator.parameters[key]) === value);
}

function describeFound(migrator: MigratorFields): string {
  const parameters = Object.entries(migrator.parameters).map(([key, value]) => `${key}: ${JSON.stringify(value)}`);
  const order = migrator.order === undefined ? '' : ` order ${String(migrator.order)}`;
  return `${migrator.name}${order}${parameters.length === 0 ? '' : ` (${parameters.join(', ')})`}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Removing list items as text

interface Line {
  start: number;
  /** Offset after the line break (or the end of the text). */
  end: number;
  /** The line without its line break and carriage return. */
  content: string;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline + 1;
    const content = text.slice(start, newline === -1 ? end : newline).replace(/\r$/, '');
    lines.push({ start, end, content });
    start = end;
  }
  return lines;
}

function lineIndexAt(lines: readonly Line[], offset: number): number {
  let low = 0;
  let high = lines.length - 1;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if ((lines[middle] as Line).start <= offset) low = middle;
    else high = middle - 1;
  }
  return low;
}

const isBlank = (line: Line | undefined): boolean => line !== undefined && line.content.trim() === '';
const isComment = (line: Line): boolean => line.content.trimStart().startsWith('#');
const indentOf = (line: Line): number => line.content.length - line.content.trimStart().length;

function removeItems(text: string, matches: readonly RemovalMatch[]): TextEdit[] {
  const lines = splitLines(text);
  const byList = new Map<YAMLSeq, number[]>();
  for (const match of matches) byList.set(match.list, [...(byList.get(match.list) ?? []), match.index]);
  const edits: TextEdit[] = [];
  for (const [list, indices] of byList) {
    const sorted = [...new Set(indices)].sort((a, b) => a - b);
    edits.push(...(list.flow ? removeFlowItems(list, sorted) : removeBlockItems(text, lines, list, sorted)));
  }
  return edits;
}

/**
 * A block list item owns the lines from its `-` to the last line indented deeper than the `-` (its trailing
 * comments included), and the comment lines right above the `-` at the `-`'s own indentation. Items removed next
 * to each other go as one run. When the run sits between blank lines, the blank lines before it go too, so that
 * the list keeps one blank line between its remaining items.
 */
function removeBlockItems(text: string, lines: readonly Line[], list: YAMLSeq, indices: readonly number[]): TextEdit[] {
  const blocks = indices.map((index) => findBlockItemLines(text, lines, list, index));
  const runs: Array<{ first: number; last: number }> = [];
  for (const block of blocks) {
    const previous = runs.at(-1);
    if (previous && lines.slice(previous.last + 1, block.first).every((line) => isBlank(line)))
      previous.last = block.last;
    else runs.push({ ...block });
  }
  return runs.map(({ first, last }) => {
    let from = first;
    const after = lines[last + 1];
    if (isBlank(lines[from - 1]) && (after === undefined || isBlank(after))) {
      while (isBlank(lines[from - 1])) from -= 1;
    }
    return { start: (lines[from] as Line).start, end: (lines[last] as Line).end, text: '' };
  });
}

function findBlockItemLines(
  text: string,
  lines: readonly Line[],
  list: YAMLSeq,
  index: number,
): { first: number; last: number } {
  const item = list.items[index] as YamlNode;
  const dash = findDashOffset(list, item);
  const dashLine = lineIndexAt(lines, dash);
  const column = dash - (lines[dashLine] as Line).start;
  if (text.slice((lines[dashLine] as Line).start, dash).trim() !== '') {
    throw new UnsupportedError(`cannot remove a list item that shares its line with other content (offset ${dash})`);
  }
  let last = dashLine;
  for (let next = dashLine + 1; next < lines.length; next += 1) {
    const line = lines[next] as Line;
    if (isBlank(line)) continue;
    if (indentOf(line) > column) {
      last = next;
      continue;
    }
    if (!isComment(line) || !continuesItem(lines, next, column)) break;
  }
  const valueEnd = item.range?.[1];
  if (valueEnd === undefined || lineIndexAt(lines, Math.max(valueEnd - 1, dash)) > last) {
    throw new UnsupportedError(`cannot tell where the list item at line ${dashLine + 1} ends`);
  }
  let first = dashLine;
  while (first > 0) {
    const above = lines[first - 1] as Line;
    if (!isComment(above) || indentOf(above) !== column) break;
    first -= 1;
  }
  return { first, last };
}

/** A comment less indented than the item, followed (past blank lines and comments) by more of the item. */
function continuesItem(lines: readonly Line[], from: number, column: number): boolean {
  for (let next = from + 1; next < lines.length; next += 1) {
    const line = lines[next] as Line;
    if (isBlank(line) || isComment(line)) continue;
    return indentOf(line) > column;
  }
  return false;
}

/** The offset of the item's `-`, from the CST token whose value is the item. */
function findDashOffset(list: YAMLSeq, item: YamlNode): number {
  const token = list.srcToken;
  if (token?.type === 'block-seq') {
    const cstItem = token.items.find((candidate) => candidate.value !== undefined && candidate.value === item.srcToken);
    const dash = cstItem?.start.find((source) => source.type === 'seq-item-ind');
    if (dash !== undefined) return dash.offset;
  }
  throw new UnsupportedError(`cannot find the "-" of the list item at offset ${item.range?.[0] ?? '?'}`);
}

/**
 * Flow list items (`[a, b, c]`) go with the text up to the next item, or, for the last ones, from the end of the
 * item before them, so that the commas stay right.
 */
function removeFlowItems(list: YAMLSeq, indices: readonly number[]): TextEdit[] {
  const runs: Array<{ first: number; last: number }> = [];
  for (const index of indices) {
    const previous = runs.at(-1);
    if (previous && previous.last === index - 1) previous.last = index;
    else runs.push({ first: index, last: index });
  }
  const range = (index: number): [number, number] => {
    const node = list.items[index] as YamlNode | undefined;
    const nodeRange = node?.range;
    if (!nodeRange) throw new UnsupportedError(`cannot find item ${index + 1} of a flow list`);
    return [nodeRange[0], nodeRange[1]];
  };
  return runs.map(({ first, last }) => {
    if (last + 1 < list.items.length) return { start: range(first)[0], end: range(last + 1)[0], text: '' };
    if (first > 0) return { start: range(first - 1)[1], end: range(last)[1], text: '' };
    return { start: range(first)[0], end: range(last)[1], text: '' };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Checking the result

/**
 * Parses the edited text and compares it with the original: the same top-level keys in the same order, the two
 * versions set, exactly the matched migrators gone and everything else equal. A difference means the text edit
 * went wrong on a layout this code did not foresee; nothing is written then.
 */
function checkEditedConfig(input: {
  before: Document.Parsed;
  edited: string;
  found: readonly RemovalMatch[];
  targetVersion: IdentityTargetVersion;
  file: string;
}): void {
  const { before, edited, found, targetVersion, file } = input;
  const fail = (detail: string): never => {
    throw new UnsupportedError(
      `apim-migrate could not edit this file safely (${detail}); nothing was written. Make WSO2's edits by hand ` +
        `(currentVersion: "${IDENTITY_CURRENT_VERSION}", migrateVersion: "${targetVersion}", and remove ` +
        `${IDENTITY_MIGRATORS_TO_REMOVE.map(describeMigrator).join(', ')}) and run the stage again`,
      file,
    );
  };
  const after = parseDocument(edited);
  const error = after.errors[0];
  if (error !== undefined) fail(`the edited text does not parse: ${error.message.split('\n')[0] ?? ''}`);

  const expected = before.toJS() as Record<string, unknown>;
  const actualEnable = (after.toJS() as Record<string, unknown> | null)?.['migrationEnable'];
  // Written in the quoting it had: "true" stays a string, a plain true is YAML's boolean; both read as true.
  if (String(actualEnable) !== 'true') fail('`migrationEnable` is not "true"');
  expected['migrationEnable'] = actualEnable;
  expected['currentVersion'] = IDENTITY_CURRENT_VERSION;
  expected['migrateVersion'] = targetVersion;
  const removedByEntry = new Map<number, Set<number>>();
  const versionNodes = before.get('versions', true) as unknown as YAMLSeq;
  for (const match of found) {
    const entryIndex = versionNodes.items.indexOf(match.version.node);
    removedByEntry.set(entryIndex, (removedByEntry.get(entryIndex) ?? new Set()).add(match.index));
  }
  const expectedVersions = expected['versions'] as Array<Record<string, unknown>>;
  for (const [entryIndex, removed] of removedByEntry) {
    const entry = expectedVersions[entryIndex] as Record<string, unknown>;
    entry['migratorConfigs'] = (entry['migratorConfigs'] as unknown[]).filter((_, index) => !removed.has(index));
  }

  const actual = after.toJS() as unknown;
  if (typeof actual !== 'object' || actual === null) return fail('the edited file is no longer a map');
  if (!isDeepStrictEqual(Object.keys(actual), Object.keys(expected))) fail('the top-level keys changed');
  for (const key of Object.keys(expected)) {
    if (!isDeepStrictEqual((actual as Record<string, unknown>)[key], expected[key])) fail(`\`${key}\` changed`);
  }
  const leftOver = findRemovals(after.get('versions', true) as unknown as YAMLSeq);
  if (leftOver.length > 0) fail(`${describeMigrator((leftOver[0] as RemovalMatch).removal)} is still there`);
}
