/**
 * The logging seam. Stages log through this interface only; the action gives it @actions/core,
 * the CLI gives it the console. Every implementation masks registered secrets.
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
}

/** Replaces every registered secret in a text by `***`, longest first so that overlaps mask fully. */
export class SecretMasker {
  /** Longest first, so that a secret holding another is masked whole; kept sorted, as mask() runs per log line. */
  private secrets: string[] = [];

  add(value: string): void {
    if (value.length === 0 || this.secrets.includes(value)) return;
    this.secrets = [...this.secrets, value].sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let masked = text;
    for (const secret of this.secrets) {
      if (masked.includes(secret)) masked = masked.split(secret).join('***');
    }
    return masked;
  }
}

/**
 * Config files hold passwords in clear (databases, keystores, the admin user): every `password = "..."` or
 * `password: ...` value becomes `***`, also on the lines of a diff. Placeholders (`$env{}`, `$secret{}`) stay.
 */
export function maskPasswordAssignments(text: string): string {
  return text.replace(
    /^(\s*[-+#]?\s*[\w.]*password[\w.]*\s*[=:]\s*)(["']?)(.*?)\2(\s*(?:#.*)?)$/gim,
    (line, key: string, quote: string, value: string, rest: string) =>
      value === '' || value.startsWith('$') ? line : `${key}${quote}***${quote}${rest}`,
  );
}

export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const masker = new SecretMasker();
  let depth = 0;
  const indent = () => '  '.repeat(depth);
  const write = (sink: (line: string) => void, prefix: string, message: string) => {
    for (const line of masker.mask(message).split('\n')) sink(`${indent()}${prefix}${line}`);
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

/** Registers values with the logger and with a masker used for error messages. */
export function registerSecrets(logger: Logger, masker: SecretMasker, values: readonly string[]): void {
  for (const value of values) {
    if (value.length === 0) continue;
    logger.setSecret(value);
    masker.add(value);
  }
}
