/**
 * Several inference replicas of one model (`model.baseUrls`) behind one client: each request goes to the replica
 * with the fewest requests in flight from this process (ties in turn), and a request a replica cannot take (it
 * cannot be reached, or answers 502/503/504) is sent at once to the next replica instead. A replica that could not
 * be reached is left out for a while (doubling from 2 s to 60 s while it stays down) and then tried again, so a
 * replica that is down costs a few quick failures on that replica, not retries of the round. When every replica
 * fails, the last failure goes to the caller's retry policy (lib/llm/client.ts `withRetries`). Only requests any
 * replica answers alike are spread (completions, chat, embeddings, scores, model lists); files, batches and jobs
 * stay on the first replica, where they were created.
 *
 * Replica state is per process, shared by every client of the same replica set (a worker runs many shards).
 *
 * @example
 * const client = createModelClient({ baseUrl: urls[0], baseUrls: urls, timeoutMs: 60_000, maxRetries: 4 });
 */

interface ReplicaState {
  base: string;
  inFlight: number;
  downUntil: number;
  downForMs: number;
}

const MIN_DOWN_MS = 2_000;
const MAX_DOWN_MS = 60_000;
/** Answers that mean "this replica cannot take requests now", not "this request is wrong". */
const UNAVAILABLE = new Set([502, 503, 504]);

/** Requests any replica can answer alike. */
const STATELESS = /^\/(chat\/completions|completions|embeddings|score|rerank|models)(\?|$)/;

const states = new Map<string, ReplicaState>();
let turn = 0;

function trimmed(url: string): string {
  return url.replace(/\/+$/, '');
}

function stateOf(base: string): ReplicaState {
  let s = states.get(base);
  if (!s) {
    s = { base, inFlight: 0, downUntil: 0, downForMs: 0 };
    states.set(base, s);
  }
  return s;
}

/** The replicas in the order to try them for one request: up ones by fewest in flight (ties in turn), then down ones. */
export function replicaOrder(bases: string[], now = Date.now()): string[] {
  const start = turn++ % bases.length;
  const rotated = [...bases.slice(start), ...bases.slice(0, start)].map(stateOf);
  const up = rotated.filter((s) => s.downUntil <= now).sort((a, b) => a.inFlight - b.inFlight);
  const down = rotated.filter((s) => s.downUntil > now).sort((a, b) => a.downUntil - b.downUntil);
  return [...up, ...down].map((s) => s.base);
}

/** A body that can be sent again to another replica (the OpenAI client sends JSON as a string). */
function resendable(body: RequestInit['body']): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof ArrayBuffer || body instanceof Uint8Array || body instanceof Blob || body instanceof FormData || body instanceof URLSearchParams;
}

/**
 * A fetch for a client whose base URL is `bases[0]`: every request under it goes to one of `bases` (see above).
 * Requests to other URLs pass through untouched.
 */
export function replicaFetch(bases: string[], inner: typeof fetch = fetch, log?: (line: string) => void): typeof fetch {
  const list = bases.map(trimmed);
  const [first] = list;
  if (!first || list.length < 2) return inner;
  return async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(first) || (typeof input !== 'string' && !(input instanceof URL)) || !resendable(init?.body)) return inner(input, init);
    const path = url.slice(first.length);
    // Files, batches and fine-tuning jobs live on the server that created them: those stay on the first replica.
    if (!STATELESS.test(path)) return inner(input, init);
    const order = replicaOrder(list);
    let lastError: unknown = null;
    for (const [i, base] of order.entries()) {
      const s = stateOf(base);
      const isLast = i === order.length - 1;
      s.inFlight++;
      try {
        const res = await inner(base + path, init);
        if (UNAVAILABLE.has(res.status) && !isLast) {
          log?.(`replica ${base} answered ${res.status}; sending the request to the next replica`);
          await res.body?.cancel().catch(() => {});
          continue;
        }
        s.downForMs = 0;
        return res;
      } catch (err) {
        if (init?.signal?.aborted) throw err;
        lastError = err;
        // Timeouts of our own signal abort above; anything else thrown is a connection failure: leave it out a while.
        s.downForMs = Math.min(MAX_DOWN_MS, s.downForMs ? s.downForMs * 2 : MIN_DOWN_MS);
        s.downUntil = Date.now() + s.downForMs;
        if (!isLast) log?.(`replica ${base} unreachable (${describe(err)}); left out for ${s.downForMs / 1000} s, sending the request to the next replica`);
      } finally {
        s.inFlight--;
      }
    }
    throw lastError;
  };
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string } })?.cause;
  return cause?.code ?? (err as Error)?.message ?? String(err);
}

/** Forgets what this process learned about replicas (tests). */
export function resetReplicaState(): void {
  states.clear();
  turn = 0;
}
