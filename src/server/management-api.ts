/**
 * The started server's management HTTPS port on this machine: whether it answers, and how many APIs the Publisher
 * REST API v4 lists, which it reads from the registry's search index, so the count is short while the index is
 * rebuilt. Authentication as publisher-api.yaml v4 describes it: dynamic client registration with the admin's Basic
 * credentials, then the password grant with scope `apim:api_view`, then `GET /api/am/publisher/v4/apis` with the
 * Bearer token, whose `pagination.total` is the number of APIs (docs/wso2-compatibility.md, "Server Startup").
 *
 * The host is always 127.0.0.1: the server's certificate is self-signed (or signed for its public name), so it is
 * not verified, which is safe only for a connection that never leaves this machine. No other host can be given.
 * The admin's password, the client's id and secret and the access token never reach a message: answers are
 * checked against the shapes expected, and quoted only as a short, neutralised excerpt with those values hidden.
 */
import { request, type RequestOptions } from 'node:https';
import { z } from 'zod';
import { formatDuration } from '../core/format.js';
import { neutraliseText } from '../core/neutralise.js';
import type { Logger } from '../log/logger.js';

const HOST = '127.0.0.1';
const DEFAULT_TIMEOUT_MS = 10_000;
/** An answer larger than this is no answer of these endpoints. */
const MAX_BODY_BYTES = 1024 * 1024;
const EXCERPT_CHARS = 200;
const SCOPE = 'apim:api_view';
const HIDDEN = '***';

const REGISTER_PATH = '/client-registration/v0.17/register';
const TOKEN_PATH = '/oauth2/token';
const LIST_PATH = '/api/am/publisher/v4/apis';

export interface ManagementApiOptions {
  /** The management HTTPS port on 127.0.0.1 (see wso2/management-port.ts). */
  port: number;
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

export interface AdminCredentials {
  user: string;
  password: string;
}

export type ManagementApiStep = 'register' | 'token' | 'list';

/** A call of the management API that failed: which step, the HTTP status when there was an answer, and why. */
export class ManagementApiError extends Error {
  readonly exitCode = 1;
  readonly step: ManagementApiStep;
  readonly status: number | undefined;
  /** Asking again does not help (wrong credentials, missing permission): a wait ends at once. */
  readonly lasting: boolean;

