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
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, createFaultCase, NORMAL_SERVER, type FaultCase } from '../helpers/fault-case.js';
import {
  createMigratedSchema,
  createMigrationSetup,
  ledgerStates,
  PASSPHRASE_ENV,
  PASSWORD_ENV,
  prepareServerStages,
  requireBundles,
  rewriteConfig,
  runCliIn,
  type MigrationSetup,
  type ScriptRun,
} from '../helpers/migration-setup.js';
import { expectUnchanged, takeSnapshot } from '../helpers/snapshots.js';
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

/**
 * The secrets the config leads to beyond the database passwords, in-process through the CLI's code (runCliIn): a
 * password parameter in a JDBC URL, secret-like keys of deployment.toml (`client_secret`, a quoted `"auth_token"`,
 * `key_password`), and a server that logs the URL's password. plan's diffs, the logs artifact (with
 * deployment.toml.orig, the copy the apim stage keeps) and the output hold none of them; a short backup passphrase
 * is refused for a new backup and changes nothing.
 */
describe('secrets beyond the database passwords', () => {
  let setup: MigrationSetup;
  let runnerTemp: string;
  const urlSecret = `Url-Secret-${process.pid}-7c1d`;
  const clientSecret = `Client-Secret-${process.pid}-e20a`;
  const authToken = `Auth-Token-${process.pid}-4b9f`;
  const keyPassword = `Key-Password-${process.pid}-03aa`;
  const extra = [urlSecret, clientSecret, authToken, keyPassword];
  const run = (argv: string[], env: Record<string, string> = {}) =>
    runCliIn(setup, argv, { env: { RUNNER_TEMP: runnerTemp, ...env }, runIdPrefix: 'secrets-extra' });

  beforeAll(async () => {
    setup = await createMigrationSetup({ engine: 'postgresql', flags: { tags: true } });
    await prepareServerStages(setup, { seed: 13, tenants: 1, behaviour: { printEnv: 'URL_SECRET' } });
    runnerTemp = await temp.make();
    // The server gets URL_SECRET to log it (server.env).
    await rewriteConfig(setup, { server: { env: ['URL_SECRET'] } });
    // The URLs carry a password parameter; the local PostgreSQL trusts postgres, so it logs in either way.
    const toml = await readFile(setup.deploymentToml, 'utf8');
    const url = /^url = "(jdbc:postgresql:[^"?]+)"$/m.exec(toml)?.[1];
    expect(url).toBeDefined();
    const withUrlPassword = toml.replaceAll(`url = "${url}"`, `url = "${url}?password=${urlSecret}"`);
    expect(withUrlPassword).not.toBe(toml);
    await writeFile(
      setup.deploymentToml,
      `${withUrlPassword}\n[keystore.tls]\nkey_password = "${keyPassword}"\n\n[apim.key_manager.configuration]\nclient_secret = "${clientSecret}"\n"auth_token" = "${authToken}"\n`,
    );
  }, 120_000);

  afterAll(async () => {
    await setup?.cleanup();
  });

  function expectNone(text: string, where: string): void {
    for (const secret of [...setup.secrets, ...extra])
      expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
  }

  it('plan: the diff of the URL line masks its password parameter', async () => {
    const plan = await run(['plan']);
    expect(plan.code, plan.output).toBe(0);
    expectNone(plan.output, 'the plan');
    expect(plan.output).toMatch(/^\s+-url = "jdbc:postgresql:.*\?password=\*\*\*"$/m);
    expect(plan.output).toMatch(/^\s+\+url = "jdbc:postgresql:.*\?password=\*\*\*&preparedStatementCacheQueries=0"$/m);
  });

  it('a backup passphrase shorter than 16 characters is refused for a new backup, and nothing changes', async () => {
    const before = await takeSnapshot(setup, runnerTemp);
    const refused = await run(['run', 'registry-scripts'], { [PASSPHRASE_ENV]: 'fifteen-chars-x' });
    expect(refused.code, refused.output).toBe(2);
    expect(refused.output).toContain(
      `backup.passphraseEnv: the passphrase in ${PASSPHRASE_ENV} is shorter than 16 characters`,
    );
    expect(refused.output).not.toContain('fifteen-chars-x');
    expectUnchanged(before, await takeSnapshot(setup, runnerTemp));
  });

  it('the stages, their logs artifact and deployment.toml.orig hold none of them', { timeout: 240_000 }, async () => {
    const outputs: string[] = [];
    for (const stage of ['registry-scripts', 'identity', 'apim']) {
      const result = await run(['run', stage], { URL_SECRET: urlSecret });
      outputs.push(result.output);
      expect(result.code, result.output).toBe(0);
    }
    expect(await ledgerStates(setup)).toEqual(['registry-scripts:succeeded', 'identity:succeeded', 'apim:succeeded']);
    for (const output of outputs) expectNone(output, 'the output');

    const stored = await filesUnder(setup.storeDir);
    const orig = stored.find(
      (file) => file.includes('apim-migrate-apim-logs') && file.endsWith('deployment.toml.orig'),
    );
    expect(orig, stored.join('\n')).toBeDefined();
    const origText = await readFile(orig ?? '', 'utf8');
    expect(origText).toContain('?password=***"');
    expect(origText).toContain('key_password = "***"');
    expect(origText).toContain('client_secret = "***"');
    expect(origText).toContain('"auth_token" = "***"');
    // The server logged the URL's password; the logs artifact has it masked.
    const carbonLog = stored.find((file) => file.includes('apim-migrate-apim-logs') && file.endsWith('wso2carbon.log'));
    expect(await readFile(carbonLog ?? '', 'utf8')).toContain('password=***');
    for (const file of [...stored, ...(await filesUnder(runnerTemp))]) {
      const bytes = await readFile(file);
      for (const secret of [...setup.secrets, ...extra])
        expect(bytes.includes(secret), `${secret} in ${file}`).toBe(false);
    }
  });
});
