import type { ArtifactStore, StoredArtifact } from '../../src/artifacts/store.js';
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

/** An in-memory artifact store with the contract's rule that a name is never reused. */
export function createMemoryStore(
  runId = 'run-1',
  options: { failUploads?: boolean } = {},
): ArtifactStore & { artifacts: StoredArtifact[] } {
  const artifacts: StoredArtifact[] = [];
  return {
    artifacts,
    kind: 'local',
    description: 'memory store',
    async upload(name, files) {
      if (options.failUploads) throw new Error('the store is down');
      if (artifacts.some((artifact) => artifact.name === name && artifact.runId === runId)) {
        throw new Error(`artifact ${name} already exists`);
      }
      const artifact: StoredArtifact = {
        name,
        id: String(artifacts.length + 1),
        runId,
        location: `memory:${name}`,
        files: files.map((file) => ({ name: file.split('/').pop() ?? file, size: 0, sha256: '' })),
      };
      artifacts.push(artifact);
      return artifact;
    },
    async list(filter = {}) {
      return artifacts.filter((artifact) => artifact.runId === (filter.runId ?? runId));
    },
    async download() {
      throw new Error('the memory store keeps no file contents');
    },
  };
}
