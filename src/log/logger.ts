import { neutraliseText } from '../core/neutralise.js';
import { SecretMasker } from '../core/secrets.js';

/**
 * The logging seam. Stages log through this interface only; the action gives it @actions/core,
 * the CLI gives it the console. Every implementation masks registered secrets and neutralises every line.
 */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
  notice(message: string): void;
  debug(message: string): void;
  /** Runs `fn` inside a foldable section and returns its value; the section ends even when fn throws. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /** Registers a value that must never be printed. */
  setSecret(value: string): void;
}

export interface ConsoleLoggerOptions {
  debug?: boolean;
  /** Where normal lines go; warnings and errors go to `err`. */
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Masks with this one (the run's, which holds its secrets already) instead of a fresh one; setSecret adds to it. */
  masker?: SecretMasker;
}

export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const masker = options.masker ?? new SecretMasker();
  let depth = 0;
  const indent = () => '  '.repeat(depth);
  const write = (sink: (line: string) => void, prefix: string, message: string) => {
    for (const line of printable(masker, message).split('\n')) sink(`${indent()}${prefix}${line}`);
  };
  return {
    info: (message) => write(out, '', message),
    notice: (message) => write(out, 'notice: ', message),
    warning: (message) => write(err, 'warning: ', message),
    error: (message) => write(err, 'error: ', message),
    debug: (message) => {
      if (options.debug) write(out, 'debug: ', message);
    },
    async group(title, fn) {
      write(out, '', `== ${title}`);
      depth += 1;
      try {
        return await fn();
      } finally {
        depth -= 1;
      }
    },
    setSecret: (value) => masker.add(value),
  };
}

/** A logger that prints every message through both: groups nest in both, and a secret is registered with both. */
export function teeLogger(primary: Logger, copy: Logger): Logger {
  return {
    info: (message) => {
      primary.info(message);
      copy.info(message);
    },
    notice: (message) => {
      primary.notice(message);
      copy.notice(message);
    },
    warning: (message) => {
      primary.warning(message);
      copy.warning(message);
    },
    error: (message) => {
      primary.error(message);
      copy.error(message);
    },
    debug: (message) => {
      primary.debug(message);
      copy.debug(message);
    },
    group: (title, fn) => primary.group(title, () => copy.group(title, fn)),
    setSecret: (value) => {
      primary.setSecret(value);
      copy.setSecret(value);
    },
  };
}

/**
 * What a logger prints of a message: secrets masked, every line neutralised (core/neutralise.ts), then masked again
 * in case a secret was split by an escape sequence that neutralising removed.
 */
export function printable(masker: SecretMasker, message: string): string {
  return masker.mask(neutraliseText(masker.mask(message)));
}
