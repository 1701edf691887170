/** Adapting long activities to Temporal: throttled heartbeats and the cancellation signal. */
import { setMaxListeners } from 'node:events';
import { Context } from '@temporalio/activity';

/** A heartbeat function that sends at most one heartbeat per `everyMs` (the server needs no more). */
export function throttledHeartbeat(everyMs = 1000): (details?: unknown) => void {
  let last = 0;
  return (details) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    Context.current().heartbeat(details);
  };
}

/** The activity's cancellation signal; every in-flight model request listens to it, hence no listener cap. */
export function cancellationSignal(): AbortSignal {
  const signal = Context.current().cancellationSignal;
  setMaxListeners(0, signal);
  return signal;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i], i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}
