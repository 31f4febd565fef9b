/**
 * Reads the console output of an API-M server run line by line and tells what the migration client did: the
 * success and failure lines, the ERROR lines of its run, when the server has finished starting, the latest
 * progress line and, for the pre-migration validation, the invalid API definitions. Pure: no clock, no I/O.
 *
 * The client's window runs from its first line to its verdict (for the validation, to `WSO2 Carbon started`): every
 * ERROR record in it is the client's, whatever class logged it (the clients log ERRORs from DataSourceManager,
 * RegistryServiceImpl, Utils...). ERROR records outside it are the server's, reported apart. Both clients finish
 * before `WSO2 Carbon started in N sec` (carbon-kernel 4.8.1 notifies the startup observers first), so that line
 * without a verdict is a failure. The lines and their sources are in docs/wso2-compatibility.md.
 */
import type { ServerStage } from './server-command.js';

export type ServerRunKind = ServerStage;

/** WSO2's own test runs treat these ERRORs of the API-M client as harmless. */
export const DEFAULT_HARMLESS_ERRORS: readonly RegExp[] = [/SQL script not found at .*migration-4\.1\.0_to_4\.2\.0/];

export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';

export interface LogRecord {
  level: LogLevel;
  /** The logger (`{org.wso2...}` or the short name of the console layout), when the line names one. */
  logger?: string;
  /** The text after the logger, trimmed. */
  message: string;
}

