import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffArrays } from 'diff';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { IdentityTargetVersion } from '../../src/config/types.js';
import { UnsupportedError } from '../../src/core/errors.js';
import { editMigrationConfig } from '../../src/wso2/migration-config-edit.js';
import { IDENTITY_MIGRATORS_TO_REMOVE } from '../../src/wso2/registry.js';
import { unifiedDiff } from '../../src/wso2/text-diff.js';
import { catchInputError } from '../helpers/errors.js';
import { describeConformance } from '../helpers/wso2-conformance.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = path.join(repoRoot, 'test/fixtures/wso2-edits');
const FILE = '/opt/wso2am-4.2.0/migration-resources/migration-config.yaml';

// The fixtures end in .yaml.txt so that prettier leaves their layout alone: the layout is what they test.
const readFixture = (name: string): string =>
  readFileSync(path.join(fixtures, `migration-config.${name}.yaml.txt`), 'utf8');
const toCrlf = (text: string): string => text.replace(/\n/g, '\r\n');

const edit = (text: string, targetVersion: IdentityTargetVersion = '6.0.0') =>
  editMigrationConfig(text, { targetVersion, file: FILE });

/** Replaces `from` in `text`, failing when it is not there (so a fixture change cannot turn a test vacuous). */
function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from)).toHaveLength(2);
  return text.replace(from, to);
}

interface MigratorEntry {
  version: string;
  name: string;
  order: unknown;
  parameters: Record<string, unknown>;
}

function listMigrators(text: string): MigratorEntry[] {
  const document = parse(text) as {
    versions: Array<{ version: string; migratorConfigs?: Array<Record<string, unknown>> }>;
  };
  return document.versions.flatMap(({ version, migratorConfigs }) =>
    (migratorConfigs ?? []).map((migrator) => ({
      version,
      name: String(migrator['name']),
      order: migrator['order'],
      parameters: (migrator['parameters'] ?? {}) as Record<string, unknown>,
    })),
  );
}

const isTarget = (migrator: MigratorEntry): boolean =>
  IDENTITY_MIGRATORS_TO_REMOVE.some(
    (removal) =>
      removal.version === migrator.version &&
      removal.name === migrator.name &&
      Object.entries(removal.parameters ?? {}).every(([key, value]) => migrator.parameters[key] === value),
  );

/**
 * The untouched-lines property: the only lines that differ are the two version values (changed in place) and
 * whole runs of removed lines, each holding the `name:` of a migrator to remove and no other migrator's name.
 * In a flow list, the item before a removed last item loses its comma: `uncommaed` lists those lines.
 */
