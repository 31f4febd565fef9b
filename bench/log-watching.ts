/**
 * Benchmark 4: watching the server's console output.
 *
 * - Throughput and memory: a generated wso2carbon-style log (INFO/WARN/ERROR lines of many loggers, stack traces,
 *   the API-M migration client's lines, the success line and `WSO2 Carbon started` at the end) fed through the
 *   server runner as a server's output (runServer on a stand-in that cats the file and stays up), against plain
 *   reading of the same pipe with readline. Both run in a child process (this bundle again, see log-watch-child.ts)
 *   under /usr/bin/time for their own peak RSS.
 * - Delay: runServer on a stand-in that logs at a steady rate, then writes the success line and, a moment later,
 *   `WSO2 Carbon started`, recording when it wrote each; measured to the runner's `Success line:` log line (the
 *   matcher's verdict) and to its `Stopping the server` line (the runner acting on it).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../src/log/logger.js';
import { runServer } from '../src/server/server-runner.js';
import {
  compare,
  formatKiB,
  median,
  timeCommand,
  type BenchContext,
  type BenchSection,
  type Figure,
  type Sample,
} from './harness.js';
import { CHILD_ENV, runLogWatchChildIfAsked, type ChildReport } from './log-watch-child.js';

// This bundle is also the measured child process: then this runs it and exits before any benchmark starts.
await runLogWatchChildIfAsked();

const SECTION = 'log-watching';
const MiB = 1024 * 1024;
/** A busy API-M server logs at most a few MB/s; the goal is ten times more than 5 MB/s. */
const GOAL_MB_PER_S = 50;
const GOAL_DELAY_MS = 1000;

// ---------------------------------------------------------------------------------------------------------------
// The generated log

const LOGGERS = [
  'org.wso2.carbon.apimgt.impl.APIManagerComponent',
  'org.wso2.carbon.apimgt.gateway.handlers.security.APIAuthenticationHandler',
  'org.wso2.carbon.core.internal.CarbonCoreActivator',
  'org.wso2.carbon.registry.core.jdbc.EmbeddedRegistryService',
  'org.apache.synapse.transport.passthru.PassThroughHttpListener',
  'org.wso2.carbon.identity.oauth2.token.AccessTokenIssuer',
  'org.wso2.carbon.apimgt.impl.notifier.ApisNotifier',
  'org.wso2.carbon.event.output.adapter.core.internal.OutputEventAdapterRuntime',
  'org.apache.axis2.deployment.ModuleDeployer',
  'org.wso2.carbon.databridge.agent.DataPublisher',
];
const CLIENT = 'org.wso2.carbon.apimgt.migration.APIMMigrationClient';
const MIGRATOR = 'org.wso2.carbon.apimgt.migration.migrator.v400.V400RegistryResourceMigrator';
const MESSAGES = [
  'Deploying the API: admin--PizzaShackAPI:v1.0.0 in tenant carbon.super',
  'Initializing API-M Gateway for tenant -1234',
  'Successfully connected to the key manager: Resident Key Manager',
  'Pass-through HTTPS Listener started on 0.0.0.0:8243',
  'Event adapter output-http for stream org.wso2.apimgt.statistics.request:3.2.0 is not connected, buffering',
  'Token generated for the client id Zx8kFv_3aLq9mPwDnE4rTbYc using the grant type client_credentials',
  'Registry resource /_system/governance/apimgt/applicationdata/provider/admin/PizzaShackAPI/1.0.0/api loaded',
  'Unable to publish event to the analytics receiver tcp://localhost:7612, retrying in 5000 ms',
  'Deploying module: addressing-1.6.1-wso2v38 - file:/home/wso2am-4.2.0/repository/deployment/client/modules/addressing-1.6.1-wso2v38.mar',
  'Notifying the subscribers of API 7bc0c8e2-1d73-4e7b-9a6f-2a1f9e0f1c3d about the lifecycle change PUBLISHED',
];
const CLIENT_MESSAGES = [
  'WSO2 API-M Migration Task : Starting migration from 3.2.0 to 4.0.0...',
  'WSO2 API-M Migration Task : Migrating registry resources of tenant 1 (wso2.com)',
  'WSO2 API-M Migration Task : Updated the API definition of API {name: PizzaShackAPI, version: 1.0.0, provider: admin}',
  'WSO2 API-M Migration Task : Completed migration from 3.2.0 to 4.0.0...',
];
const STACK = [
  'java.sql.SQLTransientConnectionException: WSO2AM_DB - Connection is not available, request timed out after 30000ms.',
  '\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)',
  '\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)',
  '\tat org.wso2.carbon.apimgt.impl.utils.APIMgtDBUtil.getConnection(APIMgtDBUtil.java:101)',
  '\tat org.wso2.carbon.apimgt.impl.dao.ApiMgtDAO.getSubscribedAPIs(ApiMgtDAO.java:2281)',
  '\tat org.wso2.carbon.apimgt.impl.APIConsumerImpl.getSubscribedAPIs(APIConsumerImpl.java:1120)',
  '\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1128)',
  'Caused by: java.net.SocketTimeoutException: Read timed out',
  '\tat java.base/java.net.SocketInputStream.socketRead0(Native Method)',
  '\t... 23 more',
];

