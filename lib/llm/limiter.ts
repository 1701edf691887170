/**
 * Requests in flight to one model endpoint, process-wide: every shard, search and rationalization a worker runs
 * against the same base URL shares one limiter, so the server is kept at `maxConcurrency` requests as long as any
 * of them has work (no tail where one shard waits on its last request while the server idles). Optional request-
 * and token-per-minute budgets pace rate-limited APIs, and a 429's Retry-After pauses the whole endpoint.
 */
import { createGate, type Gate } from '../concurrency.js';

export interface EndpointLimits {
  /** Requests in flight to the endpoint from this process. */
  maxConcurrency: number;
  /** Requests started per minute. */
  rpm?: number;
  /** Tokens per minute, each request counted as the provider counts it before answering ({@link requestTokens}). */
  tpm?: number;
}

export interface EndpointLimiter {
  /** Runs one request once a slot is free and the rate budgets allow; a waiting request leaves on abort. */
  run<T>(request: () => Promise<T>, options?: { tokens?: number; signal?: AbortSignal }): Promise<T>;
  /** The server said wait (429 Retry-After): no request to this endpoint starts for `ms`. */
  backOff(ms: number): void;
  readonly inFlight: number;
  readonly waiting: number;
  readonly limits: EndpointLimits;
}

const limiters = new Map<string, { limiter: EndpointLimiter; update(limits: EndpointLimits): void }>();

/**
 * The limiter of `baseUrl` in this process, created on first use. A later call with other limits (another run's
 * config) changes them for every user of the endpoint: one server, one budget.
 *
 * @example
 * const limiter = endpointLimiter('http://vllm:8000/v1', { maxConcurrency: 256 });
 * const res = await limiter.run(() => client.chat.completions.create(body), { signal });
 */
export function endpointLimiter(baseUrl: string, limits: EndpointLimits): EndpointLimiter {
  const key = baseUrl.replace(/\/+$/, '');
  let found = limiters.get(key);
  if (!found) {
    found = createEndpointLimiter(limits);
    limiters.set(key, found);
  } else {
    found.update(limits);
  }
  return found.limiter;
}

/**
 * Tokens a request is charged before it is answered, as OpenAI's rate limiter counts them: about four characters of
 * prompt per token, plus every completion token the request may generate (`max_tokens` × n).
 */
export function requestTokens(promptChars: number, maxTokens: number, n = 1): number {
  return Math.ceil(promptChars / 4) + maxTokens * n;
}

/** A budget that refills continuously at `perMinute`, holding at most one second's worth (bursts stay small). */
class PerMinuteBudget {
  private level: number;
  private at = Date.now();
  constructor(private perMinute: number) {
    this.level = this.capacity;
  }
  get capacity(): number {
    return Math.max(1, this.perMinute / 60);
  }
  setRate(perMinute: number) {
    this.refill();
    this.perMinute = perMinute;
    this.level = Math.min(this.level, this.capacity);
  }
  private refill() {
    const now = Date.now();
    this.level = Math.min(this.capacity, this.level + ((now - this.at) * this.perMinute) / 60_000);
    this.at = now;
  }
  /** Milliseconds until `amount` is available (0: take it now). A request larger than a second's worth waits for a full budget. */
  waitFor(amount: number): number {
    this.refill();
    const need = Math.min(amount, this.capacity);
    return this.level >= need ? 0 : Math.ceil(((need - this.level) * 60_000) / this.perMinute);
  }
  take(amount: number) {
    this.level -= Math.min(amount, this.capacity);
  }
}

function createEndpointLimiter(initial: EndpointLimits) {
  let limits = initial;
  const gate: Gate = createGate(limits.maxConcurrency);
  let rpm = limits.rpm ? new PerMinuteBudget(limits.rpm) : null;
  let tpm = limits.tpm ? new PerMinuteBudget(limits.tpm) : null;
  let pausedUntil = 0;
  // Rate-paced requests start one at a time, in order: a slot holder waits here for the budget.
  let pacing: Promise<void> = Promise.resolve();

  const paced = async (tokens: number, signal?: AbortSignal) => {
    for (;;) {
      signal?.throwIfAborted();
      const wait = Math.max(pausedUntil - Date.now(), rpm?.waitFor(1) ?? 0, tpm?.waitFor(tokens) ?? 0);
      if (wait <= 0) break;
      await sleep(wait, signal);
    }
    rpm?.take(1);
    tpm?.take(tokens);
  };

  const limiter: EndpointLimiter = {
    run(request, options = {}) {
      return gate(async () => {
        if (rpm || tpm || pausedUntil > Date.now()) {
          const turn = pacing.then(() => paced(options.tokens ?? 0, options.signal));
          pacing = turn.catch(() => {});
          await turn;
        }
        return request();
      }, options.signal);
    },
    backOff(ms) {
      pausedUntil = Math.max(pausedUntil, Date.now() + ms);
    },
    get inFlight() {
      return gate.inside;
    },
    get waiting() {
      return gate.waiting;
    },
    get limits() {
      return limits;
    },
  };
  return {
    limiter,
    update(next: EndpointLimits) {
      if (next.maxConcurrency !== limits.maxConcurrency) gate.resize(next.maxConcurrency);
      if (next.rpm !== limits.rpm) rpm = next.rpm ? (rpm?.setRate(next.rpm), rpm ?? new PerMinuteBudget(next.rpm)) : null;
      if (next.tpm !== limits.tpm) tpm = next.tpm ? (tpm?.setRate(next.tpm), tpm ?? new PerMinuteBudget(next.tpm)) : null;
      limits = next;
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The limiter of an endpoint that has limits (every worker's does: activities/deps.ts); none otherwise. */
export function limiterOf(endpoint: { baseUrl: string; baseUrls?: string[]; limits?: EndpointLimits }): EndpointLimiter | undefined {
  // Replicas (`model.baseUrls`) share one limiter for the set: requests are spread beneath it (lib/llm/replicas.ts).
  const key = endpoint.baseUrls && endpoint.baseUrls.length > 1 ? endpoint.baseUrls.join(' ') : endpoint.baseUrl;
  return endpoint.limits ? endpointLimiter(key, endpoint.limits) : undefined;
}
