/**
 * The connected-clients guard (README, "The guard: connected clients"): before a stage that changes data, or a
 * restore, takes its locks and backs up, every physical database it touches is asked who else is connected. A
 * still-running API-M 3.1.0 node writes on after the backup: those writes are not in it and are lost on a rollback,
 * and the migration may conflict with them. So any session that is not apim-migrate's own refuses the stage, unless
 * the operator allows it (`--allow-connected-clients`), and then it is named in a warning. The check is read-only:
 * a client that connects between it and the backup is not prevented (the lock keeps out other apim-migrate runs
 * only).
 */

import { describeClientSession, readClientSessions, type ClientSession } from '../db/client-sessions.js';
import { openSession } from '../db/session.js';
import { errorMessage } from '../core/errors.js';
import type { Check } from '../core/check.js';
import type { PhysicalTarget } from '../plan/build-plan.js';
import { clearLeftoverServer } from '../server/server-runner.js';
import { describeDatabase, type TargetsOnce } from './databases.js';
import type { StageContext, StepDefinition, StepOutput } from './types.js';

/** What one physical database showed. */
interface ConnectedClients {
  db: PhysicalTarget;
  others: ClientSession[];
  /** apim-migrate's sessions that hold the stage lock: another run is at work on this database. */
  otherRuns: ClientSession[];
}

/** Reads the client sessions of every database, each on a short session of its own. */
async function findConnectedClients(targets: readonly PhysicalTarget[]): Promise<ConnectedClients[]> {
  const found: ConnectedClients[] = [];
  for (const db of targets) {
    const session = await openSession(db.target);
    try {
      const sessions = await readClientSessions(session);
      found.push({
        db,
        others: sessions.others,
        otherRuns: sessions.apimMigrate.filter((entry) => entry.apimMigrate === 'lock-holder'),
      });
    } finally {
      await session.close().catch(() => undefined);
    }
  }
  return found;
}

/** Why other clients matter, for the refusal and the warning. */
const CONNECTED_CLIENTS_RISK =
  'writes of a client that keeps running (an API-M 3.1.0 node, a script) after the backup are not in it and are lost ' +
  'if the stage is rolled back, and the migration may conflict with them (locks, rows changed under it)';

/** Each other client as a line, masked, per database; the lines are neutralised by describeClientSession. */
function describeConnectedClients(context: StageContext, found: readonly ConnectedClients[]): string[] {
  const lines: string[] = [];
  for (const entry of found) {
    for (const client of entry.others) {
      const line = `${describeDatabase(entry.db)}: ${describeClientSession(entry.db.target.engine, client)}`;
      lines.push(context.deps.secrets.mask(line));
    }
  }
  return lines;
}

/** `1 other client session is connected`, `3 other client sessions are connected`. */
function connectedCount(count: number): string {
  return `${count} other client session${count === 1 ? ' is' : 's are'} connected`;
}

/** How the clients of `found` are judged: refused, or, when allowed, named in a warning. */
function judge(context: StageContext, found: readonly ConnectedClients[], operation: string): StepOutput | undefined {
  const lines = describeConnectedClients(context, found);
  if (lines.length === 0) return undefined;
  const list = lines.map((line) => `  - ${line}`).join('\n');
  const count = connectedCount(lines.length);
  if (context.allowConnectedClients) {
    context.deps.logger.warning(
      `${count}, and ${operation} goes on as --allow-connected-clients (allow-connected-clients) says; ` +
        `${CONNECTED_CLIENTS_RISK}:\n${list}`,
    );
    const checks: Check[] = lines.map((line) => ({ verdict: 'warn', message: `connected: ${line}` }));
    return { checks, summary: `${count}; allowed, so ${operation} goes on` };
  }
  return {
    outcome: 'failed',
    summary:
      `${count}, so ${operation} does not start (no backup, nothing changed): ${CONNECTED_CLIENTS_RISK}. ` +
      'Stop them (every API-M 3.1.0 node and anything else that uses these databases) and run it again, or, when ' +
      `you know they do not write, go on with --allow-connected-clients (action input allow-connected-clients).\n${list}`,
  };
}

/** How long the check after the lock gives the sessions of the run that released it to close. */
const CLOSING_GRACE_MS = 2_000;

/**
 * The check as two steps around the lock step. Before the lock: every database the operation touches, except those
 * where another apim-migrate run holds the stage lock. There that run's own sessions cannot all be told from others
 * (MySQL/MariaDB without connection attributes know only the lock's holder), and the lock step waits for that run
 * anyway: such a database is checked again once this run holds the lock, by the second step (skipped otherwise).
 * With context.allowConnectedClients the clients are named in a warning and the operation goes on.
 */
