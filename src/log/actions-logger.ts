import * as core from '@actions/core';
import { SecretMasker, secretLines } from '../core/secrets.js';
import { printable, type Logger } from './logger.js';

/**
 * The logger of the action: workflow commands through @actions/core. Messages are masked and neutralised here
 * (so that no echoed line is a workflow command), and every secret, each line of a multi-line one too, is also
 * registered with the runner (`::add-mask::`), which masks the whole job log.
 */
export function createActionsLogger(): Logger {
  const masker = new SecretMasker();
  const clean = (message: string) => printable(masker, message);
  return {
    info: (message) => core.info(clean(message)),
    notice: (message) => core.notice(clean(message)),
    warning: (message) => core.warning(clean(message)),
    error: (message) => core.error(clean(message)),
    debug: (message) => core.debug(clean(message)),
    group: (title, fn) => core.group(clean(title), fn),
    setSecret: (value) => {
      if (value.length === 0) return;
      masker.add(value);
      // The runner masks each line of a multi-line value itself from v2.286.0; older runners only the whole value.
      for (const line of [value, ...secretLines(value)]) core.setSecret(line);
    },
  };
}
