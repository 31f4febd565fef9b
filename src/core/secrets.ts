/**
 * Masking: the values of registered secrets, and whatever text calls a secret by its name (a `password = "..."` line
 * of a config file, a `password=` parameter of a JDBC URL), become `***`. Collecting the secrets is
 * config/secrets.ts's; every output (the loggers, plan's diffs, stage logs, copied config files, the post step)
 * masks with one SecretMasker.
 */

const MASK = '***';

/**
 * The lines of a multi-line secret that are secret themselves: an age identity file's key lines (not its `#`
 * comments), a PEM key's base64 lines (not its `-----BEGIN ...-----` armour), each trimmed.
 */
export function secretLines(value: string): string[] {
  const lines = value.split(/\r\n|\r|\n/).map((line) => line.trim());
  if (lines.length < 2) return [];
  return lines.filter(
    (line) => line !== '' && !line.startsWith('#') && !/^-----(BEGIN|END) [A-Z0-9 ]+-----$/.test(line),
  );
}

/** Replaces every registered secret in a text by `***`, longest first so that overlaps mask fully, then masks by name. */
export class SecretMasker {
  /** Longest first, so that a secret holding another is masked whole; kept sorted, as mask() runs per log line. */
  private secrets: string[] = [];

  /** Registers a value, and each secret line of a multi-line value (see secretLines). */
  add(value: string): void {
    const fresh = [value, ...secretLines(value)].filter((item) => item.length > 0 && !this.secrets.includes(item));
    if (fresh.length === 0) return;
    this.secrets = [...this.secrets, ...new Set(fresh)].sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let masked = text;
    for (const secret of this.secrets) {
      if (masked.includes(secret)) masked = masked.split(secret).join(MASK);
    }
    return maskSecretAssignments(masked);
  }
}

/**
 * One `key = value` or `key: value` line of TOML, YAML, JSON or a properties file, also as a line of a unified diff
 * (`+`, `-`, ` `), commented out (`#`) or in a YAML list (`- `); the key may be quoted. Its key is secret-like: it ends
 * with `password` (`key_password`, `keystore.tls.password`), `passwd`, `passphrase`, `secret` (`client_secret`),
 * `secret_key`, `token` (`auth_token`), `private_key` or `api_key`, in any case.
 */
const ASSIGNMENT =
  /^(\s*(?:[-+]\s*)?(?:#\s*)?(?:-\s+)?)(["']?)([\w.-]*?(?:password|passwd|passphrase|secret|secret_?key|token|private_?key|api_?key))\2(\s*[=:]\s*)(?:(["'])(.*?)\5|(.*?))(\s*,?(?:\s+#.*)?\s*)$/gim;

/**
 * A parameter whose name holds `password` (any case): `password`, PgJDBC's `sslpassword`, Connector/J's `password1`
 * to `password3` and key store passwords, MariaDB's `keyStorePassword`, in a JDBC URL (`?`, `&`, `&amp;`, `;`) or
 * standing alone after a space. Sources: docs/security.md.
 */
const PASSWORD_PARAM = /(^|[?&;\s(,])([\w.-]*password[\w.-]*)=([^&;\s"'<>]*)/gim;

/**
 * Masks the values of secret-like keys on every line, and password parameters wherever they stand (inside a `url`
 * value too). Placeholders (`$env{}`, `$secret{}`, `$ref{}`) and empty values stay, so a diff still says where the
 * secret comes from.
 */
export function maskSecretAssignments(text: string): string {
  const assignments = text.replace(
    ASSIGNMENT,
    (line, lead: string, keyQuote: string, key: string, separator: string, ...rest: unknown[]) => {
      const [quote, quoted, bare, tail] = rest as [string | undefined, string | undefined, string | undefined, string];
      const value = quoted ?? bare ?? '';
      if (value === '' || value.startsWith('$') || value === MASK) return line;
      const written = quote === undefined ? MASK : `${quote}${MASK}${quote}`;
      return `${lead}${keyQuote}${key}${keyQuote}${separator}${written}${tail}`;
    },
  );
  return assignments.replace(PASSWORD_PARAM, (whole, before: string, name: string, value: string) =>
    value === '' || value.startsWith('$') ? whole : `${before}${name}=${MASK}`,
  );
}
