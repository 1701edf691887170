/**
 * All activities, built from their dependencies. Workflows see only the type:
 * `proxyActivities<Activities>(...)`.
 *
 * @example
 * const activities = createActivities(createDefaultDeps({ db, embeddedModelUrl }));
 * await Worker.create({ activities, taskQueue: TASK_QUEUES.control, ... });
 */
import type { ActivityDeps } from './deps.js';
import { evaluateActivities } from './evaluate.js';
import { filterActivities } from './filter.js';
import { fineTuneActivities } from './finetune.js';
import { generateActivities } from './generate.js';
import { startHeartbeats } from './heartbeat.js';
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
    ...evaluateActivities(deps),
    ...promoteActivities(deps),
    ...generateActivities(deps),
    ...verifyActivities(deps),
    ...searchActivities(deps),
    ...stepSearchActivities(deps),
    ...rationalizeActivities(deps),
  });
}

/**
 * What every activity gets: a heartbeat while it runs (so a killed worker is noticed after the heartbeat timeout,
 * not after the start-to-close timeout, even for short control activities), and database errors told by their cause
 * (drizzle reports "Failed query: <sql>"; an operator needs "connection refused").
 */
function adaptToTemporal<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, activity] of Object.entries(activities)) {
    const own = SELF_HEARTBEATING.has(name); // these send progress details of their own
    wrapped[name] = {
      async [name](input: never) {
        const heartbeats = own ? null : startHeartbeats(5000);
        try {
          return await activity(input);
        } catch (err) {
          throw databaseCause(err);
        } finally {
          heartbeats?.stop();
        }
      },
    }[name];
  }
  return wrapped as T;
}

const SELF_HEARTBEATING = new Set(['generateShard', 'verifyShard', 'searchShard', 'rationalizeShard', 'fineTune']);

function databaseCause(err: unknown): unknown {
  const cause = (err as { cause?: { message?: string; code?: string } } | null)?.cause;
  if (err instanceof Error && err.message.startsWith('Failed query:') && cause?.message) {
    return new Error(`database error${cause.code ? ` ${cause.code}` : ''}: ${cause.message}`, { cause: err });
  }
  return err;
}

export type Activities = ReturnType<typeof createActivities>;
export { createDefaultDeps, WorkerConfigError, type ActivityDeps } from './deps.js';
