/**
 * Secrets: every stage and command of the BUILT CLI runs with distinctive database passwords and a backup
 * passphrase, and a server that logs a password; the secrets must appear nowhere: not in any output, not in any
 * file of the store (reports, logs artifacts, backups), not in the work folders, and not on the command line of
 * any process on the machine while the commands run (the process list is read every few milliseconds).
 *
 * The action's own outputs (step summary, outputs, the github-token) are checked by the runner scenarios
 * (test/e2e/runner-scenarios.test.ts) for every job they run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, createFaultCase, NORMAL_SERVER, type FaultCase } from '../helpers/fault-case.js';
import { createMigratedSchema, PASSWORD_ENV, requireBundles, type ScriptRun } from '../helpers/migration-setup.js';
import { writeStandInConf } from '../helpers/stand-in.js';
import { createTempDirs } from '../helpers/wso2-fixtures.js';

const temp = createTempDirs('apim-migrate-secrets-');

afterAll(async () => {
  await temp.cleanup();
});

/** Reads every process's command line, again and again, and keeps those that hold a secret. */
class ProcessWatcher {
  readonly leaks = new Set<string>();
  /** Command lines of the client tools seen: proof that the watcher looked while they ran. */
  readonly tools = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly secrets: readonly string[]) {
    this.timer = setInterval(() => this.scan(), 5);
  }

  private scan(): void {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let args: string;
      try {
        args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue;
      }
      if (this.secrets.some((secret) => args.includes(secret))) this.leaks.add(args);
      if (/\b(pg_dump|pg_restore|psql|mysqldump|mariadb-dump|mysql|mariadb|age)\b/.test(args)) this.tools.add(args);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

describe.each([
  ['MariaDB', 'mariadb'],
  ['PostgreSQL', 'postgresql'],
] as const)('secrets on %s', (_, engine) => {
  let made: FaultCase;
  let secrets: string[];
  const runs: Array<{ argv: string[]; run: ScriptRun }> = [];
  let watcher: ProcessWatcher;

  beforeAll(async () => {
    requireBundles('cli');
    made = await createFaultCase(engine, temp);
    secrets = made.setup.secrets;
    // The server logs the shared_db password, as a real one may in a datasource error.
    await writeStandInConf(made.setup.apimHome, { ...NORMAL_SERVER, printEnv: PASSWORD_ENV.shared_db });
    watcher = new ProcessWatcher(secrets);
    const commands: string[][] = [
      ['plan'],
      ['plan', '--json'],
      ['run', 'preflight'],
      ['run', 'registry-scripts'],
      ['run', 'identity'],
      ['run', 'apim-validate'],
      ['run', 'apim'],
      ['run', 'verify'],
      ['status'],
      ['backup', '--label', 'secrets'],
      ['restore', '--stage', 'apim'],
    ];
    try {
      for (const argv of commands) {
        const run = await cli(made, argv);
        runs.push({ argv, run });
        expect(run.code, `${argv.join(' ')}\n${run.stdout}${run.stderr}`).toBe(0);
        if (argv[1] === 'apim') await createMigratedSchema(made.setup);
      }
      // A wrong password: the error must not print the password that was tried either.
      const wrong = `Wr0ng-Secret-${engine}-${process.pid}`;
      secrets.push(wrong);
      const refused = await cli(made, ['run', 'verify', '--debug'], {
        [PASSWORD_ENV.apim_db]: wrong,
        [PASSWORD_ENV.shared_db]: wrong,
      });
      runs.push({ argv: ['run', 'verify', '--debug', '(wrong password)'], run: refused });
    } finally {
      watcher.stop();
    }
  }, 300_000);

  afterAll(async () => {
    await made?.setup.cleanup();
  });

  it('the secrets are distinctive and the commands used them', () => {
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const secret of secrets) expect(secret.length).toBeGreaterThanOrEqual(12);
    // The server did log the password: the masking below had something to hide.
    expect(runs.length).toBe(12);
  });

  it('appear in no output', () => {
    for (const { argv, run } of runs) {
      for (const secret of secrets) {
        expect(run.stdout, argv.join(' ')).not.toContain(secret);
        expect(run.stderr, argv.join(' ')).not.toContain(secret);
      }
    }
  });

  it('appear in no file of the store (reports, logs artifacts, backups) and no work folder', async () => {
    const files = [...(await filesUnder(made.setup.storeDir)), ...(await filesUnder(made.tmpDir))];
    expect(files.some((file) => file.endsWith('server-console.log'))).toBe(true);
    expect(files.some((file) => file.endsWith('wso2carbon.log'))).toBe(true);
    for (const file of files) {
      const bytes = await readFile(file);
      for (const secret of secrets) expect(bytes.includes(secret), file).toBe(false);
    }
    // The server's own log in the API-M home does hold it: the logs artifact holds a masked copy.
    const homeLog = await readFile(path.join(made.setup.apimHome, 'repository', 'logs', 'wso2carbon.log'), 'utf8');
    expect(homeLog).toContain(made.setup.password);
    const logs = files.filter((file) => file.endsWith('wso2carbon.log'));
    for (const file of logs) expect(await readFile(file, 'utf8')).toContain('password=***');
    // And every run removed its work folder.
    expect(await readdir(made.tmpDir)).toEqual([]);
  });

  it('appear on no command line of any process while the commands ran', () => {
    expect(watcher.tools.size, 'the watcher saw the client tools run').toBeGreaterThan(0);
    expect([...watcher.leaks]).toEqual([]);
  });
});
