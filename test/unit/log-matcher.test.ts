import { describe, expect, it } from 'vitest';
import {
  createLogMatcher,
  DEFAULT_HARMLESS_ERRORS,
  parseLogRecord,
  stopDecision,
  type InvalidDefinition,
  type LogMatcherOptions,
  type MatcherState,
  type ServerRunKind,
} from '../../src/server/log-matcher.js';

// The lines as API-M 4.2.0 and its migration clients print them, in the layout of the log file
// ("[%d] %5p {%c} - %m%ex%n", full class names) and of the console ("[%d] %5p - %c{1} %m%n", short ones).
let millis = 0;
function line(level: 'INFO' | 'WARN' | 'ERROR', logger: string, message: string): string {
  millis = (millis + 111) % 1000;
  return `[2026-11-24 20:33:00,${String(millis).padStart(3, '0')}] ${level.padStart(5)} {${logger}} - ${message}`;
}
function consoleLine(level: 'INFO' | 'WARN' | 'ERROR', logger: string, message: string): string {
  millis = (millis + 111) % 1000;
  const short = logger.slice(logger.lastIndexOf('.') + 1);
  return `[2026-11-24 20:33:00,${String(millis).padStart(3, '0')}] ${level.padStart(5)} - ${short} ${message}`;
}

const CORE = 'org.wso2.carbon.core.internal.StartupFinalizerServiceComponent';
const IS_CORE = 'org.wso2.carbon.identity.core.internal.IdentityCoreServiceComponent';
const IS_CLIENT = 'org.wso2.carbon.is.migration.MigrationClientImpl';
const IS_VERSION = 'org.wso2.carbon.is.migration.VersionMigration';
const AM_CLIENT = 'org.wso2.carbon.apimgt.migration.APIMMigrationClient';
const AM_HOP = 'org.wso2.carbon.apimgt.migration.migrator.v400.V400Migration';
const VALIDATION = 'org.wso2.carbon.apimgt.migration.validator.ValidationHandler';
const VALIDATOR = 'org.wso2.carbon.apimgt.migration.validator.validators.APIValidator';

const STARTED = line('INFO', CORE, 'WSO2 Carbon started in 58 sec');
const BANNER = [
  line('INFO', 'org.wso2.carbon.core.internal.CarbonCoreActivator', 'Starting WSO2 Carbon...'),
  line('INFO', 'org.wso2.carbon.core.internal.CarbonCoreActivator', 'Carbon Home      : /opt/wso2am-4.2.0'),
  // An ERROR of another component: not the migration client's.
  line('ERROR', 'org.wso2.carbon.apimgt.impl.APIManagerConfiguration', 'Error while reading the throttling config'),
];

const IS_LOG = 'WSO2 Product Migration Service Task : ';
const IDENTITY_START = line('INFO', IS_CORE, `Executing Migration client : ${IS_CLIENT}`);
const IDENTITY_STEP = line(
  'INFO',
  IS_VERSION,
  `${IS_LOG}Version : 5.11.0, Migration Step : GroupsAndRolesMigrator of order : 4 is starting........................... `,
);
const IDENTITY_SUCCESS = line(
  'INFO',
  IS_CLIENT,
  `${IS_LOG}Execution was done through all the requested version list without having unexpected issues. There may be some steps that is not executed correctly but bypass that because of enabling 'continueOnError' property. Please see the above logs to more details.`,
);
const IDENTITY_SUCCESS_SHORT = line(
  'INFO',
  IS_CLIENT,
  `${IS_LOG}Execution was done through all the requested version list without having unexpected issues.`,
);
const IDENTITY_STOPPED = line('ERROR', IS_CLIENT, 'Migration process was stopped.');
const DOTS = line('INFO', IS_CLIENT, '.'.repeat(92));

const AM_LOG = 'WSO2 API-M Migration Task : ';
const APIM_START = line('INFO', AM_CLIENT, `${AM_LOG}Starting API-M migration from 3.1.0 to 4.2.0`);
const APIM_HOP_START = line('INFO', AM_HOP, `${AM_LOG}Starting migration from 3.2.0 to 4.0.0...`);
const APIM_HOP_DONE = line('INFO', AM_HOP, `${AM_LOG}Completed migration from 3.2.0 to 4.0.0...`);
const APIM_SUCCESS = line('INFO', AM_CLIENT, `${AM_LOG}Successfully completed API-M migration from 3.1.0 to 4.2.0`);
const APIM_EXCEPTION = line('ERROR', AM_CLIENT, `${AM_LOG}API Migration exception occurred while migrating`);
const SQL_NOT_FOUND = line(
  'ERROR',
  'org.wso2.carbon.apimgt.migration.migrator.commonMigrators.PostDBScriptMigrator',
  'SQL script not found at /opt/wso2am-4.2.0/migration-resources/migration-scripts/migration-4.1.0_to_4.2.0/mysql.sql',
);

function feed(kind: ServerRunKind, lines: string[], options: LogMatcherOptions = {}): MatcherState {
  const matcher = createLogMatcher(kind, options);
  for (const text of lines) matcher.push(text);
  return matcher.state();
}

