import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ArtifactExistsError,
  ArtifactNotFoundError,
  type ArtifactStore,
  type StoredArtifact,
} from '../../src/artifacts/store.js';
import type { Logger } from '../../src/log/logger.js';

export interface RecordingLogger extends Logger {
  lines: string[];
  groups: string[];
  secrets: string[];
}

/** A logger that keeps every line, tagged with its kind, and the titles of its groups. */
export function createRecordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const groups: string[] = [];
  const secrets: string[] = [];
  return {
    lines,
    groups,
    secrets,
    info: (message) => lines.push(`info: ${message}`),
    notice: (message) => lines.push(`notice: ${message}`),
    warning: (message) => lines.push(`warning: ${message}`),
    error: (message) => lines.push(`error: ${message}`),
    debug: (message) => lines.push(`debug: ${message}`),
    async group(title, fn) {
      groups.push(title);
      lines.push(`group: ${title}`);
      try {
        return await fn();
      } finally {
        lines.push(`endgroup: ${title}`);
      }
    },
    setSecret: (value) => secrets.push(value),
  };
}

/** What a memory store holds: the artifacts of every run, with the bytes of their files. */
export interface MemoryBucket {
  artifacts: StoredArtifact[];
  contents: Map<string, Buffer>;
}

/**
 * An in-memory artifact store that keeps the contract of src/artifacts/store.ts (test/integration/store-contract.test.ts
 * holds it to it): the files' real sizes, sha256 and bytes, a name never reused within a run, other runs listed and
 * downloaded by id. Stores made with one `bucket` see each other's runs.
 */
export function createMemoryStore(
  runId = 'run-1',
  options: { failUploads?: boolean; bucket?: MemoryBucket } = {},
): ArtifactStore & { artifacts: StoredArtifact[] } {
  const bucket = options.bucket ?? { artifacts: [], contents: new Map<string, Buffer>() };
  const { artifacts, contents } = bucket;
  const key = (run: string, name: string, file: string) => `${run}/${name}/${file}`;
  const find = (name: string, run: string) =>
    artifacts.find((artifact) => artifact.name === name && artifact.runId === run);
  return {
    artifacts,
    kind: 'folder',
    description: 'memory store',
    async upload(name, files) {
      if (options.failUploads) throw new Error('the store is down');
      if (find(name, runId)) throw new ArtifactExistsError(name, runId);
      const read = await Promise.all(
        files.map(async (file) => ({ name: path.basename(file), data: await readFile(file) })),
      );
      const artifact: StoredArtifact = {
        name,
        id: String(artifacts.length + 1),
        runId,
        location: `memory:${runId}/${name}`,
        files: read.map(({ name: file, data }) => ({
          name: file,
          size: data.length,
          sha256: createHash('sha256').update(data).digest('hex'),
        })),
      };
      for (const { name: file, data } of read) contents.set(key(runId, name, file), data);
      artifacts.push(artifact);
      return artifact;
    },
    async list(filter = {}) {
      return artifacts.filter((artifact) => artifact.runId === (filter.runId ?? runId));
    },
    async download(name, destination, filter = {}) {
      const run = filter.runId ?? runId;
      const artifact = find(name, run);
      if (!artifact) throw new ArtifactNotFoundError(name, run, 'the memory store');
      await mkdir(destination, { recursive: true });
      const paths: string[] = [];
      for (const file of artifact.files) {
        const target = path.join(destination, file.name);
        await writeFile(target, contents.get(key(run, name, file.name)) ?? Buffer.alloc(0));
        paths.push(target);
      }
      return paths;
    },
  };
}
