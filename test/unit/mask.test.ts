import { generateKeyPairSync } from 'node:crypto';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { collectSecrets, envSecrets } from '../../src/config/secrets.js';
import type { DatabaseTarget, ResolvedConfig } from '../../src/config/types.js';
import { maskSecretAssignments, SecretMasker, secretLines } from '../../src/core/secrets.js';
import { createConsoleLogger } from '../../src/log/logger.js';

describe('maskSecretAssignments', () => {
  it.each([
    ['password = "wso2carbon"', 'password = "***"'],
    ['key_password =  "s3cr3t" # keystore', 'key_password =  "***" # keystore'],
    ['+password = "new"', '+password = "***"'],
    ['-password = "old"', '-password = "***"'],
    [' password = "ctx"', ' password = "***"'],
    ['password: plain', 'password: ***'],
    ["Password = 'single'", "Password = '***'"],
    ['password = "$env{SHARED_DB_PASSWORD}"', 'password = "$env{SHARED_DB_PASSWORD}"'],
    ['password = "$secret{db}"', 'password = "$secret{db}"'],
    ['password = "$ref{super_admin.password}"', 'password = "$ref{super_admin.password}"'],
    ['password = ""', 'password = ""'],
    ['username = "wso2carbon"', 'username = "wso2carbon"'],
    // Quoted keys (TOML, JSON, YAML) and the other secret-like keys.
    ['"password" = "x"', '"password" = "***"'],
    ['  "password": "x",', '  "password": "***",'],
    ["'db_password': x", "'db_password': ***"],
    ['client_secret: abc', 'client_secret: ***'],
    ['+client_secret = "abc"', '+client_secret = "***"'],
    ['secret = "abc"', 'secret = "***"'],
    ['auth_token: "ghp_abc"', 'auth_token: "***"'],
    ['keystore.tls.password = "x"', 'keystore.tls.password = "***"'],
    ['- password: listed', '- password: ***'],
    ['# password = "commented out"', '# password = "***"'],
    ['password: abc#def', 'password: ***'],
    ['secret_key = "k"', 'secret_key = "***"'],
    ['token_endpoint = "https://localhost/token"', 'token_endpoint = "https://localhost/token"'],
    // Password parameters of JDBC URLs, wherever they stand.
    ['url = "jdbc:mysql://db/x?password=abc"', 'url = "jdbc:mysql://db/x?password=***"'],
    [
      '+url = "jdbc:postgresql://db/x?user=u&password=p%40ss&sslmode=require"',
      '+url = "jdbc:postgresql://db/x?user=u&password=***&sslmode=require"',
    ],
    [
      'url = "jdbc:mariadb://db/x?PASSWORD=a&amp;useSsl=true"',
      'url = "jdbc:mariadb://db/x?PASSWORD=***&amp;useSsl=true"',
    ],
    ['url = "jdbc:postgresql://db/x?sslpassword=k"', 'url = "jdbc:postgresql://db/x?sslpassword=***"'],
    ['jdbc:mysql://db/x?password1=a&password2=b', 'jdbc:mysql://db/x?password1=***&password2=***'],
    ['jdbc:mysql://db/x?trustCertificateKeyStorePassword=t', 'jdbc:mysql://db/x?trustCertificateKeyStorePassword=***'],
    ['Datasource WSO2_SHARED_DB: password=abc url=x', 'Datasource WSO2_SHARED_DB: password=*** url=x'],
    ['url = "jdbc:mysql://db/x?password=$env{P}"', 'url = "jdbc:mysql://db/x?password=$env{P}"'],
  ])('%s → %s', (line, expected) => {
    expect(maskSecretAssignments(line)).toBe(expected);
  });

  it('masks every line of a multi-line text', () => {
    expect(maskSecretAssignments('[a]\npassword = "x1"\n[b]\npassword = "x2"\n')).toBe(
      '[a]\npassword = "***"\n[b]\npassword = "***"\n',
    );
  });
});

