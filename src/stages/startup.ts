/**
 * Step 5 of WSO2's guide, "Server Startup": the registry's search index is rebuilt at the first normal start after the
 * migration, or the migrated APIs stay invisible in the Publisher and the Developer Portal. The stage keeps the old
 * `<HOME>/solr` and the original deployment.toml in a backup artifact, takes solr out, sets `[indexing] re_indexing`
 * one higher, starts the server without migration flags, checks that it answers (and, with the admin's credentials,
 * that the Publisher API lists every super-tenant API of AM_API, which is when the new index is complete), and stops
 * it unless the config leaves it running. On failure it puts solr and deployment.toml back from the backup.
 */

import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { artifactName } from '../artifacts/store.js';
import {
  createHomeBackup,
  restoreHomeBackup,
  type HomeBackupItem,
  type RestoreHomeBackupResult,
} from '../backup/home-backup.js';
import { deploymentTomlPath } from '../config/load-config.js';
import type { Check } from '../core/check.js';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/format.js';
import { copyMasked, makePrivateDir } from '../core/private-files.js';
import { TOOL_VERSION } from '../core/version.js';
import type { LedgerEntryWithBackup } from '../db/ledger.js';
import { countSuperTenantApis } from '../db/verify-probes.js';
import { probeManagementPort, waitForApiCount, type AdminCredentials } from '../server/management-api.js';
import { buildNormalStartCommand } from '../server/server-command.js';
import { readProcessIdentity } from '../server/process-identity.js';
import { startServer, type StartedServer, type StopServerResult } from '../server/server-start.js';
import { bumpReIndexing } from '../wso2/deployment-toml-edit.js';
import { readManagementPort } from '../wso2/management-port.js';
import { backupDecryption, backupEncryption, backupSigningKey } from './backup-keys.js';
import { trustBackup, type RestoreTrust } from './backup-trust.js';
import { withDatabase } from './databases.js';
import type { MutatingStageDefinition } from './guard.js';
import { checkServerRunInput, checkStartupInput } from './input-checks.js';
import { noteKnownProblems } from './known-problems.js';
import { recordAttemptStarted, type GuardState } from './ledger-steps.js';
import { editHomeFile, logsDir, prepareLauncher, storeLogsStep } from './server-stage.js';
import type { StageContext, StepDefinition, StepOutput } from './types.js';
import { verifyStage } from './verify.js';

/** What the stage backs up and puts back, relative to the API-M home. */
export const STARTUP_HOME_ITEMS: readonly HomeBackupItem[] = [
  { path: 'solr', kind: 'folder' },
  { path: 'repository/conf/deployment.toml', kind: 'file' },
];

/** The server's console output of the first start: beside its own logs, since a server left running goes on writing. */
export const STARTUP_CONSOLE_LOG = 'apim-migrate-startup-console.log';

/** How long the management port may take to answer once the server said it started. */
const PORT_WAIT_MS = 30_000;
const PORT_POLL_MS = 2_000;

const STOPPED: Record<Exclude<StopServerResult['outcome'], 'survived'>, string> = {
  'not-running': 'it had ended already',
  stopped: 'stopped by api-manager.sh --stop',
  terminated: 'stopped by SIGTERM',
  killed: 'killed (SIGKILL) after the grace period',
};

/** What the steps of one attempt share. */
interface StartupState {
  /** The backup of this attempt (or the failed one's that was restored): what a failure puts back. */
  backup?: { name: string; runId: string; manifestSha256: string };
  /** The home differs from the backup (solr out, deployment.toml edited, a server's new index). */
  homeChanged: boolean;
  server?: StartedServer;
  port?: number;
}

