/**
 * Which backups a restore trusts: the manifest authentication (an HMAC of the passphrase, an Ed25519 signature), the
 * manifest schema's rules for home files, and the origin of a GitHub run.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  authenticateManifest,
  ManifestAuthenticationError,
  parseSigningKey,
  parseSigningPublicKey,
  publicKeyText,
  SigningKeyError,
  verifyManifestAuthentication,
} from '../../src/backup/authentication.js';
import {
  backupManifestSchema,
  serializeManifest,
  storedFilesOf,
  type BackupManifest,
  type BackupManifestHomeFile,
} from '../../src/backup/manifest.js';
import { InputError } from '../../src/core/errors.js';
import { backupSigningKey, expectedBackupEncryption } from '../../src/stages/backup-keys.js';
import { originProblems, trustedWorkflows } from '../../src/stages/backup-trust.js';
import { makeResolvedConfig } from '../helpers/config-fixtures.js';

const PASSPHRASE = 'a long enough backup passphrase';

function manifest(): BackupManifest {
  return {
    format: 'apim-migrate-backup/1',
    stage: 'registry-scripts',
    artifact: 'apim-migrate-registry-scripts-backup-a1',
    runId: '20261203T190000Z',
    attempt: 1,
    createdAt: '2026-12-03T19:00:00.000Z',
    completedAt: '2026-12-03T19:00:05.125Z',
    toolVersion: '0.1.0',
    encryption: { mode: 'passphrase' },
    databases: [
      {
        names: ['apim_db', 'shared_db'],
        engine: 'postgresql',
        host: '127.0.0.1',
        port: 5432,
        database: 'wso2am',
        server: { product: 'PostgreSQL', version: '15.8' },
        dumpTool: { name: 'pg_dump', version: '15.8' },
        format: 'pg-custom',
        encrypted: true,
        file: 'apim_db.pgdump.age',
        bytes: 1234,
        sha256: 'a'.repeat(64),
        rowCounts: { 'public.am_api': 12, 'public.reg_resource': 300 },
        rowCountSnapshot: 'dump-snapshot',
        durationMs: 812.5,
      },
    ],
  };
}

/** The manifest as the store holds it, parsed back as a restore reads it. */
function stored(value: BackupManifest): { text: string; parsed: BackupManifest } {
  const text = serializeManifest(value);
  return { text, parsed: backupManifestSchema.parse(JSON.parse(text)) };
}

