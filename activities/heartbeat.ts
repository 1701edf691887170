/** Adapting long activities to Temporal: throttled heartbeats and the cancellation signal. */
import { setMaxListeners } from 'node:events';
import { Context } from '@temporalio/activity';

/**
 * How often an activity heartbeats under this heartbeat timeout: three times per timeout, so one late beat is not a
 * dead worker, but at most once a second (the SDK batches beats to the server anyway) and at least every 50 ms.
 */
export function heartbeatPeriodMs(heartbeatTimeoutMs: number | undefined): number {
  if (!heartbeatTimeoutMs) return MAX_PERIOD_MS;
  return Math.min(MAX_PERIOD_MS, Math.max(MIN_PERIOD_MS, heartbeatTimeoutMs / 3));
}
const MAX_PERIOD_MS = 1_000;
const MIN_PERIOD_MS = 50;

/**
 * Heartbeats for a running activity: one at once, then the last details again on a timer derived from the
 * activity's heartbeat timeout, so a slow model request or query does not look like a dead worker; progress details
 * whenever they change, at most one per period. A dead process sends nothing, which is what the timeout detects.
 */
export function startHeartbeats(): { beat(details?: unknown): void; stop(): void } {
  const context = Context.current();
  const period = heartbeatPeriodMs(context.info.heartbeatTimeoutMs);
  let last = 0;
  let details: unknown;
  const send = () => {
    last = Date.now();
    context.heartbeat(details);
  };
  send();
  const timer = setInterval(send, period);
  timer.unref();
  return {
    beat(next) {
      details = next;
      if (Date.now() - last >= period) send();
    },
    stop: () => clearInterval(timer),
  };
}

/** The activity's cancellation signal; every in-flight model request listens to it, hence no listener cap. */
export function cancellationSignal(): AbortSignal {
  const signal = Context.current().cancellationSignal;
  setMaxListeners(0, signal);
  return signal;
}

/**
 * Runs `fn` over items with at most `limit` in flight. After a failure no new item starts, and the items in flight
 * finish before the first error is thrown, so the caller's `finally` sees (and stores) all they did. (Rejecting at
 * once left lanes running after the activity had failed: their model errors and samples were never stored, found
 * by the durability tests as injected faults missing from `model_errors`.)
 */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>) {
  let next = 0;
  let failed = false;
  const lane = async () => {
    for (let i = next++; i < items.length && !failed; i = next++) {
      try {
        await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  const rejected = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (rejected) throw rejected.reason;
}
