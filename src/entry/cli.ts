import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runDemo } from '../demo/demo.js';
import { errorMessage, exitCodeOf, InputError } from '../core/errors.js';
import { neutraliseText } from '../core/neutralise.js';
import { createConsoleLogger, type Logger } from '../log/logger.js';
import { renderPlanText } from '../plan/render-plan.js';
import { renderStageText } from '../report/stage-summary.js';
import { renderStatusText } from '../report/status-text.js';
import {
  backupOperation,
  planOperation,
  restoreOperation,
  runStageOperation,
  statusOperation,
  type OperationOptions,
} from '../stages/operations.js';
import { isStageName, STAGE_NAMES, type StageResult } from '../core/results.js';
import { TOOL_VERSION } from '../core/version.js';

const USAGE = `apim-migrate ${TOOL_VERSION}: the WSO2 API Manager 3.1.0 to 4.2.0 data migration, stage by stage

Usage:
  apim-migrate plan                [--config FILE] [--json]
  apim-migrate run STAGE           [--config FILE] [--dry-run] [--force] [--allow-connected-clients] [--json]
  apim-migrate status              [--config FILE] [--json]
  apim-migrate restore --stage S   [--config FILE] [--from-run ID [--trust-unrecorded-run]] [--allow-connected-clients]
  apim-migrate backup              [--config FILE] [--label L]
  apim-migrate demo                [--keep]

Stages, in order: ${STAGE_NAMES.join(', ')}
Options:
  --config FILE  the config file (default: apim-migration.yml)
  --json         print the result as JSON on stdout (logs go to stderr)
  --debug        print debug lines and the causes of errors
  --allow-connected-clients  go on, with a warning, while other clients are connected to the databases
Exit codes: 0 done, 1 the stage failed, 2 the input or config is wrong.`;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  platform: NodeJS.Platform;
}

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  stage: { type: 'string' },
  'from-run': { type: 'string' },
  'trust-unrecorded-run': { type: 'boolean' },
  'allow-connected-clients': { type: 'boolean' },
  label: { type: 'string' },
  keep: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

/** Which options each command takes; any other is an error, so a mistyped flag never passes silently. */
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  plan: ['config', 'json'],
  run: ['config', 'dry-run', 'force', 'allow-connected-clients', 'json'],
  status: ['config', 'json'],
  restore: ['config', 'stage', 'from-run', 'trust-unrecorded-run', 'allow-connected-clients'],
  backup: ['config', 'label'],
  demo: ['keep'],
};

type ParsedArgs = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;

/** Runs the CLI and returns its exit code. Everything it prints is neutralised (core/neutralise.ts). */
export async function runCli(argv: readonly string[], given: CliIo = defaultIo()): Promise<number> {
  const io: CliIo = {
    ...given,
    out: (text) => given.out(neutraliseText(text)),
    err: (text) => given.err(neutraliseText(text)),
  };
  let debug = argv.includes('--debug');
  try {
    const parsed = parseCliArgs(argv);
    debug = parsed.values.debug ?? false;
    if (parsed.values.version) {
      io.out(TOOL_VERSION);
      return 0;
    }
    const [command, ...rest] = parsed.positionals;
    if (parsed.values.help || command === 'help') {
      io.out(USAGE);
      return 0;
    }
    if (command === undefined) {
      io.err(USAGE);
      return 2;
    }
    checkCommandOptions(command, parsed);
    return await dispatch(command, rest, parsed, io, debug);
  } catch (error) {
    return reportError(error, io, debug);
  }
}

function parseCliArgs(argv: readonly string[]): ParsedArgs {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new InputError({ message: `${errorMessage(error)}; see apim-migrate --help` }, { cause: error });
  }
}

function checkCommandOptions(command: string, parsed: ParsedArgs): void {
  const allowed = COMMAND_OPTIONS[command];
  if (!allowed)
    throw new InputError({
      message: `unknown command "${command}"; the commands are ${Object.keys(COMMAND_OPTIONS).join(', ')}`,
    });
  const given = Object.keys(parsed.values).filter((name) => name !== 'debug');
  const wrong = given.filter((name) => !allowed.includes(name));
  if (wrong.length > 0) {
    throw new InputError({
      message: `apim-migrate ${command} does not take ${wrong.map((name) => `--${name}`).join(', ')}; it takes ${allowed.map((name) => `--${name}`).join(', ') || 'no options'}`,
    });
  }
}

