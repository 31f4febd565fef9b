/**
 * Bad input, end to end through the BUILT CLI and action: every case exits with code 2 and one message that names
 * the file (or setting, or input) and what to do, prints no stack trace, and changes nothing: not a byte of the
 * setup's folder (config, homes, kits, the local store), not a row of its database, no folder left in TMPDIR.
 *
 * The setup is a PostgreSQL database with a seeded 3.1.0 registry on which preflight has succeeded, so a bad input
 * that slipped through would go on to back up and change data. Every case changes some files, runs, and puts the
 * files back. The tests never build: run `npm run build` first.
 */
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { RegistryVersioningFlags } from '../../src/config/types.js';
import { makeIdentityMigrationConfig } from '../../src/demo/sandbox-files.js';
import { startFakeArtifactService, type FakeArtifactService } from '../helpers/fake-artifact-service.js';
import { digestTree, expectUnchanged, takeSnapshot, type Snapshot } from '../helpers/snapshots.js';
import {
  baseEnv,
  BUNDLES,
  createMigrationSetup,
  prepareServerStages,
  requireBundles,
  runNodeScript,
  type MigrationSetup,
  type ScriptRun,
} from '../helpers/migration-setup.js';
import { errorCommands, runMainStep, type RunnerJob } from '../helpers/runner.js';
import { createTempDirs, makeKitEntries, makeRegistryXml, writeZip } from '../helpers/wso2-fixtures.js';

const FLAGS: RegistryVersioningFlags = { properties: true, comments: false, tags: true, ratings: false };
const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;

const temp = createTempDirs('apim-migrate-bad-input-');
let setup: MigrationSetup;
let service: FakeArtifactService;
/** TMPDIR of every run: the CLI's work folders go there and must not stay. */
let tmpDir: string;
let baseline: Snapshot;

/** Files a case writes (absolute path to content), or removes (null). They are put back after the case. */
type FileChanges = Record<string, string | Buffer | null>;

interface BadInputCase {
  name: string;
  /** What the case is about, for docs/reliability.md. */
  area: string;
  files?: (setup: MigrationSetup) => FileChanges | Promise<FileChanges>;
  /** CLI arguments; default `run registry-scripts`. */
  argv?: string[];
  env?: Record<string, string | undefined>;
  /** Runs the action's main step with these inputs instead of the CLI. */
  action?: Record<string, string>;
  /** What the message must name: the file, the setting or the input. */
  names: string | RegExp | ((setup: MigrationSetup) => string);
  /** The words of the fix. */
  fix: RegExp;
}

function configWith(setup: MigrationSetup, changes: Record<string, unknown>): string {
  const config: Record<string, unknown> = { ...setup.configObject };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete config[key];
    else config[key] = value;
  }
  return stringify(config);
}

function tomlWith(setup: MigrationSetup, edit: (text: string) => string): Promise<FileChanges> {
  return readFile(setup.deploymentToml, 'utf8').then((text) => {
    const edited = edit(text);
    if (edited === text) throw new Error('the case does not change deployment.toml');
    return { [setup.deploymentToml]: edited };
  });
}

async function kitWith(
  setup: MigrationSetup,
  kind: 'identity' | 'apim',
  options: Omit<Parameters<typeof makeKitEntries>[0], 'kind'>,
): Promise<FileChanges> {
  const file = path.join(await temp.make(), 'kit.zip');
  await writeZip(file, makeKitEntries({ kind, ...options }));
  return { [kind === 'identity' ? setup.identityKit : setup.apimKit]: await readFile(file) };
}

function identityConfig(text: string): Promise<FileChanges> {
  return kitWith(setup, 'identity', { migrationConfigContent: text });
}

const VALID_IDENTITY_CONFIG = makeIdentityMigrationConfig({
  currentVersion: '5.9.0',
  migrateVersion: '5.11.0',
  keepRemovedMigrators: true,
});

