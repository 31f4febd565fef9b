/** The pure parts of preflight's new checks, and the keystore comparison over real files in two homes. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CharacterSetFacts } from '../../src/db/dialect.js';
import { checkCharacterSets, keyLimitBytes } from '../../src/db/index-widths.js';
import { checkServerHeap, serverHeap } from '../../src/server/heap.js';
import { checkKeystores, keystorePaths } from '../../src/wso2/keystores.js';

describe('serverHeap', () => {
  it("takes api-manager.sh's default without JVM_MEM_OPTS", () => {
    expect(serverHeap({})).toEqual({ bytes: 1024 ** 3, source: "-Xmx1024m, from the launcher's default JVM_MEM_OPTS" });
  });

  it('reads JVM_MEM_OPTS, and a later -Xmx in JAVA_OPTS wins as it does on the JVM command line', () => {
    expect(serverHeap({ JVM_MEM_OPTS: '-Xms1g -Xmx4g' }).bytes).toBe(4 * 1024 ** 3);
    expect(serverHeap({ JVM_MEM_OPTS: '-Xmx4g', JAVA_OPTS: '-Dx=1 -Xmx512M' })).toEqual({
      bytes: 512 * 1024 ** 2,
      source: '-Xmx512M, from JAVA_OPTS',
    });
    expect(serverHeap({ JVM_MEM_OPTS: '-Xmx2097152k' }).bytes).toBe(2 * 1024 ** 3);
  });

  it("falls back to the JVM's own default when JVM_MEM_OPTS has no -Xmx", () => {
    expect(serverHeap({ JVM_MEM_OPTS: '-Xms256m' }).bytes).toBe(Math.floor(os.totalmem() / 4));
  });
});

describe('checkServerHeap', () => {
  const small = { bytes: 1024 ** 3, source: 'default' };
  it('warns above 10 GiB of data on a heap of at most 1 GiB, naming out-of-memory and how to raise it', () => {
    const check = checkServerHeap(small, 11 * 1024 ** 3);
    expect(check.verdict).toBe('warn');
    expect(check.message).toContain('known problem out-of-memory');
    expect(check.message).toContain('JVM_MEM_OPTS=');
  });
  it('passes with less data or a larger heap', () => {
    expect(checkServerHeap(small, 10 * 1024 ** 3).verdict).toBe('pass');
    expect(checkServerHeap({ bytes: 4 * 1024 ** 3, source: 'x' }, 50 * 1024 ** 3).verdict).toBe('pass');
  });
});

describe('checkCharacterSets', () => {
  const sets = { latin1: 1, utf8mb3: 3, utf8mb4: 4 };
  const facts = (database: string, tables: CharacterSetFacts['tables']): CharacterSetFacts => ({
    database: { characterSet: database, collation: `${database}_general_ci` },
    defaultRowFormat: 'dynamic',
    maxBytesPerChar: sets,
    tables,
  });

  it("knows InnoDB's key limits by row format", () => {
    expect([
      keyLimitBytes('compact'),
      keyLimitBytes('redundant'),
      keyLimitBytes('dynamic'),
      keyLimitBytes(null),
    ]).toEqual([767, 767, 3072, 3072]);
  });

  it('passes latin1, listing the character sets and collations', () => {
    const checks = checkCharacterSets(
      'apim_db',
      facts('latin1', [
        { table: 'AM_API', characterSet: 'latin1', collation: 'latin1_swedish_ci', rowFormat: 'dynamic' },
      ]),
    );
    expect(checks).toEqual([
      {
        verdict: 'pass',
        message:
          'apim_db: database character set latin1, collation latin1_general_ci; tables by character set/collation: latin1/latin1_swedish_ci 1 (AM_API)',
      },
    ]);
  });

  it('warns about a utf8mb4 database and about utf8mb4 tables under the 767-byte limit, naming mysql-key-too-long', () => {
    const checks = checkCharacterSets(
      'apim_db',
      facts('utf8mb4', [
        {
          table: 'IDN_OAUTH2_ACCESS_TOKEN',
          characterSet: 'utf8mb4',
          collation: 'utf8mb4_general_ci',
          rowFormat: 'compact',
        },
        { table: 'AM_API', characterSet: 'latin1', collation: 'latin1_swedish_ci', rowFormat: 'dynamic' },
      ]),
    );
    const warnings = checks.filter((check) => check.verdict === 'warn').map((check) => check.message);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('VARCHAR(255) key column takes 1020 bytes');
    expect(warnings[1]).toContain('IDN_OAUTH2_ACCESS_TOKEN (utf8mb4, compact)');
    expect(warnings[1]).toContain('767 bytes');
    for (const warning of warnings) expect(warning).toContain('known problem mysql-key-too-long');
  });
});

describe('checkKeystores (real files in two homes)', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function home(name: string, toml: string, keystores: Record<string, string>): Promise<string> {
    const root = path.join(dir ?? '', name);
    await mkdir(path.join(root, 'repository', 'conf'), { recursive: true });
    await mkdir(path.join(root, 'repository', 'resources', 'security'), { recursive: true });
    await writeFile(path.join(root, 'repository', 'conf', 'deployment.toml'), toml);
    for (const [file, content] of Object.entries(keystores)) {
      await writeFile(path.join(root, 'repository', 'resources', 'security', file), content);
    }
    return root;
  }

  it('finds wso2carbon.jks by default, and the internal keystore defaults to the primary', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'keystores-'));
    const root = await home('new', '[server]\nhostname = "localhost"\n', {});
    const paths = await keystorePaths(root);
    expect(paths.primary).toBe(path.join(root, 'repository', 'resources', 'security', 'wso2carbon.jks'));
    expect(paths.internal).toBe(paths.primary);
    const named = await home('named', '[keystore.primary]\nfile_name = "p.jks"\n', {});
    expect((await keystorePaths(named)).internal).toMatch(/p\.jks$/);
  });

  it('passes the same files and warns, naming keystore-mismatch, when the new home has other keys', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'keystores-'));
    const old = await home('old', '', { 'wso2carbon.jks': 'old primary key', 'internal.jks': 'old internal key' });
    const same = await home('same', '[keystore.internal]\nfile_name = "internal.jks"\n', {
      'wso2carbon.jks': 'old primary key',
      'internal.jks': 'old internal key',
    });
    // The old home's internal keystore is its primary (no [keystore.internal]): compare with that one.
    const sameChecks = await checkKeystores(same, old);
    expect(sameChecks.map((check) => check.verdict)).toEqual(['pass', 'warn']);

    const other = await home('other', '', { 'wso2carbon.jks': 'a fresh 4.2.0 key' });
    const otherChecks = await checkKeystores(other, old);
    expect(otherChecks.map((check) => check.verdict)).toEqual(['warn', 'warn']);
    for (const check of otherChecks) {
      expect(check.message).toContain('known problem keystore-mismatch');
      expect(check.message).toContain('may not decrypt');
    }

    const copied = await home('copied', '', { 'wso2carbon.jks': 'old primary key' });
    expect((await checkKeystores(copied, old)).map((check) => check.verdict)).toEqual(['pass', 'pass']);
  });

  it('warns when a keystore cannot be read', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'keystores-'));
    const old = await home('old', '', { 'wso2carbon.jks': 'k' });
    const missing = await home('missing', '', {});
    const checks = await checkKeystores(missing, old);
    expect(checks.every((check) => check.verdict === 'warn' && check.message.includes('cannot be read'))).toBe(true);
  });
});
