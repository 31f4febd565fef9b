/**
 * The pure pieces of the guide's Server Startup Actions: `[indexing] re_indexing` one higher in deployment.toml,
 * the management HTTPS port (9443 + `[server] offset`), and the command of a normal start.
 */
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { UnsupportedError } from '../../src/core/errors.js';
import { buildNormalStartCommand } from '../../src/server/server-command.js';
import { bumpReIndexing } from '../../src/wso2/deployment-toml-edit.js';
import { readManagementPort } from '../../src/wso2/management-port.js';
import { catchInputError } from '../helpers/errors.js';

const FILE = '/opt/wso2am-4.2.0/repository/conf/deployment.toml';
const BASE = [
  '# the server',
  '[server]',
  'hostname = "localhost"  # keep',
  '',
  '[super_admin]',
  'username = "admin"',
  '',
].join('\n');

describe('bumpReIndexing', () => {
  it('adds [indexing] re_indexing = 1 at the end when there is none, keeping everything else byte for byte', () => {
    const result = bumpReIndexing(BASE, FILE);
    expect(result.text).toBe(`${BASE}\n[indexing]\nre_indexing = 1\n`);
    expect(result).toMatchObject({ previous: undefined, value: 1 });
    expect(result.change).toBe('added [indexing] with re_indexing = 1 at the end of the file');
  });

  it('adds the key under an [indexing] header that has none', () => {
    const text = BASE + '[indexing]\nenable = true # on\n\n[database.apim_db]\ntype = "postgre"\n';
    const result = bumpReIndexing(text, FILE);
    expect(result.text).toBe(
      BASE + '[indexing]\nre_indexing = 1\nenable = true # on\n\n[database.apim_db]\ntype = "postgre"\n',
    );
    expect(parse(result.text)['indexing']).toEqual({ enable: true, re_indexing: 1 });
  });

  it('makes an existing value one higher in place, with its comment and the CRLF line endings', () => {
    const text = (BASE + '[indexing]\nre_indexing = 4   # raised for the 3.1.0 upgrade\n').replace(/\n/g, '\r\n');
    const result = bumpReIndexing(text, FILE);
    expect(result.text).toBe(text.replace('re_indexing = 4 ', 're_indexing = 5 '));
    expect(result).toMatchObject({ previous: 4, value: 5, change: 'set [indexing] re_indexing from 4 to 5' });
  });

  it('reads a quoted number and a dotted key too', () => {
    expect(bumpReIndexing('[indexing]\nre_indexing = "2"\n', FILE).text).toBe('[indexing]\nre_indexing = 3\n');
    expect(bumpReIndexing('indexing.re_indexing = 7\n', FILE).text).toBe('indexing.re_indexing = 8\n');
  });

  it('refuses a value that is not a whole number, and an [indexing] that is not a table', () => {
    for (const value of ['"next"', '1.5', 'true']) {
      const error = catchInputError(() => bumpReIndexing(`[indexing]\nre_indexing = ${value}\n`, FILE));
      expect(error.message).toMatch(/re_indexing is .*not a whole number.*re_indexing = 1/);
    }
    expect(catchInputError(() => bumpReIndexing('indexing = 3\n', FILE)).message).toMatch(/`indexing` must be a table/);
  });

  it('refuses a value it cannot place (an inline table) rather than guess', () => {
    expect(() => bumpReIndexing('indexing = { re_indexing = 1 }\n', FILE)).toThrow(UnsupportedError);
  });
});

describe('readManagementPort', () => {
  it('is 9443 without an offset, 9443 + [server] offset with one', () => {
    expect(readManagementPort(BASE, FILE)).toEqual({ port: 9443, offset: 0 });
    expect(readManagementPort('[server]\noffset = 3\n', FILE)).toEqual({ port: 9446, offset: 3 });
    expect(readManagementPort('[server]\noffset = "10"\n', FILE)).toEqual({ port: 9453, offset: 10 });
  });

  it('adds the offset to a changed [transport.https.properties] port', () => {
    const text = '[server]\noffset = 2\n[transport.https.properties]\nport = 8443\n';
    expect(readManagementPort(text, FILE)).toEqual({ port: 8445, offset: 2 });
  });

  it('refuses an offset that is not a whole number, or gives no TCP port', () => {
    expect(catchInputError(() => readManagementPort('[server]\noffset = "one"\n', FILE)).message).toMatch(
      /\[server\] offset must be a whole number/,
    );
    expect(catchInputError(() => readManagementPort('[server]\noffset = 60000\n', FILE)).message).toMatch(
      /would be 69443 .* not a TCP port/,
    );
  });
});

describe('buildNormalStartCommand', () => {
  const base = { apimHome: '/opt/wso2am-4.2.0', javaHome: '/usr/lib/jvm/jdk-17' };

  it('runs the launcher with no migration flags, keeping -Dprofile, with the launcher environment', () => {
    expect(buildNormalStartCommand({ ...base, platform: 'linux' })).toEqual({
      command: 'sh',
      args: ['/opt/wso2am-4.2.0/bin/api-manager.sh'],
      display: 'sh /opt/wso2am-4.2.0/bin/api-manager.sh',
      env: { CARBON_HOME: '/opt/wso2am-4.2.0', JAVA_HOME: '/usr/lib/jvm/jdk-17' },
    });
    const profiled = buildNormalStartCommand({
      ...base,
      platform: 'linux',
      profile: 'control-plane',
      passEnv: ['DB_PW'],
    });
    expect(profiled.args).toEqual(['/opt/wso2am-4.2.0/bin/api-manager.sh', '-Dprofile=control-plane']);
    expect(profiled.passEnv).toEqual(['DB_PW']);
  });

  it('follows the Windows rules of the other runs', () => {
    const windows = buildNormalStartCommand({ apimHome: 'C:\\wso2\\am', javaHome: 'C:\\jdk', platform: 'win32' });
    expect(windows.command).toBe('cmd.exe');
    expect(windows.args).toEqual(['/d', '/c', 'C:\\wso2\\am\\bin\\api-manager.bat']);
    expect(
      catchInputError(() => buildNormalStartCommand({ ...base, apimHome: 'C:\\a&b', platform: 'win32' })).message,
    ).toMatch(/holds "&"/);
  });
});
