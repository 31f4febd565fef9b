/**
 * The catalogue of known problems: the shipped file is valid, a broken one is refused with every problem named, and
 * each entry is found in a line like the real one (the console layout `[date] LEVEL - Class message`, the stack
 * trace below it, as WSO2's issue reports show them) and never in an INFO record or a line below one.
 */
import { describe, expect, it } from 'vitest';
import type { OperationName } from '../../src/core/results.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { createConsoleLogger } from '../../src/log/logger.js';
import { renderStageMarkdown } from '../../src/report/stage-summary.js';
import { noteKnownProblems } from '../../src/stages/known-problems.js';
import type { StageContext } from '../../src/stages/types.js';
import { createProblemLineCollector } from '../../src/server/problem-lines.js';
import {
  formatKnownProblem,
  knownProblems,
  matchKnownProblems,
  parseKnownProblems,
  type KnownProblem,
} from '../../src/wso2/known-problems.js';
import { createMemoryStore, createRecordingLogger } from '../helpers/fakes.js';

const AT = '[2026-12-04 10:00:00,000]';

/** The ids the console lines name, as a server stage would see them (records with their traces). */
function idsIn(lines: string[], stage: OperationName, when: KnownProblem['when'] = 'line'): string[] {
  const collector = createProblemLineCollector();
  const texts = [...lines.flatMap((line) => collector.push(line)), ...collector.flush()];
  const ids = texts.flatMap((text) =>
    matchKnownProblems(text.text, { stage, source: 'server-log', when }).map((entry) => entry.id),
  );
  return [...new Set(ids)].sort();
}

function databaseIds(text: string, stage: OperationName): string[] {
  return matchKnownProblems(text, { stage, source: 'database' }).map((entry) => entry.id);
}

describe('the shipped catalogue', () => {
  it('loads: every signature compiles, ids are unique, stages are known', () => {
    const entries = knownProblems();
    expect(entries.length).toBeGreaterThanOrEqual(13);
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(entries.length);
  });

  it('names the ids other checks refer to', () => {
    const ids = knownProblems().map((entry) => entry.id);
    expect(ids).toEqual(expect.arrayContaining(['mysql-key-too-long', 'keystore-mismatch', 'out-of-memory']));
  });

  it('prints a match as "Known problem <id>: <cause> Fix: <fix> (<reference>)"', () => {
    const [entry] = knownProblems();
    if (!entry) throw new Error('empty catalogue');
    expect(formatKnownProblem(entry)).toBe(
      `Known problem ${entry.id}: ${entry.cause} Fix: ${entry.fix} (${entry.reference})`,
    );
  });
});