describe('parseLogRecord', () => {
  it.each([
    {
      text: '[2026-11-24 20:33:00,123]  INFO {org.wso2.carbon.core.internal.StartupFinalizerServiceComponent} - WSO2 Carbon started in 58 sec',
      level: 'INFO',
      logger: 'org.wso2.carbon.core.internal.StartupFinalizerServiceComponent',
      message: 'WSO2 Carbon started in 58 sec',
    },
    {
      text: '[2026-11-24 20:33:00,123] ERROR {org.wso2.carbon.is.migration.MigrationClientImpl} - Migration process was stopped.',
      level: 'ERROR',
      logger: 'org.wso2.carbon.is.migration.MigrationClientImpl',
      message: 'Migration process was stopped.',
    },
    {
      // The log file's layout.
      text: 'TID: [-1234] [] [2026-11-24 20:33:00,123]  WARN {org.wso2.carbon.x.Y} - careful',
      level: 'WARN',
      logger: 'org.wso2.carbon.x.Y',
      message: 'careful',
    },
    {
      // The 4.x console layout with the short logger name.
      text: '[2026-11-24 20:33:00,123]  INFO - StartupFinalizerServiceComponent WSO2 Carbon started in 41 sec',
      level: 'INFO',
      logger: 'StartupFinalizerServiceComponent',
      message: 'WSO2 Carbon started in 41 sec',
    },
    {
      // The GraphQL validator's message starts with a space.
      text: `[2026-11-24 20:33:00,123] ERROR {${VALIDATOR}} -  Invalid GraphQL definition found. ErrorMessage: x`,
      level: 'ERROR',
      logger: VALIDATOR,
      message: 'Invalid GraphQL definition found. ErrorMessage: x',
    },
    {
      text: '\u001b[32m[2026-11-24 20:33:00,123]  INFO {a.B} - coloured\u001b[0m',
      level: 'INFO',
      logger: 'a.B',
      message: 'coloured',
    },
  ])('reads $text', ({ text, level, logger, message }) => {
    expect(parseLogRecord(text)).toEqual({ level, logger, message });
  });

  it.each([
    'org.wso2.carbon.apimgt.migration.APIMigrationException: Error while executing migration',
    '\tat org.wso2.carbon.apimgt.migration.APIMMigrationClient.executeMigration(APIMMigrationClient.java:88)',
    '',
    'JAVA_HOME environment variable is set to /usr/lib/jvm/java-11',
    // The launcher's JDK banner is no log record: no client error.
    ' [ERROR] CARBON is supported only between JDK 11 and JDK 17',
    '# A fatal error has been detected by the Java Runtime Environment:',
  ])('leaves %j alone (no log4j line)', (text) => {
    expect(parseLogRecord(text)).toBeUndefined();
  });
});

interface Row {
  name: string;
  kind: ServerRunKind;
  lines: string[];
  options?: LogMatcherOptions;
  verdict: MatcherState['verdict'];
  reason?: RegExp;
  decision: ReturnType<typeof stopDecision>;
  clientErrors?: number;
  harmlessErrors?: number;
  /** ERROR lines outside the client's window (BANNER holds one). */
  serverErrors?: number;
}

