/**
 * The layers of docs/architecture.md, enforced: every import in src/ points down (or sideways where the table below
 * allows it), and the driver and runner libraries are imported only where the design says.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Top to bottom. A folder may import its own files and any folder of a lower layer. */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['entries'],
  ['demo'],
  ['report'],
  ['stages'],
  ['plan', 'backup', 'db', 'server', 'wso2', 'artifacts'],
  ['config', 'log'],
  ['core'],
];

/** Within a layer, only these imports between folders; together they have no cycle. */
const SIDEWAYS: Readonly<Record<string, readonly string[]>> = {
  plan: ['db', 'server', 'wso2'],
  backup: ['db', 'artifacts'],
  db: ['wso2'],
};

/** Libraries that only some folders may import. */
const RESTRICTED_LIBRARIES: Readonly<Record<string, readonly string[]>> = {
  pg: ['db'],
  mysql2: ['db'],
  '@actions/artifact': ['artifacts'],
  // Every package of the AWS SDK (the S3 client, lib-storage, the credential chain): the S3 store's alone.
  '@aws-sdk': ['artifacts'],
  '@actions/core': ['entries', 'log'],
  // One zip reader, with its checks of untrusted entries: core/zip.ts.
  yauzl: ['core'],
  // One deployment.toml reader: config/toml-document.ts.
  'smol-toml': ['config'],
};

/** The folder a file of src/ belongs to; the one-line entries and entry/ are `entries`. */
function folderOf(file: string): string {
  const [first, second] = path.relative(SRC, file).split(path.sep);
  return second === undefined || first === 'entry' ? 'entries' : (first ?? '');
}

function layerOf(folder: string): number {
  const layer = LAYERS.findIndex((folders) => folders.includes(folder));
  if (layer < 0) throw new Error(`src/${folder} is in no layer of this test: add it to LAYERS`);
  return layer;
}

/** Why an import from folder `from` of folder `to` runs against the layers, or undefined when it does not. */
function layerViolation(from: string, to: string): string | undefined {
  if (from === to) return undefined;
  const fromLayer = layerOf(from);
  const toLayer = layerOf(to);
  if (toLayer > fromLayer) return undefined;
  if (toLayer === fromLayer && SIDEWAYS[from]?.includes(to)) return undefined;
  return toLayer < fromLayer ? `${from} may not import ${to}, a higher layer` : `${from} may not import ${to}`;
}

function libraryViolation(from: string, specifier: string): string | undefined {
  const library = Object.keys(RESTRICTED_LIBRARIES).find(
    (name) => specifier === name || specifier.startsWith(`${name}/`),
  );
  if (library === undefined || RESTRICTED_LIBRARIES[library]?.includes(from)) return undefined;
  return `${from} may not import ${library} (only ${RESTRICTED_LIBRARIES[library]?.join(', ')})`;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) files.push(full);
  }
  return files;
}

/** Static imports and re-exports (type-only ones too) and dynamic import() calls. */
function importsOf(text: string): string[] {
  const pattern =
    /(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*'([^']+)'|\bimport\(\s*(?:\/\*[^*]*\*\/\s*)?'([^']+)'\s*\)/g;
  return [...text.matchAll(pattern)].map((match) => match[1] ?? match[2] ?? '');
}

/** The imports that stay in the bundle: `import type` and `export type` go when TypeScript compiles. */
function valueImportsOf(text: string): string[] {
  const pattern =
    /(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^'";]*?\bfrom\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'|\bimport\(\s*(?:\/\*[^*]*\*\/\s*)?'([^']+)'\s*\)/g;
  return [...text.matchAll(pattern)].map((match) => match[1] ?? match[2] ?? match[3] ?? '');
}

/** The libraries a bundle of `entry` holds: every library its value imports reach, through the files of src/. */
async function librariesReachedFrom(entry: string): Promise<Set<string>> {
  const libraries = new Set<string>();
  const seen = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of valueImportsOf(await readFile(file, 'utf8'))) {
      if (specifier.startsWith('.')) pending.push(path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')));
      else if (!specifier.startsWith('node:')) libraries.add(specifier);
    }
  }
  return libraries;
}

async function findViolations(): Promise<string[]> {
  const problems: string[] = [];
  for (const file of await sourceFiles(SRC)) {
    const from = folderOf(file);
    const where = path.relative(path.dirname(SRC), file);
    for (const specifier of importsOf(await readFile(file, 'utf8'))) {
      const problem = specifier.startsWith('.')
        ? layerViolation(from, folderOf(path.resolve(path.dirname(file), specifier)))
        : libraryViolation(from, specifier);
      if (problem) problems.push(`${where} imports '${specifier}': ${problem}`);
    }
  }
  return problems;
}

describe('layers', () => {
  it.each([
    ['stages', 'report', 'stages may not import report, a higher layer'],
    ['plan', 'stages', 'plan may not import stages, a higher layer'],
    ['db', 'artifacts', 'db may not import artifacts'],
    ['db', 'backup', 'db may not import backup'],
    ['wso2', 'db', 'wso2 may not import db'],
    ['core', 'config', 'core may not import config, a higher layer'],
    ['config', 'log', 'config may not import log'],
  ])('%s importing %s runs against the layers', (from, to, problem) => {
    expect(layerViolation(from, to)).toBe(problem);
  });

  it.each([
    ['entries', 'demo'],
    ['demo', 'report'],
    ['report', 'stages'],
    ['stages', 'backup'],
    ['backup', 'db'],
    ['plan', 'wso2'],
    ['db', 'config'],
    ['log', 'core'],
  ])('%s may import %s', (from, to) => {
    expect(layerViolation(from, to)).toBeUndefined();
  });

  it.each([
    ['stages', '@aws-sdk/client-s3', 'stages may not import @aws-sdk (only artifacts)'],
    ['backup', '@aws-sdk/lib-storage', 'backup may not import @aws-sdk (only artifacts)'],
    ['artifacts', '@aws-sdk/client-s3', undefined],
  ])('%s importing %s: %s', (from, specifier, problem) => {
    expect(libraryViolation(from, specifier)).toBe(problem);
  });

  it('finds import statements of every form', () => {
    const text = [
      "import type { A } from '../a.js';",
      "import {\n  B,\n  type C,\n} from '../b.js';",
      "export { D } from './d.js';",
      "const e = await import('../e.js');",
      'const f = await import(/* webpackMode: "eager" */ \'../f.js\');',
      "import pg from 'pg';",
      "const text = 'from the start';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['../a.js', '../b.js', './d.js', '../e.js', '../f.js', 'pg']);
  });

  it('every import in src/ points down the layers, and the restricted libraries stay where they belong', async () => {
    expect(await findViolations()).toEqual([]);
  });

  it('the post step, which only stops a server and stores logs, bundles no database client and no config reader', async () => {
    const libraries = await librariesReachedFrom(path.join(SRC, 'entry', 'post.ts'));
    expect(libraries).toContain('@actions/core');
    expect([...libraries].filter((name) => ['pg', 'mysql2', 'zod', 'yaml', 'smol-toml'].includes(name))).toEqual([]);
  });
});
