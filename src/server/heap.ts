/**
 * The heap the API-M server starts with: api-manager.sh puts `$JVM_MEM_OPTS` (default `-Xms256m -Xmx1024m`) and then
 * `$JAVA_OPTS` on the JVM's command line, and the JVM takes the last `-Xmx` it is given.
 */

import os from 'node:os';
import type { Check } from '../core/check.js';
import { formatBytes } from '../core/format.js';

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

/** Above this much data, WSO2's default 1 GiB heap is known to run out during the migration (known problem out-of-memory). */
export const LARGE_DATA_BYTES = 10 * 1024 ** 3;
export const SMALL_HEAP_BYTES = 1024 ** 3;
export const OUT_OF_MEMORY_PROBLEM = 'out-of-memory';

/** A warning for more than 10 GiB of data on a heap of at most 1 GiB, saying how to raise it. */
export function checkServerHeap(heap: ServerHeap, dataBytes: number): Check {
  const what = `the server starts with a ${formatBytes(heap.bytes)} heap (${heap.source}) for ${formatBytes(dataBytes)} of data`;
  if (dataBytes <= LARGE_DATA_BYTES || heap.bytes > SMALL_HEAP_BYTES) return { verdict: 'pass', message: what };
  return {
    verdict: 'warn',
    message:
      `${what}: a migration of more than ${formatBytes(LARGE_DATA_BYTES)} may run out of memory on it ` +
      `(java.lang.OutOfMemoryError, known problem ${OUT_OF_MEMORY_PROBLEM}): set JVM_MEM_OPTS="-Xms2g -Xmx4g" (or more) in ` +
      `the environment apim-migrate runs in, which passes it to the server`,
  };
}
