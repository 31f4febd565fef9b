/**
 * Who a pid is: its start time and command line, as the system reports them. The action records them when the
 * server starts, and the post step compares them before it signals the pid, so that a pid the system gave to
 * another process since is left alone. Linux reads /proc (`stat` field 22, `starttime`, and `cmdline`), macOS asks
 * `ps -o lstart=` and `ps -o command=`; Windows is not checked (undefined).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

export interface ProcessIdentity {
  /** Linux: clock ticks from boot to the start (never changes); macOS: ps's lstart, to the second. */
  startTime: string;
  /** The command line, its arguments joined by spaces. */
  commandLine: string;
}

const run = promisify(execFile);

/** The identity of `pid`, or undefined when it does not run, cannot be read, or the platform is not checked. */
export async function readProcessIdentity(
  pid: number,
  platform: NodeJS.Platform = process.platform,
): Promise<ProcessIdentity | undefined> {
  if (platform === 'linux') {
    const startTime = procStatFields(pid)?.[STARTTIME];
    const args = readCommandLine(pid);
    return startTime === undefined || args === undefined ? undefined : { startTime, commandLine: args.join(' ') };
  }
  if (platform === 'darwin') {
    const [startTime, commandLine] = await Promise.all([psColumn(pid, 'lstart='), psColumn(pid, 'command=')]);
    return startTime === undefined || commandLine === undefined ? undefined : { startTime, commandLine };
  }
  return undefined;
}

/** In the fields after `(comm)`, which start at field 3 (state), field 22 is at 19. */
const STARTTIME = 22 - 3;

/**
 * The fields of /proc/<pid>/stat after `pid (comm)`, from field 3 (state) on; undefined when it cannot be read. comm
 * may hold spaces and parentheses, so the fields start after its last `)`.
 */
export function procStatFields(pid: number | string): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The arguments of a Linux process from /proc/<pid>/cmdline; undefined when it cannot be read. */
export function readCommandLine(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return text.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

async function psColumn(pid: number, column: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('ps', ['-o', column, '-p', String(pid)], { timeout: 5_000 });
    const value = stdout.trim();
    return value === '' ? undefined : value;
  } catch {
    // ps exits 1 for a pid that does not run.
    return undefined;
  }
}
