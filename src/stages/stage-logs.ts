/**
 * The logs artifact of a stage run, `apim-migrate-<stage>-logs-a<attempt>`, one per run of every stage and operation:
 * what the stage printed (stage-output.log, masked and neutralised as the loggers print it), and beside it whatever
 * the stage gathered in its logs folder (a server stage's console output, wso2carbon.log, the originals and diffs of
 * the files it edited). The engine captures the output while the stage runs and stores the artifact once, at the end,
 * before the report that names it.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { artifactName } from '../artifacts/store.js';
import { errorMessage } from '../core/errors.js';
import { makePrivateDir, openPrivateWriteStream } from '../core/private-files.js';
import { createConsoleLogger, teeLogger } from '../log/logger.js';
import type { StageContext } from './types.js';

/** What the stage printed, in its logs artifact. */
export const STAGE_OUTPUT_FILE = 'stage-output.log';

/** Where a stage gathers what becomes its logs artifact. */
export function logsDir(context: StageContext): string {
  return path.join(context.workDir, 'logs');
}

/** What runs once the logs artifact of a stage context is stored. */
const afterStored = new WeakMap<StageContext, Array<() => Promise<void>>>();

/**
 * Runs `action` once the stage's logs artifact is stored, and not when it could not be: for files that may leave the
 * API-M home only when the artifact holds them.
 */
export function whenLogsStored(context: StageContext, action: () => Promise<void>): void {
  afterStored.set(context, [...(afterStored.get(context) ?? []), action]);
}

export interface StageOutputCapture {
  /** Ends the capture: the stage's logger is again the one it had, and stage-output.log is complete on disk. */
  end(): Promise<void>;
}

/**
 * From now until end(), what the stage's logger prints also goes to stage-output.log in its logs folder, each line
 * with its time, as the console logger prints it. The file is written as the stage goes, so that the post step finds
 * it too when the job was cancelled before the stage could store its logs.
 */
export async function captureStageOutput(context: StageContext): Promise<StageOutputCapture> {
  const { deps } = context;
  const primary = deps.logger;
  const file = path.join(logsDir(context), STAGE_OUTPUT_FILE);
  await makePrivateDir(logsDir(context));
  const stream = await openPrivateWriteStream(file);
  let broken = false;
  stream.on('error', (error) => {
    if (broken) return;
    broken = true;
    primary.warning(
      `Cannot write ${file}: ${errorMessage(error)}; the logs artifact has the stage's output up to here`,
    );
  });
  const write = (line: string) => {
    if (!broken) stream.write(`${new Date().toISOString()} ${line}\n`);
  };
  // The run's masker holds every secret of the run already; a secret registered during the stage joins it.
  const copy = createConsoleLogger({ debug: true, masker: deps.secrets, out: write, err: write });
  deps.logger = teeLogger(primary, copy);
  return {
    async end() {
      deps.logger = primary;
      if (broken) return;
      stream.end();
      await finished(stream).catch(() => undefined);
    },
  };
}

/**
 * Stores the logs folder as the stage's logs artifact `apim-migrate-<stage>-logs-a<attempt>` and runs what waited for
 * it (whenLogsStored). Returns the artifact's name, or undefined when it could not be stored, which it says.
 */
export async function storeStageLogs(context: StageContext, stage: string): Promise<string | undefined> {
  const { logger, store, run, serverState } = context.deps;
  const dir = logsDir(context);
  const name = artifactName(stage, 'logs', run.attempt);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files = entries.filter((entry) => entry.isFile()).map((entry) => path.join(dir, entry.name));
  try {
    await store.upload(name, files, { retentionDays: context.config.backup.retentionDays });
  } catch (error) {
    logger.error(`the logs could not be stored as ${name} in ${store.description}: ${errorMessage(error)}`);
    return undefined;
  } finally {
    // Tried once: the post step must not reuse the name.
    serverState?.logsStored();
  }
  for (const action of afterStored.get(context) ?? []) {
    try {
      await action();
    } catch (error) {
      logger.warning(`after storing ${name}: ${errorMessage(error)}`);
    }
  }
  afterStored.delete(context);
  return name;
}
