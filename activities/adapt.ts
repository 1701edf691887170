/** What every activity gets around its body: liveness heartbeats and errors told by their cause. */
import { startHeartbeats } from './heartbeat.js';

/**
 * What every activity gets: a heartbeat while it runs (so a killed worker is noticed after the heartbeat timeout,
 * not after the start-to-close timeout, even for short control activities), and database errors told by their cause
 * (drizzle reports "Failed query: <sql>"; an operator needs "connection refused").
 */
export function adaptToTemporal<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, activity] of Object.entries(activities)) {
    const own = SELF_HEARTBEATING.has(name); // these send progress details of their own
    wrapped[name] = {
      async [name](input: never) {
        const heartbeats = own ? null : startHeartbeats();
        try {
          return await activity(input);
        } catch (err) {
          throw databaseCause(err);
        } finally {
          heartbeats?.stop();
        }
      },
    }[name]!; // the object literal has exactly this key
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

