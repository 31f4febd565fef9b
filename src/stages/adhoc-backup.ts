import { artifactName } from '../artifacts/store.js';
import { InputError } from '../core/errors.js';
import { physicalTargets, targetsOnce } from './databases.js';
import { runStage } from './engine.js';
import { backUpDatabases } from './safety-steps.js';
import { lockSteps } from './locks.js';
import type { StageContext, StepOutput } from './types.js';
import type { StageResult } from '../core/results.js';

const LABEL = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** A label becomes part of an artifact name, so it is held to a safe, short form. */
export function checkBackupLabel(label: string | undefined): void {
  if (label !== undefined && !LABEL.test(label)) {
    throw new InputError({
      message: `--label "${label}" must be 1 to 40 lower-case letters, digits and hyphens, starting with a letter or digit`,
    });
  }
}

/** `apim-migrate-adhoc[-<label>]-backup-a<attempt>`: the artifact name of an ad-hoc backup. */
export function adhocBackupName(label: string | undefined, attempt: number): string {
  checkBackupLabel(label);
  return artifactName(label === undefined ? 'adhoc' : `adhoc-${label}`, 'backup', attempt);
}

/** An ad-hoc, verified backup of every configured database, outside the stages. */
export async function backupAllDatabases(label: string | undefined, context: StageContext): Promise<StageResult> {
  const name = adhocBackupName(label, context.deps.run.attempt);
  const touched = targetsOnce(() => physicalTargets(context.config));
  const locks = lockSteps(touched, context, 'ad-hoc backup');
  return runStage(
    {
      name: 'backup',
      title: 'Ad-hoc backup',
      steps: () => [
        locks.lock,
        {
          id: 'backup',
          title: 'Back up',
          async run(): Promise<StepOutput> {
            const databases = await touched();
            const backup = await backUpDatabases(context, 'adhoc', name, databases);
            context.outcome.backupArtifact = backup.artifact.name;
            return {
              summary: `${backup.artifact.name} stored and verified (${databases.map((db) => db.label).join(', ')})`,
            };
          },
        },
        locks.release,
      ],
    },
    context,
  );
}
