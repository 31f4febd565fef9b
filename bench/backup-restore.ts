/**
 * Benchmarks 1 and 2 of the issue: `apim-migrate backup` against the plain dump tool, and `apim-migrate restore`
 * against the plain restore tool, on generated API-M-shaped databases (bench/data.ts). The subject is the built
 * CLI (dist/cli/index.js) run as an operator runs it, with a config and an API-M home that point at the bench
 * database; the reference is the command an operator would otherwise type.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { chooseDumpVariant, describeCompression } from '../src/backup/compression.js';
import { findClientTools, findZstd } from '../src/db/client-tools.js';
import { dialectOf } from '../src/db/dialects.js';
import { readLedger, recordStageFinished, recordStageStarted, type LedgerBackup } from '../src/db/ledger.js';
import { openSession } from '../src/db/session.js';
import { makeDeploymentToml, makeSandboxRegistryXml } from '../src/demo/sandbox-files.js';
import { createBenchDatabase, runStatements, type BenchDatabase, type BenchEngine } from './data.js';
import {
  compare,
  formatKiB,
  timeCommand,
  timeShell,
  type BenchContext,
  type BenchSection,
  type ComparisonResult,
  type Figure,
  type Sample,
} from './harness.js';

const exec = promisify(execFile);
/**
 * The goals: at about 1 GB a backup within 0.70x of the plain dump tool and a restore within 1.00x of the plain
 * restore tool; at the smaller size neither slower than before zstd (the ratios measured in full mode on 2026-11-25,
 * with pg_dump's own compression and the parallel gzip).
 */
const GOALS = {
  backup: {
    main: { postgresql: 0.7, mysql: 0.7 },
    small: { postgresql: 1.06, mysql: 1.02 },
  },
  restore: {
    main: { postgresql: 1.0, mysql: 1.0 },
    small: { postgresql: 1.11, mysql: 1.03 },
  },
} as const;

function goalFor(section: keyof typeof GOALS, size: 'main' | 'small', engine: BenchEngine) {
  const maxRatio = GOALS[section][size][engine];
  return { maxRatio, text: `<= ${maxRatio.toFixed(2)}x` };
}

const PASSWORD_ENV = 'BENCH_DB_PASSWORD';
const IDENTITY_ENV = 'BENCH_AGE_IDENTITY';
const PASSPHRASE_ENV = 'BENCH_BACKUP_PASSPHRASE';
/** Both engines; APIM_MIGRATE_BENCH_ENGINES=postgresql or =mysql picks one, for trying things out. */
const ENGINES: readonly BenchEngine[] = (['postgresql', 'mysql'] as const).filter(
  (engine) =>
    !process.env['APIM_MIGRATE_BENCH_ENGINES'] || process.env['APIM_MIGRATE_BENCH_ENGINES'].split(',').includes(engine),
);

/** Scales (bench/data.ts units of ~20 MB on PostgreSQL) per mode: the main size and the smaller one for RSS. */
export function benchSizes(quick: boolean): Record<BenchEngine, { main: number; small: number }> {
  // APIM_MIGRATE_BENCH_SCALE=<main>[,<small>] sets both engines' scales, for trying other sizes.
  const override = process.env['APIM_MIGRATE_BENCH_SCALE']?.split(',').map(Number);
  if (override?.[0] && override[0] > 0) {
    const size = { main: override[0], small: override[1] && override[1] > 0 ? override[1] : override[0] / 4 };
    return { postgresql: size, mysql: size };
  }
  return quick
    ? { postgresql: { main: 0.5, small: 0.125 }, mysql: { main: 0.5, small: 0.125 } }
    : { postgresql: { main: 40, small: 10 }, mysql: { main: 30, small: 8 } };
}

/** A bench database with the files around it: API-M homes, configs, stores, reference files. */
interface Fixture {
  engine: BenchEngine;
  size: 'main' | 'small';
  db: BenchDatabase;
  dir: string;
  plainConfig: string;
  encryptedConfig: string;
  /** The restores' configs: plaintext backups, and backups encrypted with a passphrase. */
  restoreConfigs: Record<RestoreKind, string>;
  recipient: string;
  env: Record<string, string | undefined>;
  /** The folder the CLI uses as TMPDIR (its work folder with the local dump copies), emptied between runs. */
  tmpDir: string;
  dumpTool: string;
  restoreTool: string;
  /** The registry-scripts backups the restores roll back to, once made. */
  restores: Partial<Record<RestoreKind, StageBackup>>;
  /** The plain tool's dump of the state those backups hold (`pg_dump -Fc`, `mysqldump | gzip`), once made. */
  referenceDump?: string;
}

