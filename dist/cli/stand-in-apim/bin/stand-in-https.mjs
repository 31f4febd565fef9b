// ---------------------------------------------------------------------------------------------------------------
// The stand-in's management HTTPS port (bin/stand-in-jvm.sh starts it as its child on a normal start). It answers
// the few endpoints of API-M 4.2.0 that apim-migrate's startup stage calls, as publisher-api.yaml v4 of
// product-apim v4.2.0 describes them:
//   POST /client-registration/v0.17/register   Basic <admin:password> -> clientId, clientSecret, ...
//   POST /oauth2/token                         Basic <clientId:clientSecret>, grant_type=password -> access_token
//   GET  /api/am/publisher/v4/apis             Bearer <token with apim:api_view> -> count, list, pagination
// The APIs are the super tenant's rows of AM_API (ORGANIZATION 'carbon.super'), read with psql or mariadb/mysql
// at each request. Until the indexing delay has passed the list is empty, as a server that is still re-indexing
// answers; with the index-never-completes switch one API stays missing.
// A self-signed certificate for localhost and 127.0.0.1 is made with openssl at start. It listens on 127.0.0.1
// only; it ends when the stand-in's JVM (its parent) ends, however that ends.
// Everything comes from the environment (STAND_IN_*), set by stand-in-jvm.sh.
// ---------------------------------------------------------------------------------------------------------------
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';

const env = process.env;
const dir = env.STAND_IN_HTTPS_DIR ?? '.';
const port = Number(env.STAND_IN_HTTPS_PORT ?? '9443');
const parent = Number(env.STAND_IN_PARENT_PID ?? process.ppid);
const indexDelayMs = Number(env.STAND_IN_INDEX_DELAY_MS ?? '0');
const indexShort = env.STAND_IN_INDEX_SHORT === 'true';
const admin = { user: env.STAND_IN_ADMIN_USER ?? 'admin', password: env.STAND_IN_ADMIN_PASSWORD ?? 'admin' };
const startedAt = Date.now();

/** The scopes that GET /apis accepts (publisher-api.yaml v4, /apis get, security OAuth2Security). */
const LIST_SCOPES = ['apim:api_view', 'apim:api_manage', 'apim:api_import_export', 'apim:api_list_view'];

const key = join(dir, 'localhost.key');
const cert = join(dir, 'localhost.crt');
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
  ].concat(['-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
  { stdio: ['ignore', 'ignore', 'pipe'] },
);

const clients = new Map();
const tokens = new Map();

function send(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** The user and password of a Basic Authorization header, or undefined. */
function basic(request) {
  const match = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });
}

/**
 * The super tenant's APIs in AM_API, in API_ID order, through the database client of [database.apim_db]. API
 * Products are AM_API rows too (API_TYPE 'APIProduct', ApiMgtDAO.addAPIProduct) but GET /apis leaves them out: its
 * registry search adds `type=(HTTP OR WS OR ...)` without APIProduct (carbon-apimgt 9.28.116 RegistrySearchUtil).
 */
