import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MUTATING_STAGES, STAGE_NAMES } from '../../src/core/results.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ACTION = 'your-org/apim-migrate@v1';

interface Step {
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}

interface Job {
  needs?: string | string[];
  if?: string;
  'runs-on': string | string[];
  environment?: string | { name: string };
  outputs?: Record<string, string>;
  steps: Step[];
}

interface DispatchInput {
  type?: string;
  options?: string[];
  default?: string;
  required?: boolean;
}

interface Workflow {
  on: {
    workflow_dispatch?: { inputs?: Record<string, DispatchInput> } | null;
    schedule?: { cron: string }[];
  };
  permissions: Record<string, string>;
  concurrency: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, Job>;
}

interface ActionYaml {
  inputs: Record<string, { required?: boolean }>;
  outputs: Record<string, unknown>;
}

function readText(relative: string): string {
  return readFileSync(path.join(root, relative), 'utf8');
}

const action = parse(readText('action.yml')) as ActionYaml;
const files = ['migrate.yml', 'rehearsal.yml', 'rollback.yml'] as const;
const texts = Object.fromEntries(files.map((file) => [file, readText(`workflows-examples/${file}`)])) as Record<
  (typeof files)[number],
  string
>;
const workflows = Object.fromEntries(files.map((file) => [file, parse(texts[file]) as Workflow])) as Record<
  (typeof files)[number],
  Workflow
>;
const { 'migrate.yml': migrate, 'rehearsal.yml': rehearsal, 'rollback.yml': rollback } = workflows;

function needsOf(job: Job): string[] {
  return job.needs === undefined ? [] : typeof job.needs === 'string' ? [job.needs] : job.needs;
}

function environmentOf(job: Job): string | undefined {
  return typeof job.environment === 'object' ? job.environment.name : job.environment;
}

function actionSteps(job: Job): Step[] {
  return job.steps.filter((step) => step.uses?.startsWith('your-org/apim-migrate'));
}

/** The one step of a job that runs the action. */
function actionStep(job: Job): Step & { with: Record<string, string> } {
  const steps = actionSteps(job);
  expect(steps).toHaveLength(1);
  const step = steps[0]!;
  expect(step.with).toBeDefined();
  return step as Step & { with: Record<string, string> };
}

function secretNames(step: Step): string[] {
  return Object.values(step.env ?? {}).map((value) => /^\$\{\{ secrets\.([A-Z0-9_]+) \}\}$/.exec(value)?.[1] ?? value);
}

const expression = /^\$\{\{ .+ \}\}$/;

describe.each(files)('%s', (file) => {
  const workflow = workflows[file];
  const jobs = Object.entries(workflow.jobs);

  it('passes the action only inputs that action.yml declares, with a valid stage', () => {
    const steps = jobs.flatMap(([, job]) => actionSteps(job));
    expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) {
      expect(step.uses).toBe(ACTION);
      for (const input of Object.keys(step.with ?? {})) expect(Object.keys(action.inputs)).toContain(input);
      const stage = step.with?.['stage'];
      expect(stage).toBeDefined();
      if (!expression.test(stage!)) expect([...STAGE_NAMES, 'restore']).toContain(stage);
    }
  });

  it('gives the action only secrets as environment variables', () => {
    for (const [, job] of jobs) {
      for (const step of actionSteps(job)) {
        expect(step.env).toBeDefined();
        for (const value of Object.values(step.env!)) expect(value).toMatch(/^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$/);
        for (const name of ['SHARED_DB_PASSWORD', 'APIM_DB_PASSWORD']) expect(Object.keys(step.env!)).toContain(name);
      }
    }
  });

  it('checks the repository out before the action reads the config', () => {
    for (const [, job] of jobs) {
      const first = job.steps.findIndex((step) => step.uses?.startsWith('your-org/apim-migrate'));
      if (first === -1) continue;
      const checkout = job.steps.findIndex((step) => step.uses === 'actions/checkout@v4');
      expect(checkout).toBeGreaterThanOrEqual(0);
      expect(checkout).toBeLessThan(first);
    }
  });

  it('runs every job on the self-hosted runner', () => {
    for (const [, job] of jobs) expect(job['runs-on']).toContain('self-hosted');
  });

  it('reads the contents and the artifacts of other runs, nothing more', () => {
    expect(workflow.permissions).toEqual({ contents: 'read', actions: 'read' });
  });

  it('never cancels a running migration', () => {
    expect(workflow.concurrency['cancel-in-progress']).toBe(false);
    expect(workflow.concurrency.group).toMatch(/^apim-migrate-/);
  });

  it('refers only to declared inputs, job outputs and action outputs', () => {
    const text = texts[file];
    const declaredInputs = Object.keys(workflow.on.workflow_dispatch?.inputs ?? {});
    for (const [, name] of text.matchAll(/\binputs\.([\w-]+)/g)) expect(declaredInputs).toContain(name);
    for (const [, name] of text.matchAll(/\bsteps\.[\w-]+\.outputs\.([\w-]+)/g)) {
      expect(Object.keys(action.outputs)).toContain(name);
    }
    for (const [, jobName, output] of text.matchAll(/\bneeds\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      expect(Object.keys(workflow.jobs[jobName!]?.outputs ?? {})).toContain(output);
    }
    for (const [, job] of jobs) {
      for (const value of Object.values(job.outputs ?? {})) {
        const id = /^\$\{\{ steps\.([\w-]+)\.outputs\.[\w-]+ \}\}$/.exec(value)?.[1];
        expect(job.steps.map((step) => step.id)).toContain(id);
      }
    }
  });
});