// `[2026-11-24 20:33:00,123]  INFO {org.wso2.x.Y} - message` (the log file may add `TID: [-1234] [] ` in
// front); the 4.x console layout writes `[...]  INFO - Y message` instead.
// The `s` flag: a message may hold U+2028 or U+2029, which `.` would not cross, and the record would be lost.
const RECORD =
  /^(?:TID: \[[^\]]*\] \[[^\]]*\] )?\[\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d{3}\]\s+(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\s+(.*)$/s;
// Colours, should a terminal-aware layout be configured.
const ANSI = /\u001b\[[0-9;]*m/g;

/** Parses one log4j line; `undefined` for anything else (stack traces, banners, blank lines). */
export function parseLogRecord(line: string): LogRecord | undefined {
  const match = RECORD.exec(line.replace(ANSI, '').trimEnd());
  if (!match) return undefined;
  const level = match[1] as LogLevel;
  const rest = match[2] ?? '';
  const braced = /^\{([^}]*)\}\s+-\s?(.*)$/s.exec(rest);
  if (braced) return { level, logger: braced[1] ?? '', message: (braced[2] ?? '').trim() };
  const dashed = /^-\s+(\S+)\s+(.*)$/s.exec(rest);
  if (dashed) return { level, logger: dashed[1] ?? '', message: (dashed[2] ?? '').trim() };
  return { level, message: rest.trim() };
}

export type InvalidDefinitionKind = 'OpenAPI' | 'GraphQL' | 'WSDL' | 'AsyncAPI' | 'missing';

export interface InvalidDefinition {
  name: string;
  version: string;
  /** Empty when the validator's lines never named it. */
  provider: string;
  kind: InvalidDefinitionKind;
  /** What the validator said; several messages for the same API and kind are joined with `; `. */
  message: string;
}

export type LogEvent =
  | { type: 'client-started'; line: string }
  | { type: 'progress'; line: string }
  | { type: 'success'; line: string }
  | { type: 'failure'; line: string }
  | { type: 'client-error'; line: string; harmless: boolean }
  | { type: 'server-error'; line: string }
  | { type: 'invalid-definition'; definition: InvalidDefinition }
  | { type: 'waiting-for-client'; line: string }
  | { type: 'server-started'; line: string };

export type MatcherVerdict = 'pending' | 'succeeded' | 'failed';

export interface MatcherState {
  kind: ServerRunKind;
  verdict: MatcherVerdict;
  /** Why, for people; empty while pending. */
  reason: string;
  /** A line of the migration client has been seen. */
  clientStarted: boolean;
  /** The client has printed its last line (its success line or its final failure line). */
  clientFinished: boolean;
  /** `WSO2 Carbon started in N sec` has been seen. */
  serverStarted: boolean;
  successLine?: string;
  failureLines: string[];
  /** The ERROR lines of the client's window that are not harmless, not failure lines and not findings. */
  clientErrors: string[];
  /** The client's ERROR lines matched by the harmless list. */
  harmlessErrors: string[];
  /** ERROR lines of the server before the client's window or after it. */
  serverErrors: string[];
  /** The identity core said "Waiting for migration client." and no client line has followed. */
  waitingForClient: boolean;
  /** The latest line of the migration client, for progress reports. */
  lastProgress?: string;
  invalidDefinitions: InvalidDefinition[];
}

export interface LogMatcher {
  readonly kind: ServerRunKind;
  /** Feeds one line of console output (without its line break); returns what it revealed. */
  push(line: string): LogEvent[];
  /** The same, for a caller that has parsed the line already (`parseLogRecord(line)`), so it is parsed once. */
  pushParsed(record: LogRecord | undefined): LogEvent[];
  /** A snapshot of what has been seen so far. */
  state(): MatcherState;
  /** The part of the state that decides when to stop the server, without copying the findings. */
  status(): MatcherStatus;
}

export type MatcherStatus = Pick<MatcherState, 'verdict' | 'clientFinished' | 'serverStarted'>;

export interface LogMatcherOptions {
  /** ERROR lines of the client that do not fail the run: regular expressions (strings are compiled). */
  harmlessErrors?: ReadonlyArray<RegExp | string>;
  /** ERROR lines outside the client's window fail the run too (`server.failOnAnyError`). */
  failOnAnyError?: boolean;
}

const IS_PREFIX = 'WSO2 Product Migration Service Task : ';
const AM_PREFIX = 'WSO2 API-M Migration Task : ';

// The verdict lines are matched as the whole message (from its start, after `LEVEL {Class} - ` or `LEVEL - Class `),
// never inside one, so that an API name or an error text that quotes them makes no verdict. Sources: kernel-4.8.1
// StartupFinalizerServiceComponent (a whole number of seconds), is-client MigrationClientImpl, am-client
// APIMMigrationClient (docs/wso2-compatibility.md).
/** `StartupFinalizerServiceComponent`'s last line of a start, as a whole message: the end of every server start. */
export const SERVER_STARTED = /^WSO2 Carbon started in \d+ sec$/;
const WAITING_FOR_CLIENT = /^Waiting for migration client\.?$/;
const IDENTITY_STARTED = /^Executing Migration client\s*:/;
const IDENTITY_SUCCESS =
  /^WSO2 Product Migration Service Task : Execution was done through all the requested version list without having unexpected issues/;
const IDENTITY_FAILURE = /^Migration process was stopped\.$/;
const APIM_SUCCESS = /^WSO2 API-M Migration Task : Successfully completed API-M migration from \S+ to \S+$/;
const APIM_FAILURES = [
  /^WSO2 API-M Migration Task : API Migration exception occurred while migrating$/,
  /^WSO2 API-M Migration Task : Error running the artifact re-indexing script$/,
  /^WSO2 API-M Migration Task : Error occurred while initializing DB Util$/,
];
const VALIDATION_STARTED = /^Running (all validator steps|validator step : )/;
const APIM_STARTED = /^WSO2 API-M Migration Task : Starting API-M migration from /;
const VALIDATION_FAILURE = /^WSO2 API-M Migration Task : Error while running the pre-migration validation$/;
// ValidationHandler: `Starting <step> for tenant <id>(<domain>)..........`, then `Successfully completed ...`.
const VALIDATOR_STEP = /^(Starting|Successfully completed) (\w+) for tenant (\S+?)\.*$/;
/** The client's separator lines (rows of dots or dashes) are no progress. */
const SEPARATOR = /^[.\-\s]*$/;

// The clients' packages; the console layout of 4.x prints only the class name.
const CLIENT_PACKAGE = /(^|\.)(is|apimgt)\.migration(\.|$)|\.identity\.core\.migrate\./;
const CLIENT_CLASS = /Migrat|^(APIValidator|ValidationHandler|ApplicationValidator)$/;

const API_BRACES = /\{name: (.*?), version: (.*?), provider: (.*?)\}/;
const API_PLAIN = /(?:of|for) (?:API:\s*)?(\S+) version: (\S+)/;

/** Creates a matcher for one server run. */
export function createLogMatcher(kind: ServerRunKind, options: LogMatcherOptions = {}): LogMatcher {
  const harmless = (options.harmlessErrors ?? DEFAULT_HARMLESS_ERRORS).map((pattern) =>
    typeof pattern === 'string' ? new RegExp(pattern) : pattern,
  );
  const seen = {
    clientStarted: false,
    clientFinished: false,
    serverStarted: false,
    waitingForClient: false,
    /** apim-validate: `Running all validator steps` (or one step) has been seen. */
    validationStarted: false,
    /** apim-validate: the API-M client migrated instead (it got no -DrunPreMigration): its start line. */
    migrationInsteadOfValidation: undefined as string | undefined,
    successLine: undefined as string | undefined,
    failureLines: [] as string[],
    clientErrors: [] as string[],
    harmlessErrors: [] as string[],
    serverErrors: [] as string[],
    lastProgress: undefined as string | undefined,
  };
  const definitions = new Map<string, InvalidDefinition>();
  // The API the validator is looking at: GraphQL, WSDL and AsyncAPI findings do not name it.
  let current: { name: string; version: string; provider: string } | undefined;
  // The validator's steps per tenant (`step tenant`) that started and have not completed yet, in order.
  const openSteps: string[] = [];

  function isClientLine(record: LogRecord): boolean {
    const text = record.message;
    if (text.startsWith(IS_PREFIX) || text.startsWith(AM_PREFIX)) return true;
    if (IDENTITY_STARTED.test(text) || IDENTITY_FAILURE.test(text) || VALIDATION_STARTED.test(text)) return true;
    const logger = record.logger;
    if (logger === undefined) return false;
    return logger.includes('.') ? CLIENT_PACKAGE.test(logger) : CLIENT_CLASS.test(logger);
  }

  /** From the client's first line to its verdict; the validation has none, so it runs to the server's start. */
  function inWindow(): boolean {
    return seen.clientStarted && !seen.clientFinished && !seen.serverStarted;
  }

  function noteApi(message: string): void {
    const braces = API_BRACES.exec(message);
    if (braces) {
      current = { name: braces[1] ?? '', version: braces[2] ?? '', provider: braces[3] ?? '' };
      return;
    }
    const plain = API_PLAIN.exec(message);
    if (plain) current = named(plain[1] ?? '', plain[2] ?? '');
  }

  function addDefinition(definition: InvalidDefinition): InvalidDefinition {
    const key = [definition.kind, definition.name, definition.version, definition.provider].join('\u0000');
    const known = definitions.get(key);
    if (!known) {
      definitions.set(key, definition);
      return definition;
    }
    if (!known.message.split('; ').includes(definition.message))
      known.message = `${known.message}; ${definition.message}`;
    return known;
  }

  /** An ERROR of the validator about one API, or undefined. */
  function parseInvalidDefinition(message: string): InvalidDefinition | undefined {
    const api = (): { name: string; version: string; provider: string } =>
      current ?? { name: '', version: '', provider: '' };
    let match =
      /^OpenAPI Definition for API \{name: (.*?), version: (.*?), provider: (.*?)\} is invalid\.\s*(.*)$/.exec(message);
    if (match) {
      const detail = (match[4] ?? '').replace(/^ErrorMessage:\s*/, '');
      return {
        name: match[1] ?? '',
        version: match[2] ?? '',
        provider: match[3] ?? '',
        kind: 'OpenAPI',
        message: detail,
      };
    }
    match = /^Unable to find the API \{name: (.*?), version: (.*?), provider: (.*?)\} in the database/.exec(message);
    if (match) {
      return {
        name: match[1] ?? '',
        version: match[2] ?? '',
        provider: match[3] ?? '',
        kind: 'missing',
        message: 'the API is in the registry but not in the database',
      };
    }
    match = /^Invalid (GraphQL|WSDL|AsyncAPI) definition found\.\s*(.*)$/.exec(message);
    if (match) {
      const kind = match[1] as 'GraphQL' | 'WSDL' | 'AsyncAPI';
      return { ...api(), kind, message: (match[2] ?? '').replace(/^ErrorMessage:\s*/, '') };
    }
    match =
      /^(Error while validating open API definition for|Error while retrieving URI Templates for(?: un handled exception)?) (\S+) version: (\S+) type: (\S+?)\.?(?:\s+(.*))?$/.exec(
        message,
      );
    if (match) {
      const detail = (match[5] ?? '').replace(/\.+$/, '');
      const what = match[1]?.startsWith('Error while retrieving')
        ? 'its URI templates cannot be read'
        : 'it cannot be validated';
      return { ...named(match[2] ?? '', match[3] ?? ''), kind: 'OpenAPI', message: detail || what };
    }
    match =
      /^An unhandled exception has occurred while validating open API definition for (\S+) version: (\S+) type: (\S+)/.exec(
        message,
      );
    if (match) {
      return {
        ...named(match[1] ?? '', match[2] ?? ''),
        kind: 'OpenAPI',
        message: 'the validator failed with an unhandled exception (its stack trace is in the logs artifact)',
      };
    }
    match = /^Error while validating graphql api definition for API:\s*(\S+) version: (\S+)\s*(.*)$/.exec(message);
    if (match) {
      return {
        ...named(match[1] ?? '', match[2] ?? ''),
        kind: 'GraphQL',
        message: match[3] || 'the GraphQL schema cannot be validated',
      };
    }
    match = /^Error while validating wsdl file of API:\s*(\S+) version: (\S+)/.exec(message);
    if (match) {
      return { ...named(match[1] ?? '', match[2] ?? ''), kind: 'WSDL', message: 'the WSDL cannot be validated' };
    }
    if (/^Error while getting wsdl file/.test(message)) {
      // It names no API: it is about the one of the "Validating WSDL of ..." line before it.
      return { ...api(), kind: 'WSDL', message: 'the WSDL file cannot be read from the registry' };
    }
    return undefined;
  }

  /** An API named in a finding, with the provider of the "Validating ..." line before it when that was this API. */
  function named(name: string, version: string): { name: string; version: string; provider: string } {
    const provider = current && current.name === name && current.version === version ? current.provider : '';
    return { name, version, provider };
  }

  function isFailureLine(message: string): boolean {
    switch (kind) {
      case 'identity':
        return IDENTITY_FAILURE.test(message);
      case 'apim':
        return APIM_FAILURES.some((pattern) => pattern.test(message));
      case 'apim-validate':
        return VALIDATION_FAILURE.test(message);
    }
  }

  function noteValidatorStep(message: string): void {
    const step = VALIDATOR_STEP.exec(message);
    if (!step) return;
    const key = `${step[2] ?? ''} for tenant ${step[3] ?? ''}`;
    if (step[1] === 'Starting') openSteps.push(key);
    else if (openSteps.includes(key)) openSteps.splice(openSteps.indexOf(key), 1);
  }

  function push(line: string): LogEvent[] {
    return pushParsed(parseLogRecord(line));
  }

  function pushParsed(record: LogRecord | undefined): LogEvent[] {
    if (!record) return [];
    const events: LogEvent[] = [];
    const { message } = record;
    const isError = record.level === 'ERROR' || record.level === 'FATAL';

    if (SERVER_STARTED.test(message)) {
      seen.serverStarted = true;
      events.push({ type: 'server-started', line: message });
      return events;
    }
    if (kind === 'identity' && !seen.clientStarted && WAITING_FOR_CLIENT.test(message)) {
      seen.waitingForClient = true;
      events.push({ type: 'waiting-for-client', line: message });
      return events;
    }
    if (!inWindow() && !(seen.clientStarted === false && isClientLine(record))) {
      // WSO2's harmless lines are harmless wherever they come; they never count against server.failOnAnyError.
      if (isError && !harmless.some((pattern) => pattern.test(message))) {
        seen.serverErrors.push(message);
        events.push({ type: 'server-error', line: message });
      }
      return events;
    }

    if (!seen.clientStarted) {
      seen.clientStarted = true;
      seen.waitingForClient = false;
      events.push({ type: 'client-started', line: message });
    }
    if (kind === 'apim-validate') {
      if (VALIDATION_STARTED.test(message)) seen.validationStarted = true;
      if (APIM_STARTED.test(message)) seen.migrationInsteadOfValidation = message;
      noteApi(message);
      noteValidatorStep(message);
    }

    if (isError && isFailureLine(message)) {
      seen.failureLines.push(message);
      // The identity client and the validator stop at their failure line; the API-M client carries on to
      // its re-indexing and still prints its success line.
      if (kind !== 'apim') seen.clientFinished = true;
      events.push({ type: 'failure', line: message });
    } else if (isError) {
      const definition = kind === 'apim-validate' ? parseInvalidDefinition(message) : undefined;
      if (definition) {
        events.push({ type: 'invalid-definition', definition: addDefinition(definition) });
      } else {
        const isHarmless = harmless.some((pattern) => pattern.test(message));
        (isHarmless ? seen.harmlessErrors : seen.clientErrors).push(message);
        events.push({ type: 'client-error', line: message, harmless: isHarmless });
      }
    } else if (
      (kind === 'identity' && IDENTITY_SUCCESS.test(message)) ||
      (kind === 'apim' && APIM_SUCCESS.test(message))
    ) {
      seen.successLine = message;
      seen.clientFinished = true;
      events.push({ type: 'success', line: message });
    }

    if (isClientLine(record) && !SEPARATOR.test(message)) {
      seen.lastProgress = message;
      events.push({ type: 'progress', line: message });
    }
    return events;
  }

  function clientFinished(): boolean {
    // The validator prints no last line: it is done when the server has finished starting.
    return seen.clientFinished || (kind === 'apim-validate' && seen.serverStarted && seen.clientStarted);
  }

  function status(): MatcherStatus {
    return { verdict: decide().verdict, clientFinished: clientFinished(), serverStarted: seen.serverStarted };
  }

  function state(): MatcherState {
    const { verdict, reason } = decide();
    return {
      kind,
      verdict,
      reason,
      clientStarted: seen.clientStarted,
      clientFinished: clientFinished(),
      serverStarted: seen.serverStarted,
      ...(seen.successLine === undefined ? {} : { successLine: seen.successLine }),
      failureLines: [...seen.failureLines],
      clientErrors: [...seen.clientErrors],
      harmlessErrors: [...seen.harmlessErrors],
      serverErrors: [...seen.serverErrors],
      waitingForClient: seen.waitingForClient,
      ...(seen.lastProgress === undefined ? {} : { lastProgress: seen.lastProgress }),
      invalidDefinitions: [...definitions.values()].map((definition) => ({ ...definition })),
    };
  }

  function decide(): { verdict: MatcherVerdict; reason: string } {
    const client = CLIENT_NAMES[kind];
    const first = seen.failureLines[0];
    if (first !== undefined) {
      const more = seen.clientErrors.length > 0 ? ` (and ${plural(seen.clientErrors.length, 'other ERROR line')})` : '';
      return { verdict: 'failed', reason: `the ${client} failed: "${first}"${more}` };
    }
    const firstError = seen.clientErrors[0];
    if (firstError !== undefined) {
      const despite = seen.successLine ? ', although it printed its success line' : '';
      return {
        verdict: 'failed',
        reason: `the ${client} logged ${plural(seen.clientErrors.length, 'ERROR line')}${despite}; the first: "${firstError}"`,
      };
    }
    const ownVerdict = clientVerdict(client);
    if (ownVerdict.verdict !== 'succeeded') return ownVerdict;
    const firstServerError = seen.serverErrors[0];
    if (options.failOnAnyError && firstServerError !== undefined && seen.serverStarted) {
      return {
        verdict: 'failed',
        reason: `the server logged ${plural(seen.serverErrors.length, 'ERROR line')} outside the ${client}'s run, which server.failOnAnyError does not allow; the first: "${firstServerError}"`,
      };
    }
    return ownVerdict;
  }

  /** The verdict of the client's own lines, when none of them was an ERROR. */
  function clientVerdict(client: string): { verdict: MatcherVerdict; reason: string } {
    if (kind === 'apim-validate') {
      if (seen.migrationInsteadOfValidation !== undefined) {
        return {
          verdict: 'failed',
          reason: `the API-M migration client migrated instead of validating ("${seen.migrationInsteadOfValidation}"): the server did not get -DrunPreMigration; the databases may have changed, so restore them before going on`,
        };
      }
      if (!seen.serverStarted) return { verdict: 'pending', reason: '' };
      if (!seen.validationStarted) {
        return {
          verdict: 'failed',
          reason: `the server finished starting but the ${client} never ran ("Running all validator steps" never came): ${NOT_RUN_HINT[kind]}`,
        };
      }
      const open = openSteps[0];
      if (open !== undefined) {
        return {
          verdict: 'failed',
          reason: `the server finished starting but the ${client} did not finish: ${open} started and never completed (${plural(openSteps.length, 'step')} open). The validator may have given up silently; check the server log`,
        };
      }
      return {
        verdict: 'succeeded',
        reason: `the pre-migration validation ran through; ${plural(definitions.size, 'invalid API definition')}`,
      };
    }
    if (seen.successLine !== undefined) {
      const harmlessNote =
        seen.harmlessErrors.length > 0 ? ` (${plural(seen.harmlessErrors.length, 'harmless ERROR line')} ignored)` : '';
      return { verdict: 'succeeded', reason: `the ${client} finished: "${seen.successLine}"${harmlessNote}` };
    }
    if (!seen.serverStarted) return { verdict: 'pending', reason: '' };
    if (!seen.clientStarted) {
      return {
        verdict: 'failed',
        reason: `the server finished starting but the ${client} never ran: ${NOT_RUN_HINT[kind]}`,
      };
    }
    return {
      verdict: 'failed',
      reason: `the server finished starting but the ${client} gave no verdict (neither its success nor its failure line), though it runs before that line: ${NO_VERDICT_HINT[kind]}`,
    };
  }

  return { kind, push, pushParsed, state, status };
}

const CLIENT_NAMES: Record<ServerRunKind, string> = {
  identity: 'identity migration client',
  'apim-validate': 'API-M pre-migration validation',
  apim: 'API-M migration client',
};

const NOT_RUN_HINT: Record<ServerRunKind, string> = {
  identity:
    'check that org.wso2.carbon.is.migration-*.jar is in repository/components/dropins and that the server got -Dmigrate -Dcomponent=identity',
  'apim-validate':
    'check that org.wso2.carbon.apimgt.migrate.client-4.2.0*.jar is in repository/components/dropins and that the server got -DrunPreMigration',
  apim: 'check that org.wso2.carbon.apimgt.migrate.client-4.2.0*.jar is in repository/components/dropins and that the server got -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0',
};

const NO_VERDICT_HINT: Record<Exclude<ServerRunKind, 'apim-validate'>, string> = {
  identity:
    'it returns silently when migrationEnable is not "true" in migration-resources/migration-config.yaml; check that, the jar org.wso2.carbon.is.migration-*.jar in repository/components/dropins, and -Dmigrate -Dcomponent=identity',
  apim: 'check the jar org.wso2.carbon.apimgt.migrate.client-4.2.0*.jar in repository/components/dropins, migration-resources, and -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0; the server log may say why it stopped',
};

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/**
 * When the runner may stop the server: a success is acted on only once the server has finished starting (the
 * migration lines are done by then); a failure once the client has finished or the server has started, so that
 * the log holds every error of the run. `settle` means a failure is known but the client is still at work.
 */
export function stopDecision(state: MatcherStatus): 'wait' | 'stop' | 'settle' {
  if (state.verdict === 'succeeded') return state.serverStarted ? 'stop' : 'wait';
  if (state.verdict === 'failed') return state.clientFinished || state.serverStarted ? 'stop' : 'settle';
  return 'wait';
}