type RestoreKind = 'plain' | 'passphrase';

/** A backup that `run registry-scripts` took: the run that holds it, and the ledger's record of it. */
interface StageBackup {
  run: string;
  backup: LedgerBackup;
  kind: RestoreKind;
}

const fixtures = new Map<string, Fixture>();

/** Drops every bench database this process made and removes its folders; main calls it at the end. */
export async function releaseFixtures(): Promise<void> {
  if (process.env['APIM_MIGRATE_BENCH_KEEP'] === '1') {
    // For profiling by hand: the databases and folders stay; drop them with DROP DATABASE apim_migrate_bench_*.
    for (const fixture of fixtures.values())
      process.stderr.write(`kept ${fixture.db.target.database} and ${fixture.dir}\n`);
    return;
  }
  for (const [key, fixture] of fixtures) {
    fixtures.delete(key);
    await fixture.db.drop().catch(() => undefined);
    await rm(fixture.dir, { recursive: true, force: true });
  }
}

async function fixtureFor(context: BenchContext, engine: BenchEngine, size: 'main' | 'small'): Promise<Fixture> {
  const key = `${engine}/${size}`;
  const existing = fixtures.get(key);
  if (existing) return existing;
  const scale = benchSizes(context.quick)[engine][size];
  context.log(`generating the ${engine} bench database (${size} size, scale ${scale})`);
  const db = await createBenchDatabase(engine, scale, context.log);
  const dir = path.join(context.workDir, `${engine}-${size}`);
  const fixture = await writeFiles(context, db, dir, size).catch(async (error: unknown) => {
    await db.drop().catch(() => undefined);
    throw error;
  });
  fixtures.set(key, fixture);
  return fixture;
}