const ROWS: Row[] = [
  // identity
  {
    name: 'identity: the success line, then the server starts',
    kind: 'identity',
    lines: [...BANNER, IDENTITY_START, DOTS, IDENTITY_STEP, IDENTITY_SUCCESS, DOTS, STARTED],
    verdict: 'succeeded',
    reason: /identity migration client finished/,
    decision: 'stop',
  },
  {
    name: 'identity: the shorter success line of newer clients',
    kind: 'identity',
    lines: [IDENTITY_START, IDENTITY_SUCCESS_SHORT, STARTED],
    verdict: 'succeeded',
    decision: 'stop',
  },
  {
    name: 'identity: success known, but the server is still starting: wait',
    kind: 'identity',
    lines: [IDENTITY_START, IDENTITY_STEP, IDENTITY_SUCCESS],
    verdict: 'succeeded',
    decision: 'wait',
  },
  {
    name: 'identity: still migrating',
    kind: 'identity',
    lines: [...BANNER, IDENTITY_START, IDENTITY_STEP],
    verdict: 'pending',
    decision: 'wait',
  },
  {
    name: 'identity: "Migration process was stopped." fails at once, before the server has started',
    kind: 'identity',
    lines: [IDENTITY_START, IDENTITY_STEP, IDENTITY_STOPPED],
    verdict: 'failed',
    reason: /identity migration client failed: "Migration process was stopped\."/,
    decision: 'stop',
  },
  {
    name: 'identity: a client ERROR, then still the success line',
    kind: 'identity',
    lines: [
      IDENTITY_START,
      IDENTITY_STEP,
      line('ERROR', 'org.wso2.carbon.is.migration.service.SchemaMigrator', `${IS_LOG}Error while executing the script`),
      IDENTITY_SUCCESS,
      STARTED,
    ],
    verdict: 'failed',
    reason:
      /logged 1 ERROR line, although it printed its success line; the first: ".*Error while executing the script"/,
    decision: 'stop',
    clientErrors: 1,
  },
  {
    name: 'identity: a WARN of the client is no failure',
    kind: 'identity',
    lines: [IDENTITY_START, line('WARN', IS_CLIENT, 'Tenant 3 is inactive'), IDENTITY_SUCCESS, STARTED],
    verdict: 'succeeded',
    decision: 'stop',
  },
  {
    name: 'identity: the server started but the client never ran',
    kind: 'identity',
    lines: [...BANNER, STARTED],
    verdict: 'failed',
    reason: /never ran: check that org\.wso2\.carbon\.is\.migration-\*\.jar is in repository\/components\/dropins/,
    decision: 'stop',
  },
  {
    name: 'identity: an ERROR of DataSourceManager, in the console layout, fails the run despite the success line',
    kind: 'identity',
    lines: [
      consoleLine('INFO', IS_CORE, `Executing Migration client : ${IS_CLIENT}`),
      consoleLine(
        'ERROR',
        'org.wso2.carbon.is.migration.DataSourceManager',
        'Error while initializing datasource manager.',
      ),
      consoleLine(
        'INFO',
        IS_CLIENT,
        ` ${IS_LOG}Execution was done through all the requested version list without having unexpected issues.`,
      ),
      consoleLine('INFO', CORE, 'WSO2 Carbon started in 41 sec'),
    ],
    verdict: 'failed',
    reason:
      /identity migration client logged 1 ERROR line, although it printed its success line; the first: "Error while initializing datasource manager\."/,
    decision: 'stop',
    clientErrors: 1,
  },
  {
    name: 'identity: the client started, gave no verdict, and the server finished starting: fail at once',
    kind: 'identity',
    lines: [IDENTITY_START, DOTS, STARTED],
    verdict: 'failed',
    reason:
      /gave no verdict .*migrationEnable is not "true".*org\.wso2\.carbon\.is\.migration-\*\.jar.*-Dmigrate -Dcomponent=identity/,
    decision: 'stop',
  },
  {
    name: 'identity: "Waiting for migration client." and nothing else: still pending',
    kind: 'identity',
    lines: [...BANNER, line('WARN', IS_CORE, 'Waiting for migration client.')],
    verdict: 'pending',
    decision: 'wait',
  },
  {
    name: 'identity: the API-M success line means nothing here',
    kind: 'identity',
    lines: [IDENTITY_START, APIM_SUCCESS],
    verdict: 'pending',
    decision: 'wait',
  },
  // apim
  {
    name: 'apim: every hop, the success line, then the server starts',
    kind: 'apim',
    lines: [...BANNER, APIM_START, APIM_HOP_START, APIM_HOP_DONE, APIM_SUCCESS, STARTED],
    verdict: 'succeeded',
    reason: /Successfully completed API-M migration from 3\.1\.0 to 4\.2\.0/,
    decision: 'stop',
  },
  {
    name: 'apim: "API Migration exception occurred while migrating" fails even with the success line after it',
    kind: 'apim',
    lines: [APIM_START, APIM_HOP_START, APIM_EXCEPTION, APIM_SUCCESS, STARTED],
    verdict: 'failed',
    reason:
      /API-M migration client failed: "WSO2 API-M Migration Task : API Migration exception occurred while migrating"/,
    decision: 'stop',
  },
  {
    name: 'apim: after a failure line the client goes on: settle until it finishes',
    kind: 'apim',
    lines: [APIM_START, APIM_HOP_START, APIM_EXCEPTION],
    verdict: 'failed',
    decision: 'settle',
  },
  {
    name: 'apim: the re-indexing error',
    kind: 'apim',
    lines: [
      APIM_START,
      line('ERROR', AM_CLIENT, `${AM_LOG}Error running the artifact re-indexing script`),
      APIM_SUCCESS,
    ],
    verdict: 'failed',
    reason: /Error running the artifact re-indexing script/,
    decision: 'stop',
  },
  {
    name: 'apim: the DB Util error',
    kind: 'apim',
    lines: [line('ERROR', AM_CLIENT, `${AM_LOG}Error occurred while initializing DB Util `), APIM_START, APIM_SUCCESS],
    verdict: 'failed',
    reason: /Error occurred while initializing DB Util/,
    decision: 'stop',
  },
  {
    name: 'apim: any other ERROR of the client fails the run',
    kind: 'apim',
    lines: [
      APIM_START,
      line(
        'ERROR',
        'org.wso2.carbon.apimgt.migration.migrator.v400.V400DBDataMigrator',
        `${AM_LOG}Error while migrating`,
      ),
      APIM_SUCCESS,
      STARTED,
    ],
    verdict: 'failed',
    reason: /API-M migration client logged 1 ERROR line, although it printed its success line/,
    decision: 'stop',
    clientErrors: 1,
  },
  {
    name: "apim: WSO2's harmless SQL-script ERROR does not",
    kind: 'apim',
    lines: [APIM_START, SQL_NOT_FOUND, APIM_SUCCESS, STARTED],
    verdict: 'succeeded',
    reason: /\(1 harmless ERROR line ignored\)/,
    decision: 'stop',
    harmlessErrors: 1,
  },
  {
    name: 'apim: a harmless list of its own replaces the default one',
    kind: 'apim',
    lines: [APIM_START, SQL_NOT_FOUND, line('ERROR', AM_HOP, `${AM_LOG}Known glitch 42`), APIM_SUCCESS, STARTED],
    options: { harmlessErrors: ['Known glitch \\d+'] },
    verdict: 'failed',
    reason: /SQL script not found/,
    decision: 'stop',
    clientErrors: 1,
    harmlessErrors: 1,
  },
  {
    name: 'apim: the console layout with short logger names',
    kind: 'apim',
    lines: [
      `[2026-11-24 20:33:00,100]  INFO - APIMMigrationClient ${AM_LOG}Starting API-M migration from 3.1.0 to 4.2.0`,
      `[2026-11-24 20:33:00,200] ERROR - V400DBDataMigrator ${AM_LOG}Error while migrating`,
      `[2026-11-24 20:33:00,300]  INFO - APIMMigrationClient ${AM_LOG}Successfully completed API-M migration from 3.1.0 to 4.2.0`,
      '[2026-11-24 20:33:00,400]  INFO - StartupFinalizerServiceComponent WSO2 Carbon started in 41 sec',
    ],
    verdict: 'failed',
    decision: 'stop',
    clientErrors: 1,
  },
  {
    name: 'apim: the server started but the client never ran',
    kind: 'apim',
    lines: [...BANNER, STARTED],
    verdict: 'failed',
    reason: /never ran: check that org\.wso2\.carbon\.apimgt\.migrate\.client-4\.2\.0\*\.jar/,
    decision: 'stop',
  },
  {
    // The client runs in a startup observer, which the kernel notifies before it prints that line.
    name: 'apim: the client ran but gave no verdict when the server reports started: fail at once',
    kind: 'apim',
    lines: [APIM_START, APIM_HOP_START, STARTED],
    verdict: 'failed',
    reason:
      /finished starting but the API-M migration client gave no verdict .*org\.wso2\.carbon\.apimgt\.migrate\.client/,
    decision: 'stop',
  },
  {
    name: 'apim: an ERROR of a class that is no migrator, in the console layout, fails the run',
    kind: 'apim',
    lines: [
      consoleLine('INFO', AM_CLIENT, `${AM_LOG}Starting API-M migration from 3.1.0 to 3.1.0`),
      consoleLine(
        'ERROR',
        'org.wso2.carbon.apimgt.migration.util.RegistryServiceImpl',
        `${AM_LOG}Error occurred when getting GenericArtifacts from registry`,
      ),
      consoleLine(
        'ERROR',
        'org.wso2.carbon.apimgt.migration.util.Utils',
        'Error while saving the invalid swagger definition',
      ),
      consoleLine('INFO', AM_CLIENT, `${AM_LOG}Successfully completed API-M migration from 3.1.0 to 4.2.0`),
      consoleLine('INFO', CORE, 'WSO2 Carbon started in 41 sec'),
    ],
    verdict: 'failed',
    reason:
      /logged 2 ERROR lines, although it printed its success line; the first: ".*getting GenericArtifacts from registry"/,
    decision: 'stop',
    clientErrors: 2,
  },
  {
    name: "apim: an ERROR after the success line is the server's, a warning",
    kind: 'apim',
    lines: [APIM_START, APIM_SUCCESS, line('ERROR', 'org.wso2.carbon.x.TransportListener', 'port in use'), STARTED],
    verdict: 'succeeded',
    decision: 'stop',
    serverErrors: 1,
  },
  {
    name: 'apim: with failOnAnyError, an ERROR outside the client fails the run once the server has started',
    kind: 'apim',
    lines: [...BANNER, APIM_START, APIM_SUCCESS, STARTED],
    options: { failOnAnyError: true },
    verdict: 'failed',
    reason:
      /server logged 1 ERROR line outside the API-M migration client's run, which server\.failOnAnyError does not allow; the first: "Error while reading the throttling config"/,
    decision: 'stop',
    serverErrors: 1,
  },
  {
    name: 'apim: with failOnAnyError, the verdict still waits for the server to finish starting',
    kind: 'apim',
    lines: [...BANNER, APIM_START, APIM_SUCCESS],
    options: { failOnAnyError: true },
    verdict: 'succeeded',
    decision: 'wait',
    serverErrors: 1,
  },
  // apim-validate
  {
    name: 'apim-validate: all validators ran and the server started',
    kind: 'apim-validate',
    lines: [
      line('INFO', VALIDATION, 'Running all validator steps.........'),
      line('INFO', VALIDATION, 'Starting apiDefinitionValidation for tenant -1234(carbon.super)..........'),
      line(
        'INFO',
        VALIDATION,
        'Successfully completed apiDefinitionValidation for tenant -1234(carbon.super)..........',
      ),
      STARTED,
    ],
    verdict: 'succeeded',
    reason: /pre-migration validation ran through; 0 invalid API definitions/,
    decision: 'stop',
  },
  {
    name: 'apim-validate: no verdict before the server has started (the validator prints no last line)',
    kind: 'apim-validate',
    lines: [line('INFO', VALIDATION, 'Running all validator steps.........')],
    verdict: 'pending',
    decision: 'wait',
  },
  {
    name: 'apim-validate: a single validator step',
    kind: 'apim-validate',
    lines: [line('INFO', VALIDATION, 'Running validator step : apiDefinitionValidation for tenants'), STARTED],
    verdict: 'succeeded',
    decision: 'stop',
  },
  {
    name: 'apim-validate: the validation itself failed',
    kind: 'apim-validate',
    lines: [
      line('INFO', VALIDATION, 'Running all validator steps.........'),
      line('ERROR', AM_CLIENT, `${AM_LOG}Error while running the pre-migration validation`),
    ],
    verdict: 'failed',
    reason: /pre-migration validation failed/,
    decision: 'stop',
  },
  {
    name: 'apim-validate: an ERROR that is no finding about an API fails the run',
    kind: 'apim-validate',
    lines: [
      line('INFO', VALIDATION, 'Running all validator steps.........'),
      line('ERROR', VALIDATOR, 'Error while getting the database connection '),
    ],
    verdict: 'failed',
    reason: /Error while getting the database connection/,
    decision: 'settle',
    clientErrors: 1,
  },
  {
    name: 'apim-validate: a step that started and never completed fails at the server start',
    kind: 'apim-validate',
    lines: [
      line('INFO', VALIDATION, 'Running all validator steps.........'),
      line('INFO', VALIDATION, 'Starting apiAvailabilityValidation for tenant -1234(carbon.super)..........'),
      line(
        'INFO',
        VALIDATION,
        'Successfully completed apiAvailabilityValidation for tenant -1234(carbon.super)..........',
      ),
      line('INFO', VALIDATION, 'Starting apiDefinitionValidation for tenant -1234(carbon.super)..........'),
      line('INFO', VALIDATION, 'Starting apiDefinitionValidation for tenant 1(tenant.example)..........'),
      line('INFO', VALIDATION, 'Successfully completed apiDefinitionValidation for tenant 1(tenant.example)..........'),
      STARTED,
    ],
    verdict: 'failed',
    reason:
      /did not finish: apiDefinitionValidation for tenant -1234\(carbon\.super\) started and never completed \(1 step open\)/,
    decision: 'stop',
  },
  {
    name: "apim-validate: an ERROR of the validator's Utils is no finding: it fails the run",
    kind: 'apim-validate',
    lines: [
      line('INFO', VALIDATION, 'Running all validator steps.........'),
      line(
        'ERROR',
        'org.wso2.carbon.apimgt.migration.validator.utils.Utils',
        'Exception occurred when getting the definition',
      ),
      STARTED,
    ],
    verdict: 'failed',
    reason: /logged 1 ERROR line; the first: "Exception occurred when getting the definition"/,
    decision: 'stop',
    clientErrors: 1,
  },
  {
    name: 'apim-validate: a client line but no "Running all validator steps" is no validation',
    kind: 'apim-validate',
    lines: [line('INFO', AM_CLIENT, `${AM_LOG}Calling getGenericAPIArtifacts`), STARTED],
    verdict: 'failed',
    reason: /never ran \("Running all validator steps" never came\)/,
    decision: 'stop',
  },
  {
    name: 'apim-validate: the API-M client migrating instead of validating fails the run',
    kind: 'apim-validate',
    lines: [APIM_START, APIM_HOP_START, APIM_SUCCESS, STARTED],
    verdict: 'failed',
    reason: /migrated instead of validating .*did not get -DrunPreMigration/,
    decision: 'stop',
  },
  {
    name: "apim: WSO2's harmless line outside the window is no server error, even with failOnAnyError",
    kind: 'apim',
    lines: [APIM_START, APIM_SUCCESS, SQL_NOT_FOUND, STARTED],
    options: { failOnAnyError: true },
    verdict: 'succeeded',
    decision: 'stop',
  },
  {
    name: 'apim-validate: the server started without the validator',
    kind: 'apim-validate',
    lines: [...BANNER, STARTED],
    verdict: 'failed',
    reason: /never ran.*-DrunPreMigration/,
    decision: 'stop',
  },
];