export const startupStage: MutatingStageDefinition = {
  name: 'startup',
  title: 'First start',
  // The server connects to every database: no other run may work on them meanwhile, nor other clients be connected.
  touches: 'all',
  async checkInputs(config, env, platform) {
    await checkServerRunInput(config, env, undefined, platform);
    await checkStartupInput(config, env);
  },
  preconditions: (context) => [verifyFirstStep(context)],
  safety: {
    backup: (context, guard) => homeBackupStep(context, guard, state(context)),
    restore: (from, context, guard) => homeRestoreStep(from, context, guard, state(context)),
  },
  steps(context, guard) {
    const shared = state(context);
    return [
      solrOutStep(context, shared),
      reIndexingStep(context, shared),
      startStep(context, shared),
      portStep(context, shared),
      apiCountStep(context, shared),
      stopStep(context, shared),
      putBackStep(context, guard, shared),
      storeLogsStep(context, 'startup'),
    ];
  },
};

/** One state per stage context: the guard asks for its safety steps and its steps separately. */
const states = new WeakMap<StageContext, StartupState>();
function state(context: StageContext): StartupState {
  let found = states.get(context);
  if (!found) {
    found = { homeChanged: false };
    states.set(context, found);
  }
  return found;
}

/** verify's checks, all of them, before anything is backed up: a failed one refuses the stage. */
function verifyFirstStep(context: StageContext): StepDefinition {
  return {
    id: 'verify',
    title: "Verify's checks",
    async run(): Promise<StepOutput> {
      const failed: string[] = [];
      // What did not pass goes into this stage's report too: the reason it refused, or what to look at.
      const findings: Check[] = [];
      for (const step of verifyStage.steps(context)) {
        let output: StepOutput;
        try {
          output =
            (await context.deps.logger.group(`verify: ${step.title}`, () => step.run(context, { failed: false }))) ??
            {};
        } catch (error) {
          failed.push(`${step.title}: ${errorMessage(error)}`);
          continue;
        }
        for (const check of output.checks ?? []) {
          if (check.verdict === 'fail') failed.push(`${step.title}: ${check.message}`);
          if (check.verdict !== 'pass') findings.push({ ...check, message: `verify, ${step.title}: ${check.message}` });
        }
        if (output.outcome === 'failed' && !(output.checks ?? []).some((check) => check.verdict === 'fail')) {
          failed.push(`${step.title}: ${output.summary ?? 'failed'}`);
        }
      }
      const checks = findings.length > 0 ? { checks: findings } : {};
      if (failed.length > 0) {
        return {
          outcome: 'failed',
          summary: `verify's checks fail, so the server is not started and nothing was changed: ${failed.join('; ')}`,
          ...checks,
        };
      }
      const warnings = findings.length;
      return { summary: `verify's checks pass${warnings > 0 ? ` (${warnings} warnings)` : ''}`, ...checks };
    },
  };
}

function homeBackupStep(context: StageContext, guard: GuardState, shared: StartupState): StepDefinition {
  return {
    id: 'backup',
    title: 'Back up solr and deployment.toml',
    async run(): Promise<StepOutput> {
      const { config, deps } = context;
      const name = artifactName('startup', 'backup', deps.run.attempt);
      const signingKey = backupSigningKey(config, deps.env);
      const backup = await createHomeBackup({
        stage: 'startup',
        artifactName: name,
        apimHome: config.apimHome,
        items: STARTUP_HOME_ITEMS,
        store: deps.store,
        run: deps.run,
        encryption: backupEncryption(config, deps.env, deps.store.kind),
        ...(signingKey ? { signingKey } : {}),
        logger: deps.logger,
        workDir: path.join(context.workDir, 'backup'),
        retentionDays: config.backup.retentionDays,
        toolVersion: TOOL_VERSION,
      });
      context.outcome.backupArtifact = backup.artifact.name;
      shared.backup = {
        name: backup.artifact.name,
        runId: backup.artifact.runId,
        manifestSha256: backup.manifestSha256,
      };
      await recordAttemptStarted(context, guard, 'startup', {
        name: backup.artifact.name,
        id: backup.artifact.id,
        runId: backup.artifact.runId,
        sha256: backup.manifestSha256,
      });
      const solr = backup.manifest.homeFiles?.find((item) => item.path === 'solr');
      return {
        summary: `${backup.artifact.name} stored and verified (${solr?.present ? 'solr' : 'no solr folder'}, deployment.toml)`,
      };
    },
  };
}