async function writeFiles(
  context: BenchContext,
  db: BenchDatabase,
  dir: string,
  size: 'main' | 'small',
): Promise<Fixture> {
  const { engine, target } = db;
  const newHome = path.join(dir, 'wso2am-4.2.0');
  const oldHome = path.join(dir, 'wso2am-3.1.0');
  const tmpDir = path.join(dir, 'tmp');
  for (const folder of [path.join(newHome, 'bin'), path.join(newHome, 'repository', 'conf'), path.join(oldHome, 'bin')])
    await mkdir(folder, { recursive: true });
  await mkdir(path.join(oldHome, 'repository', 'conf'), { recursive: true });
  await mkdir(tmpDir, { recursive: true });
  await writeFile(path.join(newHome, 'bin', 'version.txt'), 'WSO2 API Manager v4.2.0\n');
  await writeFile(path.join(oldHome, 'bin', 'version.txt'), 'WSO2 API Manager v3.1.0\n');
  // Versioning off everywhere: registry-scripts then only adds the two indices.
  await writeFile(
    path.join(oldHome, 'repository', 'conf', 'registry.xml'),
    makeSandboxRegistryXml({ properties: false, comments: false, tags: false, ratings: false }),
  );
  const url =
    engine === 'postgresql'
      ? `jdbc:postgresql://${target.host}:${target.port}/${target.database}`
      : `jdbc:mysql://${target.host}:${target.port}/${target.database}?useSSL=false`;
  await writeFile(
    path.join(newHome, 'repository', 'conf', 'deployment.toml'),
    makeDeploymentToml(
      'deployment.toml of an apim-migrate benchmark',
      (['apim_db', 'shared_db'] as const).map((name) => ({
        name,
        type: engine === 'postgresql' ? 'postgre' : 'mysql',
        url,
        username: target.username,
        passwordEnv: PASSWORD_ENV,
        driver: engine === 'postgresql' ? 'org.postgresql.Driver' : 'com.mysql.cj.jdbc.Driver',
      })),
    ),
  );
  const { stdout: keyFile } = await exec('age-keygen', []);
  const identity = keyFile.split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-')) ?? '';
  const recipient = /public key: (age1\w+)/.exec(keyFile)?.[1] ?? '';
  if (!identity || !recipient) throw new Error('age-keygen gave no key; install age (apt-get install -y age)');

  const base = {
    apimHome: './wso2am-4.2.0',
    oldApimHome: './wso2am-3.1.0',
    keyManager: 'is',
    isHealthUrl: 'https://is.example.test:9443/api/health-check/v1.0/health',
    apim: { migrationKit: './wso2am-migration-4.2.0.67.zip' },
  };
  const writeConfig = async (name: string, config: Record<string, unknown>) => {
    const file = path.join(dir, name);
    await writeFile(file, `# apim-migrate benchmark (${engine}, ${size})\n${stringify({ ...base, ...config })}`);
    return file;
  };
  const plainConfig = await writeConfig('plain.yml', {
    backup: { allowPlaintextBackups: true },
    store: { dir: './store-plain' },
  });
  const encryptedConfig = await writeConfig('encrypted.yml', {
    backup: { recipient, identityEnv: IDENTITY_ENV },
    store: { dir: './store-encrypted' },
  });
  const restoreConfigs: Record<RestoreKind, string> = {
    plain: await writeConfig('restore.yml', {
      backup: { allowPlaintextBackups: true },
      store: { dir: './store-restore' },
    }),
    passphrase: await writeConfig('restore-passphrase.yml', {
      backup: { passphraseEnv: PASSPHRASE_ENV },
      store: { dir: './store-restore-passphrase' },
    }),
  };

  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(process.env)) {
    // Outside GitHub Actions, whatever the bench runs in: the local folder store.
    if (/^(GITHUB_|RUNNER_|INPUT_|STATE_|ACTIONS_)/.test(name) || name === 'CI' || name === 'APIM_MIGRATE_RUN_ID')
      continue;
    env[name] = value;
  }
  env[PASSWORD_ENV] = target.password;
  env[IDENTITY_ENV] = identity;
  env[PASSPHRASE_ENV] = randomBytes(24).toString('base64url');
  env['TMPDIR'] = tmpDir;
  const tools = await findClientTools(engine);
  if (!tools.dump.path || !tools.restore.path) throw new Error(`the ${engine} client tools are not on PATH`);
  context.log(`${engine}: dump tool ${tools.dump.path}, restore tool ${tools.restore.path}`);
  return {
    engine,
    size,
    db,
    dir,
    plainConfig,
    encryptedConfig,
    restoreConfigs,
    restores: {},
    recipient,
    env,
    tmpDir,
    dumpTool: tools.dump.path,
    restoreTool: tools.restore.path,
  };
}

function runCli(context: BenchContext, fixture: Fixture, args: string[]): Promise<Sample> {
  return timeCommand(process.execPath, [context.cli, ...args], { env: fixture.env, cwd: fixture.dir });
}

/** The connection options of the plain tools (the same server, login and database as the subject's). */
function connection(fixture: Fixture): string {
  const { target } = fixture.db;
  return fixture.engine === 'postgresql'
    ? `-h ${target.host} -p ${target.port} -U ${target.username} --no-password`
    : `-h ${target.host} -P ${target.port} -u ${target.username} --protocol=TCP`;
}

function referenceDumpScript(fixture: Fixture, output: string, encrypted: boolean): string {
  const db = fixture.db.target.database;
  const age = encrypted ? ` | age -r ${fixture.recipient}` : '';
  return fixture.engine === 'postgresql'
    ? `${fixture.dumpTool} -Fc ${connection(fixture)} -d ${db}${age} > ${output}`
    : `${fixture.dumpTool} ${connection(fixture)} --single-transaction ${db} | gzip${age} > ${output}`;
}

/** Empties the subject's store and work folder, so that every run starts alike and the disk does not fill. */
async function clearStore(fixture: Fixture, store: string): Promise<void> {
  await rm(path.join(fixture.dir, store), { recursive: true, force: true });
  await rm(fixture.tmpDir, { recursive: true, force: true });
  await mkdir(fixture.tmpDir, { recursive: true });
}