describe('createLogMatcher: verdicts', () => {
  it.each(ROWS)('$name', (row) => {
    const matcher = createLogMatcher(row.kind, row.options);
    for (const text of row.lines) matcher.push(text);
    const state = matcher.state();
    expect(matcher.status()).toEqual({
      verdict: state.verdict,
      clientFinished: state.clientFinished,
      serverStarted: state.serverStarted,
    });
    expect(state.verdict).toBe(row.verdict);
    if (row.reason) expect(state.reason).toMatch(row.reason);
    if (row.verdict === 'pending') expect(state.reason).toBe('');
    expect(stopDecision(state)).toBe(row.decision);
    expect(state.clientErrors).toHaveLength(row.clientErrors ?? 0);
    expect(state.harmlessErrors).toHaveLength(row.harmlessErrors ?? 0);
    const bannerErrors = row.lines.includes(BANNER[2] ?? '') ? 1 : 0;
    expect(state.serverErrors).toHaveLength(row.serverErrors ?? bannerErrors);
  });

  it('tells when the identity core waits for the client, until a client line comes', () => {
    const matcher = createLogMatcher('identity');
    expect(matcher.push(line('WARN', IS_CORE, 'Waiting for migration client.'))).toEqual([
      { type: 'waiting-for-client', line: 'Waiting for migration client.' },
    ]);
    expect(matcher.state().waitingForClient).toBe(true);
    matcher.push(IDENTITY_START);
    expect(matcher.state()).toMatchObject({ waitingForClient: false, clientStarted: true });
  });

  it('reports an ERROR outside the window as a server error event', () => {
    const matcher = createLogMatcher('identity');
    expect(matcher.push(BANNER[2] ?? '')).toEqual([
      { type: 'server-error', line: 'Error while reading the throttling config' },
    ]);
  });

  it('reports each finding as an event, once, as it arrives', () => {
    const matcher = createLogMatcher('apim');
    expect(matcher.push(BANNER[0] ?? '')).toEqual([]);
    expect(matcher.push(APIM_START).map((event) => event.type)).toEqual(['client-started', 'progress']);
    expect(matcher.push(SQL_NOT_FOUND)).toContainEqual({
      type: 'client-error',
      line: expect.stringContaining('SQL script not found') as unknown as string,
      harmless: true,
    });
    expect(matcher.push(APIM_SUCCESS).map((event) => event.type)).toEqual(['success', 'progress']);
    expect(matcher.push(STARTED)).toEqual([{ type: 'server-started', line: 'WSO2 Carbon started in 58 sec' }]);
  });

  it('keeps the latest migration line as progress, skipping separators and other components', () => {
    const state = feed('identity', [IDENTITY_START, IDENTITY_STEP, DOTS, ...BANNER]);
    expect(state.lastProgress).toBe(
      `${IS_LOG}Version : 5.11.0, Migration Step : GroupsAndRolesMigrator of order : 4 is starting...........................`,
    );
    expect(feed('apim', [APIM_START, APIM_HOP_START, APIM_HOP_DONE]).lastProgress).toBe(
      `${AM_LOG}Completed migration from 3.2.0 to 4.0.0...`,
    );
    expect(feed('apim', BANNER).lastProgress).toBeUndefined();
  });

  it('ships WSO2 harmless pattern as the default', () => {
    expect(DEFAULT_HARMLESS_ERRORS.some((pattern) => pattern.test(SQL_NOT_FOUND))).toBe(true);
    expect(
      DEFAULT_HARMLESS_ERRORS.some((pattern) =>
        pattern.test('SQL script not found at /x/migration-4.0.0_to_4.1.0/a.sql'),
      ),
    ).toBe(false);
  });
});

