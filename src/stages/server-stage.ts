import { readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { artifactName } from '../artifacts/store.js';
import { deploymentTomlPath } from '../config/load-config.js';
import { statementCacheTargets } from '../plan/build-plan.js';
import { copyMasked, copyPrivateFile, makePrivateDir, writePrivateFile } from '../core/private-files.js';
import {
  configuredJavaHome,
  describeJavaHome,
  isJavaHomeProblem,
  resolveJavaHome,
  type JavaHome,
} from '../server/java.js';
import { DEFAULT_HARMLESS_ERRORS } from '../server/log-matcher.js';
import {
  buildServerCommand,
  type NormalStartOptions,
  type ServerCommand,
  type ServerStage,
} from '../server/server-command.js';
import { readServerEnvNames } from '../server/server-env-names.js';
import { readProcessIdentity } from '../server/process-identity.js';
import { clearLeftoverServer, runServer, type InvalidDefinition } from '../server/server-runner.js';
import { editDeploymentToml } from '../wso2/deployment-toml-edit.js';
import { installMigrationKit, uninstallMigrationKits } from '../wso2/kit-install.js';
import { editMigrationConfig } from '../wso2/migration-config-edit.js';
import { unifiedDiff } from '../wso2/text-diff.js';
import type { Check } from '../core/check.js';
import { noteKnownProblems } from './known-problems.js';
import { serverSessionsProbe } from './server-monitor.js';
import { logsDir, STAGE_OUTPUT_FILE, whenLogsStored } from './stage-logs.js';
import type { StageContext, StepDefinition, StepOutput } from './types.js';

// The server stages gather their logs where every stage's logs artifact is made.
export { logsDir } from './stage-logs.js';

/** How many ERROR lines of the server outside the client's run the report lists one by one. */
const LISTED_SERVER_ERRORS = 20;

async function keepInLogs(context: StageContext, name: string, content: string): Promise<void> {
  await makePrivateDir(logsDir(context));
  await writePrivateFile(path.join(logsDir(context), name), maskSecrets(context, content));
}

/**
 * The logs artifact never holds a password in clear: every secret of the run (deps.secrets) and the values of
 * secret-like keys become `***`.
 */
export function maskSecrets(context: StageContext, text: string): string {
  return context.deps.secrets.mask(text);
}

/**
 * Edits a file of the API-M home in place, keeping the original and the diff in the logs artifact.
 * The edit function re-parses its result, so a file that would not load never reaches the disk.
 */
export async function editHomeFile(
  context: StageContext,
  file: string,
  edit: (text: string) => { text: string; changes: string[] },
): Promise<string[]> {
  const before = await readFile(file, 'utf8');
  const { text, changes } = edit(before);
  if (text === before) return [];
  const base = path.basename(file);
  await keepInLogs(context, `${base}.orig`, before);
  await keepInLogs(context, `${base}.diff`, unifiedDiff(file, before, text));
  await writeFile(file, text);
  for (const change of changes) context.deps.logger.info(`${base}: ${change}`);
  return changes;
}

export function deploymentTomlStep(
  context: StageContext,
  options: { statementCache: boolean; userStoreUniqueId: boolean },
  title: string,
): StepDefinition {
  return {
    id: 'deployment-toml',
    title,
    async run(): Promise<StepOutput> {
      const file = deploymentTomlPath(context.config.apimHome);
      const addStatementCacheParam = options.statementCache ? statementCacheTargets(context.config) : [];
      if (context.dryRun) return { summary: 'dry run: deployment.toml not edited (plan shows the diff)' };
      const changes = await editHomeFile(context, file, (text) =>
        editDeploymentToml(text, { file, addStatementCacheParam, userStoreUniqueId: options.userStoreUniqueId }),
      );
      return changes.length === 0
        ? { outcome: 'skipped', summary: 'deployment.toml already has the edits' }
        : { summary: changes.join('; ') };
    },
  };
}

export interface ServerRunSteps {
  stage: ServerStage;
  kit: { path: string; kind: 'identity' | 'apim' };
  /** Called with the kit's migration-resources folder before the server starts. */
  prepareResources?: (context: StageContext, resourcesDir: string) => Promise<void>;
  /** What to do with the invalid definitions apim-validate found. */
  onInvalidDefinitions?: (context: StageContext, found: InvalidDefinition[]) => Promise<StepOutput>;
}

/**
 * Install the kit, run the server until the migration's verdict, stop it, and take the kit out again
 * whatever happened; then store the logs. The kit removal and the logs run even after a failure.
 */
export function serverRunSteps(context: StageContext, spec: ServerRunSteps): StepDefinition[] {
  return [
    {
      id: 'install-kit',
      title: 'Install the migration kit',
      async run(): Promise<StepOutput> {
        if (context.dryRun) return { summary: `dry run: would install ${spec.kit.path}` };
        const { config, deps } = context;
        deps.serverState?.logsPending({
          dir: logsDir(context),
          artifact: artifactName(spec.stage, 'logs', deps.run.attempt),
          retentionDays: config.backup.retentionDays,
          apimHome: config.apimHome,
          store: config.store,
          secretEnv: [...deps.secretEnv],
        });
        const installed = await installMigrationKit({
          kit: spec.kit.path,
          kind: spec.kit.kind,
          apimHome: context.config.apimHome,
          workDir: path.join(context.workDir, 'kit'),
          logger: context.deps.logger,
          ...(spec.prepareResources
            ? { prepareResources: (dir: string) => spec.prepareResources?.(context, dir) ?? Promise.resolve() }
            : {}),
        });
        context.deps.serverState?.kitInstalled(context.config.apimHome);
        return { summary: `installed ${path.basename(installed.jar)} and migration-resources` };
      },
    },
    {
      id: 'server',
      title: 'Run the server',
      async run(): Promise<StepOutput> {
        const { config, deps } = context;
        const launcher = await prepareLauncher(context, (options) =>
          buildServerCommand({
            ...options,
            stage: spec.stage,
            saveInvalidDefinitions: config.apim.saveInvalidDefinitions,
          }),
        );
        if ('failed' in launcher) return launcher.failed;
        const { command, javaHome } = launcher;
        const masker = deps.secrets;
        const result = await runServer({
          command,
          home: config.apimHome,
          kind: spec.stage,
          logFile: path.join(logsDir(context), 'server-console.log'),
          env: deps.env,
          mask: (line) => masker.mask(line),
          timeoutMs: config.server.timeoutMinutes * 60_000,
          stopGraceMs: config.server.stopGraceSeconds * 1000,
          harmlessErrors: [...DEFAULT_HARMLESS_ERRORS, ...config.server.harmlessErrors],
          failOnAnyError: config.server.failOnAnyError,
          clientStartMs: config.server.clientStartSeconds * 1000,
          activityProbe: serverSessionsProbe(config, deps.secrets),
          stallWarnMs: config.server.stallWarnMinutes * 60_000,
          logger: deps.logger,
          onStarted: async (pid: number) =>
            deps.serverState?.serverStarted(pid, config.apimHome, command, await readProcessIdentity(pid)),
          onProblemText: (problem) =>
            noteKnownProblems(context, {
              stage: spec.stage,
              source: 'server-log',
              text: problem.text,
              line: problem.head,
            }),
        });
        deps.serverState?.serverStopped();
        if (result.verdict === 'failed') {
          // A line whose silence is the problem counts only when nothing of the client came after it.
          for (const problem of result.problemTextsAfterLastClientLine) {
            noteKnownProblems(context, {
              stage: spec.stage,
              source: 'server-log',
              text: problem.text,
              line: problem.head,
              when: 'last-line-of-failed-run',
            });
          }
        }
        // ERRORs outside the client's run do not fail it (unless server.failOnAnyError): the report lists them,
        // the first ones in full; the console log in the logs artifact has them all.
        const checks: Check[] = result.serverErrors.slice(0, LISTED_SERVER_ERRORS).map((line) => ({
          verdict: 'warn',
          message: `ERROR of the server outside the migration client's run: ${line}`,
        }));
        // The server was left running through a silent log: the report says so.
        checks.push(...result.stallWarnings.map((message) => ({ verdict: 'warn' as const, message })));
        const unlisted = result.serverErrors.length - LISTED_SERVER_ERRORS;
        if (unlisted > 0) {
          checks.push({
            verdict: 'warn',
            message: `${unlisted} more ERROR lines of the server outside the migration client's run: see server-console.log in the logs artifact`,
          });
        }
        const withChecks = (output: StepOutput): StepOutput => (checks.length > 0 ? { ...output, checks } : output);
        if (result.verdict === 'failed') {
          return withChecks({
            outcome: 'failed',
            summary: `${result.reason}\nlast lines of the server:\n${result.lastLines.join('\n')}`,
          });
        }
        const invalid = await spec.onInvalidDefinitions?.(context, result.invalidDefinitions);
        return withChecks(invalid ?? { summary: `${result.reason} (${describeJavaHome(javaHome)})` });
      },
    },
    {
      id: 'remove-kit',
      title: 'Remove the migration kit',
      alwaysRun: true,
      async run(): Promise<StepOutput> {
        if (context.dryRun) return { outcome: 'skipped', summary: 'dry run: nothing installed' };
        const removed = await uninstallMigrationKits(context.config.apimHome, context.deps.logger);
        context.deps.serverState?.kitRemoved();
        return removed.length === 0
          ? { outcome: 'skipped', summary: 'no migration kit in the API-M home' }
          : { summary: `removed ${removed.map((entry) => path.basename(entry)).join(', ')}` };
      },
    },
  ];
}

/** A launcher command ready to run, or why there is none (a JDK that went away); in a dry run, what it would run. */
export type PreparedLauncher = { command: ServerCommand; javaHome: JavaHome } | { failed: StepOutput };

/**
 * What every server run starts with: the JDK, the launcher command `build` makes with it (the config's profile and
 * the environment the server gets), the launcher's environment said in the log, and a server a killed run left
 * behind stopped. In a dry run, the step's output says what would run.
 */
export async function prepareLauncher(
  context: StageContext,
  build: (options: NormalStartOptions) => ServerCommand,
): Promise<PreparedLauncher> {
  const { config, deps } = context;
  const platform = deps.platform ?? process.platform;
  const javaHome = await resolveJavaHome({ env: deps.env, platform, ...configuredJavaHome(config) });
  // checkInputs refused the stage already; this is for a JDK that went away in the meantime.
  if (isJavaHomeProblem(javaHome)) return { failed: { outcome: 'failed', summary: javaHome.problem } };
  const command = build({
    apimHome: config.apimHome,
    javaHome: javaHome.home,
    platform,
    ...(config.profile ? { profile: config.profile } : {}),
    passEnv: await readServerEnvNames(config),
  });
  const passed = command.passEnv?.length
    ? `, and of the environment only ${command.passEnv.join(', ')} besides the base set`
    : '';
  const launcherEnv = `CARBON_HOME=${config.apimHome} and ${describeJavaHome(javaHome)}${passed}`;
  if (context.dryRun) return { failed: { summary: `dry run: would run ${command.display} with ${launcherEnv}` } };
  deps.logger.info(`The launcher runs with ${launcherEnv}`);
  await makePrivateDir(logsDir(context));
  await clearLeftoverServer(config.apimHome, {
    graceMs: config.server.stopGraceSeconds * 1000,
    logger: deps.logger,
    command,
  });
  return { command, javaHome };
}

/**
 * Gathers what the server stage leaves for its logs artifact beside what it gathered already (console output, original
 * config files, diffs): wso2carbon.log, and the files of `extraFolders` (read when the step runs, so an earlier step may
 * add to it). The engine stores the artifact once the stage's steps are done, with the stage's output
 * (stage-logs.ts). With `removeExtraFolders`, the files gathered leave the home once the artifact is stored (not
 * before: when the upload fails they stay where they are), and so do their folders when nothing else is in them.
 */
export function storeLogsStep(
  context: StageContext,
  stage: string,
  extraFolders: string[] = [],
  options: { removeExtraFolders?: boolean } = {},
): StepDefinition {
  return {
    id: 'logs',
    title: 'Gather the logs',
    alwaysRun: true,
    async run(): Promise<StepOutput> {
      const name = artifactName(stage, 'logs', context.deps.run.attempt);
      if (context.dryRun) {
        return { outcome: 'skipped', summary: `dry run: no server logs; ${name} holds the stage's output` };
      }
      const dir = logsDir(context);
      await makePrivateDir(dir);
      const carbonLog = path.join(context.config.apimHome, 'repository', 'logs', 'wso2carbon.log');
      await copyMasked(carbonLog, path.join(dir, 'wso2carbon.log'), context.deps.secrets);
      const copied: string[] = [];
      for (const folder of extraFolders) copied.push(...(await copyFolderFlat(folder, dir)));
      if (options.removeExtraFolders) {
        whenLogsStored(context, async () => {
          // Only what was stored goes: a folder with anything else in it (a subfolder) stays.
          for (const file of copied) await rm(file, { force: true });
          for (const folder of extraFolders) await rmdir(folder).catch(() => undefined);
        });
      }
      const files = (await readdir(dir)).filter((file) => file !== STAGE_OUTPUT_FILE);
      return { summary: `${files.length} files for ${name}, stored with the stage's output when the stage ends` };
    },
  };
}

/**
 * Copies a folder's files beside the logs as `<folder>-<file>` (artifacts hold one flat list of files) and returns
 * the paths it copied from.
 */
async function copyFolderFlat(folder: string, target: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  const copied: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const source = path.join(folder, entry.name);
    await copyPrivateFile(source, path.join(target, `${path.basename(folder)}-${entry.name}`));
    copied.push(source);
  }
  return copied;
}

/** The identity kit's migration-config.yaml, edited as WSO2's guide says. */
export async function prepareIdentityResources(context: StageContext, resourcesDir: string): Promise<void> {
  const identity = context.config.identity;
  if (!identity) throw new Error('identity is not configured');
  const file = path.join(resourcesDir, 'migration-config.yaml');
  await editHomeFile(context, file, (text) =>
    editMigrationConfig(text, { targetVersion: identity.targetVersion, file }),
  );
}
