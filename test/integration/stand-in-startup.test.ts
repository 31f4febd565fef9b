/**
 * The stand-in's normal start (the guide's Server Startup Actions): the start lines, the index in <HOME>/solr, and
 * the management HTTPS port with the DCR, token and Publisher API endpoints, reading AM_API of a real PostgreSQL
 * and MariaDB database; the switches no-https, index-delay-ms, index-never-completes, start-fails and init-fatal; the
 * responder ending with the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScratchDatabase } from '../helpers/databases.js';
import { fakeJavaHome } from '../helpers/java.js';
import type { StandInHome } from '../helpers/stand-in.js';
import { makeStartupHome, STARTUP_ADMIN, type StartupHome, type StartupHomeSetup } from '../helpers/startup-home.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-stand-in-startup-');
const groups: number[] = [];
const databases: ScratchDatabase[] = [];

afterEach(async () => {
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const database of databases.splice(0)) await database.drop();
  await temp.cleanup();
});

const STARTED = /WSO2 Carbon started in \d+ sec$/m;
const ADMIN = STARTUP_ADMIN;

interface Server {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** The launcher with a fake JDK, in a process group of its own (killed after the test). */
async function launch(standIn: StandInHome, args: string[] = []): Promise<Server> {
  const env: NodeJS.ProcessEnv = { ...process.env, JAVA_HOME: await fakeJavaHome() };
  delete env['CARBON_HOME'];
  delete env['JAVACMD'];
  const child = spawn('dash', [standIn.launcher, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  groups.push(child.pid ?? 0);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function started(standIn: StandInHome, args: string[] = []): Promise<Server> {
  const server = await launch(standIn, args);
  await waitFor(() => STARTED.test(server.stdout()), 'WSO2 Carbon started');
  return server;
}

/** A 4.2.0 home whose apim_db is a scratch database with AM_API rows, its own port offset and admin password. */
async function startupHome(setup: StartupHomeSetup = {}): Promise<StartupHome> {
  const home = await makeStartupHome(await temp.make(), setup);
  if (home.database) databases.push(home.database);
  return home;
}

/** The responder's certificate, trusted for this one request to 127.0.0.1 and no other host. */
async function trust(home: StartupHome): Promise<Pick<RequestOptions, 'ca' | 'host' | 'port' | 'servername'>> {
  const ca = await readFile(
    join(home.standIn.home, 'repository', 'resources', 'security', 'stand-in-https', 'localhost.crt'),
  );
  return { ca, host: '127.0.0.1', port: home.port, servername: 'localhost' };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(
  home: StartupHome,
  method: string,
  path: string,
  options: { authorization?: string; body?: string; type?: string } = {},
): Promise<Answer> {
  const tls = await trust(home);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.authorization) headers['Authorization'] = options.authorization;
    if (options.type) headers['Content-Type'] = options.type;
    const req = request({ ...tls, method, path, headers, rejectUnauthorized: true }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** DCR, then the password grant with apim:api_view, as publisher-api.yaml v4 describes. */
async function accessToken(home: StartupHome): Promise<string> {
  const dcr = await call(home, 'POST', '/client-registration/v0.17/register', {
    authorization: basicAuth(ADMIN.user, ADMIN.password),
    type: 'application/json',
    body: JSON.stringify({
      callbackUrl: 'www.example.org',
      clientName: 'apim_migrate',
      owner: ADMIN.user,
      grantType: 'password refresh_token',
      saasApp: true,
    }),
  });
  expect(dcr.status).toBe(200);
  const { clientId, clientSecret } = dcr.body as { clientId: string; clientSecret: string };
  const form = new URLSearchParams({
    grant_type: 'password',
    username: ADMIN.user,
    password: ADMIN.password,
    scope: 'apim:api_view',
  });
  const token = await call(home, 'POST', '/oauth2/token', {
    authorization: basicAuth(clientId, clientSecret),
    type: 'application/x-www-form-urlencoded',
    body: form.toString(),
  });
  expect(token.status).toBe(200);
  expect(token.body).toMatchObject({ token_type: 'Bearer', scope: 'apim:api_view', expires_in: 3600 });
  return (token.body as { access_token: string }).access_token;
}

async function listApis(home: StartupHome, token: string, query = ''): Promise<Answer> {
  return call(home, 'GET', `/api/am/publisher/v4/apis${query}`, { authorization: `Bearer ${token}` });
}

/** Whether anything accepts a TCP connection on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function responderPid(home: StartupHome): Promise<number> {
  return Number(
    (
      await readFile(join(home.standIn.home, 'repository', 'resources', 'security', 'stand-in-https', 'ready'), 'utf8')
    ).trim(),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopServer(home: StartupHome, server: Server): Promise<void> {
  const stopper = await launch(home.standIn, ['--stop']);
  expect(await stopper.exited).toBe(0);
  await server.exited;
}

describe('a normal start of the stand-in', () => {
  it('prints the start lines with the port of [server] offset, writes solr/data, and stays up until stopped', async () => {
    const home = await startupHome();
    const server = await started(home.standIn);
    // CarbonUIServiceComponent prints the console's URL after the start line, as the real server does.
    await waitFor(() => /Mgt Console URL/.test(server.stdout()), 'the Mgt Console URL line');
    const out = server.stdout();
    expect(out).toMatch(new RegExp(`INFO - HttpsTransportListener HTTPS port {7}: ${home.port}$`, 'm'));
    expect(out).toMatch(new RegExp(`Mgt Console URL  : https://localhost:${home.port}/carbon/$`, 'm'));
    expect(out).not.toMatch(/ ERROR - /);
    expect((await readdir(join(home.standIn.home, 'solr', 'data', 'index'))).sort()).toEqual([
      'segments_1',
      'write.lock',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server.child.exitCode).toBeNull();
    await stopServer(home, server);
    expect(server.stdout()).toMatch(/Shutdown complete/);
  });

  it('answers DCR, the password grant and the Publisher API with the super tenant rows of AM_API (PostgreSQL)', async () => {
    const home = await startupHome();
    const server = await started(home.standIn);
    const token = await accessToken(home);
    const all = await listApis(home, token);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ count: 3, pagination: { offset: 0, limit: 25, total: 3 } });
    expect((all.body['list'] as { name: string }[]).map((api) => api.name)).toEqual([
      'PizzaShackAPI',
      'StarWarsAPI',
      'PhoneVerification',
    ]);
    const page = await listApis(home, token, '?limit=1&offset=1');
    expect(page.body).toMatchObject({ count: 1, pagination: { offset: 1, limit: 1, total: 3 } });
    await stopServer(home, server);
  });

  it('refuses without a valid token, a bad admin password and a bad client secret', async () => {
    const home = await startupHome();
    const server = await started(home.standIn);
    expect((await call(home, 'GET', '/api/am/publisher/v4/apis')).status).toBe(401);
    expect((await listApis(home, 'not-a-token')).status).toBe(401);
    const badAdmin = await call(home, 'POST', '/client-registration/v0.17/register', {
      authorization: basicAuth(ADMIN.user, 'wrong'),
      type: 'application/json',
      body: '{}',
    });
    expect(badAdmin.status).toBe(401);
    const badClient = await call(home, 'POST', '/oauth2/token', {
      authorization: basicAuth('nobody', 'nothing'),
      type: 'application/x-www-form-urlencoded',
      body: 'grant_type=password&username=admin&password=admin-pw&scope=apim:api_view',
    });
    expect(badClient).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    await stopServer(home, server);
  });

  it('counts 0 during index-delay-ms, then all of them (MariaDB)', async () => {
    const home = await startupHome({ engine: 'mariadb', behaviour: { indexDelayMs: 2500 } });
    const server = await started(home.standIn);
    const token = await accessToken(home);
    expect((await listApis(home, token)).body).toMatchObject({ count: 0, list: [], pagination: { total: 0 } });
    await waitFor(async () => (await listApis(home, token)).body['count'] === 3, 'the index to complete');
    expect((await listApis(home, token)).body).toMatchObject({ pagination: { total: 3 } });
    await stopServer(home, server);
  });

  it('index-never-completes: the count stays one short', async () => {
    const home = await startupHome({ behaviour: { indexNeverCompletes: true } });
    const server = await started(home.standIn);
    const token = await accessToken(home);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await listApis(home, token)).body).toMatchObject({ count: 2, pagination: { total: 2 } });
    await stopServer(home, server);
  });

  it('no-https: the server starts but nothing answers on the port', async () => {
    const home = await startupHome({ behaviour: { noHttps: true } });
    const server = await started(home.standIn);
    expect(await listening(home.port)).toBe(false);
    await stopServer(home, server);
  });

  it('a port that is taken: a WARN of the connector, and the server still starts', async () => {
    const home = await startupHome();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(home.port, '127.0.0.1', resolve));
    try {
      const server = await started(home.standIn);
      expect(server.stdout()).toMatch(
        new RegExp(`WARN - StandardService Failed to start connector \\[Connector\\[HTTP/1.1-${home.port}\\]\\]`),
      );
      expect(server.stdout()).not.toMatch(/ ERROR - /);
      await stopServer(home, server);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('start-fails: the SEVERE configuration line on stderr, no start line, the JVM gone and the launcher exits 0', async () => {
    const home = await startupHome({ behaviour: { startFails: true } });
    const server = await launch(home.standIn);
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toMatch(
      /^\w{3} \d\d, \d{4} [ \d]\d:\d\d:\d\d [AP]M org\.wso2\.carbon\.server\.Main handleConfiguration\nSEVERE: Error while performing configuration changes\n/m,
    );
    expect(server.stdout()).not.toMatch(STARTED);
    expect(await listening(home.port)).toBe(false);
    expect(existsSync(join(home.standIn.home, 'solr'))).toBe(false);
  });

  it('init-fatal: the FATAL record of CarbonServerManager with its trace, no start line, and the JVM stays up', async () => {
    const home = await startupHome({ behaviour: { initFatal: true } });
    const server = await launch(home.standIn);
    await waitFor(
      () =>
        /FATAL - CarbonServerManager WSO2 Carbon initialization Failed\norg\.wso2\.carbon\.CarbonException: .*\n\tat /.test(
          server.stdout(),
        ),
      'the FATAL record and its trace',
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.child.exitCode).toBeNull();
    expect(server.stdout()).not.toMatch(STARTED);
    await stopServer(home, server);
  });

  it('the responder ends with the server: on --stop, and when the JVM is killed', async () => {
    const home = await startupHome();
    const server = await started(home.standIn);
    const responder = await responderPid(home);
    expect(alive(responder)).toBe(true);
    await stopServer(home, server);
    expect(alive(responder)).toBe(false);
    expect(await listening(home.port)).toBe(false);

    const again = await started(home.standIn);
    const second = await responderPid(home);
    const jvm = Number((await readFile(home.standIn.pidFile, 'utf8')).trim());
    process.kill(jvm, 'SIGKILL');
    await again.exited;
    await waitFor(() => !alive(second), 'the responder to end after its JVM was killed', 3000);
    expect(await listening(home.port)).toBe(false);
  });

  it('a migration run opens no HTTPS port and writes no index', async () => {
    const home = await startupHome();
    const server = await started(home.standIn, ['-Dmigrate', '-DmigrateFromVersion=3.1.0', '-DmigratedVersion=4.2.0']);
    expect(await listening(home.port)).toBe(false);
    expect(existsSync(join(home.standIn.home, 'solr'))).toBe(false);
    await stopServer(home, server);
  });
});