describe('migrate.yml', () => {
  const inputs = migrate.on.workflow_dispatch?.inputs ?? {};

  it('has one job per stage, in pipeline order, each needing the one before', () => {
    expect(Object.keys(migrate.jobs)).toEqual([...STAGE_NAMES]);
    STAGE_NAMES.forEach((stage, index) => {
      const job = migrate.jobs[stage]!;
      expect(needsOf(job)).toEqual(index === 0 ? [] : [STAGE_NAMES[index - 1]]);
      expect(actionStep(job).with).toEqual({
        stage,
        config: '${{ inputs.config }}',
        // The stages that change data refuse while other clients are connected, unless the operator allows it.
        ...((MUTATING_STAGES as readonly string[]).includes(stage)
          ? { 'allow-connected-clients': '${{ inputs.allow-connected-clients }}' }
          : {}),
      });
    });
  });

  it('offers allow-connected-clients, off by default', () => {
    expect(inputs['allow-connected-clients']).toMatchObject({ type: 'boolean', default: false });
  });

  it('offers the stages as first-stage choices, and the config file', () => {
    expect(inputs['first-stage']).toMatchObject({ type: 'choice', options: [...STAGE_NAMES], default: 'preflight' });
    expect(inputs['config']?.default).toBe('apim-migration.yml');
  });

  it('asks for approval in a protected environment before exactly the stages that change data', () => {
    const protectedJobs = Object.entries(migrate.jobs)
      .filter(([, job]) => environmentOf(job) !== undefined)
      .map(([name]) => name);
    expect(protectedJobs).toEqual([...MUTATING_STAGES]);
    expect(new Set(protectedJobs.map((name) => environmentOf(migrate.jobs[name]!))).size).toBe(1);
  });

  it('gives the backup key to the stages that back up and restore', () => {
    for (const stage of MUTATING_STAGES) {
      expect(Object.keys(actionStep(migrate.jobs[stage]!).env ?? {})).toContain('APIM_MIGRATE_BACKUP_PASSPHRASE');
    }
  });

  it('exposes the invalid API definitions of apim-validate', () => {
    const job = migrate.jobs['apim-validate']!;
    const id = actionStep(job).id;
    expect(job.outputs?.['invalid-definitions']).toBe(`\${{ steps.${id}.outputs.invalid-definitions }}`);
  });

  // Each `if:` is `!failure() && !cancelled() && contains(fromJSON('<stages up to this one>'), inputs.first-stage)`.
  const skipCondition =
    /^\$\{\{ !failure\(\) && !cancelled\(\) && contains\(fromJSON\('(\[[^']*\])'\), inputs\.first-stage\) \}\}$/;
  const startingStages = (stage: string): string[] => {
    const condition = migrate.jobs[stage]?.if ?? '';
    const match = skipCondition.exec(condition);
    expect(match, `${stage}: if: ${condition}`).not.toBeNull();
    return JSON.parse(match![1]!) as string[];
  };

  it('runs a job only after no failure or cancel, when first-stage is this stage or an earlier one', () => {
    STAGE_NAMES.forEach((stage, index) => expect(startingStages(stage)).toEqual(STAGE_NAMES.slice(0, index + 1)));
  });

  it.each(STAGE_NAMES)('with first-stage %s, runs exactly the stages from it on', (first) => {
    const running = STAGE_NAMES.filter((stage) => startingStages(stage).includes(first));
    expect(running).toEqual(STAGE_NAMES.slice(STAGE_NAMES.indexOf(first)));
  });
});

describe('the jobs of the server stages', () => {
  // The example config's server.timeoutMinutes (180) and startup.indexWaitMinutes (30), plus an hour for the backup.
  const expected: Record<string, number> = { identity: 240, 'apim-validate': 240, apim: 240, startup: 270 };

  it.each(['migrate.yml', 'rehearsal.yml'] as const)(
    "%s: each sets timeout-minutes above the stage's own limits, below GitHub's 360",
    (file) => {
      for (const [stage, minutes] of Object.entries(expected)) {
        const job = workflows[file].jobs[stage] as { 'timeout-minutes'?: number } | undefined;
        expect(job?.['timeout-minutes'], `${file}: ${stage}`).toBe(minutes);
        expect(minutes).toBeLessThan(360);
      }
    },
  );
});

describe('rollback.yml', () => {
  const inputs = rollback.on.workflow_dispatch?.inputs ?? {};
  const jobs = Object.values(rollback.jobs);

  it('restores the chosen stage from the backup of the given run', () => {
    expect(inputs['stage-to-restore']).toMatchObject({ type: 'choice', options: [...MUTATING_STAGES] });
    expect(inputs['from-run']).toMatchObject({ type: 'string', required: true });
    expect(inputs['config']?.default).toBe('apim-migration.yml');
    // Off unless the operator vouches for a backup the ledger does not record.
    expect(inputs['trust-unrecorded-run']).toMatchObject({ type: 'boolean', default: false });
    expect(jobs).toHaveLength(1);
    const step = actionStep(jobs[0]!);
    expect(step.with).toEqual({
      stage: 'restore',
      'restore-stage': '${{ inputs.stage-to-restore }}',
      'restore-from-run': '${{ inputs.from-run }}',
      'trust-unrecorded-run': '${{ inputs.trust-unrecorded-run }}',
      'allow-connected-clients': '${{ inputs.allow-connected-clients }}',
      config: '${{ inputs.config }}',
    });
    expect(inputs['allow-connected-clients']).toMatchObject({ type: 'boolean', default: false });
    expect(Object.keys(step.env ?? {})).toContain('APIM_MIGRATE_BACKUP_PASSPHRASE');
  });

  it('waits for approval in the same environment as the migration', () => {
    expect(environmentOf(jobs[0]!)).toBe(environmentOf(migrate.jobs['apim']!));
  });

  it('shares the concurrency group of migrate.yml, so a rollback never runs beside a migration', () => {
    expect(rollback.concurrency.group).toBe(migrate.concurrency.group);
  });
});

describe('rehearsal.yml', () => {
  const names = Object.keys(rehearsal.jobs);
  const stageJobs = names.filter((name) => (STAGE_NAMES as readonly string[]).includes(name));
  const rollbackJob = rehearsal.jobs[names.at(-1)!]!;

  it('runs on a schedule and on demand', () => {
    expect(rehearsal.on.schedule?.[0]?.cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    expect('workflow_dispatch' in rehearsal.on).toBe(true);
  });

  it('refreshes the staging copy first, with the operator script', () => {
    const first = rehearsal.jobs[names[0]!]!;
    expect(actionSteps(first)).toHaveLength(0);
    expect(first.steps.some((step) => step.run?.includes('refresh-staging-copy'))).toBe(true);
    expect(needsOf(rehearsal.jobs['preflight']!)).toEqual([names[0]]);
  });

  it('runs every stage, job by job, against the staging config, without approvals', () => {
    expect(stageJobs).toEqual([...STAGE_NAMES]);
    expect(names).toEqual([names[0], ...STAGE_NAMES, names.at(-1)]);
    STAGE_NAMES.forEach((stage, index) => {
      const job = rehearsal.jobs[stage]!;
      if (index > 0) expect(needsOf(job)).toEqual([STAGE_NAMES[index - 1]]);
      expect(actionStep(job).with.stage).toBe(stage);
    });
    for (const job of Object.values(rehearsal.jobs)) {
      expect(environmentOf(job)).toBeUndefined();
      for (const step of actionSteps(job)) expect(step.with?.['config']).toBe('apim-migration.staging.yml');
    }
  });

  it('never touches the production secrets or concurrency group', () => {
    for (const job of Object.values(rehearsal.jobs)) {
      for (const step of job.steps) for (const name of secretNames(step)) expect(name).toMatch(/^STAGING_/);
    }
    expect(rehearsal.concurrency.group).not.toBe(migrate.concurrency.group);
  });

  it('ends with startup, then rolls the copy back whenever registry-scripts succeeded', () => {
    expect(needsOf(rollbackJob)).toEqual(expect.arrayContaining(['startup', 'registry-scripts']));
    expect(rollbackJob.if).toBe("${{ always() && needs.registry-scripts.result == 'success' }}");
  });

  it('restores the backups of this run, latest stage first, ending with registry-scripts', () => {
    const steps = actionSteps(rollbackJob);
    expect(steps.map((step) => step.with?.['restore-stage'])).toEqual([...MUTATING_STAGES].reverse());
    for (const step of steps) {
      expect(step.with).toMatchObject({ stage: 'restore', 'restore-from-run': '${{ github.run_id }}' });
      expect(Object.keys(step.env ?? {})).toContain('APIM_MIGRATE_BACKUP_PASSPHRASE');
    }
    // registry-scripts succeeded, so its backup exists; the later stages may have been skipped or failed early.
    expect(steps.at(-1)?.if).toBeUndefined();
    for (const step of steps.slice(0, -1)) {
      const stage = step.with?.['restore-stage'];
      expect(step.if).toBe(`\${{ needs.${stage}.outputs.backup-artifact != '' }}`);
      expect(needsOf(rollbackJob)).toContain(stage);
    }
  });
});

describe('README', () => {
  it('uses the same action reference as the example workflows', () => {
    const references = [...readText('README.md').matchAll(/uses: (your-org\/apim-migrate@\S+)/g)].map((m) => m[1]);
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) expect(reference).toBe(ACTION);
  });
});
