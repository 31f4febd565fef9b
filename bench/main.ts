/**
 * `npm run bench`: runs the benchmark sections, prints a table per section and writes docs/benchmarks.md
 * (quick mode: .cache/bench/benchmarks-quick.md, unless --write-docs).
 *
 *   npm run bench -- [--quick] [--only id[,id]] [--write-docs]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../src/core/errors.js';
import { releaseFixtures, runBackup, runRestore } from './backup-restore.js';
import { missingPrograms, type BenchContext, type BenchSection } from './harness.js';
import { run as runLogWatching } from './log-watching.js';
import { run as runRegistryScripts } from './registry-scripts.js';
import { run as runStores } from './stores.js';
import { describeMachine, formatMarkdown, formatText, mergeSections } from './report.js';

interface SectionEntry {
  id: string;
  run: (context: BenchContext) => Promise<BenchSection>;
  /** The programs it runs, checked before any section starts (scripts/ensure-services.sh installs them). */
  needs: readonly string[];
}

const DUMP_TOOLS = ['pg_dump', 'pg_restore', 'psql', 'mysqldump', 'mysql', 'gzip', 'gunzip'];

/** Every section, in the order they run; `--only` picks some by id. */
export const SECTIONS: SectionEntry[] = [
  { id: 'backup', run: runBackup, needs: [...DUMP_TOOLS, 'zstd', 'age', 'age-keygen', '/usr/bin/time'] },
  { id: 'restore', run: runRestore, needs: [...DUMP_TOOLS, 'zstd', 'age', 'age-keygen', '/usr/bin/time'] },
  { id: 'registry-scripts', run: runRegistryScripts, needs: ['psql', 'mysql', 'bash', '/usr/bin/time'] },
  { id: 'log-watching', run: runLogWatching, needs: ['cat', '/usr/bin/time'] },
  { id: 'stores', run: runStores, needs: [] },
];

interface BenchArgs {
  quick: boolean;
  only?: string[];
  writeDocs: boolean;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, writeDocs: false };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] ?? '';
    if (arg === '--quick') args.quick = true;
    else if (arg === '--write-docs') args.writeDocs = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++index] : arg.slice('--only='.length);
      if (!value) throw new Error('--only needs section ids, e.g. --only backup,restore');
      args.only = value
        .split(',')
        .map((id) => id.trim())
        .filter(Boolean);
    } else throw new Error(`unknown argument ${arg}; use [--quick] [--only id[,id]] [--write-docs]`);
  }
  const known = SECTIONS.map((section) => section.id);
  const unknown = (args.only ?? []).filter((id) => !known.includes(id));
  if (unknown.length > 0)
    throw new Error(`unknown section ${unknown.join(', ')}; the sections are ${known.join(', ')}`);
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const selected = SECTIONS.filter((section) => !args.only || args.only.includes(section.id));
  const missing = missingPrograms(selected);
  if (missing !== undefined) throw new Error(missing);
  // Joined as strings: ncc would otherwise take path.join(process.cwd(), ...) for an asset to bundle.
  const root = process.cwd();
  const fromRoot = (...parts: string[]) => [root, ...parts].join(path.sep);
  const cli = fromRoot('dist', 'cli', 'index.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing; run npm run build first`);
  const started = Date.now();
  const startedAt = new Date();
  const log = (line: string) =>
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-bench-'));
  const context: BenchContext = { quick: args.quick, workDir, cli, log };
  const results: Array<{ id: string; section?: BenchSection; error?: string }> = [];
  // Interrupted: drop the scratch databases and folders before leaving.
  const interrupt = (signal: NodeJS.Signals) => {
    log(`${signal}: dropping the bench databases`);
    void Promise.allSettled([releaseFixtures(), rm(workDir, { recursive: true, force: true })]).then(() =>
      process.exit(130),
    );
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const machine = await describeMachine(workDir);
    for (const entry of selected) {
      log(`section ${entry.id}`);
      try {
        results.push({ id: entry.id, section: await entry.run(context) });
      } catch (error) {
        log(`section ${entry.id} failed: ${errorMessage(error)}`);
        results.push({ id: entry.id, error: errorMessage(error) });
      }
    }
    const scale = process.env['APIM_MIGRATE_BENCH_SCALE'];
    const command = `${scale ? `APIM_MIGRATE_BENCH_SCALE=${scale} ` : ''}npm run bench --${args.quick ? ' --quick' : ''}${args.only ? ` --only ${args.only.join(',')}` : ''}${args.writeDocs ? ' --write-docs' : ''}`;
    const report = {
      quick: args.quick,
      command,
      machine,
      startedAt,
      durationMs: Date.now() - started,
      sections: results,
    };
    process.stdout.write(`${formatText(report)}\n`);
    const target =
      args.quick && !args.writeDocs
        ? fromRoot('.cache', 'bench', 'benchmarks-quick.md')
        : fromRoot('docs', 'benchmarks.md');
    await mkdir(path.dirname(target), { recursive: true });
    // Some sections of a full-mode run: they replace their own sections of the full report, the rest stays.
    const existing = args.only && !args.quick ? await readFile(target, 'utf8').catch(() => undefined) : undefined;
    await writeFile(
      target,
      existing === undefined ? formatMarkdown(report) : mergeSections(existing, formatMarkdown(report), report),
    );
    // The repository's format check covers docs/: the tables come out as prettier lays them out.
    spawnSync('npx', ['prettier', '--write', target], { stdio: 'ignore' });
    log(`wrote ${path.relative(root, target)}`);
  } finally {
    await releaseFixtures();
    if (process.env['APIM_MIGRATE_BENCH_KEEP'] !== '1') await rm(workDir, { recursive: true, force: true });
  }
  return results.some((result) => result.error !== undefined) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${errorMessage(error)}\n`);
    process.exit(1);
  },
);
