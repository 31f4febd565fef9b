/**
 * A database error of apim-migrate's own SQL is matched against the catalogue where every step's error surfaces
 * (the engine): on the real MariaDB, the ledger's UPDATE of a stage's entry waits for a row that another session
 * holds (SELECT ... FOR UPDATE) and gives up after innodb_lock_wait_timeout = 1 (set in the ledger's session only,
 * MariaDB's default is 50 s), error 1205. The stage's result names lock-wait-timeout, printed once. The restore
 * tool's error is read from its stderr: the `mysql` client of the MariaDB restore, fed a dump whose index is too wide
 * for utf8mb4, prints error 1071 (mysql-key-too-long). A real PostgreSQL error is read as the server reports it.
 */
import { Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedConfig } from '../../src/config/types.js';
import { SecretMasker } from '../../src/core/secrets.js';
import { requireTool } from '../../src/db/client-process.js';
import { findClientTools } from '../../src/db/client-tools.js';
import { databaseErrorText } from '../../src/db/database-errors.js';
import { dialectOf } from '../../src/db/dialects.js';
import { LEDGER_TABLE, recordStageFinished, recordStageStarted } from '../../src/db/ledger.js';
import { openSession, type DbSession } from '../../src/db/session.js';
import { runStage } from '../../src/stages/engine.js';
import type { StageContext } from '../../src/stages/types.js';
import { createScratchMariadb, createScratchPostgres, type ScratchDatabase } from '../helpers/databases.js';
import { createMemoryStore, createRecordingLogger } from '../helpers/fakes.js';

let mariadb: ScratchDatabase;
let postgres: ScratchDatabase;
let workDir: string;

beforeAll(async () => {
  mariadb = await createScratchMariadb('known_problems');
  postgres = await createScratchPostgres('known_problems');
  workDir = await mkdtemp(path.join(os.tmpdir(), 'known-problems-db-'));
});

afterAll(async () => {
  await mariadb?.drop();
  await postgres?.drop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function stageContext() {
  const logger = createRecordingLogger();
  const context: StageContext = {
    config: { backup: { retentionDays: 1 } } as ResolvedConfig,
    dryRun: false,
    force: false,
    workDir,
    outcome: {},
    deps: {
      logger,
      store: createMemoryStore(),
      run: { runId: 'known-problems-db', attempt: 1 },
      env: {},
      secrets: new SecretMasker(),
      secretEnv: [],
    },
  };
  return { context, logger };
}

describe('a lock wait timeout of the ledger on MariaDB', () => {
  let ledger: DbSession;
  let holder: DbSession;

  beforeAll(async () => {
    ledger = await openSession(mariadb.target);
    holder = await openSession(mariadb.target);
  });

  afterAll(async () => {
    await holder?.query('ROLLBACK').catch(() => undefined);
    await holder?.close();
    await ledger?.close();
  });

  it('is named lock-wait-timeout in the stage result, once, with the database error it was seen in', async () => {
    await ledger.query('SET SESSION innodb_lock_wait_timeout = 1');
    const id = await recordStageStarted(ledger, { stage: 'registry-scripts', runId: 'run-1', attempt: 1 });
    await holder.query('START TRANSACTION');
    await holder.query(`SELECT ID FROM ${LEDGER_TABLE} WHERE ID = ? FOR UPDATE`, [id]);

    const { context, logger } = stageContext();
    const finish = () => recordStageFinished(ledger, id, { state: 'failed' });
    const result = await runStage(
      {
        name: 'registry-scripts',
        title: 'Registry scripts',
        runAllSteps: true,
        steps: () => [
          { id: 'record', title: 'Record the outcome', run: finish },
          { id: 'again', title: 'Record it again', run: finish },
        ],
      },
      context,
    );

    expect(result.status).toBe('failed');
    expect(result.steps.map((step) => step.summary)).toEqual([
      'Lock wait timeout exceeded; try restarting transaction',
      'Lock wait timeout exceeded; try restarting transaction',
    ]);
    expect(result.knownProblems).toEqual([
      expect.objectContaining({
        id: 'lock-wait-timeout',
        source: 'database',
        line: 'ERROR 1205 (HY000): Lock wait timeout exceeded; try restarting transaction',
        reference: 'https://github.com/wso2/product-is/issues/19291',
      }),
    ]);
    const printed = logger.lines.filter((line) => line.includes('Known problem lock-wait-timeout:'));
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^warning: Known problem lock-wait-timeout: MySQL\/MariaDB error 1205: /);
  }, 30_000);
});

describe("the restore tool's error on MariaDB", () => {
  it("is named mysql-key-too-long from the mysql client's stderr", async () => {
    const dialect = dialectOf('mysql');
    const tool = requireTool((await findClientTools('mysql')).restore, dialect.clientPackage);
    // The dialect's restore reads the dump decompressed, as restore-backup.ts hands it over.
    const dump = Buffer.from(
      [
        'CREATE TABLE WIDE_KEYS (NAME VARCHAR(512), VALUE VARCHAR(512)) CHARACTER SET utf8mb4;',
        'CREATE INDEX WIDE_KEYS_IND ON WIDE_KEYS (NAME, VALUE);',
        '',
      ].join('\n'),
    );
    const { context, logger } = stageContext();
    const result = await runStage(
      {
        name: 'restore',
        title: 'Restore',
        steps: () => [
          {
            id: 'restore',
            title: 'Restore the database',
            run: () =>
              dialect.restore({
                target: mariadb.target,
                tool,
                openDump: () => Readable.from([dump]),
                checked: {},
                label: 'shared_db',
                masker: context.deps.secrets,
                logger,
              }),
          },
        ],
      },
      context,
    );
    expect(result.status).toBe('failed');
    expect(result.knownProblems).toEqual([
      expect.objectContaining({
        id: 'mysql-key-too-long',
        source: 'database',
        line: expect.stringMatching(
          /^ERROR 1071 \(42000\) at line 2: Specified key was too long; max key length is 3072 bytes$/,
        ),
      }),
    ]);
  }, 30_000);
});

describe('a PostgreSQL error', () => {
  it('is read as the server reports it: severity, message, SQLSTATE', async () => {
    const session = await openSession(postgres.target);
    try {
      await session.query('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      await session.query('INSERT INTO t VALUES (1)');
      const error = await session.query('INSERT INTO t VALUES (1)').catch((caught: unknown) => caught);
      expect(databaseErrorText(error)).toBe(
        'ERROR: duplicate key value violates unique constraint "t_pkey" (SQLSTATE 23505)',
      );
      expect(databaseErrorText(new Error('no database here'))).toBeUndefined();
      expect(databaseErrorText(new Error('wrapped', { cause: error }))).toMatch(/^ERROR: duplicate key value/);
    } finally {
      await session.close();
    }
  });
});
