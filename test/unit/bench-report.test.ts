import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { missingPrograms } from '../../bench/harness.js';
import { mergeSections } from '../../bench/report.js';

const FULL = `# Benchmarks

Full mode.

## How to run

old how

## Machine

| Date | 2026-11-25T07:37:54Z |

## Backup

old backup figures

## Restore

old restore figures
`;

const PART = `# Benchmarks

## How to run

new how

## Machine

| Date | 2026-12-07T18:00:00Z |

## Restore

new restore figures

## Artifact stores

new store figures
`;

describe('mergeSections', () => {
  it('replaces the measured sections, adds new ones at the end, and keeps the rest and the machine table', () => {
    const merged = mergeSections(FULL, PART, {
      command: 'npm run bench -- --only restore,stores',
      startedAt: new Date('2026-12-07T18:00:00.123Z'),
    });
    expect(merged).toContain('old how');
    expect(merged).not.toContain('new how');
    expect(merged).toContain('| Date | 2026-11-25T07:37:54Z |');
    expect(merged).toContain('## Backup\n\nold backup figures');
    expect(merged).not.toContain('old restore figures');
    const note =
      'Measured on 2026-12-07T18:00:00Z by `npm run bench -- --only restore,stores`, apart from the other sections of this file; the machine table is that of the run that wrote the whole file.';
    expect(merged).toContain(`## Restore\n\n${note}\n\nnew restore figures`);
    expect(merged.trimEnd().endsWith(`## Artifact stores\n\n${note}\n\nnew store figures`)).toBe(true);
    expect(merged.indexOf('## Backup')).toBeLessThan(merged.indexOf('## Restore'));
  });
});

describe('missingPrograms', () => {
  it('names each missing program with the sections that need it, and how to install them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-path-'));
    try {
      await writeFile(path.join(dir, 'pg_dump'), '#!/bin/sh\n', { mode: 0o755 });
      await writeFile(path.join(dir, 'age'), 'not executable\n', { mode: 0o644 });
      const env = { PATH: dir };
      const sections = [
        { id: 'backup', needs: ['pg_dump', 'age', 'age-keygen'] },
        { id: 'restore', needs: ['pg_dump', 'age-keygen'] },
        { id: 'stores', needs: [] },
      ];
      expect(missingPrograms(sections, env)).toBe(
        'this machine lacks programs the bench runs:\n  age (for backup)\n  age-keygen (for backup, restore)\n' +
          'Install them with `bash scripts/ensure-services.sh` (as root, on Debian), or leave those sections out with --only.',
      );
      expect(missingPrograms([{ id: 'backup', needs: ['pg_dump', path.join(dir, 'pg_dump')] }], env)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