/** A failed attempt that could not put the home back: its backup is restored first, then the stage runs again. */
function homeRestoreStep(
  from: LedgerEntryWithBackup,
  context: StageContext,
  guard: GuardState,
  shared: StartupState,
): StepDefinition {
  return {
    id: 'restore',
    title: 'Put back solr and deployment.toml of the failed attempt',
    async run(): Promise<StepOutput> {
      context.deps.logger.info(
        `startup failed earlier (run ${from.runId}, attempt ${from.attempt}) and may have left the home changed: putting back ${from.backupName} of run ${from.backupRunId} first`,
      );
      await putBackHome(context, { name: from.backupName, runId: from.backupRunId, manifestSha256: from.backupSha256 });
      context.outcome.backupArtifact = from.backupName;
      shared.backup = { name: from.backupName, runId: from.backupRunId, manifestSha256: from.backupSha256 };
      await recordAttemptStarted(
        context,
        guard,
        'startup',
        { name: from.backupName, id: from.backupId, runId: from.backupRunId, sha256: from.backupSha256 },
        { restoredFrom: from.id },
      );
      return { summary: `put back ${from.backupName} of run ${from.backupRunId}` };
    },
  };
}

function solrOutStep(context: StageContext, shared: StartupState): StepDefinition {
  return {
    id: 'solr',
    title: 'Take the old search index out',
    async run(): Promise<StepOutput> {
      const solr = path.join(context.config.apimHome, 'solr');
      if (context.dryRun) return { summary: `dry run: would back up and remove ${solr}` };
      const exists = await stat(solr).then(
        () => true,
        () => false,
      );
      if (!exists) return { outcome: 'skipped', summary: `${solr} is not there: the index starts empty anyway` };
      shared.homeChanged = true;
      await rm(solr, { recursive: true, force: true });
      return { summary: `removed ${solr} (it is in the backup)` };
    },
  };
}

function reIndexingStep(context: StageContext, shared: StartupState): StepDefinition {
  return {
    id: 're-indexing',
    title: '[indexing] re_indexing one higher',
    async run(): Promise<StepOutput> {
      const file = deploymentTomlPath(context.config.apimHome);
      if (context.dryRun) {
        const planned = bumpReIndexing(await readFile(file, 'utf8'), file);
        const now = planned.previous === undefined ? 'none now' : `now ${planned.previous}`;
        return { summary: `dry run: would set [indexing] re_indexing to ${planned.value} (${now})` };
      }
      shared.homeChanged = true;
      const changes = await editHomeFile(context, file, (text) => {
        const edited = bumpReIndexing(text, file);
        return { text: edited.text, changes: [edited.change] };
      });
      return { summary: changes.join('; ') };
    },
  };
}