function describeSize(fixture: Fixture): string {
  const mib = fixture.db.bytes / 1024 / 1024;
  const size = mib >= 1024 ? `${(mib / 1024).toFixed(2)} GiB` : `${mib.toFixed(0)} MiB`;
  return `${fixture.engine === 'postgresql' ? 'PostgreSQL' : 'MariaDB'} ${size}`;
}

function runsFor(context: BenchContext, size: 'main' | 'small'): number {
  if (size === 'main') return context.quick ? 3 : 5;
  return context.quick ? 1 : 3;
}

async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

/** Section `backup`: `apim-migrate backup` against `pg_dump -Fc` / `mysqldump | gzip`, plain and encrypted. */
export async function runBackup(context: BenchContext): Promise<BenchSection> {
  const comparisons: ComparisonResult[] = [];
  const figures: Figure[] = [];
  for (const engine of ENGINES) {
    for (const size of ['main', 'small'] as const) {
      const fixture = await fixtureFor(context, engine, size);
      for (const encrypted of size === 'small' ? [false] : [false, true]) {
        const store = encrypted ? 'store-encrypted' : 'store-plain';
        const output = path.join(
          fixture.dir,
          `reference${fixture.engine === 'postgresql' ? '.pgdump' : '.sql.gz'}${encrypted ? '.age' : ''}`,
        );
        const result = await compare(
          {
            section: 'backup',
            name: `${describeSize(fixture)}${encrypted ? ', encrypted (age recipient)' : ''}`,
            subject: {
              label: 'apim-migrate backup',
              run: () =>
                runCli(context, fixture, [
                  'backup',
                  '--config',
                  encrypted ? fixture.encryptedConfig : fixture.plainConfig,
                ]),
            },
            reference: {
              label:
                fixture.engine === 'postgresql'
                  ? `pg_dump -Fc${encrypted ? ' | age' : ''}`
                  : `mysqldump | gzip${encrypted ? ' | age' : ''}`,
              run: () => timeShell(referenceDumpScript(fixture, output, encrypted), { env: fixture.env }),
            },
            runs: runsFor(context, size),
            goal: goalFor('backup', size, engine),
            beforeEach: async () => {
              await clearStore(fixture, store);
              await rm(output, { force: true });
            },
          },
          context.log,
        );
        comparisons.push(result);
        if (size === 'main') figures.push(cpuFigure('backup', result));
        if (!encrypted && size === 'main') {
          figures.push({
            section: 'backup',
            name: `${describeSize(fixture)}: size of the reference dump`,
            value: `${((await fileSize(output).catch(() => 0)) / 1024 / 1024 || 0).toFixed(0)} MiB`,
          });
        }
        await clearStore(fixture, store);
        await rm(output, { force: true });
      }
    }
    figures.push(rssFigure('backup', engine, comparisons));
    const dumpTool = path.basename((await fixtureFor(context, engine, 'main')).dumpTool);
    const variant = chooseDumpVariant(dialectOf(engine), await findZstd());
    figures.push({
      section: 'backup',
      name: `${engine === 'postgresql' ? 'PostgreSQL' : 'MariaDB'}: how apim-migrate compressed`,
      value: `${variant.format} (${describeCompression(variant, dumpTool)})`,
    });
  }
  return {
    title: 'Backup',
    comparisons,
    figures,
    notes: backupNotes(context),
  };
}

/**
 * Section `restore`: `apim-migrate restore --stage registry-scripts` against `pg_restore` / `gunzip | mysql` of the
 * plain tool's dump of the same state, for a plaintext backup at both sizes and a passphrase backup at the main size.
 */
