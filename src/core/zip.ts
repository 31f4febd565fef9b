/**
 * Reading and unpacking zip archives that come from outside: WSO2's migration kits and the artifacts GitHub's
 * artifact service hands back. Nothing in such a zip is trusted. Every entry is checked before anything is written:
 * names that would leave the folder (`..`, absolute paths, drive letters, NUL), entries that appear twice or lie
 * inside a file, symbolic links (refused, or allowed only when they stay inside the folder and do not go through
 * another link), the unpacked size against a limit and against the free space of the disk. A refused zip is an
 * InputError that names every problem, and nothing has been written.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, statfs, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { InputError } from './errors.js';
import { formatBytes } from './format.js';

export interface UnpackZipOptions {
  /** The headline of the refusal, for example `Refusing to unpack the kit x.zip; nothing was installed:`. */
  headline: string;
  /** `inside`: links that stay inside the folder are written as links; `refuse`: any link is a problem. */
  symlinks: 'inside' | 'refuse';
  /** More than `bytes` unpacked is refused, "more than <reason>"; by default only the free space of the disk limits. */
  maxUnpackedBytes?: { bytes: number; reason: string };
}

/** A symbolic link's target is a path; longer content is not one. */
const MAX_LINK_TARGET_BYTES = 4096;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

type EntryKind = 'file' | 'directory' | 'symlink';

interface PlannedEntry {
  /** The name as stored in the zip, for messages. */
  name: string;
  /** Its path below the unpack folder, without empty and `.` segments. */
  segments: string[];
  kind: EntryKind;
  entry: Entry;
  /** Symbolic links: the target, as validated and as it will be written. */
  linkTarget?: string;
}

/** The entry names of a zip as stored (not decoded or checked): only its central directory is read. */
export async function listZipEntryNames(file: string): Promise<string[]> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, decodeStrings: false, autoClose: true });
  const names: string[] = [];
  try {
    for await (const entry of zip.eachEntry()) names.push(entryName(entry));
  } finally {
    zip.close();
  }
  return names;
}

/** The text of the entry named exactly `name`, or undefined when there is none or it is larger than `maxBytes`. */
export async function readZipEntryText(file: string, name: string, maxBytes: number): Promise<string | undefined> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, decodeStrings: false, autoClose: true });
  try {
    for await (const entry of zip.eachEntry()) {
      if (entryName(entry) !== name || entry.uncompressedSize > maxBytes) continue;
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return undefined;
  } finally {
    zip.close();
  }
}

/** Why an entry name would leave the folder it is unpacked into, or null. */
export function describeUnsafeZipName(name: string): string | null {
  if (name.includes('\0')) return 'has a NUL character in its name';
  if (name.startsWith('/') || name.startsWith('\\')) return 'has an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'starts with a drive letter';
  if (name.split(/[\\/]/).includes('..')) return 'has a ".." segment';
  return null;
}

/**
 * Unpacks `zipFile` into the empty folder `target`: first reads the whole central directory (and the targets of
 * symbolic links) and checks every entry, then writes. Returns the files written (paths relative to `target`, with
 * `/`), sorted.
 */
export async function unpackZip(zipFile: string, target: string, options: UnpackZipOptions): Promise<string[]> {
  // yauzl's own name check is off (strictFileNames: false) so that every bad name is reported, not just the first.
  const zip = await yauzl.openPromise(zipFile, {
    lazyEntries: true,
    decodeStrings: false,
    autoClose: false,
    validateEntrySizes: true,
  });
  try {
    const { planned, problems, unpackedBytes } = await readPlan(zip, options);
    problems.push(...checkPlan(planned));
    if (options.maxUnpackedBytes !== undefined && unpackedBytes > options.maxUnpackedBytes.bytes) {
      problems.push(
        `unpacks to ${unpackedBytes} bytes, more than ${options.maxUnpackedBytes.reason} (${options.maxUnpackedBytes.bytes})`,
      );
    }
    const free = await freeBytes(target);
    if (free !== undefined && unpackedBytes > free) {
      problems.push(
        `unpacks to ${formatBytes(unpackedBytes)}, but ${target} has only ${formatBytes(free)} free: make room and try again`,
      );
    }
    if (problems.length > 0) {
      throw new InputError(
        problems.map((message) => ({ message })),
        { headline: options.headline },
      );
    }
    const files: string[] = [];
    for (const item of planned) {
      await writeEntry(zip, target, item);
      if (item.kind !== 'directory') files.push(item.segments.join('/'));
    }
    return files.sort();
  } finally {
    zip.close();
  }
}

function entryName(entry: Entry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
}

async function freeBytes(folder: string): Promise<number | undefined> {
  try {
    const info = await statfs(folder);
    return info.bavail * info.bsize;
  } catch {
    return undefined;
  }
}