function ed25519Pem(): { privatePem: string; publicBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

describe('manifest authentication', () => {
  it('an HMAC of the passphrase proves a manifest, and any change to it, or another passphrase, fails', async () => {
    const signed = stored(await authenticateManifest(manifest(), { passphrase: PASSPHRASE }));
    expect(signed.parsed.authentication?.passphraseMac?.mac).toMatch(/^[0-9a-f]{64}$/);
    expect(await verifyManifestAuthentication(signed.text, signed.parsed, { passphrase: PASSPHRASE })).toEqual([
      'passphrase',
    ]);

    await expect(
      verifyManifestAuthentication(signed.text, signed.parsed, { passphrase: 'another passphrase of length' }),
    ).rejects.toThrow(/HMAC does not match the backup passphrase/);

    // One row count changed: the text no longer is the one the HMAC covers.
    const altered = signed.text.replace('"public.am_api": 12', '"public.am_api": 13');
    expect(altered).not.toBe(signed.text);
    await expect(
      verifyManifestAuthentication(altered, backupManifestSchema.parse(JSON.parse(altered)), {
        passphrase: PASSPHRASE,
      }),
    ).rejects.toBeInstanceOf(ManifestAuthenticationError);
  });

  it('an Ed25519 signature proves a manifest to the holder of the public key, and no other key', async () => {
    const keys = ed25519Pem();
    const signingKey = parseSigningKey(keys.privatePem, 'APIM_MIGRATE_SIGNING_KEY');
    const signed = stored(
      await authenticateManifest({ ...manifest(), encryption: { mode: 'recipient' } }, { signingKey }),
    );
    expect(signed.parsed.authentication?.passphraseMac).toBeUndefined();
    const signingPublicKey = parseSigningPublicKey(keys.publicBase64);
    expect(await verifyManifestAuthentication(signed.text, signed.parsed, { signingPublicKey })).toEqual(['signature']);

    const stranger = parseSigningPublicKey(ed25519Pem().publicBase64);
    await expect(
      verifyManifestAuthentication(signed.text, signed.parsed, { signingPublicKey: stranger }),
    ).rejects.toThrow(/signed with another key than backup.signingPublicKey/);

    // A signature copied from a genuine manifest onto another one does not verify.
    const other = stored({ ...manifest(), encryption: { mode: 'recipient' }, runId: '20261203T200000Z' });
    const grafted = serializeManifest({ ...other.parsed, authentication: signed.parsed.authentication });
    await expect(
      verifyManifestAuthentication(grafted, backupManifestSchema.parse(JSON.parse(grafted)), { signingPublicKey }),
    ).rejects.toThrow(/signature does not verify/);
  });

  it('a manifest without authentication, or with one the config cannot check, proves nothing', async () => {
    const plain = stored(manifest());
    await expect(verifyManifestAuthentication(plain.text, plain.parsed, { passphrase: PASSPHRASE })).rejects.toThrow(
      /carries no authentication/,
    );
    const signed = stored(
      await authenticateManifest(manifest(), {
        signingKey: parseSigningKey(ed25519Pem().privatePem, 'APIM_MIGRATE_SIGNING_KEY'),
      }),
    );
    await expect(verifyManifestAuthentication(signed.text, signed.parsed, {})).rejects.toThrow(
      /an Ed25519 signature, which the config cannot check/,
    );
  });

  it('accepts only its own scrypt cost, so a manifest cannot make the restore spend unbounded memory', async () => {
    const signed = await authenticateManifest(manifest(), { passphrase: PASSPHRASE });
    const mac = signed.authentication?.passphraseMac;
    if (!mac) throw new Error('no HMAC');
    const costly = { ...signed, authentication: { passphraseMac: { ...mac, n: 1_048_576 } } };
    expect(backupManifestSchema.safeParse(JSON.parse(JSON.stringify(costly))).success).toBe(false);
  });

  it('reads keys as openssl writes them and refuses other kinds, never quoting the key', () => {
    const keys = ed25519Pem();
    const pem = `-----BEGIN PUBLIC KEY-----\n${keys.publicBase64}\n-----END PUBLIC KEY-----\n`;
    expect(publicKeyText(parseSigningPublicKey(pem))).toBe(keys.publicBase64);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsaPem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => parseSigningKey(rsaPem, 'KEY')).toThrow(/rsa key; apim-migrate signs with Ed25519/);
    expect(() => parseSigningKey('not a key at all secret-ish', 'KEY')).toThrow(SigningKeyError);
    expect(() => parseSigningKey('not a key at all secret-ish', 'KEY')).not.toThrow(/secret-ish/);
    expect(() => parseSigningPublicKey('AAAA')).toThrow(/not a public key/);
  });

  it('the signing key must be the pair of backup.signingPublicKey, and set when named', () => {
    const keys = ed25519Pem();
    const config = makeResolvedConfig({
      backup: {
        passphraseEnv: 'PASS',
        retentionDays: 30,
        allowPlaintextBackups: false,
        signingKeyEnv: 'SIGNING_KEY',
        signingPublicKey: ed25519Pem().publicBase64,
      },
    });
    expect(() => backupSigningKey(config, { SIGNING_KEY: keys.privatePem })).toThrow(/is not the pair of/);
    expect(() => backupSigningKey(config, {})).toThrow(InputError);
    const matching = { ...config, backup: { ...config.backup, signingPublicKey: keys.publicBase64 } };
    expect(backupSigningKey(matching, { SIGNING_KEY: keys.privatePem })?.asymmetricKeyType).toBe('ed25519');
  });

  it("a backup must carry the config's encryption", () => {
    const base = makeResolvedConfig();
    expect(expectedBackupEncryption(base)).toEqual({ mode: 'passphrase', allowPlaintext: false });
    const recipient = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
    const toRecipient = makeResolvedConfig({
      backup: { recipient, identityEnv: 'ID', retentionDays: 30, allowPlaintextBackups: true },
    });
    expect(expectedBackupEncryption(toRecipient)).toEqual({ mode: 'recipient', recipient, allowPlaintext: true });
  });
});