  constructor(
    step: ManagementApiStep,
    status: number | undefined,
    message: string,
    options: { lasting?: boolean } = {},
  ) {
    super(message);
    this.name = 'ManagementApiError';
    this.step = step;
    this.status = status;
    this.lasting = options.lasting ?? false;
  }
}

/** Whether anything answers HTTPS on 127.0.0.1:port (any HTTP status counts: the port is open and speaks TLS). */
export async function probeManagementPort(
  options: ManagementApiOptions,
): Promise<{ answered: true; status: number } | { answered: false; reason: string }> {
  try {
    const answer = await send(options, { method: 'GET', path: '/', headers: {} });
    return { answered: true, status: answer.status };
  } catch (error) {
    return { answered: false, reason: describeNoAnswer(options, '/', error) };
  }
}

/**
 * DCR (POST /client-registration/v0.17/register, Basic admin), password grant (POST /oauth2/token, Basic client,
 * scope apim:api_view), then GET /api/am/publisher/v4/apis?limit=1 with Bearer: pagination.total.
 */
export async function countPublisherApis(options: ManagementApiOptions & { admin: AdminCredentials }): Promise<number> {
  return createPublisherSession(options).count();
}

export interface WaitForApiCountOptions extends ManagementApiOptions {
  admin: AdminCredentials;
  /** The super tenant's APIs in AM_API. */
  expected: number;
  /** How long the index may take to be complete. */
  waitMs: number;
  /** Between two counts; default 15 s. */
  pollMs?: number;
  logger: Logger;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type WaitForApiCountResult =
  | { matched: true; count: number; waitedMs: number }
  | {
      matched: false;
      /** The count of the last poll that got one. */
      last?: number;
      /** Why the last poll got no count, when it got none. */
      lastProblem?: string;
      waitedMs: number;
    };

/**
 * Counts the Publisher API's APIs every `pollMs` until the count is `expected` or `waitMs` has passed. The client is
 * registered once and its token kept until the API refuses it (401); then both are made again. A failure that
 * asking again cannot mend (wrong admin credentials, a missing permission) ends the wait at once.
 */
export async function waitForApiCount(options: WaitForApiCountOptions): Promise<WaitForApiCountResult> {
  const { logger, expected, waitMs } = options;
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const pollMs = options.pollMs ?? 15_000;
  const startedAt = clock();
  const session = createPublisherSession(options, (secret) => logger.setSecret(secret));
  const waited = (): string => `waited ${formatDuration(clock() - startedAt)} of ${formatDuration(waitMs)}`;
  let last: number | undefined;
  for (;;) {
    let lastProblem: string | undefined;
    try {
      const count = await session.count();
      last = count;
      if (count === expected) {
        logger.info(`The Publisher API lists all ${plural(expected, 'super-tenant API')} (${waited()})`);
        return { matched: true, count, waitedMs: clock() - startedAt };
      }
      logger.info(
        count < expected
          ? `The Publisher API lists ${count} of the ${plural(expected, 'super-tenant API')}; the index is still being rebuilt (${waited()})`
          : `The Publisher API lists ${plural(count, 'API')}, more than the ${plural(expected, 'super-tenant API')} of AM_API (${waited()})`,
      );
    } catch (error) {
      if (!(error instanceof ManagementApiError)) throw error;
      lastProblem = error.message;
      if (error.lasting) {
        logger.warning(`The Publisher API cannot be read: ${error.message}`);
        return notMatched(last, lastProblem, clock() - startedAt);
      }
      logger.info(`The Publisher API cannot be read yet: ${error.message} (${waited()})`);
    }
    const remaining = waitMs - (clock() - startedAt);
    if (remaining <= 0) return notMatched(last, lastProblem, clock() - startedAt);
    await sleep(Math.min(pollMs, remaining));
  }
}

function notMatched(
  last: number | undefined,
  lastProblem: string | undefined,
  waitedMs: number,
): WaitForApiCountResult {
  return {
    matched: false,
    ...(last === undefined ? {} : { last }),
    ...(lastProblem === undefined ? {} : { lastProblem }),
    waitedMs,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The Publisher API session: a client, a token, the count

interface PublisherSession {
  count(): Promise<number>;
}

const registration = z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1) });
const tokenAnswer = z.object({
  access_token: z.string().min(1),
  token_type: z.string().regex(/^bearer$/i, 'expected "Bearer"'),
  scope: z.string().optional(),
});
const apiList = z.object({
  count: z.number().int().nonnegative(),
  pagination: z.object({ total: z.number().int().nonnegative() }),
});
/** RFC 6749 section 5.2: `error` is a short code of these characters. */
const oauthError = z.object({ error: z.string().regex(/^[\w.-]{1,64}$/) });

function createPublisherSession(
  options: ManagementApiOptions & { admin: AdminCredentials },
  onSecret: (secret: string) => void = () => undefined,
): PublisherSession {
  const { admin } = options;
  const secrets = new Set<string>();
  const hide = (value: string): void => {
    for (const form of secretForms(value)) {
      if (secrets.has(form)) continue;
      secrets.add(form);
      onSecret(form);
    }
  };
  hide(admin.password);
  hide(basic(admin.user, admin.password));
  let client: { id: string; secret: string } | undefined;
  let token: string | undefined;

  const call = async (step: ManagementApiStep, init: Call): Promise<Answer> => {
    try {
      return await send(options, init);
    } catch (error) {
      throw new ManagementApiError(step, undefined, scrub(describeNoAnswer(options, init.path, error), secrets));
    }
  };
  const parse = <T>(step: ManagementApiStep, answer: Answer, schema: z.ZodType<T>): T => {
    const what = `${WHAT[step]} (HTTP ${answer.status})`;
    let data: unknown;
    try {
      data = JSON.parse(answer.body);
    } catch {
      throw new ManagementApiError(
        step,
        answer.status,
        `the answer to ${what} is not JSON: ${excerpt(answer.body, secrets)}`,
      );
    }
    const parsed = schema.safeParse(data);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`)
      .join('; ');
    throw new ManagementApiError(
      step,
      answer.status,
      `the answer to ${what} is not the JSON expected (${issues}): ${excerpt(answer.body, secrets)}`,
    );
  };

  const register = async (): Promise<{ id: string; secret: string }> => {
    const body = JSON.stringify({
      callbackUrl: 'www.example.org',
      clientName: 'apim_migrate_startup_check',
      owner: admin.user,
      grantType: 'client_credentials password refresh_token',
      saasApp: true,
    });
    const answer = await call('register', {
      method: 'POST',
      path: REGISTER_PATH,
      headers: { Authorization: basic(admin.user, admin.password), 'Content-Type': 'application/json' },
      body,
    });
    if (answer.status === 401) {
      throw new ManagementApiError(
        'register',
        401,
        `${WHAT.register} refused the admin credentials of "${neutraliseText(admin.user)}" (HTTP 401): check ` +
          'startup.adminUserEnv and startup.adminPasswordEnv, the variables that hold the user name and password of an ' +
          'admin of the super tenant ([super_admin] of deployment.toml)',
        { lasting: true },
      );
    }
    if (answer.status !== 200 && answer.status !== 201) throw unexpected('register', answer, secrets);
    const parsed = parse('register', answer, registration);
    hide(parsed.clientId);
    hide(parsed.clientSecret);
    hide(basic(parsed.clientId, parsed.clientSecret));
    return { id: parsed.clientId, secret: parsed.clientSecret };
  };

  const requestToken = async (registered: { id: string; secret: string }): Promise<string> => {
    const form = new URLSearchParams({
      grant_type: 'password',
      username: admin.user,
      password: admin.password,
      scope: SCOPE,
    });
    const answer = await call('token', {
      method: 'POST',
      path: TOKEN_PATH,
      headers: {
        Authorization: basic(registered.id, registered.secret),
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: form.toString(),
    });
    if (answer.status !== 200) {
      const code = oauthCode(answer.body);
      if (code === 'invalid_grant') {
        throw new ManagementApiError(
          'token',
          answer.status,
          `${WHAT.token} refused the admin's user name or password (HTTP ${answer.status}, invalid_grant): check ` +
            'startup.adminUserEnv and startup.adminPasswordEnv',
          { lasting: true },
        );
      }
      if (answer.status === 401 || code === 'invalid_client') {
        throw new ManagementApiError(
          'token',
          answer.status,
          `${WHAT.token} refused the client apim-migrate had just registered (HTTP ${answer.status}${code ? `, ${code}` : ''})`,
        );
      }
      throw unexpected('token', answer, secrets, code);
    }
    const parsed = parse('token', answer, tokenAnswer);
    hide(parsed.access_token);
    if (parsed.scope !== undefined && !parsed.scope.split(/\s+/).includes(SCOPE)) {
      throw new ManagementApiError(
        'token',
        answer.status,
        `${WHAT.token} granted a token without the scope ${SCOPE} (granted: ${excerpt(parsed.scope, secrets)}): the ` +
          `user named by startup.adminUserEnv needs the permission to view APIs in the Publisher`,
        { lasting: true },
      );
    }
    return parsed.access_token;
  };

  const list = async (accessToken: string): Promise<number> => {
    const answer = await call('list', {
      method: 'GET',
      path: `${LIST_PATH}?limit=1`,
      headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json' },
    });
    if (answer.status === 401) {
      throw new ManagementApiError('list', 401, `${WHAT.list} refused the access token (HTTP 401)`);
    }
    if (answer.status === 403) {
      throw new ManagementApiError(
        'list',
        403,
        `${WHAT.list} does not let the token list APIs (HTTP 403): the user named by startup.adminUserEnv needs the ` +
          `scope ${SCOPE}`,
        { lasting: true },
      );
    }
    if (answer.status !== 200) throw unexpected('list', answer, secrets);
    return parse('list', answer, apiList).pagination.total;
  };

  return {
    async count() {
      const reused = token !== undefined;
      client ??= await register();
      token ??= await requestToken(client);
      try {
        return await list(token);
      } catch (error) {
        // A token that was good once has expired or been revoked: a new client and token, once.
        if (!(reused && error instanceof ManagementApiError && error.step === 'list' && error.status === 401))
          throw error;
        token = undefined;
        client = await register();
        token = await requestToken(client);
        return list(token);
      }
    },
  };
}

