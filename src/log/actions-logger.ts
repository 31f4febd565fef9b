import * as core from '@actions/core';
import type { Logger } from './logger.js';

/** The logger of the action: workflow commands through @actions/core, which also masks secrets. */
export function createActionsLogger(): Logger {
  return {
    info: (message) => core.info(message),
    notice: (message) => core.notice(message),
    warning: (message) => core.warning(message),
    error: (message) => core.error(message),
    debug: (message) => core.debug(message),
    group: (title, fn) => core.group(title, fn),
    setSecret: (value) => {
      if (value.length > 0) core.setSecret(value);
    },
  };
}
