/**
 * The benchmark harness: every comparison runs the subject (apim-migrate) and its reference (the plain tool) in
 * the same process run, alternating (subject, reference, subject, ...) so that a slow phase of the machine hits
 * both, several times, and reports medians and the ratio of the medians. Nothing here asserts a time: the
 * figures are reported, and each goal is judged and printed beside them.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** One measured run. */
export interface Sample {
  wallMs: number;
  /** Peak resident set size of the measured process tree (the largest single process), when measured. */
  peakRssKiB?: number;
  /** CPU time (user + system) of the measured process and the children it waited for, when measured. */
  cpuMs?: number;
  /**
   * The run was stopped at a time cap: its time is a lower bound. A capped contender is not run again in later
   * rounds (it would only hit the cap again), so its median is over the runs it had.
   */
  capped?: boolean;
}

export interface Contender {
  label: string;
  /** Runs once and measures itself (see {@link timeCommand}, {@link timeShell}). */
  run: () => Promise<Sample>;
}

export interface Comparison {
  /** Section and name, e.g. `backup` / `PostgreSQL 1.0 GiB, encrypted`. */
  section: string;
  name: string;
  subject: Contender;
  reference: Contender;
  runs: number;
  /** The goal as a ratio of the subject's median wall time to the reference's; `lower` means subject/reference <= max. */
  goal: { maxRatio: number; text: string };
  /** Runs once before the measured runs (warm caches, create files), not measured. */
  warmUp?: () => Promise<void>;
  /** Runs before every single run (e.g. reset a database), not measured. */
  beforeEach?: () => Promise<void>;
}

export interface ComparisonResult {
  section: string;
  name: string;
  subject: ContenderResult;
  reference: ContenderResult;
  ratio: number;
  goal: string;
  met: boolean;
}

export interface ContenderResult {
  label: string;
  samples: Sample[];
  medianMs: number;
  peakRssKiB?: number;
  /** The median CPU time (user + system) of the runs, when measured. */
  medianCpuMs?: number;
  /** A run was stopped at its cap: the median is a lower bound. */
  capped: boolean;
}

/** A measurement that is not a pair: throughput, latency, memory. */
export interface Figure {
  section: string;
  name: string;
  value: string;
  goal?: string;
  met?: boolean;
}

export interface BenchContext {
  quick: boolean;
  /** A scratch folder for this bench run, removed at the end. */
  workDir: string;
  /** The built CLI (dist/cli/index.js). */
  cli: string;
  /** Progress lines (not part of the report). */
  log: (line: string) => void;
}