const WHAT: Record<ManagementApiStep, string> = {
  register: `the client registration (POST ${REGISTER_PATH})`,
  token: `the token request (POST ${TOKEN_PATH})`,
  list: `the Publisher API's list of APIs (GET ${LIST_PATH})`,
};

function unexpected(step: ManagementApiStep, answer: Answer, secrets: Set<string>, code?: string): ManagementApiError {
  const detail = code === undefined ? '' : `, ${code}`;
  return new ManagementApiError(
    step,
    answer.status,
    `${WHAT[step]} answered HTTP ${answer.status}${detail}: ${excerpt(answer.body, secrets)}`,
  );
}

/** The OAuth2 error code of an answer, when it is one. */
function oauthCode(body: string): string | undefined {
  try {
    const parsed = oauthError.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data.error : undefined;
  } catch {
    return undefined;
  }
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A secret as it may come back in an answer: as it is, URL-encoded, form-encoded, and the Basic header's base64. */
function secretForms(value: string): string[] {
  if (value === '') return [];
  const forms = [value, encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2)];
  if (value.startsWith('Basic ')) forms.push(value.slice('Basic '.length));
  return [...new Set(forms)].filter((form) => form !== '');
}

/** Hides every secret in `text`, longest first so that one holding another is hidden whole. */
function scrub(text: string, secrets: Set<string>): string {
  let hidden = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) hidden = hidden.split(secret).join(HIDDEN);
  return hidden;
}

