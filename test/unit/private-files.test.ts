/**
 * The private-file writers under the most permissive umask: what they create is 0700 / 0600 (or the group's modes)
 * whatever the umask, and a file that exists with wider modes is narrowed before anything is written to it.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  copyMasked,
  copyPrivateFile,
  makePrivateDir,
  openPrivateWriteStream,
  OWNER_AND_GROUP,
  writePrivateFile,
} from '../../src/core/private-files.js';
import { SecretMasker } from '../../src/core/secrets.js';

let umask: number;
let dir: string;

beforeEach(async () => {
  umask = process.umask(0);
  dir = await mkdtemp(path.join(os.tmpdir(), 'apim-migrate-private-'));
});

afterEach(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

describe('private files under umask 0', () => {
  it('makes every missing folder 0700, or 0750 for a group, and leaves existing ones as they are', async () => {
    const created = await makePrivateDir(path.join(dir, 'a', 'b'));
    expect(created).toEqual([path.join(dir, 'a'), path.join(dir, 'a', 'b')]);
    expect(await modeOf(path.join(dir, 'a'))).toBe(0o700);
    expect(await modeOf(path.join(dir, 'a', 'b'))).toBe(0o700);
    await makePrivateDir(path.join(dir, 'a', 'c'), OWNER_AND_GROUP);
    expect(await modeOf(path.join(dir, 'a', 'c'))).toBe(0o750);
    expect(await modeOf(dir)).toBe(0o700);
  });

  it('writes, streams and copies files 0600, narrowing a wider file before the first byte', async () => {
    const written = path.join(dir, 'report.json');
    await writePrivateFile(written, '{}\n');
    expect(await modeOf(written)).toBe(0o600);

    const wide = path.join(dir, 'wide.log');
    await writeFile(wide, 'old\n');
    await chmod(wide, 0o666);
    await writePrivateFile(wide, 'new\n');
    expect(await modeOf(wide)).toBe(0o600);
    expect(await readFile(wide, 'utf8')).toBe('new\n');

    const streamed = path.join(dir, 'server-console.log');
    const stream = await openPrivateWriteStream(streamed);
    expect(await modeOf(streamed)).toBe(0o600);
    await new Promise<void>((resolve, reject) => stream.end('line\n', () => resolve()).on('error', reject));

    const copied = path.join(dir, 'copy.log');
    await copyPrivateFile(wide, copied);
    expect(await modeOf(copied)).toBe(0o600);

    const masked = path.join(dir, 'masked.log');
    await writeFile(wide, 'password = s3cret-value\n');
    const masker = new SecretMasker();
    masker.add('s3cret-value');
    await copyMasked(wide, masked, masker);
    expect(await modeOf(masked)).toBe(0o600);
    expect(await readFile(masked, 'utf8')).not.toContain('s3cret-value');
  });
});