function startStep(context: StageContext, shared: StartupState): StepDefinition {
  return {
    id: 'server',
    title: 'Start the server',
    async run(): Promise<StepOutput> {
      const { config, deps } = context;
      const launcher = await prepareLauncher(context, buildNormalStartCommand);
      if ('failed' in launcher) return launcher.failed;
      const { command } = launcher;
      deps.serverState?.logsPending({
        dir: logsDir(context),
        artifact: artifactName('startup', 'logs', deps.run.attempt),
        retentionDays: config.backup.retentionDays,
        apimHome: config.apimHome,
        store: config.store,
        secretEnv: [...deps.secretEnv],
      });
      shared.homeChanged = true;
      const result = await startServer({
        command,
        home: config.apimHome,
        consoleFile: consoleFile(context),
        mask: (line) => deps.secrets.mask(line),
        env: deps.env,
        timeoutMs: config.server.timeoutMinutes * 60_000,
        stopGraceMs: config.server.stopGraceSeconds * 1000,
        logger: deps.logger,
        onStarted: async (pid) =>
          deps.serverState?.serverStarted(pid, config.apimHome, command, await readProcessIdentity(pid)),
        onProblemText: (problem) =>
          noteKnownProblems(context, {
            stage: 'startup',
            source: 'server-log',
            text: problem.text,
            line: problem.head,
          }),
      });
      if (result.verdict === 'failed') {
        deps.serverState?.serverStopped();
        return {
          outcome: 'failed',
          summary: `${result.reason}\nlast lines of the server:\n${result.lastLines.join('\n')}`,
        };
      }
      shared.server = result.server;
      return { summary: `${result.server.startLine} (${formatDuration(result.server.durationMs)})` };
    },
  };
}

/** The management HTTPS port on 127.0.0.1: the transports start before the server says it started. */
function portStep(context: StageContext, shared: StartupState): StepDefinition {
  return {
    id: 'https',
    title: 'The management HTTPS port answers',
    async run(): Promise<StepOutput> {
      const file = deploymentTomlPath(context.config.apimHome);
      const { port, offset } = readManagementPort(await readFile(file, 'utf8'), file);
      if (context.dryRun) return { summary: `dry run: would check https://127.0.0.1:${port}/` };
      shared.port = port;
      const where = `https://127.0.0.1:${port}/ (the HTTPS transport's port${offset ? ` with [server] offset ${offset}` : ''})`;
      const deadline = Date.now() + PORT_WAIT_MS;
      for (;;) {
        const probe = await probeManagementPort({ port });
        if (probe.answered) return { summary: `${where} answered HTTP ${probe.status}` };
        if (Date.now() >= deadline) {
          return {
            outcome: 'failed',
            summary: `${where} did not answer within ${formatDuration(PORT_WAIT_MS)} after the server started (${probe.reason}): check [transport.https.properties] and [server] offset in deployment.toml, and wso2carbon.log in the logs artifact`,
          };
        }
        await new Promise((resolve) => setTimeout(resolve, PORT_POLL_MS));
      }
    },
  };
}

/** The admin's credentials from the variables the config names, or undefined when it names none. */
function adminCredentials(context: StageContext): AdminCredentials | undefined {
  const { adminUserEnv, adminPasswordEnv } = context.config.startup;
  if (adminUserEnv === undefined || adminPasswordEnv === undefined) return undefined;
  const user = context.deps.env[adminUserEnv];
  const password = context.deps.env[adminPasswordEnv];
  return user && password ? { user, password } : undefined;
}

function apiCountStep(context: StageContext, shared: StartupState): StepDefinition {
  return {
    id: 'api-count',
    title: 'The Publisher API lists every API',
    async run(): Promise<StepOutput> {
      const admin = adminCredentials(context);
      if (!admin) {
        return {
          outcome: 'skipped',
          summary:
            'no admin credentials (startup.adminUserEnv, startup.adminPasswordEnv): the new index is not checked; look for the APIs in the Publisher',
        };
      }
      if (context.dryRun) return { summary: 'dry run: would compare the Publisher API with AM_API' };
      const expected = await withDatabase(context.config, 'apim_db', (session) => countSuperTenantApis(session));
      const waitMs = context.config.startup.indexWaitMinutes * 60_000;
      const result = await waitForApiCount({
        port: shared.port ?? 0,
        admin,
        expected,
        waitMs,
        logger: context.deps.logger,
      });
      if (result.matched) {
        return {
          summary: `the Publisher API lists ${result.count} APIs of the super tenant, as AM_API holds: the new index is complete (after ${formatDuration(result.waitedMs)})`,
        };
      }
      const seen = result.last === undefined ? 'no count' : `${result.last} of ${expected}`;
      const check: Check = {
        verdict: 'fail',
        message: `after ${formatDuration(result.waitedMs)} the Publisher API lists ${seen} super-tenant APIs of AM_API${result.lastProblem ? ` (${result.lastProblem})` : ''}: the index is not complete; raise startup.indexWaitMinutes, or look in wso2carbon.log for indexing errors`,
      };
      return { outcome: 'failed', checks: [check], summary: check.message };
    },
  };
}