export async function runRestore(context: BenchContext): Promise<BenchSection> {
  const comparisons: ComparisonResult[] = [];
  const figures: Figure[] = [];
  for (const engine of ENGINES) {
    for (const size of ['main', 'small'] as const) {
      const fixture = await fixtureFor(context, engine, size);
      for (const kind of size === 'main' ? (['plain', 'passphrase'] as const) : (['plain'] as const)) {
        const stageBackup = await prepareRestore(context, fixture, kind);
        const file = fixture.referenceDump ?? '';
        const db = fixture.db.target.database;
        const reference =
          fixture.engine === 'postgresql'
            ? `${fixture.restoreTool} --clean --if-exists --no-owner ${connection(fixture)} -d ${db} ${file}`
            : `gunzip -c ${file} | ${fixture.restoreTool} ${connection(fixture)} ${db}`;
        const result = await compare(
          {
            section: 'restore',
            name: `${describeSize(fixture)}${kind === 'passphrase' ? ', encrypted (passphrase)' : ''}`,
            subject: {
              label: 'apim-migrate restore',
              run: () => runCli(context, fixture, restoreArgs(fixture, stageBackup)),
            },
            reference: {
              label: fixture.engine === 'postgresql' ? 'pg_restore --clean' : 'gunzip | mysql',
              run: () => timeShell(reference, { env: fixture.env }),
            },
            runs: runsFor(context, size),
            goal: goalFor('restore', size, engine),
            beforeEach: async () => {
              // Only the subject's own run folders go; the backup's run stays.
              await rm(fixture.tmpDir, { recursive: true, force: true });
              await mkdir(fixture.tmpDir, { recursive: true });
              await removeRunsExcept(storeOf(fixture, kind), stageBackup.run);
              await recordBackupAgain(fixture, stageBackup.backup);
              await settle(fixture);
            },
          },
          context.log,
        );
        comparisons.push(result);
        if (size === 'main') figures.push(cpuFigure('restore', result));
      }
    }
    figures.push(rssFigure('restore', engine, comparisons));
  }
  return { title: 'Restore', comparisons, figures, notes: restoreNotes() };
}

function storeOf(fixture: Fixture, kind: RestoreKind): string {
  return path.join(fixture.dir, kind === 'plain' ? 'store-restore' : 'store-restore-passphrase');
}

/**
 * The restores need a stage backup: `run registry-scripts` takes it (and adds the two indices). Restored once, the
 * database is back in the state the backup holds, and the plain tool dumps that state for the reference. The
 * passphrase backup is taken from that state too, so both hold the same data.
 */
async function prepareRestore(context: BenchContext, fixture: Fixture, kind: RestoreKind): Promise<StageBackup> {
  const existing = fixture.restores[kind];
  if (existing) return existing;
  const plain = kind === 'plain' ? undefined : await prepareRestore(context, fixture, 'plain');
  if (plain) await restoreOnce(context, fixture, plain);
  context.log(`${describeSize(fixture)}: run registry-scripts once (${kind}), for the backup restore rolls back to`);
  await runCli(context, fixture, ['run', 'registry-scripts', '--config', fixture.restoreConfigs[kind]]);
  const run = (await readdir(path.join(storeOf(fixture, kind), 'runs'))).sort().at(0);
  if (!run) throw new Error('run registry-scripts left no run in the store');
  const stageBackup = { run, backup: await recordedBackup(fixture), kind };
  fixture.restores[kind] = stageBackup;
  if (fixture.referenceDump === undefined) {
    await restoreOnce(context, fixture, stageBackup);
    const dump = path.join(fixture.dir, `restore-reference${fixture.engine === 'postgresql' ? '.pgdump' : '.sql.gz'}`);
    await timeShell(referenceDumpScript(fixture, dump, false), { env: fixture.env });
    fixture.referenceDump = dump;
  }
  return stageBackup;
}

/** Restores a stage backup, as the measured runs do, to bring the database back to its state. */
async function restoreOnce(context: BenchContext, fixture: Fixture, stageBackup: StageBackup): Promise<void> {
  await recordBackupAgain(fixture, stageBackup.backup);
  await runCli(context, fixture, restoreArgs(fixture, stageBackup));
}

/** The subject's command line: `restore --stage registry-scripts --from-run <run> --config <file>`. */
function restoreArgs(fixture: Fixture, stageBackup: StageBackup): string[] {
  const config = fixture.restoreConfigs[stageBackup.kind];
  return ['restore', '--stage', 'registry-scripts', '--from-run', stageBackup.run, '--config', config];
}

