/**
 * The other client sessions on a database, as the connected-clients check and the run monitor see them, and how
 * they are named in messages. The dialects read them (Dialect.clientSessions); this module sorts out apim-migrate's
 * own and writes each one as one line, with the server's text neutralised and cut to a readable length.
 */

import { formatDuration } from '../core/format.js';
import { neutraliseText } from '../core/neutralise.js';
import type { ClientSession } from './dialect.js';
import { dialectOf } from './dialects.js';
import type { DbSession } from './session.js';

export type { ClientSession } from './dialect.js';

/** How much of a statement a message shows. */
export const STATEMENT_CHARS = 200;

/** The sessions on the session's database: others, and apim-migrate's own (which do not count). */
export interface ClientSessions {
  others: ClientSession[];
  apimMigrate: ClientSession[];
}

export async function readClientSessions(session: DbSession): Promise<ClientSessions> {
  const all = await dialectOf(session.engine).clientSessions(session);
  return {
    others: all.filter((entry) => entry.apimMigrate === undefined),
    apimMigrate: all.filter((entry) => entry.apimMigrate !== undefined),
  };
}

/** A statement on one line, neutralised, cut to `STATEMENT_CHARS` characters. */
export function statementText(statement: string): string {
  const flat = neutraliseText(statement).replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length <= STATEMENT_CHARS ? flat : `${chars.slice(0, STATEMENT_CHARS).join('')}...`;
}

/** A value of the server's on one line, neutralised. */
function field(value: string): string {
  return neutraliseText(value).replace(/\s+/g, ' ').trim();
}

/**
 * One client as a line: `backend pid 4711 (user wso2, application "PostgreSQL JDBC Driver", from 10.0.0.7:51234,
 * connected since 2026-12-04T18:00:00Z, active, running for 2 min 5 s): UPDATE ...; waits for a relation lock held
 * by backend pid 4700`.
 */
export function describeClientSession(engine: DbSession['engine'], client: ClientSession): string {
  const label = dialectOf(engine).stageLock.connectionLabel;
  const parts: string[] = [];
  if (client.user) parts.push(`user ${field(client.user)}`);
  if (client.application) parts.push(`application "${field(client.application)}"`);
  if (client.client) parts.push(`from ${field(client.client)}`);
  if (client.connectedAt) parts.push(`connected since ${field(client.connectedAt)}`);
  if (client.state) parts.push(field(client.state));
  if (client.runningSeconds !== undefined) parts.push(`running for ${formatDuration(client.runningSeconds * 1000)}`);
  let line = `${label(client.id)}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
  if (client.statement) line += `: ${statementText(client.statement)}`;
  if (client.lockWait) line += `; ${describeLockWait(engine, client.lockWait)}`;
  return line;
}

export function describeLockWait(engine: DbSession['engine'], wait: NonNullable<ClientSession['lockWait']>): string {
  const label = dialectOf(engine).stageLock.connectionLabel;
  const holders = wait.blockedBy.map(label).join(', ');
  return `waits for ${field(wait.on)}${holders ? ` held by ${holders}` : ''}`;
}