describe('createLogMatcher: invalid definitions', () => {
  const api = (name: string, version: string, provider: string) =>
    `{name: ${name}, version: ${version}, provider: ${provider}}`;

  const VALIDATION_RUN = [
    line('INFO', VALIDATION, 'Running all validator steps.........'),
    line('INFO', VALIDATION, 'Starting apiAvailabilityValidation for tenant -1234(carbon.super)..........'),
    line('INFO', VALIDATOR, `Validating API availability in db for API ${api('Ghost', '1.0.0', 'admin')}`),
    line('ERROR', VALIDATOR, `Unable to find the API ${api('Ghost', '1.0.0', 'admin')} in the database`),
    line(
      'INFO',
      VALIDATION,
      'Successfully completed apiAvailabilityValidation for tenant -1234(carbon.super)..........',
    ),
    line('INFO', VALIDATION, 'Starting apiDefinitionValidation for tenant -1234(carbon.super)..........'),
    line('INFO', VALIDATOR, `Validating open API definition of API ${api('Pets', '2.0.0', 'alice')}`),
    line(
      'ERROR',
      VALIDATOR,
      `OpenAPI Definition for API ${api('Pets', '2.0.0', 'alice')} is invalid. ErrorMessage: attribute paths is missing ErrorDescription: attribute paths is missing`,
    ),
    line(
      'ERROR',
      VALIDATOR,
      `OpenAPI Definition for API ${api('Pets', '2.0.0', 'alice')} is invalid. ErrorMessage: attribute info.title is missing ErrorDescription: attribute info.title is missing`,
    ),
    line('INFO', VALIDATOR, `Validating open API definition of API ${api('StarWars', '1.0.0', 'bob@tenant.example')}`),
    line('INFO', VALIDATOR, 'Successfully validated open API definition of StarWars version: 1.0.0 type: GRAPHQL'),
    line('INFO', VALIDATOR, 'Validating graphQL schema definition of StarWars version: 1.0.0 type: GRAPHQL'),
    line('ERROR', VALIDATOR, " Invalid GraphQL definition found. ErrorMessage: Unknown type 'Querry'"),
    line('INFO', VALIDATOR, `Validating open API definition of API ${api('Calculator', '1.0', 'admin')}`),
    line('INFO', VALIDATOR, 'Successfully validated open API definition of Calculator version: 1.0 type: SOAP'),
    line('INFO', VALIDATOR, 'Validating WSDL of Calculator version: 1.0 type: SOAP'),
    line('ERROR', VALIDATOR, 'Invalid WSDL definition found. Error while reading the WSDL'),
    line('INFO', VALIDATOR, 'Validating streaming api definition of Chat version: 1.0.0 type: WS'),
    line('ERROR', VALIDATOR, " Invalid AsyncAPI definition found. [ErrorItem{errorMessage='channels is missing'}]"),
    line('INFO', VALIDATOR, `Validating open API definition of API ${api('Bare', '1.0.0', 'admin')}`),
    line(
      'ERROR',
      VALIDATOR,
      'Error while validating open API definition for Bare version: 1.0.0 type: HTTP. Swagger definition of the API is missing...',
    ),
    line('INFO', VALIDATION, 'Successfully completed apiDefinitionValidation for tenant -1234(carbon.super)..........'),
    STARTED,
  ];

  it('parses every kind, with the API the validator was looking at', () => {
    const state = feed('apim-validate', VALIDATION_RUN);
    expect(state.invalidDefinitions).toEqual<InvalidDefinition[]>([
      {
        name: 'Ghost',
        version: '1.0.0',
        provider: 'admin',
        kind: 'missing',
        message: 'the API is in the registry but not in the database',
      },
      {
        name: 'Pets',
        version: '2.0.0',
        provider: 'alice',
        kind: 'OpenAPI',
        message:
          'attribute paths is missing ErrorDescription: attribute paths is missing; attribute info.title is missing ErrorDescription: attribute info.title is missing',
      },
      {
        name: 'StarWars',
        version: '1.0.0',
        provider: 'bob@tenant.example',
        kind: 'GraphQL',
        message: "Unknown type 'Querry'",
      },
      {
        name: 'Calculator',
        version: '1.0',
        provider: 'admin',
        kind: 'WSDL',
        message: 'Error while reading the WSDL',
      },
      {
        name: 'Chat',
        version: '1.0.0',
        provider: '',
        kind: 'AsyncAPI',
        message: "[ErrorItem{errorMessage='channels is missing'}]",
      },
      {
        name: 'Bare',
        version: '1.0.0',
        provider: 'admin',
        kind: 'OpenAPI',
        message: 'Swagger definition of the API is missing',
      },
    ]);
    // Findings are no failure of the run: the stage decides (apim.allowInvalidDefinitions).
    expect(state.verdict).toBe('succeeded');
    expect(state.reason).toMatch(/6 invalid API definitions/);
    expect(state.clientErrors).toEqual([]);
  });

  it('parses the unhandled-exception, GraphQL, WSDL and wsdl-file lines as findings about their API', () => {
    const state = feed('apim-validate', [
      line('INFO', VALIDATION, 'Running all validator steps.........'),
      line('INFO', VALIDATION, 'Starting apiDefinitionValidation for tenant -1234(carbon.super)..........'),
      line('INFO', VALIDATOR, `Validating open API definition of API ${api('Crash', '1.0.0', 'admin')}`),
      line(
        'ERROR',
        VALIDATOR,
        'An unhandled exception has occurred while validating open API definition for Crash version: 1.0.0 type: HTTP',
      ),
      line('INFO', VALIDATOR, `Validating open API definition of API ${api('Shapes', '2.0', 'carol')}`),
      line('INFO', VALIDATOR, 'Validating graphQL schema definition of Shapes version: 2.0 type: GRAPHQL'),
      line(
        'ERROR',
        VALIDATOR,
        ' Error while validating graphql api definition for API:Shapes version: 2.0 graphql.schema.idl.errors.SchemaProblem: errors=[]',
      ),
      line('INFO', VALIDATOR, `Validating open API definition of API ${api('Soap', '1.0', 'dave')}`),
      line('INFO', VALIDATOR, 'Validating WSDL of Soap version: 1.0 type: SOAP'),
      line('ERROR', VALIDATOR, 'Error while validating wsdl file of API:Soap version: 1.0'),
      line('INFO', VALIDATOR, `Validating open API definition of API ${api('Lost', '3.0', 'erin')}`),
      line('INFO', VALIDATOR, 'Validating WSDL of Lost version: 3.0 type: SOAP'),
      line('ERROR', VALIDATOR, 'Error while getting wsdl file'),
      line(
        'INFO',
        VALIDATION,
        'Successfully completed apiDefinitionValidation for tenant -1234(carbon.super)..........',
      ),
      STARTED,
    ]);
    expect(state.verdict).toBe('succeeded');
    expect(state.clientErrors).toEqual([]);
    expect(
      state.invalidDefinitions.map(({ name, version, provider, kind }) => [name, version, provider, kind]),
    ).toEqual([
      ['Crash', '1.0.0', 'admin', 'OpenAPI'],
      ['Shapes', '2.0', 'carol', 'GraphQL'],
      ['Soap', '1.0', 'dave', 'WSDL'],
      ['Lost', '3.0', 'erin', 'WSDL'],
    ]);
    expect(state.invalidDefinitions[1]?.message).toBe('graphql.schema.idl.errors.SchemaProblem: errors=[]');
    expect(state.invalidDefinitions[3]?.message).toBe('the WSDL file cannot be read from the registry');
  });

  it('reads no definitions outside the validation run', () => {
    const state = feed('apim', [APIM_START, ...VALIDATION_RUN.slice(6, 8), APIM_SUCCESS, STARTED]);
    expect(state.invalidDefinitions).toEqual([]);
    expect(state.verdict).toBe('failed');
  });

  it('hands out copies: a snapshot does not change afterwards', () => {
    const matcher = createLogMatcher('apim-validate');
    for (const text of VALIDATION_RUN.slice(0, 8)) matcher.push(text);
    const before = matcher.state();
    for (const text of VALIDATION_RUN.slice(8)) matcher.push(text);
    expect(before.invalidDefinitions.find((definition) => definition.name === 'Pets')?.message).toBe(
      'attribute paths is missing ErrorDescription: attribute paths is missing',
    );
  });
});

