/** followFile on a real file that the test appends to in pieces, as a server writing its console would. */
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followFile } from '../../src/server/console-follower.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-follower-');
afterEach(() => temp.cleanup());

async function followed(initial: string | Buffer): Promise<{ file: string; lines: string[]; from: number }> {
  const file = join(await temp.make(), 'console.log');
  await writeFile(file, initial);
  return { file, lines: [], from: Buffer.byteLength(initial) };
}

describe('followFile', () => {
  it('hands over complete lines from the offset on, holds a partial line until it ends, and flushes it on close', async () => {
    const { file, lines, from } = await followed('an earlier run\n');
    const follower = await followFile({ file, from, onLine: (line) => lines.push(line), pollMs: 60_000 });

    await appendFile(file, 'first\r\nsec');
    await follower.readNow();
    expect(lines).toEqual(['first']);
    await appendFile(file, 'ond\n\nthird, unfinished');
    await follower.readNow();
    expect(lines).toEqual(['first', 'second', '']);
    await follower.close();
    expect(lines).toEqual(['first', 'second', '', 'third, unfinished']);
    // Closed: nothing more is read.
    await appendFile(file, 'late\n');
    await follower.readNow();
    await follower.close();
    expect(lines).toHaveLength(4);
  });

  it('keeps a UTF-8 character whole when its bytes arrive in two reads', async () => {
    const { file, lines, from } = await followed('');
    const follower = await followFile({ file, from, onLine: (line) => lines.push(line), pollMs: 60_000 });
    const bytes = Buffer.from('Größe €\n', 'utf8');
    const cut = bytes.indexOf(0xe2) + 1; // inside the euro sign
    await appendFile(file, bytes.subarray(0, cut));
    await follower.readNow();
    await appendFile(file, bytes.subarray(cut));
    await follower.readNow();
    await follower.close();
    expect(lines).toEqual(['Größe €']);
  });

  it('reads by itself at each poll', async () => {
    const { file, lines, from } = await followed('');
    const follower = await followFile({ file, from, onLine: (line) => lines.push(line), pollMs: 20 });
    await appendFile(file, 'polled\n');
    const until = Date.now() + 5_000;
    while (lines.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    await follower.close();
    expect(lines).toEqual(['polled']);
  });
});
