/** Adapting long activities to Temporal: throttled heartbeats and the cancellation signal. */
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

export function cancellationSignal(): AbortSignal {
  return Context.current().cancellationSignal;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i], i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}
