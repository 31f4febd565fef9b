/** Which server a session is on: the product and its version, as the server reports them. */

export const DB_PRODUCTS = ['PostgreSQL', 'MySQL', 'MariaDB'] as const;
export type DbProduct = (typeof DB_PRODUCTS)[number];

export interface ServerInfo {
  product: DbProduct;
  /** Numeric part only, e.g. `15.20` or `10.11.19`. */
  version: string;
  major: number;
  minor: number;
}

/** `15.20 (Debian ...)`, `10.11.19-MariaDB-0+deb12u1`, `8.0.36`, `9.6.24`, `16beta1`. */
export function parseServerVersion(product: DbProduct, text: string): ServerInfo {
  const match = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text);
  if (!match) throw new Error(`cannot read a ${product} version from "${text}"`);
  const version = [match[1], match[2], match[3]].filter((part) => part !== undefined).join('.');
  return { product, version, major: Number(match[1]), minor: Number(match[2] ?? 0) };
}
