/**
 * The dump and restore tools as processes: starting one (nothing secret in its arguments), keeping the last lines
 * of its stderr with secrets masked, and waiting for it together with the work that feeds or reads it.
 */

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { errorMessage } from '../core/errors.js';
import { whenWritable } from '../core/streams.js';
import type { SecretMasker } from '../core/secrets.js';
import type { ClientTool } from './client-tools.js';

const STDERR_TAIL_LINES = 20;

export type ResolvedTool = ClientTool & { path: string };

/** A dump or restore tool failed; the message holds its last stderr lines (secrets masked). */
export class ClientToolError extends Error {
  readonly exitCode = 1;

  constructor(
    message: string,
    readonly tool: string,
    readonly stderrTail: string[],
  ) {
    super(message);
    this.name = 'ClientToolError';
  }
}

/** The tool, or a clear error naming the package to install. */
export function requireTool(tool: ClientTool, clientPackage: string): ResolvedTool {
  if (tool.path !== undefined) return tool as ResolvedTool;
  throw new ClientToolError(
    `${tool.name} is not on PATH; install the Debian package ${clientPackage} on this runner`,
    tool.name,
    [],
  );
}

export interface ToolRun {
  child: ChildProcessByStdio<Writable | null, Readable, Readable>;
  tool: ResolvedTool;
  /** Resolves when the tool has exited and its output is read; rejects when it could not start. */
  finished: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the tool wrote to stderr, secrets masked. */
  stderrTail(): string[];
  /** Stops the tool because something beside it failed. */
  abort(): void;
  readonly aborted: boolean;
}

/** Starts a client tool with stdout piped; stdin piped or ignored. Nothing secret goes into `args`. */
export function startTool(
  tool: ResolvedTool,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin: 'pipe' | 'ignore',
  masker: SecretMasker,
): ToolRun {
  const child = spawn(tool.path, args, { env, stdio: [stdin, 'pipe', 'pipe'] }) as ChildProcessByStdio<
    Writable | null,
    Readable,
    Readable
  >;
  const tail: string[] = [];
  let partial = '';
  const addLine = (line: string): void => {
    const trimmed = line.trimEnd();
    if (trimmed === '') return;
    tail.push(masker.mask(trimmed.length > 500 ? `${trimmed.slice(0, 500)}...` : trimmed));
    if (tail.length > STDERR_TAIL_LINES) tail.shift();
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(addLine);
  });
  let aborted = false;
  const finished = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      addLine(partial);
      partial = '';
      resolve({ code, signal });
    });
  });
  return {
    child,
    tool,
    finished,
    stderrTail: () => [...tail],
    abort() {
      if (child.exitCode === null && child.signalCode === null) {
        aborted = true;
        child.kill('SIGTERM');
      }
    },
    get aborted() {
      return aborted;
    },
  };
}

/**
 * Waits for a tool and the work that runs beside it (feeding it, reading it, counting rows).
 * When the work fails first, the tool is stopped and the work's error is thrown; when the tool fails
 * (non-zero exit, or an error on stderr), a ClientToolError with its last stderr lines is thrown.
 */
export async function superviseTool(run: ToolRun, what: string, work: Array<Promise<unknown>>): Promise<void> {
  const guarded = work.map((task) =>
    task.catch((error: unknown) => {
      run.abort();
      throw error;
    }),
  );
  const [exit, ...results] = await Promise.allSettled([run.finished, ...guarded]);
  const name = run.tool.name;
  if (exit?.status === 'rejected') {
    throw new ClientToolError(
      `${name} could not be started (${run.tool.path}): ${errorMessage(exit.reason)}`,
      name,
      run.stderrTail(),
    );
  }
  const failedWork = results.find((result) => result.status === 'rejected');
  const tail = run.stderrTail();
  const exited = exit?.status === 'fulfilled' ? exit.value : { code: null, signal: null };
  const toolFailed = exited.code !== 0 || tail.some((line) => /\b(error|fatal)\b/i.test(line));
  if (toolFailed && !run.aborted) {
    const how =
      exited.code !== null && exited.code !== 0
        ? `exit code ${exited.code}`
        : exited.signal
          ? `killed by ${exited.signal}`
          : 'an error on stderr';
    const details = tail.length > 0 ? `:\n  ${tail.join('\n  ')}` : ' (no output on stderr)';
    throw new ClientToolError(`${name} failed while ${what} (${how})${details}`, name, tail);
  }
  if (failedWork?.status === 'rejected') throw failedWork.reason;
}

/**
 * Writes `source` into the tool's stdin and closes it at the end. A tool that stops reading early (pg_restore --list
 * after the table of contents) ends the feeding without an error; its exit code says whether that was right. When
 * `source` fails, stdin is closed at once, so that the tool sees its input end short, and the failure is thrown.
 */
export async function feedTool(run: ToolRun, source: AsyncIterable<Uint8Array>): Promise<void> {
  const stdin = run.child.stdin;
  if (!stdin) throw new Error(`${run.tool.name} was started without stdin`);
  let closed = false;
  const stop = (): void => {
    closed = true;
  };
  // EPIPE: the tool closed its end of the pipe.
  stdin.on('error', stop);
  stdin.on('close', stop);
  const iterator = source[Symbol.asyncIterator]();
  try {
    while (!closed) {
      const next = await iterator.next();
      if (next.done) break;
      if (!stdin.write(next.value)) await whenWritable(stdin);
    }
  } catch (error) {
    stdin.destroy();
    throw error;
  }
  if (closed) await iterator.return?.();
  else stdin.end();
}

/** Reads a tool's stdout to the end (also to keep it from blocking on a full pipe). */
export async function collectText(stream: Readable, limit = 16 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}