/** The backup the ledger recorded for registry-scripts, which the restore finds through the ledger. */
async function recordedBackup(fixture: Fixture): Promise<LedgerBackup> {
  const session = await openSession(fixture.db.target);
  try {
    const reading = await readLedger(session);
    const entry = (reading.exists ? reading.entries : []).find(
      (candidate) => candidate.stage === 'registry-scripts' && candidate.backupName !== null,
    );
    if (!entry?.backupName || !entry.backupId || !entry.backupRunId || !entry.backupSha256) {
      throw new Error('run registry-scripts left no backup in the ledger');
    }
    return { name: entry.backupName, id: entry.backupId, runId: entry.backupRunId, sha256: entry.backupSha256 };
  } finally {
    await session.close();
  }
}

/**
 * Puts the stage's attempt back into the ledger, as it is after `run registry-scripts`. A restore brings back the
 * ledger of the backup's time, which does not record that backup yet, so without this every run after the first
 * would restore a backup of a run the ledger does not record (which also needs `--trust-unrecorded-run` and, on
 * MariaDB, a full gunzip pass).
 */
async function recordBackupAgain(fixture: Fixture, backup: LedgerBackup): Promise<void> {
  const session = await openSession(fixture.db.target);
  try {
    const id = await recordStageStarted(session, {
      stage: 'registry-scripts',
      runId: backup.runId,
      attempt: 1,
      backup,
    });
    await recordStageFinished(session, id, { state: 'succeeded' });
  } finally {
    await session.close();
  }
}

/**
 * Writes out what the previous run left dirty (PostgreSQL's CHECKPOINT, then the kernel's sync) so that no run pays
 * for its predecessor's writes. Without it the order of the runs decided the PostgreSQL ratio: `pg_restore --clean`
 * in autocommit drops the old tables at once, so their dirty pages are thrown away unwritten, while under
 * `--single-transaction` the old tables live until the commit and the checkpointer and the kernel write them out
 * during the restore (about 2 s of 15 at 1.05 GiB, measured back to back; 0.2 to 0.4 s once settled).
 */
async function settle(fixture: Fixture): Promise<void> {
  if (fixture.engine === 'postgresql') await runStatements(fixture.db.target, ['CHECKPOINT']);
  await exec('sync');
}

async function removeRunsExcept(store: string, keep: string): Promise<void> {
  const runs = await readdir(path.join(store, 'runs')).catch(() => []);
  for (const run of runs) if (run !== keep) await rm(path.join(store, 'runs', run), { recursive: true, force: true });
}

/** Peak RSS of subject and reference at both sizes: the goal is that the subject's does not grow with the data. */
function rssFigure(section: string, engine: BenchEngine, comparisons: ComparisonResult[]): Figure {
  const product = engine === 'postgresql' ? 'PostgreSQL' : 'MariaDB';
  const plain = comparisons.filter((c) => c.name.startsWith(product) && !c.name.includes('encrypted'));
  const [large, small] = plain;
  const describe = (c: ComparisonResult | undefined) =>
    c
      ? `${c.name.slice(product.length + 1)}: ${formatKiB(c.subject.peakRssKiB)} (reference ${formatKiB(c.reference.peakRssKiB)})`
      : '';
  const flat =
    large?.subject.peakRssKiB !== undefined && small?.subject.peakRssKiB !== undefined
      ? large.subject.peakRssKiB <= small.subject.peakRssKiB * 1.2 + 16 * 1024
      : undefined;
  return {
    section,
    name: `${product}: peak RSS of apim-migrate at two sizes`,
    value: [describe(small), describe(large)].filter(Boolean).join('; '),
    goal: 'flat (larger size within 1.2x + 16 MiB of the smaller)',
    ...(flat === undefined ? {} : { met: flat }),
  };
}

/** The CPU time of both sides of a comparison (user + system of the processes each waited for), medians. */
function cpuFigure(section: string, comparison: ComparisonResult): Figure {
  const describe = (result: ComparisonResult['subject']) => {
    if (result.medianCpuMs === undefined) return 'not measured';
    const cores = result.medianCpuMs / result.medianMs;
    return `${(result.medianCpuMs / 1000).toFixed(1)} s (${cores.toFixed(2)} cores over the run)`;
  };
  return {
    section,
    name: `${comparison.name}: CPU time, median`,
    value: `apim-migrate ${describe(comparison.subject)}; ${comparison.reference.label} ${describe(comparison.reference)}`,
  };
}

