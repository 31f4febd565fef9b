import * as core from '@actions/core';
import { SecretMasker, secretLines } from '../core/secrets.js';
import { printable, type Logger } from './logger.js';

/**
 * GitHub keeps 10 annotations of each kind (error, warning, notice) per step and drops the rest: the action's logger
 * annotates the first ANNOTATED_PER_KIND of each kind, prints the others as plain lines, and at the end of the step
 * (finish) adds a tenth that says how many more there are.
 */
export const ANNOTATED_PER_KIND = 9;

type AnnotationKind = 'error' | 'warning' | 'notice';

const ANNOTATE: Record<AnnotationKind, (message: string) => void> = {
  error: (message) => core.error(message),
  warning: (message) => core.warning(message),
  notice: (message) => core.notice(message),
};

const PLURAL: Record<AnnotationKind, string> = { error: 'errors', warning: 'warnings', notice: 'notices' };

export interface ActionsLogger extends Logger {
  /**
   * Ends the step's annotations: for each kind that had more than ANNOTATED_PER_KIND, one that says how many more are
   * in the step's log and the logs artifact; `failure`, the step's verdict when it failed, is its last error
   * annotation (the tenth at most), with that count.
   */
  finish(failure?: string): void;
}

/**
 * The logger of the action: workflow commands through @actions/core. Messages are masked and neutralised here
 * (so that no echoed line is a workflow command), and every secret, each line of a multi-line one too, is also
 * registered with the runner (`::add-mask::`), which masks the whole job log. Each entry makes one per process, and
 * a process is one step of the job, so it counts the step's annotations.
 */
export function createActionsLogger(): ActionsLogger {
  const masker = new SecretMasker();
  const clean = (message: string) => printable(masker, message);
  const annotated: Record<AnnotationKind, number> = { error: 0, warning: 0, notice: 0 };
  const unannotated: Record<AnnotationKind, number> = { error: 0, warning: 0, notice: 0 };
  const annotate = (kind: AnnotationKind, message: string) => {
    const text = clean(message);
    if (annotated[kind] < ANNOTATED_PER_KIND) {
      annotated[kind] += 1;
      ANNOTATE[kind](text);
      return;
    }
    unannotated[kind] += 1;
    // Still in the step's log, where the runner shows it as a plain line.
    core.info(text.replace(/^/gm, `${kind}: `));
  };
  const more = (kind: AnnotationKind) =>
    `${unannotated[kind]} more ${PLURAL[kind]} of this step are not annotations (GitHub keeps ${ANNOTATED_PER_KIND + 1} of each kind per step): they are in the step's log and in the stage's logs artifact`;
  return {
    info: (message) => core.info(clean(message)),
    notice: (message) => annotate('notice', message),
    warning: (message) => annotate('warning', message),
    error: (message) => annotate('error', message),
    debug: (message) => core.debug(clean(message)),
    group: (title, fn) => core.group(clean(title), fn),
    setSecret: (value) => {
      if (value.length === 0) return;
      masker.add(value);
      // The runner masks each line of a multi-line value itself from v2.286.0; older runners only the whole value.
      for (const line of [value, ...secretLines(value)]) core.setSecret(line);
    },
    finish(failure) {
      for (const kind of ['warning', 'notice'] as const) {
        if (unannotated[kind] > 0) ANNOTATE[kind](more(kind));
      }
      const count = unannotated.error > 0 ? more('error') : undefined;
      if (failure !== undefined) ANNOTATE.error(count === undefined ? clean(failure) : `${clean(failure)}\n${count}`);
      else if (count !== undefined) ANNOTATE.error(count);
      unannotated.error = unannotated.warning = unannotated.notice = 0;
    },
  };
}
