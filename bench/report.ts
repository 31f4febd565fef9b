/**
 * The bench report: a plain-text table per section on the terminal, and docs/benchmarks.md (or, in quick
 * mode, .cache/bench/benchmarks-quick.md) with the machine, the method, the tables and the notes.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import { openSession } from '../src/db/session.js';
import { adminTarget } from './data.js';
import { formatKiB, formatMs, type BenchSection, type ComparisonResult, type ContenderResult } from './harness.js';

const exec = promisify(execFile);

export interface Machine {
  rows: Array<[string, string]>;
}

export interface ReportOptions {
  quick: boolean;
  command: string;
  machine: Machine;
  startedAt: Date;
  durationMs: number;
  sections: Array<{ id: string; section?: BenchSection; error?: string }>;
}

/** What the figures ran on; every probe is best effort (a missing tool leaves its row as "unknown"). */
export async function describeMachine(workDir: string): Promise<Machine> {
  const first = async (program: string, args: string[]): Promise<string> => {
    try {
      const { stdout, stderr } = await exec(program, args);
      return (`${stdout}\n${stderr}`.trim().split('\n')[0] ?? '').trim() || 'unknown';
    } catch {
      return 'unknown';
    }
  };
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const cpu = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const distro = /PRETTY_NAME="?([^"\n]+)"?/.exec(osRelease)?.[1] ?? os.type();
  const disk = await first('bash', [
    '-c',
    `df -hT ${workDir} | awk 'NR==2 {print $1", "$2", "$3" total, "$5" free"}'; true`,
  ]);
  const serverVersion = async (engine: 'postgresql' | 'mysql') => {
    try {
      const session = await openSession(adminTarget(engine, engine === 'postgresql' ? 'postgres' : 'mysql'));
      try {
        const [row] = await session.query<{ v: string }>('SELECT version() AS v');
        return String(row?.v ?? 'unknown').split(' on ')[0] ?? 'unknown';
      } finally {
        await session.close();
      }
    } catch {
      return 'not reachable';
    }
  };
  return {
    rows: [
      ['CPU', `${cpu}, ${os.cpus().length} cores`],
      ['Memory', `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
      ['Disk (work folder)', disk],
      ['OS', `${distro}, Linux ${os.release()}`],
      ['Node.js', process.version],
      ['PostgreSQL server', await serverVersion('postgresql')],
      ['MariaDB server', await serverVersion('mysql')],
      ['pg_dump', await first('pg_dump', ['--version'])],
      ['mariadb-dump / mysqldump', await first('mysqldump', ['--version'])],
      ['gzip', await first('gzip', ['--version'])],
      ['age', await first('age', ['--version'])],
      [
        'Load average at start',
        os
          .loadavg()
          .map((value) => value.toFixed(2))
          .join(', '),
      ],
    ],
  };
}

/** A capped reference makes the ratio an upper bound, a capped subject a lower one. */
function ratioText(result: ComparisonResult): string {
  const bound = result.reference.capped ? '< ' : result.subject.capped ? '> ' : '';
  return `${bound}${result.ratio.toFixed(2)}x`;
}

function medianText(contender: ContenderResult): string {
  return `${contender.capped ? 'over ' : ''}${formatMs(contender.medianMs)}`;
}

/** The runs of each side, one number when they are the same. */
function runsText(result: ComparisonResult): string {
  const subject = result.subject.samples.length;
  const reference = result.reference.samples.length;
  return subject === reference ? String(subject) : `${subject} / ${reference}`;
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? '' : met ? 'met' : 'MISSED';
}

/** The terminal form: one aligned table per section. */
export function formatText(options: ReportOptions): string {
  const lines: string[] = [];
  for (const { id, section, error } of options.sections) {
    lines.push('', `== ${section?.title ?? id} ==`);
    if (error !== undefined) {
      lines.push(`  FAILED: ${error}`);
      continue;
    }
    if (!section) continue;
    const rows = [
      ['comparison', 'subject', 'median', 'reference', 'median', 'ratio', 'goal', '', 'RSS subj/ref'],
      ...section.comparisons.map((c) => [
        c.name,
        c.subject.label,
        medianText(c.subject),
        c.reference.label,
        medianText(c.reference),
        ratioText(c),
        c.goal,
        verdict(c.met),
        `${formatKiB(c.subject.peakRssKiB)} / ${formatKiB(c.reference.peakRssKiB)}`,
      ]),
    ];
    const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
    for (const row of rows) lines.push(`  ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')}`);
    for (const figure of section.figures) {
      lines.push(
        `  ${figure.name}: ${figure.value}${figure.goal ? ` (goal ${figure.goal}: ${verdict(figure.met)})` : ''}`,
      );
    }
  }
  lines.push('', `bench finished in ${formatMs(options.durationMs)}`);
  return lines.join('\n');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** docs/benchmarks.md. */
export function formatMarkdown(options: ReportOptions): string {
  const out: string[] = [
    '# Benchmarks',
    '',
    `<!-- Written by \`${options.command}\`; do not edit by hand, run the command again. -->`,
    '',
    process.env['APIM_MIGRATE_BENCH_SCALE']
      ? `**Sizes set by APIM_MIGRATE_BENCH_SCALE=${process.env['APIM_MIGRATE_BENCH_SCALE']}** (bench/data.ts scale ` +
        `units of about 20 MB on PostgreSQL), ${options.quick ? 'three runs per pair (quick mode)' : 'five runs per pair'}. ` +
        'These are not the full-mode sizes.'
      : options.quick
        ? '**Quick mode**: small databases and three runs per pair. These figures show that the bench works; fixed ' +
          'costs (starting Node, loading the config, the lock) dominate at this size, so the ratios are not the ' +
          "figures the goals are about. The full-mode figures are in the repository's `docs/benchmarks.md`."
        : 'Full mode: the sizes the goals are about (at least 1 GB of PostgreSQL data).',
    '',
    '## How to run',
    '',
    '```sh',
    'npm run build                          # the bench measures the built CLI, dist/cli/index.js',
    'npm run bench -- --quick               # small data, under two minutes; writes .cache/bench/benchmarks-quick.md',
    'npm run bench                          # full mode; writes this file',
    'npm run bench -- --only backup,restore # some sections only; in full mode they replace theirs here',
    '```',
    '',
    'It needs what the integration tests need (`bash scripts/ensure-services.sh`): PostgreSQL on 127.0.0.1:5432 ' +
      '(`postgres`, trusted), MariaDB on 127.0.0.1:3306 (`root`, no password), their client tools, `zstd`, `age` ' +
      'and GNU time (`/usr/bin/time`). It creates scratch databases named `apim_migrate_bench_*` and drops them at the end.',
    '',
    '## Method',
    '',
    'Every pair runs in the same bench run, alternating (subject, reference, then reference, subject, ...), so that ' +
      'a slow phase of the machine hits both. Each figure is the median of the runs; the ratio is the median of the ' +
      "subject over the median of the reference. Peak RSS is GNU time's maximum resident set size (`%M`) of the " +
      'largest single process of the run, the highest over the runs; CPU time is its user and system time (`%U`, ' +
      "`%S`) of the processes it waited for, so the database server's own work is on neither side. The data is generated inside the database " +
      'servers (bench/data.ts): the WSO2 registry schema of API-M 3.1.0 with REG_CONTENT and REG_CONTENT_HISTORY ' +
      'holding half OpenAPI-like text and half random bytes, the REG_RESOURCE_* mapping tables, and AM_API, ' +
      'AM_APPLICATION and AM_SUBSCRIPTION.',
    '',
    '## Machine',
    '',
    '| | |',
    '| --- | --- |',
    ...options.machine.rows.map(([key, value]) => `| ${cell(key)} | ${cell(value)} |`),
    `| Date | ${options.startedAt.toISOString().replace(/\.\d+Z$/, 'Z')} |`,
    `| Bench duration | ${formatMs(options.durationMs)} |`,
    '',
  ];
  for (const { id, section, error } of options.sections) {
    out.push(`## ${section?.title ?? id}`, '');
    if (error !== undefined) {
      out.push(`The section failed: \`${cell(error.split('\n')[0] ?? '')}\``, '');
      continue;
    }
    if (!section) continue;
    if (section.comparisons.length > 0) {
      out.push(
        '| comparison | apim-migrate (median) | reference (median) | ratio | goal | | peak RSS apim-migrate | peak RSS reference | runs (apim-migrate / reference) |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        ...section.comparisons.map(
          (c) =>
            `| ${cell(c.name)} | ${medianText(c.subject)} | ${cell(c.reference.label)}: ${medianText(c.reference)} | ` +
            `${ratioText(c)} | ${cell(c.goal)} | ${verdict(c.met)} | ${formatKiB(c.subject.peakRssKiB)} | ` +
            `${formatKiB(c.reference.peakRssKiB)} | ${runsText(c)} |`,
        ),
        '',
      );
    }
    if (section.figures.length > 0) {
      out.push(
        '| figure | value | goal | |',
        '| --- | --- | --- | --- |',
        ...section.figures.map(
          (f) => `| ${cell(f.name)} | ${cell(f.value)} | ${cell(f.goal ?? '')} | ${verdict(f.met)} |`,
        ),
        '',
      );
    }
    for (const note of section.notes) out.push(note, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/**
 * The report of a full-mode `--only` run merged into the full report `existing`: each section it measured replaces
 * the section of the same title (or is added at the end), with a line that says when and by which command it was
 * measured; everything else, the machine table included, stays as the run that wrote the whole file left it.
 */
export function mergeSections(existing: string, fresh: string, options: { command: string; startedAt: Date }): string {
  const split = (text: string): { head: string; sections: Map<string, string> } => {
    const [head = '', ...rest] = text.split(/^(?=## )/m);
    const sections = new Map<string, string>();
    for (const block of rest) sections.set(block.slice(3, block.indexOf('\n')).trim(), block.trimEnd());
    return { head, sections };
  };
  const old = split(existing);
  const measured = split(fresh).sections;
  const when = options.startedAt.toISOString().replace(/\.\d+Z$/, 'Z');
  for (const [title, block] of measured) {
    if (['How to run', 'Method', 'Machine'].includes(title)) continue;
    const [heading = '', ...body] = block.split('\n');
    const note = `Measured on ${when} by \`${options.command}\`, apart from the other sections of this file; the machine table is that of the run that wrote the whole file.`;
    old.sections.set(title, [heading, '', note, ...body].join('\n'));
  }
  return `${old.head.trimEnd()}\n\n${[...old.sections.values()].join('\n\n')}\n`;
}