/**
 * A deterministic pool of lines, as a wso2carbon.log of a busy server reads. Inside the client's window (from its
 * first line to its verdict) any ERROR record fails the run, so there the stack traces follow WARN records and the
 * client's lines are mixed in; before it (`clientWindow: false`) the server's ERROR records come with their stack
 * traces and the client has not started.
 */
function linePool(count: number, clientWindow: boolean): string[] {
  let state = 12345;
  const random = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4_294_967_296;
  };
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const lines: string[] = [];
  let millis = Date.UTC(2024, 4, 3, 10, 0, 0);
  const stamp = (): string => {
    millis += Math.floor(random() * 40);
    const date = new Date(millis).toISOString();
    return `[${date.slice(0, 10)} ${date.slice(11, 19)},${date.slice(20, 23)}]`;
  };
  while (lines.length < count) {
    const draw = random();
    if (draw < 0.6) lines.push(`${stamp()}  INFO {${pick(LOGGERS)}} - ${pick(MESSAGES)}`);
    else if (draw < 0.7) lines.push(`${stamp()}  WARN {${pick(LOGGERS)}} - ${pick(MESSAGES)}`);
    else if (draw < 0.75) {
      const record = clientWindow
        ? ` WARN {${pick(LOGGERS)}} - Retrying the subscribed APIs of admin`
        : `ERROR {${pick(LOGGERS)}} - Error while retrieving the subscribed APIs of admin`;
      lines.push(`${stamp()} ${record}`);
      lines.push(...STACK.slice(0, 3 + Math.floor(random() * STACK.length)));
    } else if (draw < 0.85 && clientWindow)
      lines.push(`${stamp()}  INFO {${random() < 0.5 ? CLIENT : MIGRATOR}} - ${pick(CLIENT_MESSAGES)}`);
    else if (draw < 0.85) lines.push(`${stamp()}  INFO {${pick(LOGGERS)}} - ${pick(MESSAGES)}`);
    else if (draw < 0.9)
      lines.push(`TID: [-1234] [] ${stamp()}  INFO {${pick(LOGGERS)}} - ${pick(MESSAGES)} {api-gateway}`);
    else if (draw < 0.95)
      lines.push(
        `${stamp()} DEBUG {org.apache.synapse.transport.http.wire} - >> "${'x'.repeat(200 + Math.floor(random() * 300))}"`,
      );
    else lines.push(`${stamp()}  INFO {${pick(LOGGERS)}} - ${pick(MESSAGES)} ${pick(MESSAGES)}`);
  }
  return lines;
}

const SUCCESS_LINE = `[2024-05-03 11:59:59,001]  INFO {${CLIENT}} - WSO2 API-M Migration Task : Successfully completed API-M migration from 3.1.0 to 4.2.0`;
const STARTED_LINE =
  '[2024-05-03 11:59:59,950]  INFO {org.wso2.carbon.core.internal.StartupFinalizerServiceComponent} - WSO2 Carbon started in 412 sec';

/**
 * Writes a log of about `bytes` bytes: the server's start with its ERROR records, then the client's run, ending in
 * the migration's success and the server's start; returns its size and lines.
 */
