/**
 * All activities, built from their dependencies. Workflows see only the type:
 * `proxyActivities<Activities>(...)`.
 *
 * @example
 * const activities = createActivities(createDefaultDeps({ db, embeddedModelUrl }));
 * await Worker.create({ activities, taskQueue: TASK_QUEUES.control, ... });
 */
import { adaptToTemporal } from './adapt.js';
import { batchActivities } from './batch.js';
import type { ActivityDeps } from './deps.js';
import { deployActivities } from './deploy.js';
import { evaluateActivities } from './evaluate.js';
import { filterActivities } from './filter.js';
import { fineTuneActivities } from './finetune.js';
import { generateActivities } from './generate.js';
import { promoteActivities } from './promote.js';
import { rationalizeActivities } from './rationalize.js';
import { roundActivities } from './round.js';
import { searchActivities } from './search.js';
import { stepSearchActivities } from './search-step.js';
import { verifyActivities } from './verify.js';

export function createActivities(deps: ActivityDeps) {
  return adaptToTemporal({
    ...roundActivities(deps),
    ...filterActivities(deps),
    ...fineTuneActivities(deps),
    ...deployActivities(deps),
    ...evaluateActivities(deps),
    ...promoteActivities(deps),
    ...generateActivities(deps),
    ...batchActivities(deps),
    ...verifyActivities(deps),
    ...searchActivities(deps),
    ...stepSearchActivities(deps),
    ...rationalizeActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
export { createDefaultDeps, WorkerConfigError, type ActivityDeps } from './deps.js';