describe('a broken catalogue is refused, naming each problem', () => {
  const good = {
    id: 'some-problem',
    signature: 'x',
    sources: ['server-log'],
    stages: ['apim'],
    cause: 'c',
    fix: 'f',
    reference: 'https://github.com/wso2/api-manager/issues/1',
  };

  it('a signature that does not compile', () => {
    expect(() => parseKnownProblems({ problems: [{ ...good, signature: '(unclosed' }] })).toThrow(
      /some-problem: the signature does not compile/,
    );
  });

  it('an id used twice', () => {
    expect(() => parseKnownProblems({ problems: [good, good] })).toThrow(/id some-problem is used twice/);
  });

  it('an unknown stage, an id that is not kebab-case, an unknown key, a reference that is no URL', () => {
    const error = (() => {
      try {
        parseKnownProblems({
          problems: [
            { ...good, stages: ['apim-migrate'] },
            { ...good, id: 'Some_Problem' },
            { ...good, id: 'other', severity: 'high' },
            { ...good, id: 'third', reference: 'api-manager#1' },
          ],
        });
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('accepted');
    })();
    expect(error.message).toMatch(/problems\.0\.stages\.0/);
    expect(error.message).toMatch(/kebab-case/);
    expect(error.message).toMatch(/severity/);
    expect(error.message).toMatch(/problems\.3\.reference/);
  });

  it('a flag that would make matching stateful', () => {
    expect(() => parseKnownProblems({ problems: [{ ...good, flags: 'g' }] })).toThrow(/flags/);
  });
});

describe('each entry in a line like the real one', () => {
  it('organization-column-missing: PgJDBC under ApiMgtDAO (api-manager#2042)', () => {
    const lines = [
      `${AT} ERROR - ApiMgtDAO Failed to retrieve API categories for organization carbon.super`,
      'org.postgresql.util.PSQLException: ERROR: column "organization" does not exist',
      '  Position: 61',
      '\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2676)',
    ];
    expect(idsIn(lines, 'apim')).toEqual(['organization-column-missing']);
    // The same line in the log file's layout.
    expect(
      idsIn(
        [
          `TID: [-1234] [] ${AT} ERROR {org.wso2.carbon.apimgt.impl.dao.ApiMgtDAO} - Failed to retrieve API categories for organization carbon.super org.postgresql.util.PSQLException: ERROR: column "organization" does not exist`,
        ],
        'apim',
      ),
    ).toEqual(['organization-column-missing']);
  });

  it('migration-client-mismatch: NoSuchMethodError of ApiMgtDAO.addAPIRevision (api-manager#3495)', () => {
    const lines = [
      `${AT} ERROR - Framework FrameworkEvent ERROR`,
      "java.lang.NoSuchMethodError: 'void org.wso2.carbon.apimgt.impl.dao.ApiMgtDAO.addAPIRevision(org.wso2.carbon.apimgt.api.model.APIRevision)'",
      '\tat org.wso2.carbon.apimgt.migration.migrator.v400.V400RegistryResourceMigrator.addAPIRevision(V400RegistryResourceMigrator.java:634) ~[org.wso2.carbon.apimgt.migrate.client-4.2.0.70-SNAPSHOT.jar:?]',
    ];
    expect(idsIn(lines, 'apim')).toEqual(['migration-client-mismatch']);
  });

  it('mysql-key-too-long and identity-schema-script-failed: a schema script of the identity client (product-is#3325)', () => {
    const lines = [
      `${AT} ERROR - SchemaMigrator Error occurred while executing SQL script for migrating database`,
      'java.lang.Exception: Error occurred while executing :  ALTER TABLE IDN_OAUTH2_ACCESS_TOKEN modify ACCESS_TOKEN VARCHAR(2048)',
      '\tat org.wso2.carbon.is.migration.service.SchemaMigrator.executeSQL(SchemaMigrator.java:231)',
      'Caused by: com.mysql.cj.jdbc.exceptions.MySQLSyntaxErrorException: Specified key was too long; max key length is 3072 bytes',
      `${AT} ERROR - MigrationClientImpl Migration process was stopped.`,
    ];
    expect(idsIn(lines, 'identity')).toEqual(['identity-schema-script-failed', 'mysql-key-too-long']);
  });

  it('mysql-key-too-long: MariaDB error 1071 of our own SQL or of the restore tool', () => {
    expect(
      databaseIds('ERROR 1071 (42000): Specified key was too long; max key length is 767 bytes', 'registry-scripts'),
    ).toEqual(['mysql-key-too-long']);
    expect(
      databaseIds(
        'ERROR 1071 (42000) at line 212: Specified key was too long; max key length is 3072 bytes',
        'restore',
      ),
    ).toEqual(['mysql-key-too-long']);
    // The same index on a COMPACT table, as MariaDB 10.11 answers it.
    expect(
      databaseIds(
        'ERROR 1709 (HY000) at line 1: Index column size too large. The maximum column size is 767 bytes',
        'restore',
      ),
    ).toEqual(['mysql-key-too-long']);
  });

  it('keystore-mismatch: CryptoException of the OAEP algorithm (product-is#13872)', () => {
    const lines = [
      `${AT} ERROR - MigrationClientImpl Migration process was stopped.`,
      'org.wso2.carbon.core.util.CryptoException: An error occurred while decrypting data',
      '\tat org.wso2.carbon.core.util.CryptoUtil.base64DecodeAndDecrypt(CryptoUtil.java:431)',
      "Caused by: org.wso2.carbon.crypto.api.CryptoException: An error occurred while decrypting using the algorithm : 'RSA/ECB/OAEPwithSHA1andMGF1Padding'",
      'Caused by: java.security.InvalidKeyException: unknown key type passed to RSA',
    ];
    expect(idsIn(lines, 'identity')).toEqual(['keystore-mismatch']);
  });

  it('lock-wait-timeout: MySQL error 1205 in a server run and of our own SQL (product-is#19291)', () => {
    const lines = [
      `${AT} ERROR - MigrationClientImpl Migration process was stopped.`,
      'org.wso2.carbon.identity.core.migrate.MigrationClientException: Error while migrating the OAuth2 tokens',
      'Caused by: com.mysql.cj.jdbc.exceptions.MySQLTransactionRollbackException: Lock wait timeout exceeded; try restarting transaction',
    ];
    expect(idsIn(lines, 'identity')).toEqual(['lock-wait-timeout']);
    expect(
      databaseIds('ERROR 1205 (HY000): Lock wait timeout exceeded; try restarting transaction', 'registry-scripts'),
    ).toEqual(['lock-wait-timeout']);
  });

  it('inactive-tenant-revision-npe: the NPE of apiRevisionRelatedMigration (api-manager#1103)', () => {
    const lines = [
      `${AT} ERROR - APIMMigrationService WSO2 API-M Migration Task : Generic exception occurred while migrating`,
      'java.lang.NullPointerException',
      '\tat org.wso2.carbon.apimgt.migration.client.MigrateFrom320.apiRevisionRelatedMigration(MigrateFrom320.java:387)',
      '\tat org.wso2.carbon.apimgt.migration.APIMMigrationService.completedServerStartup(APIMMigrationService.java:280)',
    ];
    expect(idsIn(lines, 'apim')).toEqual(['inactive-tenant-revision-npe']);
    // Another NullPointerException is not this one.
    expect(
      idsIn(
        [
          `${AT} ERROR - APIMMigrationService WSO2 API-M Migration Task : Generic exception occurred while migrating`,
          'java.lang.NullPointerException: null',
          '\tat java.io.StringReader.<init>(StringReader.java:50) ~[?:1.8.0_342]',
        ],
        'apim',
      ),
    ).toEqual([]);
  });

  it('tenant-portal-migrator: ClassNotFoundException AppPortalConstants (docs-apim#3282)', () => {
    const lines = [
      `${AT} ERROR - MigrationClientImpl Migration process was stopped.`,
      'java.lang.NoClassDefFoundError: org/wso2/identity/apps/common/util/AppPortalConstants$AppPortal',
      'Caused by: java.lang.ClassNotFoundException: org.wso2.identity.apps.common.util.AppPortalConstants$AppPortal cannot be found by org.wso2.carbon.is.migration_1.0.142',
    ];
    expect(idsIn(lines, 'identity')).toEqual(['tenant-portal-migrator']);
  });

  it('application-name-duplicate: PostgreSQL unique violation (product-is#14905)', () => {
    const lines = [
      `${AT} ERROR - MigrationClientImpl Migration process was stopped.`,
      'org.postgresql.util.PSQLException: ERROR: duplicate key value violates unique constraint "application_name_constraint"',
      '  Detail: Key (app_name, tenant_id)=(My Account, -1234) already exists.',
    ];
    expect(idsIn(lines, 'identity')).toEqual(['application-name-duplicate']);
  });

  it('mssql-revision-uuid-length: SQL Server refuses the foreign key (api-manager#2019)', () => {
    const lines = [
      `${AT} ERROR - DBUtil WSO2 API-M Migration Task : Error occurred while migrating databases`,
      "com.microsoft.sqlserver.jdbc.SQLServerException: Column 'AM_REVISION.REVISION_UUID' is not the same length or scale as referencing column 'AM_API_REVISION_METADATA.REVISION_UUID' in foreign key 'FK__AM_API_RE__REVIS__000AF8CF'. Columns participating in a foreign key relationship must be defined with the same length and scale.",
    ];
    expect(idsIn(lines, 'apim')).toEqual(['mssql-revision-uuid-length']);
  });

  it('oracle-tenant-domain-column: ORA-00904 under the tenant configuration (api-manager#700)', () => {
    const lines = [
      `${AT} ERROR - ApiMgtDAO Failed to retrieve TENANT Configuration for org: carbon.super`,
      'java.sql.SQLSyntaxErrorException: ORA-00904: "TENANT_DOMAIN": invalid identifier',
    ];
    expect(idsIn(lines, 'apim')).toEqual(['oracle-tenant-domain-column']);
  });

  it('identity-client-not-loaded: counts only as the last words of a failed run', () => {
    const lines = [`${AT}  WARN - IdentityCoreServiceComponent Waiting for migration client.`];
    expect(idsIn(lines, 'identity')).toEqual([]);
    expect(idsIn(lines, 'identity', 'last-line-of-failed-run')).toEqual(['identity-client-not-loaded']);
  });

  it('out-of-memory: the JVM notices, after an INFO record or before any (api-manager#2165)', () => {
    expect(
      idsIn(
        [
          `${AT}  INFO - CarbonCoreActivator Starting WSO2 Carbon...`,
          'java.lang.OutOfMemoryError: GC overhead limit exceeded',
          'Dumping heap to /opt/wso2am-4.2.0/repository/logs/heap-dump.hprof ...',
        ],
        'apim',
      ),
    ).toEqual(['out-of-memory']);
    expect(idsIn(['Exception in thread "main" java.lang.OutOfMemoryError: Java heap space'], 'identity')).toEqual([
      'out-of-memory',
    ]);
  });
});

describe('lines that are no known problem', () => {
  it('an INFO record that quotes the text (an API name, a SQL statement)', () => {
    const lines = [
      `${AT}  INFO - RegistryServiceImpl WSO2 API-M Migration Task : Migrating API {name: Specified key was too long; max key length is 767 bytes, version: 1.0.0, provider: admin}`,
      `${AT} DEBUG - SchemaMigrator SQL : SELECT 'Lock wait timeout exceeded; try restarting transaction'`,
      `${AT}  INFO - ApiMgtDAO column "organization" does not exist`,
    ];
    expect(idsIn(lines, 'apim')).toEqual([]);
  });

  it('a line below an INFO record, even one shaped like an exception', () => {
    const lines = [
      `${AT}  INFO - APIMMigrationClient WSO2 API-M Migration Task : Starting API-M migration from 3.1.0 to 3.1.0`,
      'org.postgresql.util.PSQLException: ERROR: column "organization" does not exist',
    ];
    expect(idsIn(lines, 'apim')).toEqual([]);
  });

  it('a problem of other stages, or of the other source', () => {
    const line = [
      `${AT} ERROR - ApiMgtDAO Failed to retrieve API categories for organization carbon.super`,
      'org.postgresql.util.PSQLException: ERROR: column "organization" does not exist',
    ];
    expect(idsIn(line, 'identity')).toEqual([]);
    expect(databaseIds('ERROR: column "organization" does not exist', 'apim')).toEqual([]);
  });
});

describe('what a stage prints and keeps of a known problem', () => {
  const SECRET = 'db-pass-4711';

  function stageContext() {
    const logger = createRecordingLogger();
    const secrets = new SecretMasker();
    secrets.add(SECRET);
    const context: StageContext = {
      config: {} as StageContext['config'],
      dryRun: false,
      force: false,
      workDir: '/nonexistent',
      outcome: {},
      deps: { logger, store: createMemoryStore(), run: { runId: 'r', attempt: 1 }, env: {}, secrets, secretEnv: [] },
    };
    return { context, logger };
  }

  const hostile = `Lock wait timeout exceeded; try restarting transaction for user wso2 with password ${SECRET} \u001b[31m| \`x\` <b>`;

  it('masks the line it was seen in, prints each problem once, and the summary escapes it', () => {
    const { context, logger } = stageContext();
    for (let round = 0; round < 3; round += 1) {
      noteKnownProblems(context, { stage: 'identity', source: 'server-log', text: hostile, line: hostile });
    }
    const kept = context.outcome.knownProblems ?? [];
    expect(kept.map((problem) => problem.id)).toEqual(['lock-wait-timeout']);
    expect(kept[0]?.line).not.toContain(SECRET);
    expect(kept[0]?.line).toContain('password ***');
    expect(logger.lines.filter((line) => line.startsWith('warning: Known problem lock-wait-timeout:'))).toHaveLength(1);
    expect(logger.lines.join('\n')).not.toContain(SECRET);

    const markdown = renderStageMarkdown({
      stage: 'identity',
      status: 'failed',
      dryRun: false,
      runId: 'r',
      attempt: 1,
      startedAt: '',
      finishedAt: '',
      durationMs: 0,
      steps: [],
      summary: 'Identity failed',
      exitCode: 1,
      toolVersion: '0',
      knownProblems: kept,
    });
    const section = markdown.slice(markdown.indexOf('### Known problems'));
    expect(section).toContain('<br>Seen in: <code>Lock wait timeout exceeded');
    expect(section).not.toContain('\u001b');
    expect(section).toContain('\\| \\`x\\` \\<b\\>');
  });

  it('prints through the console logger neutralised: no escape sequence reaches the terminal', () => {
    const lines: string[] = [];
    const logger = createConsoleLogger({ out: (line) => lines.push(line), err: (line) => lines.push(line) });
    const { context } = stageContext();
    noteKnownProblems(
      { ...context, deps: { ...context.deps, logger } },
      {
        stage: 'identity',
        source: 'server-log',
        text: hostile,
        line: hostile,
      },
    );
    expect(lines.join('\n')).not.toMatch(/\u001b/);
    expect(lines.join('\n')).toContain('Known problem lock-wait-timeout was seen in: Lock wait timeout exceeded');
  });
});

describe('the texts a server run hands to the catalogue', () => {
  function texts(lines: string[]) {
    const collector = createProblemLineCollector();
    return [...lines.flatMap((line) => collector.push(line)), ...collector.flush()];
  }

  it('one per WARN/ERROR record, with the lines below it, handed over when the next record starts', () => {
    const collector = createProblemLineCollector();
    expect(collector.push(`${AT} ERROR - DataSourceManager Error while initializing datasource manager.`)).toEqual([]);
    expect(collector.push('java.lang.Exception: cause')).toEqual([]);
    expect(collector.push(`${AT}  INFO - VersionMigration next step`)).toEqual([
      {
        head: 'Error while initializing datasource manager.',
        text: 'Error while initializing datasource manager.\njava.lang.Exception: cause',
      },
    ]);
    expect(collector.flush()).toEqual([]);
  });

  it("a JVM failure line inside a record's trace stays part of that record", () => {
    expect(texts([`${AT} ERROR - ApiMgtDAO Failed to add API`, 'java.lang.OutOfMemoryError: Java heap space'])).toEqual(
      [{ head: 'Failed to add API', text: 'Failed to add API\njava.lang.OutOfMemoryError: Java heap space' }],
    );
  });

  it('keeps at most 200 lines of a trace', () => {
    const trace = Array.from({ length: 500 }, (_, index) => `\tat org.x.Y.m${index}(Y.java:${index})`);
    const [text] = texts([`${AT} ERROR - X failed`, ...trace]);
    expect(text?.text.split('\n')).toHaveLength(200);
  });
});