function writeLog(file: string, bytes: number): { bytes: number; lines: number } {
  const boot = linePool(3_000, false);
  const pool = linePool(30_000, true);
  const block = Buffer.from(`${pool.join('\n')}\n`);
  const fd = openSync(file, 'w');
  let written = writeSync(fd, `${boot.join('\n')}\n`);
  let lines = boot.length;
  try {
    while (written < bytes) {
      written += writeSync(fd, block);
      lines += pool.length;
    }
    written += writeSync(fd, `${SUCCESS_LINE}\n${STARTED_LINE}\n`);
    lines += 2;
  } finally {
    closeSync(fd);
  }
  return { bytes: written, lines };
}

// ---------------------------------------------------------------------------------------------------------------
// Throughput and memory

/** Runs this bundle as the measured child (see log-watch-child.ts); its report goes to `reportFile`. */
async function measured(args: string[], reportFile: string, reports: ChildReport[]): Promise<Sample> {
  const bundle = process.argv[1];
  if (!bundle) throw new Error('cannot tell which script this is');
  const sample = await timeCommand('bash', ['-c', 'exec "$0" "$1" > "$2"', process.execPath, bundle, reportFile], {
    env: { ...process.env, [CHILD_ENV]: JSON.stringify(args) },
  });
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as ChildReport;
  if (report.verdict !== undefined && report.verdict !== 'succeeded') {
    throw new Error(`the ${report.mode} run ended ${report.verdict}: ${report.reason ?? ''}`);
  }
  reports.push(report);
  return sample;
}

// ---------------------------------------------------------------------------------------------------------------
// Delay

/** The stand-in server of the delay test: steady log lines, the success line, `Carbon started`, then more lines. */
const STAND_IN = `
import { appendFileSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
const [, , timesFile, rate, seconds] = process.argv;
// --stop signals the pid in wso2carbon.pid, as api-manager.sh --stop does.
if (process.argv.includes('--stop')) process.kill(Number(readFileSync('wso2carbon.pid', 'utf8')), 'SIGTERM');
else writeFileSync('wso2carbon.pid', String(process.pid));
const pool = ${JSON.stringify(linePool(2_000, true))};
let next = 0;
const now = () => performance.timeOrigin + performance.now();
const batch = Math.max(1, Math.round(Number(rate) / 100));
const write = (text) => writeSync(1, text);
if (!process.argv.includes('--stop')) {
const tick = setInterval(() => {
  let text = '';
  for (let n = 0; n < batch; n += 1) text += pool[next++ % pool.length] + '\\n';
  write(text);
}, 10);
setTimeout(() => {
  const success = now();
  write(${JSON.stringify(`${SUCCESS_LINE}\n`)});
  setTimeout(() => {
    const started = now();
    write(${JSON.stringify(`${STARTED_LINE}\n`)});
    appendFileSync(timesFile, JSON.stringify({ success, started }) + '\\n');
  }, 200);
}, Number(seconds) * 1000);
process.on('SIGTERM', () => { clearInterval(tick); process.exit(0); });
}
`;

interface DelaySample {
  /** From writing the success line to the runner's `Success line:` log line. */
  verdictMs: number;
  /** From writing `WSO2 Carbon started` to the runner's `Stopping the server` log line. */
  stopMs: number;
  /** From writing `WSO2 Carbon started` to runServer's result (the stand-in stopped). */
  resolvedMs: number;
}

async function measureDelay(dir: string, rate: number, seconds: number, round: number): Promise<DelaySample> {
  const script = path.join(dir, 'stand-in-server.mjs');
  const times = path.join(dir, `times-${round}.json`);
  const marks: Record<string, number> = {};
  const now = (): number => performance.timeOrigin + performance.now();
  const mark = (message: string): void => {
    if (message.startsWith('Success line:')) marks['success'] ??= now();
    if (message.startsWith('Stopping the server')) marks['stop'] ??= now();
  };
  const nothing = (): void => undefined;
  const logger: Logger = {
    info: mark,
    warning: nothing,
    error: nothing,
    notice: nothing,
    debug: nothing,
    group: (_title, fn) => fn(),
    setSecret: nothing,
  };
  const result = await runServer({
    command: {
      command: process.execPath,
      args: [script, times, String(rate), String(seconds)],
      display: `node ${script}`,
    },
    home: dir,
    kind: 'apim',
    logFile: path.join(dir, `console-${round}.log`),
    timeoutMs: 60_000,
    stopGraceMs: 5_000,
    logger,
  });
  const resolved = now();
  if (result.verdict !== 'succeeded') throw new Error(`the delay run ended ${result.verdict}: ${result.reason}`);
  const written = JSON.parse((await readFile(times, 'utf8')).trim()) as { success: number; started: number };
  if (marks['success'] === undefined || marks['stop'] === undefined) throw new Error('the runner logged no verdict');
  return {
    verdictMs: marks['success'] - written.success,
    stopMs: marks['stop'] - written.started,
    resolvedMs: resolved - written.started,
  };
}

