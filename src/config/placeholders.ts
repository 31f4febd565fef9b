/**
 * WSO2-style placeholders inside configuration strings:
 * `$env{NAME}` reads an environment variable, `$secret{alias}` names a cipher-tool secret
 * that only the WSO2 server itself can decrypt.
 */

export type PlaceholderResult = { ok: true; value: string } | { ok: false; missingEnv: string[]; secrets: string[] };

const PLACEHOLDER = /\$(env|secret)\{([A-Za-z0-9_.]+)\}/g;

/**
 * Replaces every `$env{NAME}` by its value in one pass, so a value that itself looks like
 * a placeholder stays as it is. Fails with all unset variables and all secrets it met.
 */
export function resolvePlaceholders(text: string, env: Record<string, string | undefined>): PlaceholderResult {
  const missingEnv: string[] = [];
  const secrets: string[] = [];
  const value = text.replace(PLACEHOLDER, (whole: string, kind: string, name: string) => {
    if (kind === 'secret') {
      addOnce(secrets, name);
      return whole;
    }
    const envValue = env[name];
    if (envValue === undefined) {
      addOnce(missingEnv, name);
      return whole;
    }
    return envValue;
  });
  if (missingEnv.length > 0 || secrets.length > 0) return { ok: false, missingEnv, secrets };
  return { ok: true, value };
}

function addOnce(list: string[], item: string): void {
  if (!list.includes(item)) list.push(item);
}

/**
 * The variables the `$env{NAME}` placeholders of a value name, as WSO2's config mapper reads them when the server
 * starts: whatever stands between `$env{` and the next `}`.
 */
export function envPlaceholderNames(value: string): string[] {
  const names: string[] = [];
  for (const match of value.matchAll(/\$env\{([^}]+)\}/g)) addOnce(names, match[1] ?? '');
  return names;
}