/** A short, neutralised, one-line quote of an answer, with the secrets hidden before and after it is cut. */
function excerpt(text: string, secrets: Set<string>): string {
  const flat = neutraliseText(scrub(text, secrets)).replace(/\s+/g, ' ').trim();
  if (flat === '') return '(an empty answer)';
  const cut = flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
  return `"${scrub(cut, secrets)}"`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------------------------------------------
// HTTPS on 127.0.0.1

interface Call {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Answer {
  status: number;
  body: string;
}

/** Why a request got no HTTP answer, for people; never quotes a header or a body. */
function describeNoAnswer(options: ManagementApiOptions, path: string, error: unknown): string {
  const where = `https://${HOST}:${options.port}${path.split('?')[0] ?? ''}`;
  if (error instanceof NoAnswerError) return `${where}: ${error.message}`;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing answers on ${HOST}:${options.port} (ECONNREFUSED): the management port is not open`;
    case 'ECONNRESET':
      return `${where}: the connection was closed before an answer came (ECONNRESET)`;
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `something listens on ${HOST}:${options.port} but does not speak TLS (${code})`;
    default: {
      const text = error instanceof Error ? error.message : String(error);
      return `${where}: ${neutraliseText(text).replace(/\n/g, ' ')}${code ? ` (${code})` : ''}`;
    }
  }
}

class NoAnswerError extends Error {}

async function send(options: ManagementApiOptions, init: Call): Promise<Answer> {
  const { port } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`the management port ${port} is not a TCP port`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(init.body));
  const requestOptions: RequestOptions = {
    host: HOST,
    port,
    method: init.method,
    path: init.path,
    headers,
    // The certificate is not checked: the connection is to this machine's loopback address only (see the header).
    rejectUnauthorized: false,
    // A connection of its own per request: nothing is kept open after the answer.
    agent: false,
  };
  return new Promise<Answer>((resolve, reject) => {
    const req = request(requestOptions, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.destroy(new NoAnswerError(`the answer is larger than ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new NoAnswerError(`no answer within ${formatDuration(timeoutMs)}`)));
    req.on('error', reject);
    req.end(init.body);
  });
}
