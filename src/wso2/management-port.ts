/**
 * The management HTTPS port of an API-M 4.2.0 home, as the server derives it from deployment.toml: the HTTPS
 * transport's port (`[transport.https.properties] port`, 9443 in carbon-kernel 4.8.1's default.json) plus the
 * port offset (`[server] offset`, rendered into carbon.xml's `Ports.Offset`, default 0).
 */
import { getPath, readTomlDocument, type TomlValue } from '../config/toml-document.js';
import { InputError } from '../core/errors.js';

export const DEFAULT_HTTPS_PORT = 9443;

export interface ManagementPort {
  port: number;
  /** `[server] offset`, 0 when there is none. */
  offset: number;
}

/** The management HTTPS port of the deployment.toml `text`; a value that is not a port is an InputError. */
export function readManagementPort(text: string, file: string): ManagementPort {
  const data = readTomlDocument(text, file).data;
  const base = readWhole(
    getPath(data, ['transport', 'https', 'properties', 'port']),
    '[transport.https.properties] port',
    file,
  );
  const offset = readWhole(getPath(data, ['server', 'offset']), '[server] offset', file) ?? 0;
  const port = (base ?? DEFAULT_HTTPS_PORT) + offset;
  if (port < 1 || port > 65535) {
    throw new InputError({
      file,
      message: `the management HTTPS port would be ${port} (${base ?? DEFAULT_HTTPS_PORT} + [server] offset ${offset}), which is not a TCP port: set [server] offset so that it falls between 1 and 65535`,
    });
  }
  return { port, offset };
}

/** A whole number, written as an integer or as a string of digits (WSO2's templates paste either as text). */
function readWhole(value: TomlValue | undefined, label: string, file: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'bigint') return readWhole(Number(value), label, file);
  if (typeof value === 'string' && /^\s*-?\d{1,6}\s*$/.test(value)) return Number(value.trim());
  throw new InputError({ file, message: `${label} must be a whole number, as in offset = 1` });
}