function superTenantApis() {
  const sql =
    'SELECT API_UUID, API_NAME, API_VERSION, CONTEXT, API_PROVIDER FROM AM_API ' +
    "WHERE ORGANIZATION = 'carbon.super' AND (API_TYPE IS NULL OR API_TYPE <> 'APIProduct') ORDER BY API_ID";
  const { STAND_IN_DB_SCHEME: scheme, STAND_IN_DB_HOST: host, STAND_IN_DB_PORT: dbPort } = env;
  const { STAND_IN_DB_USER: user, STAND_IN_DB_PASSWORD: password, STAND_IN_DB_NAME: database } = env;
  let command;
  let args;
  let clientEnv;
  if (scheme === 'postgresql') {
    command = 'psql';
    args = ['-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-h', host, '-p', dbPort || '5432'];
    args.push('-U', user, '-d', database, '-c', sql);
    clientEnv = { ...env, PGPASSWORD: password ?? '', PGAPPNAME: 'WSO2 API-M stand-in' };
  } else if (scheme === 'mysql' || scheme === 'mariadb') {
    command = env.STAND_IN_DB_CLIENT || 'mysql';
    args = ['--protocol=TCP', '-h', host, '-P', dbPort || '3306', '-u', user, '-N', '-B', database, '-e', sql];
    clientEnv = { ...env, MYSQL_PWD: password ?? '' };
  } else {
    return Promise.reject(new Error(`no database client for [database.apim_db] of type '${scheme}'`));
  }
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: clientEnv, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${command}: ${stderr.trim() || error.message}`));
      const rows = stdout.split('\n').filter((line) => line.trim() !== '');
      resolve(
        rows.map((line) => {
          const [id, name, version, context, provider] = line.split('\t');
          return { id, name, version, context, provider };
        }),
      );
    });
  });
}

async function listApis(request, response, url) {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  const scopes = match ? tokens.get(match[1]) : undefined;
  if (scopes === undefined) {
    return send(response, 401, {
      code: 401,
      message: 'Unauthorized',
      description: 'Invalid Credentials',
      moreInfo: '',
    });
  }
  if (!LIST_SCOPES.some((scope) => scopes.includes(scope))) {
    return send(response, 403, {
      code: 403,
      message: 'Forbidden',
      description: 'The access token does not allow you to access the requested resource',
      moreInfo: '',
    });
  }
  let apis;
  try {
    apis = await superTenantApis();
  } catch (error) {
    process.stderr.write(`stand-in-https: ${error.message}\n`);
    return send(response, 500, {
      code: 500,
      message: 'Internal server error',
      description: 'Error while retrieving APIs',
      moreInfo: '',
    });
  }
  if (Date.now() - startedAt < indexDelayMs) apis = [];
  else if (indexShort) apis = apis.slice(0, -1);
  const limit = Math.max(0, Number(url.searchParams.get('limit') ?? '25') || 0);
  const offset = Math.max(0, Number(url.searchParams.get('offset') ?? '0') || 0);
  const list = apis
    .slice(offset, offset + limit)
    .map((api) => ({ ...api, type: 'HTTP', lifeCycleStatus: 'PUBLISHED' }));
  const link = (at) => `/apis?limit=${limit}&offset=${at}&query=`;
  send(response, 200, {
    count: list.length,
    list,
    pagination: {
      offset,
      limit,
      total: apis.length,
      next: offset + limit < apis.length ? link(offset + limit) : '',
      previous: offset > 0 ? link(Math.max(0, offset - limit)) : '',
    },
  });
}

async function register(request, response) {
  const credentials = basic(request);
  if (!credentials || credentials.user !== admin.user || credentials.password !== admin.password) {
    return send(response, 401, { error: 'invalid_client', error_description: 'Authentication failed' });
  }
  let payload;
  try {
    payload = JSON.parse(await readBody(request));
  } catch {
    return send(response, 400, { error: 'invalid_client_metadata', error_description: 'The request body is not JSON' });
  }
  const client = { id: randomBytes(14).toString('base64url'), secret: randomBytes(14).toString('base64url') };
  clients.set(client.id, client.secret);
  send(response, 200, {
    clientId: client.id,
    clientName: payload.clientName,
    callBackURL: payload.callbackUrl ?? null,
    clientSecret: client.secret,
    isSaasApplication: payload.saasApp === true,
    appOwner: payload.owner ?? admin.user,
    jsonString: JSON.stringify({
      grant_types: payload.grantType,
      redirect_uris: payload.callbackUrl,
      client_name: payload.clientName,
    }),
    jsonAppAttribute: '{}',
    tokenType: null,
  });
}

async function token(request, response) {
  const credentials = basic(request);
  const form = new URLSearchParams(await readBody(request));
  if (!credentials || clients.get(credentials.user) !== credentials.password) {
    return send(response, 401, { error: 'invalid_client', error_description: 'Client Authentication failed.' });
  }
  if (form.get('grant_type') !== 'password') {
    return send(response, 400, { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type value' });
  }
  if (form.get('username') !== admin.user || form.get('password') !== admin.password) {
    return send(response, 400, {
      error: 'invalid_grant',
      error_description: 'Authentication failed for ' + form.get('username'),
    });
  }
  const scopes = (form.get('scope') ?? 'default').split(/\s+/).filter((scope) => scope !== '');
  const accessToken = randomUUID();
  tokens.set(accessToken, scopes);
  send(response, 200, {
    access_token: accessToken,
    refresh_token: randomUUID(),
    scope: scopes.join(' '),
    token_type: 'Bearer',
    expires_in: 3600,
  });
}

const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (request, response) => {
  const url = new URL(request.url ?? '/', 'https://localhost');
  const route = `${request.method} ${url.pathname.replace(/\/+$/, '')}`;
  const handlers = {
    'POST /client-registration/v0.17/register': () => register(request, response),
    'POST /oauth2/token': () => token(request, response),
    'GET /api/am/publisher/v4/apis': () => listApis(request, response, url),
  };
  const handler = handlers[route];
  if (!handler)
    return send(response, 404, {
      code: 404,
      message: 'Not Found',
      description: 'The requested resource is not available.',
      moreInfo: '',
    });
  handler().catch((error) => {
    process.stderr.write(`stand-in-https: ${error.stack ?? error}\n`);
    if (!response.headersSent) send(response, 500, { code: 500, message: 'Internal server error', moreInfo: '' });
  });
});

server.on('error', (error) => {
  process.stderr.write(`stand-in-https: ${error.message}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => writeFileSync(join(dir, 'ready'), `${process.pid}\n`));

// The JVM's transports end with it: when the parent is gone (stopped, crashed or killed), so is this.
function parentGone() {
  try {
    process.kill(parent, 0);
    return process.ppid !== parent;
  } catch {
    return true;
  }
}
setInterval(() => {
  if (parentGone()) process.exit(0);
}, 200).unref();
server.on('listening', () => {
  if (parentGone()) process.exit(0);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
