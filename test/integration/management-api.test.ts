/**
 * The management API client against the stand-in's real HTTPS responder (started with startServer), which lists the
 * super tenant's rows of AM_API in a real PostgreSQL database; and against a small HTTPS server of the test's own
 * for answers of the wrong shape. Real time, small values, no assertions on speed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  countPublisherApis,
  ManagementApiError,
  probeManagementPort,
  waitForApiCount,
} from '../../src/server/management-api.js';
import { buildNormalStartCommand } from '../../src/server/server-command.js';
import { groupAlive } from '../../src/server/server-runner.js';
import { startServer, type StartedServer } from '../../src/server/server-start.js';
import type { ScratchDatabase } from '../helpers/databases.js';
import { createRecordingLogger } from '../helpers/fakes.js';
import { fakeJavaHome } from '../helpers/java.js';
import type { StandInBehaviour } from '../helpers/stand-in.js';
import { makeStartupHome, STARTUP_ADMIN, SUPER_TENANT_APIS, type StartupHome } from '../helpers/startup-home.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-management-api-');
const groups: number[] = [];
const databases: ScratchDatabase[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const pid of groups.splice(0)) {
    if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
  }
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  for (const database of databases.splice(0)) await database.drop();
  await temp.cleanup();
});

interface Running {
  home: StartupHome;
  server: StartedServer;
}

/** A startup home with a seeded PostgreSQL apim_db, started normally. */
async function startedHome(behaviour?: StandInBehaviour, home?: StartupHome): Promise<Running> {
  const made = home ?? (await makeStartupHome(await temp.make(), behaviour === undefined ? {} : { behaviour }));
  if (made.database && !databases.includes(made.database)) databases.push(made.database);
  const result = await startServer({
    command: buildNormalStartCommand({
      apimHome: made.standIn.home,
      javaHome: await fakeJavaHome(),
      platform: 'linux',
    }),
    home: made.standIn.home,
    consoleFile: join(await temp.make(), 'console.log'),
    timeoutMs: 40_000,
    stopGraceMs: 10_000,
    logger: createRecordingLogger(),
    onStarted: (pid) => void groups.push(pid),
  });
  if (result.verdict !== 'started') throw new Error(`the stand-in did not start: ${result.reason}`);
  return { home: made, server: result.server };
}

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const admin = { user: STARTUP_ADMIN.user, password: STARTUP_ADMIN.password };
const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('probeManagementPort', () => {
  it('says the stand-in answers, with the HTTP status it gave', async () => {
    const { home, server } = await startedHome();
    expect(await probeManagementPort({ port: home.port })).toEqual({ answered: true, status: 404 });
    await server.stop();
  });

  it('says a closed port does not answer', async () => {
    const port = await closedPort();
    const probe = await probeManagementPort({ port, timeoutMs: 2_000 });
    expect(probe).toEqual({
      answered: false,
      reason: `nothing answers on 127.0.0.1:${port} (ECONNREFUSED): the management port is not open`,
    });
  });

  it('says a port that speaks no TLS does not answer HTTPS', async () => {
    const plain = createTcpServer((socket) => {
      // Read on, so that the client's end of the connection ends this one too and close() can finish.
      socket.resume();
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const probe = await probeManagementPort({ port: (plain.address() as AddressInfo).port, timeoutMs: 2_000 });
      expect(probe).toMatchObject({ answered: false, reason: expect.stringMatching(/does not speak TLS/) });
    } finally {
      await new Promise((resolve) => plain.close(resolve));
    }
  });
});

describe('countPublisherApis', () => {
  it('with the admin credentials: the super tenant rows of AM_API', async () => {
    const { home, server } = await startedHome();
    expect(await countPublisherApis({ port: home.port, admin })).toBe(SUPER_TENANT_APIS);
    await server.stop();
  });

  it('a wrong password: ManagementApiError at register with 401, naming the settings and not the password', async () => {
    const { home, server } = await startedHome();
    const wrong = { user: admin.user, password: 'Wr0ng-pass-9931' };
    const error = await countPublisherApis({ port: home.port, admin: wrong }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ManagementApiError);
    const apiError = error as ManagementApiError;
    expect(apiError.step).toBe('register');
    expect(apiError.status).toBe(401);
    expect(apiError.lasting).toBe(true);
    expect(apiError.message).toMatch(/startup\.adminUserEnv and startup\.adminPasswordEnv/);
    expect(apiError.message).not.toContain(wrong.password);
    expect(apiError.message).not.toContain(base64(`${wrong.user}:${wrong.password}`));
    expect(String(apiError.stack)).not.toContain(wrong.password);
    await server.stop();
  });

  it('no answer on the port: ManagementApiError at register without a status', async () => {
    const error = await countPublisherApis({ port: await closedPort(), admin }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ManagementApiError);
    expect(error).toMatchObject({ step: 'register', status: undefined, lasting: false });
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe('waitForApiCount', () => {
  it('index-delay-ms: counts 0 while the index is rebuilt, then matches', async () => {
    const { home, server } = await startedHome({ indexDelayMs: 1_500 });
    const logger = createRecordingLogger();
    const result = await waitForApiCount({
      port: home.port,
      admin,
      expected: SUPER_TENANT_APIS,
      waitMs: 30_000,
      pollMs: 200,
      logger,
    });
    expect(result).toMatchObject({ matched: true, count: SUPER_TENANT_APIS });
    expect(logger.lines).toContainEqual(
      expect.stringMatching(
        /^info: The Publisher API lists 0 of the 3 super-tenant APIs; the index is still being rebuilt \(waited .+ of 30\.0 s\)$/,
      ),
    );
    expect(logger.lines.at(-1)).toMatch(/^info: The Publisher API lists all 3 super-tenant APIs \(waited .+\)$/);
    // The admin's password, the client's id and secret and the token are registered as secrets, and never printed.
    expect(logger.secrets).toContain(admin.password);
    expect(logger.secrets.length).toBeGreaterThanOrEqual(5);
    for (const secret of logger.secrets) {
      expect(logger.lines.some((line) => line.includes(secret))).toBe(false);
    }
    await server.stop();
  });

  it('index-never-completes: no match within waitMs, and the last count', async () => {
    const { home, server } = await startedHome({ indexNeverCompletes: true });
    const logger = createRecordingLogger();
    const result = await waitForApiCount({
      port: home.port,
      admin,
      expected: SUPER_TENANT_APIS,
      waitMs: 1_000,
      pollMs: 200,
      logger,
    });
    expect(result).toMatchObject({ matched: false, last: SUPER_TENANT_APIS - 1 });
    expect(result).not.toHaveProperty('lastProblem');
    expect(logger.lines.filter((line) => line.includes('lists 2 of the 3 super-tenant APIs')).length).toBeGreaterThan(
      1,
    );
    await server.stop();
  });

  it('no-https: the port does not answer, said as the last problem', async () => {
    const { home, server } = await startedHome({ noHttps: true });
    expect((await probeManagementPort({ port: home.port })).answered).toBe(false);
    const logger = createRecordingLogger();
    const result = await waitForApiCount({
      port: home.port,
      admin,
      expected: SUPER_TENANT_APIS,
      waitMs: 600,
      pollMs: 200,
      logger,
    });
    expect(result.matched).toBe(false);
    expect(result).not.toHaveProperty('last');
    expect(result).toMatchObject({
      lastProblem: `nothing answers on 127.0.0.1:${home.port} (ECONNREFUSED): the management port is not open`,
    });
    await server.stop();
  });

  it('wrong credentials end the wait at once', async () => {
    const { home, server } = await startedHome();
    const logger = createRecordingLogger();
    const result = await waitForApiCount({
      port: home.port,
      admin: { user: admin.user, password: 'not-the-password' },
      expected: SUPER_TENANT_APIS,
      waitMs: 60_000,
      pollMs: 200,
      logger,
    });
    expect(result.matched).toBe(false);
    expect(result).toMatchObject({ lastProblem: expect.stringContaining('HTTP 401') });
    expect(logger.lines.filter((line) => line.startsWith('warning: The Publisher API cannot be read'))).toHaveLength(1);
    expect(logger.lines.join('\n')).not.toContain('not-the-password');
    await server.stop();
  });

  it('keeps its token until it is refused, then registers again: across a restart of the server', async () => {
    const first = await startedHome({ indexDelayMs: 800 });
    let current = first.server;
    let restarts = 0;
    const logger = createRecordingLogger();
    const result = await waitForApiCount({
      port: first.home.port,
      admin,
      expected: SUPER_TENANT_APIS,
      waitMs: 30_000,
      pollMs: 200,
      logger,
      // Between the first count (0, the index is not ready) and the next, the server restarts: its responder knows
      // neither the client nor the token any more.
      sleep: async (ms) => {
        if (restarts === 0) {
          restarts += 1;
          await current.stop();
          current = (await startedHome(undefined, first.home)).server;
        }
        await new Promise((resolve) => setTimeout(resolve, ms));
      },
    });
    expect(restarts).toBe(1);
    expect(result).toMatchObject({ matched: true, count: SUPER_TENANT_APIS });
    expect(logger.lines.some((line) => line.includes('cannot be read'))).toBe(false);
    await current.stop();
  });
});

describe('answers of the wrong shape', () => {
  /** An HTTPS server on 127.0.0.1 with a self-signed certificate, answering each path as `answers` says. */
  async function serve(answers: Record<string, (authorization: string) => { status: number; body: string }>) {
    const dir = await temp.make();
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ]),
      { stdio: 'ignore' },
    );
    const server = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (request, response) => {
        request.resume();
        request.on('end', () => {
          const answer = answers[(request.url ?? '').split('?')[0] ?? '']?.(request.headers.authorization ?? '') ?? {
            status: 404,
            body: '{}',
          };
          response.writeHead(answer.status, { 'Content-Type': 'application/json' });
          response.end(answer.body);
        });
      },
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  it('a registration answer without the client fields: said as such, the echoed credentials hidden', async () => {
    const port = await serve({
      // A server that echoes what it was sent: the admin's Basic credentials.
      '/client-registration/v0.17/register': (authorization) => ({
        status: 200,
        body: JSON.stringify({ clientId: 7, echo: authorization, password: admin.password }),
      }),
    });
    const error = (await countPublisherApis({ port, admin }).catch((caught: unknown) => caught)) as ManagementApiError;
    expect(error).toBeInstanceOf(ManagementApiError);
    expect(error).toMatchObject({ step: 'register', status: 200 });
    expect(error.message).toMatch(
      /^the answer to the client registration \(POST \/client-registration\/v0\.17\/register\) \(HTTP 200\) is not the JSON expected \(clientId: .*; clientSecret: .*\): "/,
    );
    expect(error.message).not.toContain(admin.password);
    expect(error.message).not.toContain(base64(`${admin.user}:${admin.password}`));
    expect(error.message).toContain('***');
  });

  it('a list without pagination.total, and a body that is not JSON, cut short and neutralised', async () => {
    const answers = {
      '/client-registration/v0.17/register': () => ({
        status: 200,
        body: JSON.stringify({ clientId: 'client-id-1', clientSecret: 'client-secret-1' }),
      }),
      '/oauth2/token': () => ({
        status: 200,
        body: JSON.stringify({ access_token: 'token-abc-123', token_type: 'Bearer', scope: 'apim:api_view' }),
      }),
      '/api/am/publisher/v4/apis': () => ({ status: 200, body: JSON.stringify({ count: 1, list: [] }) }),
    };
    const port = await serve(answers);
    const error = (await countPublisherApis({ port, admin }).catch((caught: unknown) => caught)) as ManagementApiError;
    expect(error).toMatchObject({ step: 'list', status: 200 });
    expect(error.message).toMatch(/is not the JSON expected \(pagination: /);

    const hostile = await serve({
      ...answers,
      '/api/am/publisher/v4/apis': () => ({
        status: 200,
        body: `<html>::set-output name=x::1\n##[error]token-abc-123 client-secret-1 ${'x'.repeat(500)}</html>`,
      }),
    });
    const notJson = (await countPublisherApis({ port: hostile, admin }).catch(
      (caught: unknown) => caught,
    )) as ManagementApiError;
    expect(notJson.message).toMatch(
      /^the answer to the Publisher API's list of APIs .* \(HTTP 200\) is not JSON: "<html>/,
    );
    expect(notJson.message).not.toContain('token-abc-123');
    expect(notJson.message).not.toContain('client-secret-1');
    expect(notJson.message).not.toContain('##[');
    expect(notJson.message.length).toBeLessThan(400);
  });
});