async function readPlan(
  zip: ZipFile,
  options: UnpackZipOptions,
): Promise<{ planned: PlannedEntry[]; problems: string[]; unpackedBytes: number }> {
  const planned: PlannedEntry[] = [];
  const problems: string[] = [];
  let unpackedBytes = 0;
  for await (const entry of zip.eachEntry()) {
    const name = entryName(entry);
    const unsafe = describeUnsafeZipName(name);
    if (unsafe !== null) {
      problems.push(`entry "${name}" ${unsafe}`);
      continue;
    }
    if (!entry.canDecodeFileData()) {
      problems.push(`entry "${name}" is encrypted or uses a compression method that cannot be read`);
      continue;
    }
    const segments = name.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
    if (segments.length === 0) continue;
    unpackedBytes += entry.uncompressedSize;
    const kind = entryKind(entry, name);
    if (kind === 'symlink' && options.symlinks === 'refuse') {
      problems.push(`entry "${name}" is a symbolic link, which this archive may not hold`);
    } else if (kind === 'symlink') {
      const linkTarget = await readLinkTarget(zip, entry);
      if (linkTarget === null) problems.push(`entry "${name}" is a symbolic link without a readable target`);
      else planned.push({ name, segments, kind, entry, linkTarget });
    } else {
      planned.push({ name, segments, kind, entry });
    }
  }
  return { planned, problems, unpackedBytes };
}

function entryKind(entry: Entry, name: string): EntryKind {
  // The upper 16 bits of the external attributes hold the Unix mode when a Unix tool wrote the zip.
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (mode === S_IFLNK) return 'symlink';
  return name.endsWith('/') ? 'directory' : 'file';
}

async function readLinkTarget(zip: ZipFile, entry: Entry): Promise<string | null> {
  if (entry.uncompressedSize === 0 || entry.uncompressedSize > MAX_LINK_TARGET_BYTES) return null;
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  const target = Buffer.concat(chunks).toString('utf8');
  return target.includes('\0') ? null : target;
}

/** Checks the entries against each other: links and what is written through them, duplicates. */
function checkPlan(planned: PlannedEntry[]): string[] {
  const problems: string[] = [];
  const byPath = new Map<string, PlannedEntry>();
  const links = new Set<string>();
  const files = new Set<string>();
  for (const item of planned) {
    const path = item.segments.join('/');
    const earlier = byPath.get(path);
    if (earlier !== undefined && (earlier.kind !== 'directory' || item.kind !== 'directory')) {
      problems.push(`entry "${item.name}" appears twice`);
      continue;
    }
    byPath.set(path, item);
    if (item.kind === 'symlink') links.add(path);
    if (item.kind === 'file') files.add(path);
  }
  for (const item of planned) {
    for (let length = 1; length < item.segments.length; length += 1) {
      const prefix = item.segments.slice(0, length).join('/');
      if (links.has(prefix)) {
        problems.push(`entry "${item.name}" would be written through the symbolic link "${prefix}"`);
        break;
      }
      if (files.has(prefix)) {
        problems.push(`entry "${item.name}" is inside "${prefix}", which is a file`);
        break;
      }
    }
    if (item.kind === 'symlink' && item.linkTarget !== undefined) {
      const problem = checkLinkTarget(item, links);
      if (problem === null) item.linkTarget = normalizeLinkTarget(item.linkTarget);
      else problems.push(problem);
    }
  }
  return problems;
}

/**
 * A link may point only to a path inside the unpack folder, resolved from the link's own folder, and not through
 * another link: `a -> .` then `a/b -> ../..` would leave the folder although each looks harmless on its own.
 */
function checkLinkTarget(item: PlannedEntry, links: ReadonlySet<string>): string | null {
  const target = item.linkTarget ?? '';
  const outside = `is a symbolic link to "${target}", outside the folder it is unpacked into`;
  if (target.startsWith('/') || target.startsWith('\\') || /^[A-Za-z]:/.test(target)) {
    return `entry "${item.name}" ${outside}`;
  }
  const steps = target.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
  const at = item.segments.slice(0, -1);
  for (const [index, step] of steps.entries()) {
    if (step === '..') {
      if (at.length === 0) return `entry "${item.name}" ${outside}`;
      at.pop();
      continue;
    }
    at.push(step);
    if (index < steps.length - 1 && links.has(at.join('/'))) {
      return `entry "${item.name}" is a symbolic link to "${target}", which goes through the symbolic link "${at.join('/')}"`;
    }
  }
  // A link to a folder that holds it would make copying the unpacked tree recurse without end.
  if (at.every((segment, position) => item.segments[position] === segment)) {
    return `entry "${item.name}" is a symbolic link to "${target}", a folder that contains the link itself (a loop)`;
  }
  return null;
}

function normalizeLinkTarget(target: string): string {
  const steps = target.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
  return steps.length === 0 ? '.' : steps.join('/');
}

async function writeEntry(zip: ZipFile, target: string, item: PlannedEntry): Promise<void> {
  const path = join(target, ...item.segments);
  if (item.kind === 'directory') {
    await mkdir(path, { recursive: true });
    return;
  }
  await mkdir(dirname(path), { recursive: true });
  if (item.kind === 'symlink') {
    await symlink(item.linkTarget ?? '.', path);
    return;
  }
  const stream: Readable = await zip.openReadStreamPromise(item.entry);
  // 'wx': never follows or overwrites anything already there.
  await pipeline(stream, createWriteStream(path, { flags: 'wx' }));
}
