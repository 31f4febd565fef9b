import { mkdir, mkdtemp, readdir, readFile, readlink, rm, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { describeUnsafeZipName, listZipEntryNames, readZipEntryText, unpackZip } from '../../src/core/zip.js';
import { writeZip } from '../helpers/wso2-fixtures.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'zip-test-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Rewrites the uncompressed size of every central directory record, as a zip bomb's forged header would claim. */
async function claimSizes(file: string, bytes: number): Promise<void> {
  const data = await readFile(file);
  const signature = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
  for (let at = data.indexOf(signature); at >= 0; at = data.indexOf(signature, at + 4)) {
    data.writeUInt32LE(bytes, at + 24);
  }
  await writeFile(file, data);
}

async function refusal(zipFile: string, options: Parameters<typeof unpackZip>[2]): Promise<InputError> {
  const target = path.join(work, 'out');
  await mkdir(target, { recursive: true });
  const error = await unpackZip(zipFile, target, options).catch((caught: unknown) => caught);
  if (!(error instanceof InputError)) throw new Error(`expected a refusal, got ${String(error)}`);
  expect(await readdir(target)).toEqual([]);
  return error;
}

const HEADLINE = 'Refusing to unpack the test zip:';

describe('unpackZip', () => {
  it('unpacks files and folders and returns the files it wrote', async () => {
    const file = path.join(work, 'ok.zip');
    await writeZip(file, [
      { path: 'kit/', content: '' },
      { path: 'kit/a.txt', content: 'a' },
      { path: 'kit/deep/b.txt', content: 'b' },
      { path: 'top.txt', content: 'top' },
    ]);
    const target = path.join(work, 'out');
    await mkdir(target);
    const files = await unpackZip(file, target, { headline: HEADLINE, symlinks: 'refuse' });
    expect(files).toEqual(['kit/a.txt', 'kit/deep/b.txt', 'top.txt']);
    expect(await readFile(path.join(target, 'kit', 'deep', 'b.txt'), 'utf8')).toBe('b');
  });

  it('names every unsafe entry at once, under the headline, and writes nothing', async () => {
    const file = path.join(work, 'slip.zip');
    await writeZip(file, [
      { path: 'fine.txt', content: 'x' },
      { path: '../up.txt', content: 'x' },
      { path: '/etc/abs.txt', content: 'x' },
      { path: 'C:\\drive.txt', content: 'x' },
    ]);
    const error = await refusal(file, { headline: HEADLINE, symlinks: 'inside' });
    expect(error.message).toContain(HEADLINE);
    expect(error.message).toContain('entry "../up.txt" has a ".." segment');
    expect(error.message).toContain('entry "/etc/abs.txt" has an absolute path');
    expect(error.message).toContain('entry "C:/drive.txt" starts with a drive letter');
  });

  it('writes links that stay inside, and refuses links that leave, loop or go through another link', async () => {
    const inside = await writeZip(path.join(work, 'inside.zip'), [
      { path: 'dir/real.txt', content: 'real' },
      { path: 'dir/link.txt', linkTo: 'real.txt' },
    ]);
    const target = path.join(work, 'inside');
    await mkdir(target);
    expect(await unpackZip(inside, target, { headline: HEADLINE, symlinks: 'inside' })).toEqual([
      'dir/link.txt',
      'dir/real.txt',
    ]);
    expect(await readlink(path.join(target, 'dir', 'link.txt'))).toBe('real.txt');

    const bad = await writeZip(path.join(work, 'bad.zip'), [
      { path: 'out', linkTo: '../../etc' },
      { path: 'a', linkTo: '.' },
      { path: 'b/c', linkTo: '../a/x' },
      { path: 'out/passwd', content: 'through the link' },
    ]);
    const error = await refusal(bad, { headline: HEADLINE, symlinks: 'inside' });
    expect(error.message).toContain('entry "out" is a symbolic link to "../../etc", outside the folder');
    expect(error.message).toContain('entry "a" is a symbolic link to ".", a folder that contains the link itself');
    expect(error.message).toContain('entry "b/c" is a symbolic link to "../a/x", which goes through');
    expect(error.message).toContain('entry "out/passwd" would be written through the symbolic link "out"');
  });

  it('refuses every link where links are not allowed, even one that stays inside', async () => {
    const file = await writeZip(path.join(work, 'link.zip'), [
      { path: 'real.txt', content: 'real' },
      { path: 'link.txt', linkTo: 'real.txt' },
    ]);
    const error = await refusal(file, { headline: HEADLINE, symlinks: 'refuse' });
    expect(error.message).toContain('entry "link.txt" is a symbolic link, which this archive may not hold');
  });

  it('refuses duplicates and entries inside a file', async () => {
    const file = path.join(work, 'dup.zip');
    await writeZip(file, [
      { path: 'a.txt', content: '1' },
      { path: 'a.txt', content: '2' },
      { path: 'a.txt/b.txt', content: '3' },
    ]);
    const error = await refusal(file, { headline: HEADLINE, symlinks: 'refuse' });
    expect(error.message).toContain('entry "a.txt" appears twice');
    expect(error.message).toContain('entry "a.txt/b.txt" is inside "a.txt", which is a file');
  });

  it('refuses a zip whose entries claim more than the limit, before reading any of them', async () => {
    // Deflated entries: a stored one's sizes must agree, and yauzl checks that when it reads the directory.
    const file = await writeZip(path.join(work, 'big.zip'), [{ path: 'a.bin', content: 'small' }], {
      compress: true,
    });
    await claimSizes(file, 3 * 1024 ** 3);
    const error = await refusal(file, {
      headline: HEADLINE,
      symlinks: 'refuse',
      maxUnpackedBytes: { bytes: 2 * 1024 ** 3, reason: 'a test zip holds' },
    });
    expect(error.message).toContain(`unpacks to ${3 * 1024 ** 3} bytes, more than a test zip holds`);
  });

  it('refuses a zip that would not fit in the free space of the disk, saying how much is free', async () => {
    const info = await statfs(work);
    const free = info.bavail * info.bsize;
    const perEntry = 0xfffffff0;
    const count = Math.ceil(free / perEntry) + 1;
    const file = await writeZip(
      path.join(work, 'bomb.zip'),
      Array.from({ length: count }, (_, index) => ({ path: `part-${index}.bin`, content: 'x' })),
      { compress: true },
    );
    await claimSizes(file, perEntry);
    const error = await refusal(file, { headline: HEADLINE, symlinks: 'refuse' });
    expect(error.message).toMatch(/unpacks to .+, but .+ has only .+ free: make room and try again/);
  });
});

describe('zip reading', () => {
  it('lists the names as stored and reads one entry as text, within a size limit', async () => {
    const file = path.join(work, 'read.zip');
    await writeZip(file, [
      { path: 'kit/conf.yaml', content: 'a: 1\n' },
      { path: '../evil', content: 'x' },
    ]);
    expect(await listZipEntryNames(file)).toEqual(['kit/conf.yaml', '../evil']);
    expect(await readZipEntryText(file, 'kit/conf.yaml', 100)).toBe('a: 1\n');
    expect(await readZipEntryText(file, 'kit/conf.yaml', 2)).toBeUndefined();
    expect(await readZipEntryText(file, 'kit/other.yaml', 100)).toBeUndefined();
  });

  it.each([
    ['kit/a.txt', null],
    ['../a', 'has a ".." segment'],
    ['a/../../b', 'has a ".." segment'],
    ['a\\..\\b', 'has a ".." segment'],
    ['/abs', 'has an absolute path'],
    ['\\abs', 'has an absolute path'],
    ['D:x', 'starts with a drive letter'],
    ['a\0b', 'has a NUL character in its name'],
  ])('judges the name %j', (name, expected) => {
    expect(describeUnsafeZipName(name)).toBe(expected);
  });
});