const CASES: BadInputCase[] = [
  // apim-migration.yml
  {
    area: 'config',
    name: 'the config file named by --config does not exist',
    argv: ['run', 'registry-scripts', '--config', 'no-such-config.yml'],
    names: 'no-such-config.yml',
    fix: /check the path given with --config/,
  },
  {
    area: 'config',
    name: 'no apim-migration.yml in the folder',
    files: (s) => ({ [s.configFile]: null }),
    names: 'apim-migration.yml',
    fix: /--config|create/i,
  },
  {
    area: 'config',
    name: 'YAML syntax error',
    files: (s) => ({ [s.configFile]: 'apimHome: ./wso2am-4.2.0\noldApimHome: [unclosed\n' }),
    names: 'apim-migration.yml',
    fix: /fix it and run again/,
  },
  {
    area: 'config',
    name: 'a list instead of a mapping',
    files: (s) => ({ [s.configFile]: '- apimHome\n- oldApimHome\n' }),
    names: 'apim-migration.yml',
    fix: /mapping|keys/i,
  },
  {
    area: 'config',
    name: 'an empty file',
    files: (s) => ({ [s.configFile]: '' }),
    names: 'apim-migration.yml',
    fix: /apimHome/,
  },
  {
    area: 'config',
    name: 'an unknown key (a typo)',
    files: (s) => ({ [s.configFile]: `${configWith(s, {})}apimHom: ./x\n` }),
    names: 'apim-migration.yml',
    fix: /apimHom/,
  },
  {
    area: 'config',
    name: 'a required key missing (apimHome)',
    files: (s) => ({ [s.configFile]: configWith(s, { apimHome: undefined }) }),
    names: 'apim-migration.yml',
    fix: /apimHome/,
  },
  {
    area: 'config',
    name: 'a number given as text (server.timeoutMinutes)',
    files: (s) => ({ [s.configFile]: configWith(s, { server: { timeoutMinutes: 'ten' } }) }),
    names: 'apim-migration.yml',
    fix: /timeoutMinutes/,
  },
  {
    area: 'config',
    name: 'an unknown keyManager',
    files: (s) => ({ [s.configFile]: configWith(s, { keyManager: 'keycloak' }) }),
    names: 'apim-migration.yml',
    fix: /resident|is/,
  },
  {
    area: 'config',
    name: 'an unsupported identity.targetVersion',
    files: (s) => ({
      [s.configFile]: configWith(s, {
        identity: { migrationKit: './wso2is-migration-1.0.225.zip', targetVersion: '5.11.0' },
      }),
    }),
    names: 'apim-migration.yml',
    fix: /6\.0\.0/,
  },
  {
    area: 'config',
    name: 'keyManager is without isHealthUrl',
    files: (s) => ({ [s.configFile]: configWith(s, { keyManager: 'is', identity: undefined }) }),
    names: 'apim-migration.yml',
    fix: /isHealthUrl/,
  },
  {
    area: 'config',
    name: 'both backup.passphraseEnv and backup.recipient',
    files: (s) => ({
      [s.configFile]: configWith(s, {
        backup: {
          passphraseEnv: 'APIM_MIGRATE_BACKUP_PASSPHRASE',
          recipient: 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p',
        },
      }),
    }),
    names: 'apim-migration.yml',
    fix: /either backup.passphraseEnv or backup.recipient/,
  },
  {
    area: 'config',
    name: 'backup.recipient that is not an age key',
    files: (s) => ({
      [s.configFile]: configWith(s, { backup: { recipient: 'age1notakey', identityEnv: 'AGE_IDENTITY' } }),
    }),
    names: /backup.recipient/,
    fix: /age1/,
  },
  {
    area: 'config',
    name: 'the backup passphrase variable is not set',
    env: { APIM_MIGRATE_BACKUP_PASSPHRASE: undefined },
    names: 'APIM_MIGRATE_BACKUP_PASSPHRASE',
    fix: /set/i,
  },
  {
    area: 'config',
    name: 'backup.retentionDays out of range',
    files: (s) => ({ [s.configFile]: configWith(s, { backup: { passphraseEnv: 'X', retentionDays: 400 } }) }),
    names: /retentionDays/,
    fix: /90/,
  },
  {
    area: 'config',
    name: 'server.harmlessErrors holds an invalid regular expression',
    files: (s) => ({ [s.configFile]: configWith(s, { server: { harmlessErrors: ['(unclosed'] } }) }),
    names: /harmlessErrors/,
    fix: /regular expression/,
  },
  {
    area: 'config',
    name: 'store.dir is a file',
    files: (s) => ({ [s.configFile]: configWith(s, { store: { dir: './apim-migration.yml' } }) }),
    names: /store\.dir|apim-migration\.yml/,
    fix: /folder|directory/i,
  },
  // deployment.toml
  {
    area: 'deployment.toml',
    name: 'deployment.toml is missing',
    files: (s) => ({ [s.deploymentToml]: null }),
    names: 'deployment.toml',
    fix: /apimHome|databases/,
  },
  {
    area: 'deployment.toml',
    name: 'TOML syntax error',
    files: (s) => tomlWith(s, (text) => text.replace('[server]', '[server')),
    names: 'deployment.toml',
    fix: /fix the TOML syntax/,
  },
  {
    area: 'deployment.toml',
    name: 'no [database.shared_db]',
    files: (s) => tomlWith(s, (text) => text.replace('[database.shared_db]', '[database.other_db]')),
    names: 'deployment.toml',
    fix: /shared_db/,
  },
  {
    area: 'deployment.toml',
    name: 'an unsupported DBMS (Oracle)',
    files: (s) =>
      tomlWith(s, (text) =>
        text.replace(/url = "jdbc:postgresql:[^"]*"/g, 'url = "jdbc:oracle:thin:@db.example:1521/ORCL"'),
      ),
    names: 'deployment.toml',
    fix: /PostgreSQL|MySQL|MariaDB/,
  },
  {
    area: 'deployment.toml',
    name: 'a malformed JDBC URL',
    files: (s) => tomlWith(s, (text) => text.replace(/url = "jdbc:postgresql:[^"]*"/, 'url = "postgres://nohost"')),
    names: 'deployment.toml',
    fix: /jdbc:/,
  },
  {
    area: 'deployment.toml',
    name: 'a password variable that is not set',
    env: { SHARED_DB_PASSWORD: undefined },
    names: 'SHARED_DB_PASSWORD',
    fix: /set/i,
  },
  {
    area: 'deployment.toml',
    name: 'the same table twice',
    files: (s) => tomlWith(s, (text) => `${text}\n[server]\nhostname = "again"\n`),
    names: 'deployment.toml',
    fix: /fix the TOML syntax/,
  },
  // registry.xml
  {
    area: 'registry.xml',
    name: 'registry.xml is missing',
    files: (s) => ({ [s.registryXml]: null }),
    names: 'registry.xml',
    fix: /oldApimHome/,
  },
  {
    area: 'registry.xml',
    name: 'malformed XML',
    files: (s) => ({ [s.registryXml]: makeRegistryXml(FLAGS).replace('</wso2registry>', '') }),
    names: 'registry.xml',
    fix: /fix the file/,
  },
  {
    area: 'registry.xml',
    // Any text but `true` is off, as carbon-kernel reads it (a warning, no error); elements inside a flag are no text.
    name: 'a versioning flag that holds elements instead of text',
    files: (s) => ({ [s.registryXml]: makeRegistryXml({ ...FLAGS, tags: '<on/>' }) }),
    names: 'registry.xml',
    fix: /must hold the text true or false/,
  },
  {
    area: 'registry.xml',
    name: 'another XML file in its place',
    files: (s) => ({ [s.registryXml]: '<?xml version="1.0"?>\n<server><name>x</name></server>\n' }),
    names: 'registry.xml',
    fix: /wso2registry/,
  },
  // migration-config.yaml of the identity kit
  {
    area: 'migration-config.yaml',
    name: 'YAML syntax error in the kit',
    argv: ['run', 'identity'],
    files: () => identityConfig('migrationEnable: "true"\ncurrentVersion: [5.9.0\n'),
    names: 'migration-config.yaml',
    fix: /fix the file/,
  },
  {
    area: 'migration-config.yaml',
    name: 'no currentVersion to set',
    argv: ['run', 'identity'],
    files: () => identityConfig(VALID_IDENTITY_CONFIG.replace(/^currentVersion:.*$/m, '')),
    names: 'migration-config.yaml',
    fix: /currentVersion/,
  },
  {
    area: 'migration-config.yaml',
    name: 'not in the kit',
    argv: ['run', 'identity'],
    files: (s) => kitWith(s, 'identity', { migrationConfig: false }),
    names: /wso2is-migration-1\.0\.225\.zip/,
    fix: /migration-config\.yaml/,
  },
  {
    area: 'migration-config.yaml',
    // Client 1.0.225 has no 6.1.0 entry: it would stop at 6.0.0 and still print its success line.
    name: 'no versions[] entry for identity.targetVersion',
    argv: ['run', 'identity'],
    files: (s) => ({
      [s.configFile]: configWith(s, {
        identity: { ...(s.configObject['identity'] as Record<string, unknown>), targetVersion: '6.1.0' },
      }),
    }),
    names: /wso2is-migration-1\.0\.225\.zip: migration-resources\/migration-config\.yaml/,
    fix: /versions has no entry with version: "6\.1\.0".*Use a kit whose migration-config\.yaml has a "6\.1\.0" entry/s,
  },
  {
    area: 'java',
    name: 'JAVA_HOME names no JDK',
    argv: ['run', 'identity'],
    env: { JAVA_HOME: '/nonexistent/jdk' },
    names: 'JAVA_HOME is /nonexistent/jdk',
    fix: /set server\.javaHome in the config or JAVA_HOME in the environment to a JDK 11 or 17/,
  },
  {
    area: 'config',
    name: 'identity.uniqueIdUserStore without identity.userStoreManagersMigrated',
    argv: ['run', 'identity'],
    files: (s) => ({
      [s.configFile]: configWith(s, {
        identity: { ...(s.configObject['identity'] as Record<string, unknown>), uniqueIdUserStore: true },
      }),
    }),
    names: 'identity.userStoreManagersMigrated',
    fix: /WSO2 Support's guidelines/,
  },
  // kits
  {
    area: 'kit',
    name: 'zip slip: an entry with ..',
    argv: ['run', 'identity'],
    files: (s) =>
      kitWith(s, 'identity', {
        migrationConfigContent: VALID_IDENTITY_CONFIG,
        extraEntries: [{ path: '../../evil.sh', content: 'echo pwned' }],
      }),
    names: /wso2is-migration-1\.0\.225\.zip/,
    fix: /\.\.\/\.\.\/evil\.sh/,
  },
  {
    area: 'kit',
    name: 'zip slip: an absolute path',
    argv: ['run', 'apim'],
    files: (s) => kitWith(s, 'apim', { extraEntries: [{ path: '/tmp/apim-migrate-evil', content: 'x' }] }),
    names: /wso2am-migration-4\.2\.0\.67\.zip/,
    fix: /\/tmp\/apim-migrate-evil/,
  },
  {
    area: 'kit',
    name: 'no client jar in dropins/',
    argv: ['run', 'apim'],
    files: (s) => kitWith(s, 'apim', { jar: false }),
    names: /wso2am-migration-4\.2\.0\.67\.zip/,
    fix: /org\.wso2\.carbon\.apimgt\.migrate\.client/,
  },
  {
    area: 'kit',
    name: 'the API-M kit of another version (4.1.0)',
    argv: ['run', 'apim'],
    files: (s) => kitWith(s, 'apim', { version: '4.1.0.12', wrapper: 'wso2am-migration-4.2.0.67' }),
    names: /wso2am-migration-4\.2\.0\.67\.zip/,
    fix: /4\.2\.0/,
  },
  {
    area: 'kit',
    name: 'the identity kit given as the API-M kit',
    argv: ['run', 'apim'],
    files: (s) => kitWith(s, 'identity', {}).then((changes) => ({ [s.apimKit]: Object.values(changes)[0] ?? null })),
    names: /wso2am-migration-4\.2\.0\.67\.zip/,
    fix: /apimgt\.migrate\.client|API-M migration kit/,
  },
  {
    area: 'kit',
    name: 'not a zip archive',
    argv: ['run', 'identity'],
    files: (s) => ({ [s.identityKit]: 'this is not a zip\n' }),
    names: /wso2is-migration-1\.0\.225\.zip/,
    fix: /as downloaded/,
  },
  {
    area: 'kit',
    name: 'the kit file is missing',
    argv: ['run', 'identity'],
    files: (s) => ({ [s.identityKit]: null }),
    names: /wso2is-migration-1\.0\.225\.zip/,
    fix: /identity\.migrationKit/,
  },
  {
    area: 'kit',
    name: 'an empty zip',
    argv: ['run', 'apim-validate'],
    files: async (s) => {
      const file = path.join(await temp.make(), 'empty.zip');
      await writeZip(file, []);
      return { [s.apimKit]: await readFile(file) };
    },
    names: /wso2am-migration-4\.2\.0\.67\.zip/,
    fix: /is empty/,
  },
  // paths and versions
  {
    area: 'path',
    name: 'apimHome does not exist',
    files: (s) => ({ [s.configFile]: configWith(s, { apimHome: './no-such-home' }) }),
    names: /no-such-home/,
    fix: /apimHome/,
  },
  {
    area: 'path',
    name: 'oldApimHome does not exist',
    files: (s) => ({ [s.configFile]: configWith(s, { oldApimHome: './no-such-old-home' }) }),
    names: /no-such-old-home/,
    fix: /oldApimHome/,
  },
  {
    area: 'version',
    name: 'apimHome is an API-M 4.1.0 home',
    argv: ['run', 'identity'],
    files: (s) => ({ [path.join(s.apimHome, 'bin', 'version.txt')]: 'WSO2 API Manager v4.1.0\n' }),
    names: /version\.txt|wso2am-4\.2\.0/,
    fix: /4\.2\.0/,
  },
  {
    area: 'version',
    name: 'oldApimHome is not API-M 3.1.0',
    files: (s) => ({ [path.join(s.oldApimHome, 'bin', 'version.txt')]: 'WSO2 API Manager v3.2.0\n' }),
    names: /version\.txt|wso2am-3\.1\.0/,
    fix: /3\.1\.0/,
  },
  {
    area: 'path',
    name: 'apimHome has no bin/api-manager.sh',
    argv: ['run', 'apim'],
    files: (s) => ({ [path.join(s.apimHome, 'bin', 'api-manager.sh')]: null }),
    names: /api-manager\.sh/,
    fix: /apimHome/,
  },
  // command line and environment
  {
    area: 'command line',
    name: 'an unknown stage',
    argv: ['run', 'registry-script'],
    names: /registry-script/,
    fix: /the stages are/,
  },
  {
    area: 'command line',
    name: 'a run id that is a path',
    argv: ['restore', '--stage', 'registry-scripts', '--from-run', '../../etc'],
    names: /--from-run/,
    fix: /run id/,
  },
  {
    area: 'command line',
    name: 'APIM_MIGRATE_LOCK_WAIT_SECONDS is not a number',
    env: { APIM_MIGRATE_LOCK_WAIT_SECONDS: 'soon' },
    names: 'APIM_MIGRATE_LOCK_WAIT_SECONDS',
    fix: /number of seconds/,
  },
  // action inputs
  {
    area: 'action input',
    name: 'dry-run is not a boolean',
    action: { stage: 'registry-scripts', 'dry-run': 'yes please' },
    names: /dry-run/,
    fix: /true or false/,
  },
  {
    area: 'action input',
    name: 'no stage',
    action: { stage: '' },
    names: /stage/,
    fix: /preflight/,
  },
  {
    area: 'action input',
    name: 'an unknown stage',
    action: { stage: 'everything' },
    names: /everything/,
    fix: /preflight/,
  },
  {
    area: 'action input',
    name: 'restore without restore-stage',
    action: { stage: 'restore' },
    names: /restore-stage/,
    fix: /restore-stage/,
  },
  {
    area: 'action input',
    name: 'the config input names a missing file',
    action: { stage: 'registry-scripts', config: 'config/missing.yml' },
    names: /missing\.yml/,
    fix: /config/,
  },
];

beforeAll(async () => {
  requireBundles('cli', 'main');
  service = await startFakeArtifactService();
  tmpDir = await temp.make();
  setup = await createMigrationSetup({ engine: 'postgresql', flags: FLAGS, config: { server: { timeoutMinutes: 1 } } });
  await prepareServerStages(setup, { seed: 5, tenants: 1, behaviour: { slowMs: 5 } });
  const preflight = await cli(['run', 'preflight']);
  expect(preflight.code, preflight.stdout + preflight.stderr).toBe(0);
  baseline = await takeSnapshot(setup, tmpDir);
}, 180_000);

afterAll(async () => {
  await setup?.cleanup();
  await service?.close();
  await temp.cleanup();
});

function cli(argv: readonly string[], env: Record<string, string | undefined> = {}): Promise<ScriptRun> {
  return runNodeScript(BUNDLES.cli, argv, {
    cwd: setup.dir,
    env: baseEnv({ ...setup.env, TMPDIR: tmpDir, ...env }),
  });
}

/** Applies the changes and returns how to put every file back. */
async function applyChanges(changes: FileChanges): Promise<() => Promise<void>> {
  const originals = new Map<string, { content: Buffer; mode: number } | null>();
  for (const [file, content] of Object.entries(changes)) {
    const original = await readFile(file).catch(() => null);
    originals.set(file, original && { content: original, mode: (await stat(file)).mode & 0o7777 });
    if (content === null) await rm(file, { force: true });
    else await writeFile(file, content);
  }
  return async () => {
    for (const [file, original] of originals) {
      if (original === null) await rm(file, { force: true });
      else {
        await writeFile(file, original.content);
        await chmod(file, original.mode);
      }
    }
  };
}

describe('bad input: exit code 2, one message naming the file and the fix, nothing changed', () => {
  it('has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES.map((entry) => [`${entry.area}: ${entry.name}`, entry] as const))('%s', async (_, entry) => {
    const restore = await applyChanges((await entry.files?.(setup)) ?? {});
    try {
      const before = await takeSnapshot(setup, tmpDir);
      let message: string;
      if (entry.action) {
        const job: RunnerJob = { setup, service, runId: '51000000001', temp };
        const step = await runMainStep(job, entry.action, { runnerTemp: tmpDir });
        const run = step.run;
        if (process.env['DEBUG_BAD_INPUT'] && run.code !== 2)
          console.log(`CASE ${entry.name} exit ${run.code}\n${run.stdout.slice(-1500)}${run.stderr}`);
        expect(run.code, run.stdout + run.stderr).toBe(2);
        const errors = errorCommands(run.stdout);
        expect(errors).toHaveLength(1);
        message = errors[0] ?? '';
        expect(run.stdout).not.toMatch(STACK_LINE);
        expect(service.artifacts().length).toBe(0);
      } else {
        const run = await cli(entry.argv ?? ['run', 'registry-scripts'], entry.env);
        if (process.env['DEBUG_BAD_INPUT'] && run.code !== 2)
          console.log(`CASE ${entry.name} exit ${run.code}\n${run.stdout.slice(-1500)}${run.stderr}`);
        expect(run.code, run.stdout + run.stderr).toBe(2);
        expect(run.stdout).toBe('');
        message = run.stderr.trimEnd();
        expect(message.startsWith('apim-migrate: '), message).toBe(true);
        expect(message.split('apim-migrate: ')).toHaveLength(2);
      }
      expect(message).not.toMatch(STACK_LINE);
      if (process.env['DEBUG_BAD_INPUT']) console.log(`CASE ${entry.name}\n  ${message}`);
      const names = typeof entry.names === 'function' ? entry.names(setup) : entry.names;
      if (typeof names === 'string') expect(message).toContain(names);
      else expect(message).toMatch(names);
      expect(message).toMatch(entry.fix);
      expectUnchanged(before, await takeSnapshot(setup, tmpDir));
    } finally {
      await restore();
    }
    // And the setup is back as it was, for the next case.
    expectUnchanged(baseline, await takeSnapshot(setup, tmpDir));
  });

  it('the tree digest sees a change', async () => {
    const before = await digestTree(setup.dir);
    const restore = await applyChanges({ [path.join(setup.dir, 'probe.txt')]: 'x' });
    try {
      expect(await digestTree(setup.dir)).not.toEqual(before);
    } finally {
      await restore();
    }
  });
});