function backupNotes(context: BenchContext): string[] {
  const sizes = benchSizes(context.quick);
  return [
    'The subject is `node dist/cli/index.js backup --config <file>`, a whole CLI run: Node start, config and ' +
      "`deployment.toml` loading, the stage lock, the dump with row counts in the dump's snapshot (`pg_dump -Fc " +
      '-Z0`, or mysqldump) compressed by zstd on both cores, the move of the files into the local folder store with ' +
      "a sha256 pass for the store's index, and the verification (every stored file's sha256 is checked against " +
      'the manifest). The reference is the dump tool alone: `pg_dump -Fc > file` on PostgreSQL, `mysqldump ' +
      '--single-transaction db | gzip > file` on MariaDB (the binary the CLI picks), each piped through `age -r ' +
      '<recipient>` in the encrypted case, where the subject encrypts to an age recipient too (`backup.recipient`).',
    `Sizes (bench/data.ts scale units of about 20 MB on PostgreSQL): PostgreSQL ${sizes.postgresql.main} and ` +
      `${sizes.postgresql.small}, MariaDB ${sizes.mysql.main} and ${sizes.mysql.small}. Peak RSS is GNU time's ` +
      'maximum resident set of the largest single process of the run: for the subject that is node (about 115 MiB ' +
      'of it is Node and the bundle), for the reference the dump tool. It stays flat with the size: every stage of ' +
      'the pipeline streams with back-pressure. CPU time counts the processes each side waited for (node, the dump ' +
      "tool, zstd, gzip, age), not the database server's own work.",
    '**What limited the ratio, and what was done.** (1) Compression on one core. pg_dump compresses with zlib in ' +
      'its own process, and that was the whole cost of a backup: on the 1.05 GiB database, measured one after the ' +
      'other, `pg_dump -Fc` took 64.2 s (638 MiB) and `pg_dump -Fc -Z0` 11.7 s (1.8 GB uncompressed); behind ' +
      '`-Z0`, `zstd -T2 -1` took 10.7 s (554 MiB), `zstd -T2 -3` 15.0 s (576 MiB), `lz4 -1` 9.3 s (1.1 GB) and ' +
      '`gzip -1` 31.6 s, and `pg_dump -Fc -Z1` 25.3 s. On the uncompressed archive alone, two zstd threads took ' +
      '5.9 s at level 1 (580 MB), 5.5 s at level 2 with more CPU time, and 11.2 s at level 3 (604 MB). apim-migrate ' +
      "now has the dump tool write without compression and pipes it through zstd's command-line tool at level 1 " +
      'on every core (`pg-custom-zstd`, `sql-zstd`); Node 20 has no zstd of its own, and a WASM build would run on ' +
      'one thread. Where zstd is not installed it writes the earlier formats (`pg_dump -Fc`, and mysqldump through ' +
      'the parallel gzip). What limits a backup now is the dump tool and the database server producing the data ' +
      "(PostgreSQL's COPY writes bytea as hex text, twice its size), which the compressor keeps up with; the " +
      'encryption and the two sha256 passes share the cores with them. (2) The store. The dump used to be copied ' +
      'into the local folder store and hashed twice with 64 KiB reads (2.2 s and 2 x 1.3 s for 637 MiB); the ' +
      'finished files are now moved into the store (a rename; a copy only across filesystems), and every sha256 ' +
      "pass reads 1 MiB at a time (0.75 s). (3) Not a cause: the pipe through Node. With pg_dump's own compression, " +
      '`pg_dump -Fc -f file` and `pg_dump -Fc | node (count, sha256) > file` took the same time within the noise. ' +
      'The row counts of all 16 tables take 0.2 s at 1.05 GiB (a COUNT(*) per table, beside the dump). (4) ' +
      'MariaDB, `--hex-blob`: it doubled what must be compressed, so apim-migrate does not pass it; binary columns ' +
      'are written as escaped raw bytes and read back with `mysql --binary-mode` (the integration tests check every ' +
      'byte value and 4-byte UTF-8 text). (5) A fixed cost of about 0.5 s per CLI run (Node and the bundle, the ' +
      'config, the `--version` probes of the client tools, the lock), which dominates the quick-mode sizes. Half of ' +
      'the generated registry content is random bytes; real registry content (API definitions, WSDL, XML) ' +
      'compresses far better.',
  ];
}

