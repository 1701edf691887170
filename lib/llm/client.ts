/**
 * One client for every model server: the `openai` package against an OpenAI-compatible base URL, with flywheel's
 * own retry policy so that every failure is seen and counted. 429 waits for Retry-After; 5xx, 408, 409 and
 * connection errors back off exponentially with jitter; a hung request times out; a response that is not the JSON
 * it should be is a {@link MalformedResponseError}, which callers record against the sample instead of failing.
 */
import OpenAI from 'openai';
import { replicaFetch } from './replicas.js';

export interface ModelEndpoint {
  /** The first replica's base URL (the only one, unless `baseUrls` lists several). */
  baseUrl: string;
  /** Several replicas of the same model (`model.baseUrls`): requests are spread across them. */
  baseUrls?: string[];
  /** The key itself, resolved from the environment by the caller; never logged or stored. */
  apiKey?: string;
  timeoutMs: number;
  maxRetries: number;
  /** The fetch the client sends requests with (a worker's metrics instrument it); the global fetch by default. */
  fetch?: typeof fetch;
}

export function createModelClient(endpoint: ModelEndpoint): OpenAI {
  const replicas = endpoint.baseUrls && endpoint.baseUrls.length > 1 ? endpoint.baseUrls : null;
  const spread = replicas ? replicaFetch(replicas, endpoint.fetch ?? fetch) : endpoint.fetch;
  return new OpenAI({
    baseURL: replicas?.[0] ?? endpoint.baseUrl,
    apiKey: endpoint.apiKey || 'not-needed',
    timeout: endpoint.timeoutMs,
    maxRetries: 0, // retries are ours (withRetries): each one is counted and reported
    ...(spread ? { fetch: spread } : {}),
  });
}

/** The server answered, but not with a well-formed response (truncated or invalid JSON, missing fields). */
export class MalformedResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedResponseError';
  }
}

export interface RetryEvent {
  attempt: number;
  error: string;
  delayMs: number;
}

export interface RetryOptions {
  maxRetries: number;
  /** Called before each retry: what failed and how long we wait. */
  onRetry?: (event: RetryEvent) => void;
  signal?: AbortSignal;
  /** Upper bound on one wait (a Retry-After larger than this is capped). */
  maxDelayMs?: number;
  baseDelayMs?: number;
}

type Classified = { retry: false } | { retry: true; delayMs?: number; reason: string };

/** Decides whether an error from the `openai` client is worth another try, and how long to wait. */
export function classifyError(err: unknown): Classified {
  if (err instanceof MalformedResponseError || err instanceof SyntaxError) {
    return { retry: true, reason: `malformed response: ${(err as Error).message}` };
  }
  if (err instanceof OpenAI.APIConnectionTimeoutError) return { retry: true, reason: 'request timed out' };
  if (err instanceof OpenAI.APIConnectionError) {
    // fetch wraps the socket error twice: "fetch failed" → ECONNREFUSED / ECONNRESET / ...
    const cause = (err as { cause?: { code?: string; message?: string; cause?: { code?: string; message?: string } } }).cause;
    const detail = cause?.cause?.code ?? cause?.code ?? cause?.cause?.message ?? cause?.message ?? err.message;
    return { retry: true, reason: `could not connect (${detail})` };
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    if (status === 429) return { retry: true, delayMs: retryAfterMs(err.headers), reason: `429 ${err.message}` };
    if (status >= 500 || status === 408 || status === 409) return { retry: true, reason: `${status} ${err.message}` };
    return { retry: false };
  }
  return { retry: false };
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Number(ms);
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Runs `call` until it succeeds, a non-retryable error occurs, or `maxRetries` retries are spent.
 *
 * @example const res = await withRetries(() => client.chat.completions.create(req), { maxRetries: 4 });
 */
export async function withRetries<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 60_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const verdict = classifyError(err);
      if (!verdict.retry || attempt >= options.maxRetries || options.signal?.aborted) throw err;
      const backoff = Math.min(cap, base * 2 ** attempt) * (0.5 + Math.random() / 2);
      const delayMs = Math.min(cap, verdict.delayMs ?? backoff);
      options.onRetry?.({ attempt: attempt + 1, error: verdict.reason, delayMs });
      await sleep(delayMs, options.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