function expectOnlyIntendedLinesChanged(before: string, after: string, uncommaed: readonly string[] = []): void {
  const parts = diffArrays(before.split('\n'), after.split('\n'));
  const added = parts.filter((part) => part.added).flatMap((part) => part.value);
  expect(added).toHaveLength(2 + uncommaed.length);
  expect(added[0]).toMatch(/^currentVersion: (["']?)5\.10\.0\1/);
  expect(added[1]).toMatch(/^migrateVersion: (["']?)6\.[01]\.0\1/);
  expect(added.slice(2)).toEqual(uncommaed);
  const removedLines = parts.filter((part) => part.removed).flatMap((part) => part.value);
  for (const line of uncommaed) expect(removedLines).toContain(`${line},`);
  const removedRuns = parts
    .filter((part) => part.removed)
    .map((part) =>
      part.value.filter(
        (line) =>
          !/^(currentVersion|migrateVersion):/.test(line) && !uncommaed.map((kept) => `${kept},`).includes(line),
      ),
    )
    .filter((run) => run.length > 0);
  const removedNames = removedRuns.flatMap((run) => run.join('\n').match(/name: *["']?\w+/g) ?? []);
  expect(removedNames).toHaveLength(IDENTITY_MIGRATORS_TO_REMOVE.length);
  for (const name of removedNames) {
    expect(IDENTITY_MIGRATORS_TO_REMOVE.map((removal) => removal.name)).toContain(name.replace(/^name: *["']?/, ''));
  }
}

describe('editMigrationConfig on migration-config.yaml files', () => {
  // `uncommaed`: in a flow list, the line of the item before a removed last item loses its comma.
  const cases: Array<{ name: string; target: IdentityTargetVersion; uncommaed: string[]; changes: string[] }> = [
    {
      name: 'client-like',
      target: '6.0.0',
      uncommaed: [],
      changes: [
        'set currentVersion from "5.x.x" to "5.10.0"',
        'set migrateVersion from "6.x.x" to "6.0.0"',
        'removed EncryptionAdminFlowMigrator (order 1) from version "5.11.0"',
        'removed EncryptionUserFlowMigrator (order 2) from version "5.11.0"',
        'removed SCIMGroupRoleMigrator (order 7) from version "5.11.0"',
        'removed SchemaMigrator with location: "step3", schema: "consent" (order 3) from version "6.0.0"',
      ],
    },
    {
      name: 'shifted',
      target: '6.1.0',
      uncommaed: [],
      changes: [
        'set currentVersion from "5.x.x" to "5.10.0"',
        'set migrateVersion from "6.x.x" to "6.1.0"',
        'removed EncryptionAdminFlowMigrator (order 2) from version "5.11.0"',
        'removed SCIMGroupRoleMigrator (order 3) from version "5.11.0"',
        'removed EncryptionUserFlowMigrator (order 5) from version "5.11.0"',
        'removed SchemaMigrator with location: "step3", schema: "consent" (order 2) from version "6.0.0"',
      ],
    },
    {
      name: 'flow-lists',
      target: '6.0.0',
      uncommaed: ['      { name: "SchemaMigrator", order: 3, parameters: { location: "step1", schema: "um" } }'],
      changes: [
        'set currentVersion from "5.x.x" to "5.10.0"',
        'set migrateVersion from "6.x.x" to "6.0.0"',
        'removed EncryptionAdminFlowMigrator (order 1) from version "5.11.0"',
        'removed EncryptionUserFlowMigrator (order 2) from version "5.11.0"',
        'removed SCIMGroupRoleMigrator (order 4) from version "5.11.0"',
        'removed SchemaMigrator with location: "step3", schema: "consent" (order 2) from version "6.0.0"',
      ],
    },
  ];

  describe.each(cases)('$name (target $target)', ({ name, target, uncommaed, changes }) => {
    const input = readFixture(name);
    const golden = readFixture(`${name}.expected`);

    it('gives the golden output and lists every change', () => {
      const result = edit(input, target);
      expect(result.text).toBe(golden);
      expect(result.changes).toEqual(changes);
    });

    it('gives the same output with CRLF line endings, keeping CRLF', () => {
      const result = edit(toCrlf(input), target);
      expect(result.text).toBe(toCrlf(golden));
      expect(result.text).not.toMatch(/[^\r]\n/);
    });

    it('is idempotent: the edited file comes back unchanged, with no changes', () => {
      const again = edit(golden, target);
      expect(again.text).toBe(golden);
      expect(again.changes).toEqual([]);
    });

    it('changes only the two values and the lines of the removed migrators', () => {
      expectOnlyIntendedLinesChanged(input, edit(input, target).text, uncommaed);
    });

    it('keeps every migrator that is not to be removed, with its parameters', () => {
      const before = listMigrators(input);
      const after = listMigrators(edit(input, target).text);
      expect(before.filter(isTarget)).toHaveLength(4);
      expect(after).toEqual(before.filter((migrator) => !isTarget(migrator)));
    });
  });

  it('keeps the quoting of the values: double quotes, single quotes and plain scalars', () => {
    const doubled = edit(readFixture('client-like')).text;
    expect(doubled).toContain('\ncurrentVersion: "5.10.0"\n');
    const single = edit(readFixture('shifted'), '6.1.0').text;
    expect(single).toContain("\ncurrentVersion: '5.10.0'   # the version the data is at\n");
    expect(single).toContain("\nmigrateVersion: '6.1.0'   # the version to migrate to\n");
    const plain = replaceOnce(readFixture('client-like'), 'migrateVersion: "6.x.x"', 'migrateVersion: 6.x.x');
    expect(edit(plain).text).toContain('\nmigrateVersion: 6.0.0\n');
  });

  it('removes a migrator by version, name and parameters, wherever it sits in the list', () => {
    // The same SchemaMigrator step3/consent under 5.9.0 stays; the one under 6.0.0 goes, though listed second.
    const after = listMigrators(edit(readFixture('shifted'), '6.1.0').text);
    expect(after.filter((migrator) => migrator.parameters['schema'] === 'consent')).toEqual([
      { version: '5.9.0', name: 'SchemaMigrator', order: 2, parameters: { location: 'step3', schema: 'consent' } },
      { version: '6.0.0', name: 'SchemaMigrator', order: 1, parameters: { location: 'step7', schema: 'consent' } },
    ]);
  });

  it('removes a comment line above a removed item with it, but keeps the trailing comments of the item before', () => {
    const output = edit(readFixture('client-like')).text;
    expect(output).not.toContain('# Re-encrypts the data written by the admin flows.');
    expect(output).toContain(
      '   - name: "TokenBindingValidationMigrator"\n     order: 6\n     # parameters:\n' +
        '      # Absolute path for the dry report. This is required in the dry run mode.\n      # reportPath:\n -\n',
    );
  });

  it('finishes an edit that was made halfway: values set, one migrator still there', () => {
    const halfway = replaceOnce(
      readFixture('client-like.expected'),
      '   - name: "SchemaMigrator"\n     order: 4\n',
      '   - name: "SchemaMigrator"\n     order: 3\n     parameters:\n       location: "step3"\n       schema: "consent"\n\n' +
        '   - name: "SchemaMigrator"\n     order: 4\n',
    );
    const result = edit(halfway);
    expect(result.text).toBe(readFixture('client-like.expected'));
    expect(result.changes).toEqual([
      'removed SchemaMigrator with location: "step3", schema: "consent" (order 3) from version "6.0.0"',
    ]);
  });

  it('sets only migrateVersion when an edited file is edited for the other target', () => {
    const withEntry = `${readFixture('client-like.expected')}\n - version: "6.1.0"\n   migratorConfigs:\n   - name: "SchemaMigrator"\n     order: 1\n`;
    const result = edit(withEntry, '6.1.0');
    expect(result.changes).toEqual(['set migrateVersion from "6.0.0" to "6.1.0"']);
    expect(result.text).toBe(replaceOnce(withEntry, 'migrateVersion: "6.0.0"', 'migrateVersion: "6.1.0"'));
  });

  it('refuses a target version that versions[] has no entry for, naming what it has', () => {
    const error = catchInputError(() => edit(readFixture('client-like'), '6.1.0'));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.file).toBe(FILE);
    expect(error.problems[0]?.line).toBeGreaterThan(1);
    expect(error.message).toMatch(
      /versions has no entry with version: "6\.1\.0" \(identity\.targetVersion\); it lists .*"6\.0\.0"\./,
    );
    expect(error.message).toContain('migrates to 6.0.0 only, and still prints its success line');
  });

  it.each([
    ['"false"', '"true"'],
    ["'no'", "'true'"],
    ['false', 'true'],
  ])('sets migrationEnable from %s to %s, in its own quoting', (from, to) => {
    const input = replaceOnce(readFixture('client-like'), 'migrationEnable: "true"', `migrationEnable: ${from}`);
    const result = edit(input);
    expect(result.changes[0]).toBe(`set migrationEnable from "${from.replace(/['"]/g, '')}" to "true"`);
    expect(result.text).toBe(
      replaceOnce(readFixture('client-like.expected'), 'migrationEnable: "true"', `migrationEnable: ${to}`),
    );
  });

  it('shows the edit as a unified diff with 3 lines of context', () => {
    const input = readFixture('flow-lists');
    expect(unifiedDiff('migration-config.yaml', input, edit(input).text)).toBe(
      [
        '--- migration-config.yaml',
        '+++ migration-config.yaml',
        '@@ -1,6 +1,6 @@',
        ' migrationEnable: "true"',
        '-currentVersion: "5.x.x"',
        '-migrateVersion: "6.x.x"',
        '+currentVersion: "5.10.0"',
        '+migrateVersion: "6.0.0"',
        ' continueOnError: "false"',
        ' batchUpdate: "true"',
        ' ignoreForInactiveTenants: "true"',
        '@@ -10,13 +10,9 @@',
        ' versions:',
        '   - version: "5.11.0"',
        '     migratorConfigs: [',
        '-      { name: "EncryptionAdminFlowMigrator", order: 1, parameters: { schema: "identity" } },',
        '-      { name: "EncryptionUserFlowMigrator", order: 2, parameters: { schema: "identity" } },',
        '-      { name: "SchemaMigrator", order: 3, parameters: { location: "step1", schema: "um" } },',
        '-      { name: "SCIMGroupRoleMigrator", order: 4 }',
        '+      { name: "SchemaMigrator", order: 3, parameters: { location: "step1", schema: "um" } }',
        '     ]',
        '   - version: "6.0.0"',
        '     migratorConfigs:',
        '       - { name: "SchemaMigrator", order: 1, parameters: { location: "step2", schema: "identity" } }',
        '-      - { name: "SchemaMigrator", order: 2, parameters: { location: "step3", schema: "consent" } }',
        '       - { name: "SchemaMigrator", order: 3, parameters: { location: "step7", schema: "consent" } }',
        '',
      ].join('\n'),
    );
  });
});

describe('editMigrationConfig refuses what it cannot do right', () => {
  it('fails when the SchemaMigrator step3/consent is absent, though the other consent one is there', () => {
    const input = replaceOnce(
      readFixture('client-like'),
      '   - name: "SchemaMigrator"\n     order: 3\n     parameters:\n       location: "step3"\n       schema: "consent"\n\n',
      '',
    );
    const error = catchInputError(() => edit(input));
    expect(error.exitCode).toBe(2);
    expect(error.problems).toEqual([
      {
        file: FILE,
        line: 87,
        message:
          'version "6.0.0" has no SchemaMigrator with location: "step3", schema: "consent" (order 4 in client 1.0.225); ' +
          'it has SchemaMigrator order 5 (location: "step7", schema: "consent"), which must stay',
      },
    ]);
    expect(error.message).toContain(FILE);
    expect(error.message).toContain('a different client release');
  });

  it('names every missing migrator, by version, name and parameters', () => {
    let input = readFixture('shifted');
    input = replaceOnce(input, "  - name: 'SCIMGroupRoleMigrator'\n    order: 3\n", '');
    input = replaceOnce(
      input,
      "\n  - name: 'SchemaMigrator'\n    order: 3\n    parameters: { location: 'step3', schema: 'identity' }",
      '',
    );
    input = replaceOnce(
      input,
      "  # The consent schema change of step 3.\n  - name: 'SchemaMigrator'\n    order: 2\n    parameters: { location: 'step3', schema: 'consent' }\n",
      '',
    );
    const error = catchInputError(() => edit(input, '6.1.0'));
    expect(error.problems.map((problem) => problem.message)).toEqual([
      'version "5.11.0" has no SCIMGroupRoleMigrator (order 18 in client 1.0.225)',
      'version "6.0.0" has no SchemaMigrator with location: "step3", schema: "consent" (order 4 in client 1.0.225); ' +
        'it has SchemaMigrator order 1 (location: "step7", schema: "consent"), which must stay',
    ]);
    expect(error.problems.every((problem) => problem.file === FILE && typeof problem.line === 'number')).toBe(true);
  });

  it('fails when a version entry is not there at all', () => {
    const input = readFixture('client-like').replace(
      / -\n {3}version: "5\.11\.0"[\s\S]*?(?= -\n {3}version: "6\.0\.0")/,
      '',
    );
    expect(input).not.toContain('5.11.0');
    const error = catchInputError(() => edit(input));
    expect(error.problems.map((problem) => problem.message)).toEqual([
      'versions has no entry with version: "5.11.0", so EncryptionAdminFlowMigrator (order 1 in client 1.0.225) cannot be removed',
      'versions has no entry with version: "5.11.0", so EncryptionUserFlowMigrator (order 2 in client 1.0.225) cannot be removed',
      'versions has no entry with version: "5.11.0", so SCIMGroupRoleMigrator (order 18 in client 1.0.225) cannot be removed',
    ]);
  });

  it('does not take a half-set file for an edited one: a missing migrator still fails when migrateVersion is unset', () => {
    let input = replaceOnce(readFixture('client-like'), 'currentVersion: "5.x.x"', 'currentVersion: "5.10.0"');
    input = replaceOnce(input, '   - name: "SCIMGroupRoleMigrator"\n     order: 7\n', '');
    expect(catchInputError(() => edit(input)).problems).toHaveLength(1);
  });

  it('refuses invalid YAML with its line', () => {
    const input = replaceOnce(readFixture('client-like'), 'batchUpdate: "true"', 'batchUpdate: "true');
    const error = catchInputError(() => edit(input));
    expect(error.problems[0]).toMatchObject({ file: FILE, message: expect.stringMatching(/^invalid YAML: /) });
    expect(error.problems[0]?.line).toBeGreaterThan(0);
  });

  it('refuses a migratedVersion key, which stops the client', () => {
    const input = replaceOnce(readFixture('client-like'), 'migrateVersion: "6.x.x"', 'migratedVersion: "6.x.x"');
    const error = catchInputError(() => edit(input));
    expect(error.problems).toEqual([
      { file: FILE, line: 6, message: expect.stringContaining('the key is `migrateVersion`') },
    ]);
  });

  it('refuses a file without currentVersion or versions', () => {
    expect(catchInputError(() => edit('migrateVersion: "6.x.x"\nversions: []\n')).message).toContain(
      'no `currentVersion`',
    );
    expect(catchInputError(() => edit('currentVersion: "5.x.x"\nmigrateVersion: "6.x.x"\n')).message).toContain(
      'no `versions` list',
    );
  });

  it('throws, writing nothing, when the re-parsed result is not what was intended', () => {
    // Removing every item of a block list leaves `migratorConfigs:` empty (null), not an empty list.
    const input = [
      'migrationEnable: "true"',
      'currentVersion: "5.x.x"',
      'migrateVersion: "6.x.x"',
      'versions:',
      ' - version: "5.11.0"',
      '   migratorConfigs:',
      '   - name: "EncryptionAdminFlowMigrator"',
      '   - name: "EncryptionUserFlowMigrator"',
      '   - name: "SCIMGroupRoleMigrator"',
      ' - version: "6.0.0"',
      '   migratorConfigs:',
      '   - { name: "SchemaMigrator", parameters: { location: "step3", schema: "consent" } }',
      '   - { name: "SchemaMigrator", parameters: { location: "step7", schema: "consent" } }',
      '',
    ].join('\n');
    expect(() => edit(input)).toThrow(UnsupportedError);
    expect(() => edit(input)).toThrow(/could not edit this file safely \(`versions` changed\); nothing was written/);
  });
});

describeConformance(
  'the migration-config.yaml of identity migration client 1.0.225',
  'is-migration-config-6.0.0.yaml',
  (realFile, input) => {
    const result = editMigrationConfig(input, { targetVersion: '6.0.0', file: realFile });
    const commentLines = (text: string) => text.split('\n').filter((line) => line.trimStart().startsWith('#'));

    it('loses the four migrators, and gets the two versions', () => {
      const after = parse(result.text) as Record<string, unknown>;
      expect(after['currentVersion']).toBe('5.10.0');
      expect(after['migrateVersion']).toBe('6.0.0');
      expect(listMigrators(result.text).filter(isTarget)).toEqual([]);
      expect(result.changes).toHaveLength(6);
    });

    it('keeps every other migrator and every other top-level value', () => {
      const before = parse(input) as Record<string, unknown>;
      const after = parse(result.text) as Record<string, unknown>;
      expect(Object.keys(after)).toEqual(Object.keys(before));
      for (const key of Object.keys(before).filter(
        (key) => !['currentVersion', 'migrateVersion', 'versions'].includes(key),
      )) {
        expect(after[key]).toEqual(before[key]);
      }
      const migrators = listMigrators(input);
      expect(migrators.filter(isTarget)).toHaveLength(4);
      expect(listMigrators(result.text)).toEqual(migrators.filter((migrator) => !isTarget(migrator)));
    });

    it('keeps every comment line (none is inside a removed item), in order', () => {
      expect(commentLines(input).length).toBeGreaterThan(20);
      expect(commentLines(result.text)).toEqual(commentLines(input));
    });

    it('changes only the two values and the lines of the removed migrators', () => {
      expectOnlyIntendedLinesChanged(input, result.text);
      // 7 + 7 + 2 lines of the 5.11.0 migrators, 5 of the 6.0.0 one and the blank line that separated it.
      expect(input.split('\n').length - result.text.split('\n').length).toBe(22);
    });

    it('is refused for 6.1.0: client 1.0.225 has no 6.1.0 entry and would stop at 6.0.0', () => {
      const error = catchInputError(() => editMigrationConfig(input, { targetVersion: '6.1.0', file: realFile }));
      expect(error.message).toContain('versions has no entry with version: "6.1.0"');
      expect(error.message).toContain('"5.11.0", "6.0.0".');
    });

    it('is idempotent', () => {
      expect(editMigrationConfig(result.text, { targetVersion: '6.0.0', file: realFile })).toEqual({
        text: result.text,
        changes: [],
      });
    });
  },
);