describe('SecretMasker', () => {
  it('masks overlapping secrets fully, the longest first', () => {
    const masker = new SecretMasker();
    masker.add('abc');
    masker.add('abcdef');
    masker.add('');
    expect(masker.mask('x abcdef y abc z')).toBe('x *** y *** z');
  });

  it('masks each line of an age identity file but not its comments', async () => {
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const file = `# created: 2026-12-03T10:00:00Z\n# public key: ${recipient}\n${identity}\n`;
    expect(secretLines(file)).toEqual([identity]);
    const masker = new SecretMasker();
    masker.add(file);
    expect(masker.mask(`the key ${identity} and the recipient ${recipient}`)).toBe(
      `the key *** and the recipient ${recipient}`,
    );
  });

  it('masks every base64 line of a PEM key, not its armour', () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const body = pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
    expect(body.length).toBeGreaterThan(0);
    const masker = new SecretMasker();
    masker.add(pem);
    for (const line of body) expect(masker.mask(`printed: ${line}`)).toBe('printed: ***');
    expect(masker.mask('-----BEGIN PRIVATE KEY-----')).toBe('-----BEGIN PRIVATE KEY-----');
  });
});

function database(name: DatabaseTarget['name'], password: string, params: Record<string, string> = {}): DatabaseTarget {
  return {
    name,
    engine: 'postgresql',
    url: `jdbc:postgresql://db:5432/${name}`,
    host: 'db',
    port: 5432,
    database: name,
    params,
    username: 'wso2',
    password,
    source: 'deployment.toml',
  };
}

describe('collectSecrets', () => {
  const config = {
    databases: [
      database('apim_db', 'Apim-Db-Password-1', {
        sslmode: 'require',
        password: 'Url-Password-1',
        sslpassword: 'Key-2',
      }),
      database('shared_db', 'Shared-Db-Password-2'),
    ],
    backup: { passphraseEnv: 'BK_PASS', identityEnv: 'BK_ID', signingKeyEnv: 'BK_SIGN', retentionDays: 30 },
    startup: { adminUserEnv: 'ADMIN_USER', adminPasswordEnv: 'ADMIN_PW', indexWaitMinutes: 30, leaveRunning: false },
  } as unknown as ResolvedConfig;
  const env = {
    BK_PASS: 'a passphrase long enough',
    BK_ID: '# comment\nAGE-SECRET-KEY-1XYZ\n',
    BK_SIGN: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----\n',
    SHARED_PW: 'Shared-Db-Password-2',
    ACTIONS_RUNTIME_TOKEN: 'runtime-token-value',
    ADMIN_USER: 'admin',
    ADMIN_PW: 'Admin-Password-3',
    HOME: '/home/runner',
  };

  it('collects every secret once, with the variables that hold them but never their values in the names', () => {
    const collected = collectSecrets(config, env, { githubToken: 'ghs_token' });
    expect(collected.values).toEqual(
      expect.arrayContaining([
        'Apim-Db-Password-1',
        'Url-Password-1',
        'Key-2',
        'Shared-Db-Password-2',
        env.BK_PASS,
        env.BK_ID,
        env.BK_SIGN,
        'runtime-token-value',
        'ghs_token',
        'Admin-Password-3',
      ]),
    );
    expect(collected.values).not.toContain('require');
    // The admin's user name is no secret: masking "admin" would garble every log line that names the admin.
    expect(collected.values).not.toContain('admin');
    expect(collected.envNames).toEqual([
      'ACTIONS_RUNTIME_TOKEN',
      'ADMIN_PW',
      'BK_ID',
      'BK_PASS',
      'BK_SIGN',
      'SHARED_PW',
    ]);
    // The post step gets the same values back from the names.
    expect(envSecrets(collected.envNames, env, { githubToken: 'ghs_token' }).sort()).toEqual(
      [
        env.ADMIN_PW,
        env.BK_ID,
        env.BK_PASS,
        env.BK_SIGN,
        'Shared-Db-Password-2',
        'runtime-token-value',
        'ghs_token',
      ].sort(),
    );
  });
});

describe('the console logger', () => {
  it('masks registered secrets and secret-like keys, and neutralises every line', () => {
    const lines: string[] = [];
    const logger = createConsoleLogger({ out: (line) => lines.push(line), err: (line) => lines.push(line) });
    logger.setSecret('S3cret-Value');
    logger.info('password=S3cret-Value\n::add-mask::x\n##[set-output name=a]b');
    logger.warning('client_secret: abc');
    logger.error('\u001b[31mred\u001b[0m text\u0007');
    // A secret split by an escape sequence is masked once the sequence is gone.
    logger.info('split S3cret\u001b[0m-Value');
    expect(lines).toEqual([
      'password=***',
      ': :add-mask::x',
      '# #[set-output name=a]b',
      'warning: client_secret: ***',
      'error: red text\ufffd',
      'split ***',
    ]);
  });
});
