/** Counting semaphores for work that shares a bounded resource (sandboxes, a model endpoint's request slots). */

export interface Gate {
  /** Runs `work` once fewer than `size` callers are inside; waits in FIFO order otherwise. */
  <T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Callers inside now. */
  readonly inside: number;
  /** Callers waiting for a place. */
  readonly waiting: number;
  /** Changes the size; a larger size lets waiting callers in at once. */
  resize(size: number): void;
}

/**
 * A counting semaphore: at most `size` callers inside at once, the rest wait in arrival order. A waiting caller
 * whose signal aborts leaves the queue with the signal's reason.
 *
 * @example
 * const gate = createGate(4);
 * await Promise.all(jobs.map((job) => gate(() => run(job))));
 */
export function createGate(initialSize: number): Gate {
  let size = Math.max(1, initialSize);
  let inside = 0;
  const queue: Array<{ enter(): void }> = [];
  const admit = () => {
    while (inside < size) {
      const next = queue.shift();
      if (!next) return;
      inside++;
      next.enter();
    }
  };
  const enter = (signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (inside < size && queue.length === 0) {
        inside++;
        return resolve();
      }
      const onAbort = () => {
        const at = queue.indexOf(entry);
        if (at >= 0) queue.splice(at, 1);
        reject(signal!.reason);
      };
      const entry = {
        enter() {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(entry);
    });
  const gate = async function gated<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await enter(signal);
    try {
      return await work();
    } finally {
      inside--;
      admit();
    }
  } as Gate;
  Object.defineProperties(gate, {
    inside: { get: () => inside },
    waiting: { get: () => queue.length },
  });
  gate.resize = (next: number) => {
    size = Math.max(1, next);
    admit();
  };
  return gate;
}