// ---------------------------------------------------------------------------------------------------------------

export async function run(context: BenchContext): Promise<BenchSection> {
  const dir = path.join(context.workDir, 'log-watching');
  await mkdir(dir, { recursive: true });
  const figures: Figure[] = [];
  const size = context.quick ? 256 * MiB : 3 * 1024 * MiB;
  const logFile = path.join(dir, 'wso2carbon.log');
  const runnerDir = path.join(dir, 'runner');
  await mkdir(runnerDir, { recursive: true });

  try {
    context.log(`${SECTION}: writing a ${(size / MiB).toFixed(0)} MiB server log`);
    const generated = writeLog(logFile, size);
    const megabytes = generated.bytes / 1e6;

    const cat = await timeCommand('bash', ['-c', 'cat "$0" > /dev/null', logFile]);

    const subjectReports: ChildReport[] = [];
    const referenceReports: ChildReport[] = [];
    const comparison = await compare(
      {
        section: SECTION,
        name: `${(generated.bytes / MiB).toFixed(0)} MiB server log, ${(generated.lines / 1e6).toFixed(1)} M lines`,
        runs: 3,
        goal: { maxRatio: Number.POSITIVE_INFINITY, text: `throughput over ${GOAL_MB_PER_S} MB/s` },
        // The console log file the runner writes would otherwise pile up.
        beforeEach: () => rm(path.join(runnerDir, 'console.log'), { force: true }),
        subject: {
          label: 'runServer: pipe, readline, console log file, matcher',
          run: () => measured(['runner', logFile, runnerDir], path.join(dir, 'runner.json'), subjectReports),
        },
        reference: {
          label: 'plain readline over the same pipe',
          run: () => measured(['readline', logFile], path.join(dir, 'readline.json'), referenceReports),
        },
      },
      context.log,
    );
    // Where the time goes: readline and the matcher alone, without the runner's log file and masking.
    const matcherSamples: Sample[] = [];
    for (let round = 0; round < 3; round += 1) {
      matcherSamples.push(await measured(['matcher', logFile], path.join(dir, 'matcher.json'), []));
    }
    const matcherMbPerS = megabytes / (median(matcherSamples.map((sample) => sample.wallMs)) / 1000);
    const readlineMbPerS = megabytes / (comparison.reference.medianMs / 1000);
    const subjectMbPerS = megabytes / (comparison.subject.medianMs / 1000);
    const catMbPerS = megabytes / (cat.wallMs / 1000);
    comparison.met = subjectMbPerS >= GOAL_MB_PER_S;
    figures.push(
      {
        section: SECTION,
        name: 'throughput of the server runner',
        value:
          `${subjectMbPerS.toFixed(0)} MB/s, ${(((generated.lines / comparison.subject.medianMs) * 1000) / 1e6).toFixed(2)} M lines/s ` +
          `(plain readline ${readlineMbPerS.toFixed(0)} MB/s, readline and the matcher alone ` +
          `${matcherMbPerS.toFixed(0)} MB/s, cat to /dev/null ${catMbPerS.toFixed(0)} MB/s)`,
        goal: `over ${GOAL_MB_PER_S} MB/s (a busy API-M server logs a few MB/s)`,
        met: comparison.met,
      },
      {
        section: SECTION,
        name: 'peak RSS of the server runner',
        value:
          `${formatKiB(comparison.subject.peakRssKiB)} (plain readline ${formatKiB(comparison.reference.peakRssKiB)}); ` +
          `RSS over the run, MiB: ${summarizeRss(subjectReports[0]?.rssMiB ?? [])}`,
        goal: 'flat: independent of the log size',
      },
    );

    context.log(`${SECTION}: delay from the success line to the verdict`);
    await writeFile(path.join(dir, 'stand-in-server.mjs'), STAND_IN);
    const rate = 5_000;
    const rounds = context.quick ? 3 : 7;
    const delays: DelaySample[] = [];
    for (let round = 0; round < rounds; round += 1) {
      delays.push(await measureDelay(dir, rate, context.quick ? 1 : 3, round));
      context.log(`  delay: ${delays.at(-1)?.verdictMs.toFixed(1)} ms`);
    }
    const describe = (values: number[]) =>
      `median ${median(values).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`;
    const verdictMs = delays.map((delay) => delay.verdictMs);
    figures.push(
      {
        section: SECTION,
        name: `delay: success line written to verdict (${rounds} runs, ${rate} lines/s)`,
        value: describe(verdictMs),
        goal: `within ${GOAL_DELAY_MS} ms`,
        met: Math.max(...verdictMs) <= GOAL_DELAY_MS,
      },
      {
        section: SECTION,
        name: 'delay: `WSO2 Carbon started` written to the stop',
        value: `${describe(delays.map((delay) => delay.stopMs))}; to runServer's result: ${describe(delays.map((delay) => delay.resolvedMs))}`,
      },
    );

    return {
      title: 'Log watching',
      comparisons: [comparison],
      figures,
      notes: notes({ runner: subjectMbPerS, matcher: matcherMbPerS, readline: readlineMbPerS, cat: catMbPerS }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function summarizeRss(samples: number[]): string {
  if (samples.length === 0) return 'none';
  const quarter = (q: number) => samples[Math.min(samples.length - 1, Math.floor((q * (samples.length - 1)) / 4))];
  return [0, 1, 2, 3, 4].map(quarter).join(' → ');
}

function notes(rates: { runner: number; matcher: number; readline: number; cat: number }): string[] {
  const perMb = (mbPerS: number) => 1000 / mbPerS;
  const readlineMs = perMb(rates.readline);
  const matcherMs = perMb(rates.matcher) - readlineMs;
  const restMs = perMb(rates.runner) - perMb(rates.matcher);
  return [
    "Log watching: a generated wso2carbon-style log (the server's start with ERROR records and their stack " +
      "traces, then the client's run: 60% INFO of ten loggers, WARN with stack traces, `TID:`-prefixed lines, " +
      'long wire DEBUG lines, 10% lines of the API-M migration client, ending in its success ' +
      "line and `WSO2 Carbon started`) is fed to the server runner as a server's console output: `runServer` on a " +
      'stand-in that `cat`s the file and stays up, so the figure covers the pipe, readline, the console log file ' +
      'the runner writes, the last-lines buffer, the matcher and the stop decision, until the verdict. The ' +
      'reference reads the same `cat` pipe with readline and does nothing with the lines. Both run in a child ' +
      'process (the bench bundle again) under `/usr/bin/time` for their own peak RSS; the child loads the whole ' +
      'bench bundle, so about 50 MiB of its RSS is code.',
    `Goals: over ${GOAL_MB_PER_S} MB/s (ten times a busy server's few MB/s), memory flat over the run, and the ` +
      `verdict within ${GOAL_DELAY_MS} ms of the success line. The delay is measured with a stand-in that logs ` +
      '5000 lines/s, writes the success line and 200 ms later `WSO2 Carbon started`, and records when it wrote them; ' +
      "the verdict is the runner's `Success line:` log line (the earliest observable point), and the runner acts " +
      "(stops the server) once `WSO2 Carbon started` has been seen, as WSO2's guide says not to stop the server " +
      'before the migration lines are done.',
    `What limits the throughput, per MB of log in this run: splitting it into lines (Node's readline on the pipe, ` +
      `${readlineMs.toFixed(1)} ms; the pipe itself carries ${rates.cat.toFixed(0)} MB/s), the matcher ` +
      `(${matcherMs.toFixed(1)} ms: every line is tested against the success, failure and error patterns of the ` +
      'stage, and ERROR lines against the harmless ones), and the rest of the runner ' +
      `(${restMs.toFixed(1)} ms: hiding the secrets in every line, the last-lines buffer, writing the console ` +
      'log file, batched into one write per read from the pipe, and starting and stopping the stand-in). All of it runs on one thread, so a second core ' +
      'does not help. It is far above what a server writes (a busy API-M logs a few MB/s, a migration run less), ' +
      'so the pipe from the server does not fill and the runner does not slow the server down. Memory stays flat: ' +
      'the matcher keeps counters and the last 50 lines, and the console log file is written as fast as it comes ' +
      "(it is not held back for back-pressure, which a disk slower than a server's log rate would need).",
  ];
}