describe('createLogMatcher: quoted verdict lines make no verdict', () => {
  // An API named after a verdict line, or an error text that quotes one: only the whole message is a verdict.
  const QUOTED_SUCCESS = `${AM_LOG}Successfully completed API-M migration from 3.1.0 to 4.2.0`;
  const NAMED_API = line('INFO', AM_HOP, `Migrating API {name: ${QUOTED_SUCCESS}, version: 1.0.0, provider: admin}`);
  const APIM_HOP_FAILED = [APIM_START, APIM_HOP_START, NAMED_API, APIM_EXCEPTION];

  it.each([
    {
      name: 'apim: an API named after the success line, then the client fails',
      kind: 'apim' as const,
      lines: [...APIM_HOP_FAILED, APIM_SUCCESS, STARTED],
      verdict: 'failed',
      reason: /API-M migration client failed: ".*API Migration exception occurred while migrating"/,
    },
    {
      name: 'apim: the success line quoted inside an ERROR message is an ERROR, not a success',
      kind: 'apim' as const,
      lines: [
        APIM_START,
        line('ERROR', 'org.wso2.carbon.apimgt.migration.util.RegistryServiceImpl', `Cannot read "${APIM_SUCCESS}"`),
        STARTED,
      ],
      verdict: 'failed',
      reason: /logged 1 ERROR line; the first: "Cannot read/,
    },
    {
      name: 'apim: a failure line quoted inside an INFO message is no failure',
      kind: 'apim' as const,
      lines: [
        APIM_START,
        line('INFO', AM_HOP, `Migrating API {name: ${AM_LOG}API Migration exception occurred while migrating}`),
        APIM_SUCCESS,
        STARTED,
      ],
      verdict: 'succeeded',
    },
    {
      name: 'apim-validate: "WSO2 Carbon started" quoted by a finding does not end the validation',
      kind: 'apim-validate' as const,
      lines: [
        line('INFO', VALIDATION, 'Running all validator steps.........'),
        line('INFO', VALIDATION, 'Starting apiDefinitionValidation for tenant -1234(carbon.super)..........'),
        line('INFO', VALIDATOR, 'Validating API {name: WSO2 Carbon started in 1 sec, version: 1, provider: a}'),
      ],
      verdict: 'pending',
    },
    {
      name: 'identity: the success line quoted by a WARN of the client is no success',
      kind: 'identity' as const,
      lines: [
        IDENTITY_START,
        line(
          'WARN',
          IS_CLIENT,
          `Tenant "${IS_LOG}Execution was done through all the requested version list without having unexpected issues." is inactive`,
        ),
        STARTED,
      ],
      verdict: 'failed',
      reason: /gave no verdict/,
    },
    {
      name: 'identity: "Migration process was stopped." followed by more text is not the failure line',
      kind: 'identity' as const,
      lines: [
        IDENTITY_START,
        line('INFO', IS_CLIENT, 'Migration process was stopped. (quoted)'),
        IDENTITY_SUCCESS,
        STARTED,
      ],
      verdict: 'succeeded',
    },
  ])('$name', ({ kind, lines, verdict, reason }) => {
    const state = feed(kind, lines);
    expect(state.verdict).toBe(verdict);
    if (reason) expect(state.reason).toMatch(reason);
  });

  it('an ERROR whose message holds a Unicode line separator is still read, and still fails the run', () => {
    const hidden = line('ERROR', AM_CLIENT, `${AM_LOG}API Migration exception occurred while migrating\u2028(details)`);
    expect(parseLogRecord(hidden)?.level).toBe('ERROR');
    expect(feed('apim', [APIM_START, hidden, APIM_SUCCESS, STARTED]).verdict).toBe('failed');
  });
});