function restoreNotes(): string[] {
  return [
    'The subject is `node dist/cli/index.js restore --stage registry-scripts --from-run <run>`: the backup that ' +
      '`run registry-scripts` took (once, in the set-up; a second one with a passphrase) is read where the local ' +
      "store keeps it, its manifest checked against the sha256 the ledger recorded and every file's sha256 against " +
      'the manifest, decrypted and decompressed (zstd), the archive checked (`pg_restore --list`, or the start of ' +
      'the SQL dump), then restored (PostgreSQL: `pg_restore --clean --if-exists --single-transaction` reading the ' +
      "archive on its stdin; MariaDB: drop and recreate the database, then `mysql`), and every table's rows counted " +
      'and compared with the manifest. The reference is `pg_restore --clean --if-exists --no-owner -d db file` or ' +
      "`gunzip -c file | mysql db` of the plain tool's own dump (`pg_dump -Fc`, `mysqldump | gzip`) of the state " +
      'the backups hold, taken in the set-up after the first backup was restored once. Both leave the database in ' +
      "the same state, so every run starts from the same data. Before each run the ledger gets the stage's attempt " +
      "with its backup again, as `run registry-scripts` left it: a restore brings back the ledger of the backup's " +
      'time, which does not record that backup yet. Every run starts after a CHECKPOINT and a sync, whichever side ' +
      'ran before: in autocommit `pg_restore --clean` drops the old tables at once and their dirty pages are thrown ' +
      'away unwritten, while in one transaction they live until the commit and are written out during the restore ' +
      '(about 2 s of 15 when run back to back).',
    '**What limited the ratio, and what was done.** (1) Decompression. `pg_restore` of a `pg_dump -Fc` file ' +
      'inflates every block with zlib in its own process, on the core that feeds the server; a zstd backup is an ' +
      'uncompressed archive inside a zstd frame, which zstd decompresses in a process of its own, several times ' +
      'faster than zlib, so pg_restore only parses and sends. On MariaDB zstd replaces gunzip the same way. (2) ' +
      'The checks before the database is touched. The backup is read in place with 1 MiB reads and hashed once ' +
      '(0.5 s per GiB, the speed of SHA-256 on this CPU); when the manifest is the one the ledger recorded, that ' +
      'read decompresses only the start of a MariaDB dump and, on PostgreSQL, decrypts only the start of an ' +
      "encrypted file (the key is proved by the age header's MAC, every byte by the sha256), where it used to " +
      'decrypt the whole file in JavaScript before the restore decrypted it again (1.9 s of 9.3 for a 0.4 GB ' +
      'database). (3) The passphrase. The age library derived the key with scrypt in JavaScript, for each of the ' +
      "two reads: about 3 s and over 600 MiB at work factor 18; Node's own scrypt now derives it once per restore. " +
      "(4) The payload. The library decrypted it with ChaCha20-Poly1305 in JavaScript, a core's worth of work " +
      'beside the server (a passphrase restore took 1.19x where a plaintext one took 0.91x); the library now only ' +
      "proves the header and gives the file key, and the 64 KiB chunks are decrypted with Node's native cipher " +
      '(age-stream.ts). ' +
      '**What limits it now**: the database server, which parses and writes the rows and builds the indices on one ' +
      'core whatever feeds it; the commit of the single transaction, which apim-migrate needs so that a failed ' +
      'restore leaves the database as it was; the sha256 pass (by design: no byte is restored before it is proved ' +
      "to be the backup's); the decryption, which shares the cores with the server; the row counts " +
      'after the restore (0.13 s on PostgreSQL at 1.05 GiB; a full index scan per table on InnoDB); and a fixed ' +
      'cost of about 0.3 s per CLI run (Node and the bundle), which weighs most at the smaller size. Neither side ' +
      'runs parallel jobs: `pg_restore -j` cannot be combined with `--single-transaction` and cannot read a pipe, ' +
      'and `mysql` reads one stream.',
  ];
}