export function connectedClientsSteps(
  targets: TargetsOnce,
  context: StageContext,
  operation: string,
): { before: StepDefinition; afterLock: StepDefinition } {
  let deferred: PhysicalTarget[] = [];
  const before: StepDefinition = {
    id: 'connected-clients',
    title: 'Check for other connected clients',
    housekeeping: true,
    async run(): Promise<StepOutput> {
      const touched = await targets();
      const found = await findConnectedClients(touched);
      deferred = found.filter((entry) => entry.otherRuns.length > 0).map((entry) => entry.db);
      const judged = judge(
        context,
        found.filter((entry) => entry.otherRuns.length === 0),
        operation,
      );
      const later =
        deferred.length > 0
          ? `; another apim-migrate run holds the stage lock on ${deferred.map((db) => db.label).join(', ')}, checked again once this run has the lock`
          : '';
      if (judged)
        return judged.outcome === 'failed' ? judged : { ...judged, summary: `${judged.summary ?? ''}${later}` };
      return { summary: `no other client is connected to ${touched.map((db) => db.label).join(', ')}${later}` };
    },
  };
  const afterLock: StepDefinition = {
    id: 'connected-clients-after-lock',
    title: 'Check again for other connected clients',
    housekeeping: true,
    async run(): Promise<StepOutput> {
      if (deferred.length === 0) return { outcome: 'skipped', summary: 'checked before the lock' };
      let found = await findConnectedClients(deferred);
      if (found.some((entry) => entry.others.length > 0)) {
        // The run that gave the lock up may still be closing its sessions.
        await new Promise((resolve) => setTimeout(resolve, CLOSING_GRACE_MS));
        found = await findConnectedClients(deferred);
      }
      return (
        judge(context, found, operation) ?? {
          summary: `no other client is connected to ${deferred.map((db) => db.label).join(', ')}`,
        }
      );
    },
  };
  return { before, afterLock };
}

/** A dry run's check: it says whether the run would refuse, and changes nothing (a leftover server is left too). */
export function connectedClientsPreview(
  targets: TargetsOnce,
  context: StageContext,
  operation: string,
): StepDefinition {
  return {
    id: 'connected-clients',
    title: 'Check for other connected clients',
    housekeeping: true,
    async run(): Promise<StepOutput> {
      const touched = await targets();
      const lines = describeConnectedClients(context, await findConnectedClients(touched));
      if (lines.length === 0) {
        return { summary: `dry run: no other client is connected to ${touched.map((db) => db.label).join(', ')}` };
      }
      const count = connectedCount(lines.length);
      const verdict = context.allowConnectedClients
        ? `the run would go on with a warning (--allow-connected-clients)`
        : `the run would refuse ${operation} until they are gone, or with --allow-connected-clients go on`;
      return {
        checks: lines.map((line) => ({ verdict: 'warn', message: `connected: ${line}` })),
        summary: `dry run: ${count}; ${verdict}`,
      };
    },
  };
}

/**
 * A server in migration mode that a killed run left running from the API-M home is connected to the databases: it
 * is stopped first (as the server step does before a run), so that the check does not count it, and refuse.
 */
export function leftoverServerStep(context: StageContext): StepDefinition {
  return {
    id: 'leftover-server',
    title: 'Stop a server a killed run left behind',
    housekeeping: true,
    async run(): Promise<StepOutput> {
      const { config, deps } = context;
      const stopped = await clearLeftoverServer(config.apimHome, {
        graceMs: config.server.stopGraceSeconds * 1000,
        logger: deps.logger,
      });
      return stopped
        ? { summary: `stopped the API-M server in migration mode left running from ${config.apimHome}` }
        : { outcome: 'skipped', summary: 'no server is running from the API-M home' };
    },
  };
}

/** Preflight's check: clients connected now are a warning (preflight runs before the maintenance window). */
export async function connectedClientsChecks(
  context: StageContext,
  targets: readonly PhysicalTarget[],
): Promise<Check[]> {
  const checks: Check[] = [];
  for (const db of targets) {
    let found: ConnectedClients[];
    try {
      found = await findConnectedClients([db]);
    } catch (error) {
      checks.push({ verdict: 'warn', message: `${db.label}: connected clients not checked: ${errorMessage(error)}` });
      continue;
    }
    const lines = describeConnectedClients(context, found);
    checks.push(
      ...(lines.length === 0
        ? [{ verdict: 'pass' as const, message: `${describeDatabase(db)}: no other client is connected` }]
        : lines.map((line) => ({
            verdict: 'warn' as const,
            message: `connected now: ${line}; the stages that change data refuse while it is (stop it first, or --allow-connected-clients)`,
          }))),
    );
  }
  return checks;
}