describe('the manifest of a backup of API-M home files', () => {
  const solr: BackupManifestHomeFile = {
    path: 'solr',
    kind: 'folder',
    present: true,
    file: 'home-1-solr.tar.gz.age',
    bytes: 2048,
    sha256: 'b'.repeat(64),
    encrypted: true,
    entries: 12,
    contentBytes: 90_000,
  };
  const toml: BackupManifestHomeFile = {
    path: 'repository/conf/deployment.toml',
    kind: 'file',
    present: true,
    file: 'home-2-deployment.toml.age',
    bytes: 700,
    sha256: 'c'.repeat(64),
    encrypted: true,
    contentBytes: 512,
  };
  const home = (homeFiles: unknown[]): unknown => ({ ...manifest(), stage: 'startup', databases: [], homeFiles });
  const issues = (value: unknown): string[] => {
    const result = backupManifestSchema.safeParse(value);
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('holds home files instead of databases, and lists their stored files after the dumps', () => {
    const absent = { path: 'solr', kind: 'folder', present: false, encrypted: true };
    expect(issues(home([solr, toml]))).toEqual([]);
    expect(issues(home([absent, toml]))).toEqual([]);
    const parsed = backupManifestSchema.parse(home([absent, toml]));
    expect(storedFilesOf(parsed)).toEqual([
      { file: toml.file, bytes: toml.bytes, sha256: toml.sha256, encrypted: true },
    ]);
    const both = backupManifestSchema.parse({ ...manifest(), homeFiles: [solr] });
    expect(storedFilesOf(both).map((entry) => entry.file)).toEqual(['apim_db.pgdump.age', solr.file]);
    // A database backup is what it always was.
    expect(issues(manifest())).toEqual([]);
    expect(issues({ ...manifest(), databases: [] })).toEqual([
      'databases: a backup holds at least one database or home file',
    ]);
    expect(issues(home([]))).toHaveLength(1);
  });

  it('accepts only relative paths inside the home', () => {
    for (const path of [
      '../solr',
      '/solr',
      'solr/../../etc',
      './solr',
      'solr//data',
      'solr/',
      '-rf',
      'a b',
      'sol\\r',
      '',
    ]) {
      expect(issues(home([{ ...solr, path }])), path).not.toEqual([]);
    }
    for (const path of ['solr', '.solr-old', 'repository/conf/deployment.toml', 'a_b/c-d.e']) {
      expect(issues(home([{ ...solr, path }])), path).toEqual([]);
    }
  });

  it('has a stored file exactly for a present item, and entries for a folder only', () => {
    const { sha256: _sha, ...noDigest } = solr;
    expect(issues(home([noDigest]))).toEqual(['homeFiles.0.sha256: is required for a present folder']);
    const { entries: _entries, ...noEntries } = solr;
    expect(issues(home([noEntries]))).toEqual(['homeFiles.0.entries: is required for a present folder']);
    expect(issues(home([{ ...toml, entries: 1 }]))).toEqual(['homeFiles.0.entries: is not allowed for a file']);
    expect(issues(home([{ ...solr, present: false }]))).toContain(
      'homeFiles.0.file: is not allowed for an absent item',
    );
    expect(issues(home([{ ...solr, file: '../solr.tar.gz' }]))).not.toEqual([]);
  });

  it('lists each path and stored file once, and no item inside another', () => {
    expect(issues(home([solr, { ...toml, path: 'solr' }]))).toEqual([
      'homeFiles: solr is listed twice, or inside another item',
    ]);
    expect(issues(home([solr, { ...toml, path: 'solr/conf/schema.xml' }]))).toEqual([
      'homeFiles: solr/conf/schema.xml is listed twice, or inside another item',
    ]);
    expect(issues(home([solr, { ...toml, file: solr.file }]))).toEqual([
      `homeFiles: file ${solr.file} is listed twice`,
    ]);
    expect(issues(home([{ ...toml, file: 'manifest.json' }]))).toEqual([
      'homeFiles: file manifest.json is listed twice',
    ]);
    expect(issues({ ...manifest(), homeFiles: [{ ...solr, file: 'apim_db.pgdump.age' }] })).toEqual([
      'homeFiles: file apim_db.pgdump.age is listed twice',
    ]);
  });
});

describe('the origin of a GitHub run', () => {
  const trusted = ['.github/workflows/migrate.yml', '.github/workflows/rehearsal.yml'];
  const run = {
    repository: 'acme/apim',
    headRepository: 'acme/apim',
    event: 'workflow_dispatch',
    workflowPath: '.github/workflows/migrate.yml',
    url: 'https://github.com/acme/apim/actions/runs/1',
  };

  it('a run of this repository, of a trusted workflow, started by hand or a push, is trusted', () => {
    expect(originProblems(run, 'acme/apim', trusted)).toEqual([]);
    expect(originProblems({ ...run, event: 'push', repository: 'Acme/APIM' }, 'acme/apim', trusted)).toEqual([]);
  });

  it('a pull request, a fork, another repository or an untrusted workflow is not', () => {
    expect(originProblems({ ...run, event: 'pull_request' }, 'acme/apim', trusted).join()).toMatch(/pull_request/);
    expect(originProblems({ ...run, event: 'pull_request_target' }, 'acme/apim', trusted)).toHaveLength(1);
    expect(originProblems({ ...run, headRepository: 'mallory/apim' }, 'acme/apim', trusted).join()).toMatch(/fork/);
    expect(originProblems({ ...run, repository: 'other/apim' }, 'acme/apim', trusted).join()).toMatch(/not of acme/);
    expect(originProblems({ ...run, workflowPath: '.github/workflows/ci.yml' }, 'acme/apim', trusted).join()).toMatch(
      /not among the trusted workflows/,
    );
  });

  it("trusts this run's own workflow and the examples by default, or exactly the configured list", () => {
    const env = {
      GITHUB_REPOSITORY: 'acme/apim',
      GITHUB_WORKFLOW_REF: 'acme/apim/.github/workflows/rollback.yml@refs/heads/main',
    };
    expect(trustedWorkflows(makeResolvedConfig(), env)).toEqual([
      '.github/workflows/rollback.yml',
      '.github/workflows/migrate.yml',
      '.github/workflows/rehearsal.yml',
    ]);
    const config = makeResolvedConfig();
    const only = { ...config, backup: { ...config.backup, trustedWorkflows: ['.github/workflows/db.yml'] } };
    expect(trustedWorkflows(only, env)).toEqual(['.github/workflows/db.yml']);
  });
});