/** What a benchmark module returns: its pairs, its other figures, and notes for docs/benchmarks.md. */
export interface BenchSection {
  title: string;
  comparisons: ComparisonResult[];
  figures: Figure[];
  /** The method and what limits the figures, as Markdown paragraphs. */
  notes: string[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Runs a comparison: warm-up, then `runs` rounds of subject and reference, the order alternating per round. */
export async function compare(comparison: Comparison, log: (line: string) => void): Promise<ComparisonResult> {
  await comparison.warmUp?.();
  const subject: Sample[] = [];
  const reference: Sample[] = [];
  for (let round = 0; round < comparison.runs; round += 1) {
    const order: Array<[Contender, Sample[]]> =
      round % 2 === 0
        ? [
            [comparison.subject, subject],
            [comparison.reference, reference],
          ]
        : [
            [comparison.reference, reference],
            [comparison.subject, subject],
          ];
    for (const [contender, samples] of order) {
      if (samples.some((sample) => sample.capped)) continue;
      await comparison.beforeEach?.();
      const sample = await contender.run();
      samples.push(sample);
      log(`  ${comparison.name}: ${contender.label} ${(sample.wallMs / 1000).toFixed(2)} s`);
    }
  }
  const summarize = (label: string, samples: Sample[]): ContenderResult => {
    const rss = samples.map((sample) => sample.peakRssKiB).filter((value): value is number => value !== undefined);
    const cpu = samples.map((sample) => sample.cpuMs).filter((value): value is number => value !== undefined);
    return {
      label,
      samples,
      medianMs: median(samples.map((sample) => sample.wallMs)),
      capped: samples.some((sample) => sample.capped),
      ...(rss.length > 0 ? { peakRssKiB: Math.max(...rss) } : {}),
      ...(cpu.length > 0 ? { medianCpuMs: median(cpu) } : {}),
    };
  };
  const subjectSummary = summarize(comparison.subject.label, subject);
  const referenceSummary = summarize(comparison.reference.label, reference);
  const ratio = subjectSummary.medianMs / referenceSummary.medianMs;
  return {
    section: comparison.section,
    name: comparison.name,
    subject: subjectSummary,
    reference: referenceSummary,
    ratio,
    goal: comparison.goal.text,
    met: ratio <= comparison.goal.maxRatio,
  };
}

export interface CommandOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/**
 * Runs a program under GNU time (`/usr/bin/time -f`), which reports the peak RSS of the largest process of the tree
 * it waited for and the CPU time of that tree (user and system, of the processes waited for: a database server's
 * own work is on neither side). Fails with the program's output when it exits non-zero.
 */
export async function timeCommand(
  program: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<Sample> {
  const report = path.join(os.tmpdir(), `apim-migrate-bench-time-${process.pid}-${Date.now()}.txt`);
  const started = performance.now();
  const { code, output } = await run('/usr/bin/time', ['-f', '%M %U %S', '-o', report, program, ...args], options);
  const wallMs = performance.now() - started;
  const text = await readFile(report, 'utf8').catch(() => '');
  await rm(report, { force: true });
  if (code !== 0) throw new Error(`${program} ${args.join(' ')} exited with ${code}:\n${output.slice(-4000)}`);
  const [rss, user, system] = (text.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  const cpuMs = ((user ?? NaN) + (system ?? NaN)) * 1000;
  return {
    wallMs,
    ...(rss !== undefined && Number.isFinite(rss) ? { peakRssKiB: rss } : {}),
    ...(Number.isFinite(cpuMs) ? { cpuMs } : {}),
  };
}

/** A shell pipeline (`bash -o pipefail -c`), timed as {@link timeCommand} times a program. */
export function timeShell(script: string, options: CommandOptions = {}): Promise<Sample> {
  return timeCommand('bash', ['-o', 'pipefail', '-c', script], options);
}

function run(
  program: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      ...(options.cwd ? { cwd: options.cwd } : {}),
      env: (options.env ?? process.env) as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-16_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

export function formatKiB(kib: number | undefined): string {
  return kib === undefined ? '' : `${(kib / 1024).toFixed(0)} MiB`;
}

/** Whether `program` (a name looked up on PATH, or an absolute path) can be run here. */
export function findsProgram(program: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const candidates = path.isAbsolute(program)
    ? [program]
    : (env['PATH'] ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, program));
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What the chosen sections need and this machine lacks, as one message; undefined when nothing is missing. */
export function missingPrograms(
  sections: ReadonlyArray<{ id: string; needs: readonly string[] }>,
  env: NodeJS.ProcessEnv = process.env,
) {
  const missing = new Map<string, string[]>();
  for (const section of sections) {
    for (const program of section.needs) {
      if (findsProgram(program, env)) continue;
      missing.set(program, [...(missing.get(program) ?? []), section.id]);
    }
  }
  if (missing.size === 0) return undefined;
  const lines = [...missing].map(([program, ids]) => `  ${program} (for ${ids.join(', ')})`);
  return (
    `this machine lacks programs the bench runs:\n${lines.join('\n')}\n` +
    'Install them with `bash scripts/ensure-services.sh` (as root, on Debian), or leave those sections out with --only.'
  );
}