async function dispatch(
  command: string,
  rest: string[],
  parsed: ParsedArgs,
  io: CliIo,
  debug: boolean,
): Promise<number> {
  const json = parsed.values.json ?? false;
  // With --json, stdout carries only the JSON and the whole log goes to stderr; without it the log
  // stays in one stream so that warnings keep their place among the verdict lines.
  const log = json ? io.err : io.out;
  const logger = createConsoleLogger({ debug, out: log, err: log });
  const base: OperationOptions = {
    ...(parsed.values.config === undefined ? {} : { configFile: parsed.values.config }),
    cwd: io.cwd,
    env: io.env,
    logger,
    platform: io.platform,
  };
  switch (command) {
    case 'plan':
      expectPositionals(command, rest, 0);
      return printPlan(base, json, io);
    case 'run':
      return runStageCommand(base, rest, parsed, io, logger);
    case 'status':
      expectPositionals(command, rest, 0);
      return printStatus(base, json, io);
    case 'restore': {
      expectPositionals(command, rest, 0);
      const stage = parsed.values.stage;
      if (stage === undefined)
        throw new InputError({ message: 'name the stage to roll back: apim-migrate restore --stage S' });
      if (!isStageName(stage)) {
        throw new InputError({ message: `unknown stage "${stage}"; the stages are ${STAGE_NAMES.join(', ')}` });
      }
      const fromRun = parsed.values['from-run'];
      const trustUnrecordedRun = parsed.values['trust-unrecorded-run'] ?? false;
      const allowConnectedClients = parsed.values['allow-connected-clients'] ?? false;
      return printResult(
        await restoreOperation({
          ...base,
          stage,
          ...(fromRun ? { fromRun } : {}),
          trustUnrecordedRun,
          allowConnectedClients,
        }),
        false,
        io,
        logger,
      );
    }
    case 'backup': {
      expectPositionals(command, rest, 0);
      const label = parsed.values.label;
      return printResult(
        await backupOperation({ ...base, ...(label === undefined ? {} : { label }) }),
        false,
        io,
        logger,
      );
    }
    case 'demo':
      expectPositionals(command, rest, 0);
      return runDemo({ keep: parsed.values.keep ?? false, env: io.env, platform: io.platform, out: io.out, debug });
    default:
      throw new Error(`internal: no handler for the command ${command}`);
  }
}

function printResult(result: StageResult, json: boolean, io: CliIo, logger: Logger): number {
  if (json) io.out(JSON.stringify(result, null, 2));
  else logger.info(renderStageText(result));
  return result.exitCode;
}

function expectPositionals(command: string, rest: string[], count: number): void {
  if (rest.length > count)
    throw new InputError({ message: `unexpected argument "${rest[count] ?? ''}" after "apim-migrate ${command}"` });
}

async function printPlan(options: OperationOptions, json: boolean, io: CliIo): Promise<number> {
  const plan = await planOperation(options);
  io.out(json ? JSON.stringify(plan, null, 2) : renderPlanText(plan));
  return 0;
}

async function runStageCommand(
  options: OperationOptions,
  rest: string[],
  parsed: ParsedArgs,
  io: CliIo,
  logger: Logger,
): Promise<number> {
  const [stage] = rest;
  if (stage === undefined)
    throw new InputError({ message: `name the stage to run: apim-migrate run <${STAGE_NAMES.join('|')}>` });
  expectPositionals('run', rest, 1);
  if (!isStageName(stage))
    throw new InputError({ message: `unknown stage "${stage}"; the stages are ${STAGE_NAMES.join(', ')}` });
  const result = await runStageOperation({
    ...options,
    stage,
    dryRun: parsed.values['dry-run'] ?? false,
    force: parsed.values.force ?? false,
    allowConnectedClients: parsed.values['allow-connected-clients'] ?? false,
  });
  return printResult(result, parsed.values.json ?? false, io, logger);
}

async function printStatus(options: OperationOptions, json: boolean, io: CliIo): Promise<number> {
  const status = await statusOperation(options);
  io.out(json ? JSON.stringify(status, null, 2) : renderStatusText(status));
  return 0;
}

function reportError(error: unknown, io: CliIo, debug: boolean): number {
  const exitCode = exitCodeOf(error);
  io.err(`apim-migrate: ${errorMessage(error)}`);
  if (debug && error instanceof Error) {
    io.err(error.stack ?? '');
    if (error.cause !== undefined)
      io.err(
        `caused by: ${error.cause instanceof Error ? (error.cause.stack ?? error.cause.message) : String(error.cause)}`,
      );
  }
  return exitCode;
}

function defaultIo(): CliIo {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
    cwd: process.cwd(),
    platform: process.platform,
  };
}