function stopStep(context: StageContext, shared: StartupState): StepDefinition {
  return {
    id: 'stop',
    title: 'Stop the server',
    alwaysRun: true,
    async run(_context, progress): Promise<StepOutput> {
      const server = shared.server;
      const { deps, config } = context;
      try {
        if (!server) return { outcome: 'skipped', summary: 'no server running' };
        if (config.startup.leaveRunning && !progress.failed) {
          await server.detach();
          deps.serverState?.serverLeftRunning();
          deps.logger.notice(
            `The server (pid ${server.pid}) is left running (startup.leaveRunning); its console output goes to ${consoleFile(context)}`,
          );
          return { summary: `left running as pid ${server.pid} (startup.leaveRunning)` };
        }
        const stop = await server.stop();
        deps.serverState?.serverStopped();
        if (stop.outcome === 'survived') {
          return {
            outcome: 'failed',
            summary: `the server (pid ${server.pid}) outlived SIGKILL: stop it by hand (${path.join(config.apimHome, 'bin', 'api-manager.sh')} --stop)`,
          };
        }
        return { summary: `${STOPPED[stop.outcome]} after ${formatDuration(stop.durationMs)}` };
      } finally {
        // Also after a start that failed: its lines are what to read.
        if (!context.dryRun) {
          await makePrivateDir(logsDir(context));
          await copyMasked(consoleFile(context), path.join(logsDir(context), 'server-console.log'), deps.secrets);
        }
      }
    },
  };
}

/** On failure, the home as the stage found it: solr and deployment.toml from the backup. */
function putBackStep(context: StageContext, guard: GuardState, shared: StartupState): StepDefinition {
  return {
    id: 'put-back',
    title: 'Put back solr and deployment.toml',
    alwaysRun: true,
    async run(_context, progress): Promise<StepOutput> {
      if (!progress.failed) return { outcome: 'skipped', summary: 'the first start succeeded: nothing to put back' };
      if (!shared.homeChanged || !shared.backup) {
        return { outcome: 'skipped', summary: 'the home was not changed' };
      }
      await putBackHome(context, shared.backup);
      // The home is as the backup holds it: the next run starts afresh instead of restoring it again.
      guard.details['dataChanged'] = false;
      return { summary: `put back from ${shared.backup.name}: the home is as the stage found it` };
    },
  };
}

/**
 * Puts the home's items back from a startup backup, trusted as every restore is: by the ledger's digest of a
 * recorded backup, or as `trust` says (restore --stage startup decides it for a backup it found).
 */
export async function putBackHome(
  context: StageContext,
  backup: { name: string; runId: string; manifestSha256?: string },
  trust?: RestoreTrust,
): Promise<RestoreHomeBackupResult> {
  const decryption = backupDecryption(context.config, context.deps.env);
  const trusted =
    trust ?? (await trustBackup({ ...backup, recorded: true }, { trustUnrecordedRun: false, decryption }, context));
  return restoreHomeBackup({
    artifactName: backup.name,
    runId: backup.runId,
    store: context.deps.store,
    logger: context.deps.logger,
    workDir: path.join(context.workDir, 'put-back'),
    decryption,
    apimHome: context.config.apimHome,
    ...trusted,
  });
}

function consoleFile(context: StageContext): string {
  return path.join(context.config.apimHome, 'repository', 'logs', STARTUP_CONSOLE_LOG);
}
