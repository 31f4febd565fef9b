/**
 * The measured process of the log-watching benchmark. bench/log-watching.ts runs the bench bundle itself again under
 * /usr/bin/time (so that the peak RSS is that process's own) with {@link CHILD_ENV} set; importing log-watching.ts
 * then runs {@link runLogWatchChildIfAsked} instead of the benchmarks, prints one JSON line and exits. Modes
 * (`CHILD_ENV` holds the JSON array of the arguments):
 *
 *   runner  <log> <dir>  runServer on a stand-in that cats <log> and stays up: the runner's whole pipeline
 *                        (pipe, readline, masking, console log file in <dir>, matcher, stop decision), until the
 *                        verdict.
 *   matcher <log>        `cat <log>` through readline into the matcher only.
 *   readline <log>       `cat <log>` through readline, no matching: the reference.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SecretMasker } from '../src/core/secrets.js';
import type { Logger } from '../src/log/logger.js';
import { createLogMatcher } from '../src/server/log-matcher.js';
import { runServer } from '../src/server/server-runner.js';

/** The environment variable that makes the bench bundle this child. */
export const CHILD_ENV = 'APIM_MIGRATE_BENCH_LOG_CHILD';

export interface ChildReport {
  mode: string;
  lines: number;
  verdict?: string;
  reason?: string;
  /** process.memoryUsage().rss every 200 ms, in MiB. */
  rssMiB: number[];
  maxRssKiB: number;
}

export const rssMiB: number[] = [];

function silentLogger(): Logger {
  const nothing = (): void => undefined;
  return {
    info: nothing,
    warning: nothing,
    error: nothing,
    notice: nothing,
    debug: nothing,
    group: (_title, fn) => fn(),
    setSecret: nothing,
  };
}

/** Lines of `cat file`, through readline, each handed to `onLine`. */
async function catLines(file: string, onLine: (line: string) => void): Promise<number> {
  const child = spawn('cat', [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let lines = 0;
  const reader = createInterface({ input: child.stdout, crlfDelay: Infinity });
  reader.on('line', (line) => {
    lines += 1;
    onLine(line);
  });
  await once(reader, 'close');
  return lines;
}

async function main(args: string[]): Promise<ChildReport> {
  const [mode, file, dir] = args;
  if (!file) throw new Error('usage: log-watch-child runner|matcher|readline <log> [<dir>]');
  if (mode === 'readline') {
    let bytes = 0;
    const lines = await catLines(file, (line) => (bytes += line.length));
    return { mode, lines, rssMiB, maxRssKiB: process.resourceUsage().maxRSS };
  }
  if (mode === 'matcher') {
    const matcher = createLogMatcher('apim');
    const lines = await catLines(file, (line) => matcher.push(line));
    const state = matcher.state();
    return {
      mode,
      lines,
      verdict: state.verdict,
      reason: state.reason,
      rssMiB,
      maxRssKiB: process.resourceUsage().maxRSS,
    };
  }
  if (mode === 'runner' && dir) {
    // The stand-in server: prints the log, then stays up until it is stopped; `--stop` signals the pid in
    // wso2carbon.pid, as api-manager.sh --stop does.
    const server = path.join(dir, 'serve-log.sh');
    await writeFile(
      server,
      'for arg; do [ "$arg" = --stop ] && exec kill -TERM "$(cat wso2carbon.pid)"; done\n' +
        'echo $$ > wso2carbon.pid\ncat "$1"\nexec sleep 3600\n',
    );
    const masker = new SecretMasker();
    for (const secret of ['bench-apim-db-password-1f3a9', 'bench-shared-db-password-7c2e4', 'bench-passphrase-5d8b0'])
      masker.add(secret);
    const result = await runServer({
      command: { command: 'bash', args: [server, file], display: `bash ${server} ${file}` },
      home: dir,
      kind: 'apim',
      logFile: path.join(dir, 'console.log'),
      // As a server stage does: every line is masked for the database passwords and the backup passphrase.
      mask: (line) => masker.mask(line),
      timeoutMs: 3_600_000,
      stopGraceMs: 10_000,
      logger: silentLogger(),
    });
    return {
      mode,
      lines: -1,
      verdict: result.verdict,
      reason: result.reason,
      rssMiB,
      maxRssKiB: process.resourceUsage().maxRSS,
    };
  }
  throw new Error(`unknown mode ${mode}`);
}

/** When this process is the child (see the file comment): runs it, prints its report and exits. */
export async function runLogWatchChildIfAsked(): Promise<void> {
  const spec = process.env[CHILD_ENV];
  if (spec === undefined) return;
  const sampler = setInterval(() => rssMiB.push(Math.round(process.memoryUsage.rss() / 1048576)), 200);
  try {
    const report = await main(JSON.parse(spec) as string[]);
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  } finally {
    clearInterval(sampler);
  }
}
