/**
 * The heap the API-M server starts with: api-manager.sh puts `$JVM_MEM_OPTS` (default `-Xms256m -Xmx1024m`) and then
 * `$JAVA_OPTS` on the JVM's command line, and the JVM takes the last `-Xmx` it is given.
 */

import os from 'node:os';

export const LAUNCHER_DEFAULT_MEM_OPTS = '-Xms256m -Xmx1024m';

export interface ServerHeap {
  bytes: number;
  /** Where it comes from, for people: `-Xmx1024m, the launcher's default JVM_MEM_OPTS`. */
  source: string;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** The maximum heap for the server's environment (what server-env.ts passes it: JVM_MEM_OPTS and JAVA_OPTS). */
export function serverHeap(env: Readonly<Record<string, string | undefined>>): ServerHeap {
  const memOpts = env['JVM_MEM_OPTS'];
  const sources: Array<[string, string]> = [
    [memOpts || LAUNCHER_DEFAULT_MEM_OPTS, memOpts ? 'JVM_MEM_OPTS' : "the launcher's default JVM_MEM_OPTS"],
    [env['JAVA_OPTS'] ?? '', 'JAVA_OPTS'],
  ];
  let found: ServerHeap | undefined;
  for (const [options, from] of sources) {
    for (const word of options.split(/\s+/)) {
      const match = /^-Xmx(\d+)([kKmMgGtT]?)$/.exec(word);
      if (match)
        found = {
          bytes: Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] ?? 1),
          source: `${word}, from ${from}`,
        };
    }
  }
  // No -Xmx at all: the JVM's default maximum heap is a quarter of the machine's memory.
  return (
    found ?? {
      bytes: Math.floor(os.totalmem() / 4),
      source: "no -Xmx given: the JVM's default, a quarter of this machine's memory",
    }
  );
}
