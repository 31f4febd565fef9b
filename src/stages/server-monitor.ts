/**
 * The probe the run monitor reads during a server run (server/run-monitor.ts): the client sessions of every
 * configured physical database other than apim-migrate's own, which during a migration run are the server's, and of
 * those the busy ones: a statement running, or a wait for a lock. Each read opens a short session per database.
 */

import { describeLockWait, readClientSessions, statementText, type ClientSession } from '../db/client-sessions.js';
import { dialectOf } from '../db/dialects.js';
import { withSession } from '../db/session.js';
import { neutraliseText } from '../core/neutralise.js';
import type { PhysicalTarget } from '../plan/build-plan.js';
import type { ActivityProbe, SessionActivity } from '../server/server-runner.js';
import { physicalTargets } from './databases.js';
import type { ResolvedConfig } from '../config/types.js';
import type { SecretMasker } from '../core/secrets.js';

/** A probe's sessions wait this long for a server before that read gives up. */
const PROBE_CONNECT_TIMEOUT_MS = 5_000;

export function serverSessionsProbe(config: ResolvedConfig, secrets: SecretMasker): ActivityProbe {
  let targets: Promise<PhysicalTarget[]> | undefined;
  return async () => {
    targets ??= physicalTargets(config);
    const activities: SessionActivity[] = [];
    for (const db of await targets) {
      const { others } = await withSession(db.target, (session) => readClientSessions(session), {
        connectTimeoutMs: PROBE_CONNECT_TIMEOUT_MS,
      });
      for (const client of others.filter(isBusy)) activities.push(toActivity(secrets, db, client));
    }
    return activities;
  };
}

function isBusy(client: ClientSession): boolean {
  return client.runningSeconds !== undefined || client.lockWait !== undefined;
}

function toActivity(secrets: SecretMasker, db: PhysicalTarget, client: ClientSession): SessionActivity {
  const { engine } = db.target;
  const who = [
    client.user ? `user ${client.user}` : undefined,
    client.application ? `application "${client.application}"` : undefined,
  ].filter((part) => part !== undefined);
  const label = `${db.label}: ${dialectOf(engine).stageLock.connectionLabel(client.id)}${who.length > 0 ? ` (${who.join(', ')})` : ''}`;
  const mask = (text: string) => secrets.mask(text);
  return {
    label: mask(neutraliseText(label).replace(/\s+/g, ' ')),
    ...(client.statement ? { statement: mask(statementText(client.statement)) } : {}),
    ...(client.runningSeconds === undefined ? {} : { runningMs: client.runningSeconds * 1000 }),
    ...(client.lockWait ? { lockWait: mask(describeLockWait(engine, client.lockWait)) } : {}),
  };
}
