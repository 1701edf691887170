/**
 * A small client for outcome and process reward models behind HTTP, so that search can rank traces without a
 * verifier (evaluation-time search on tasks whose verifier needs a hidden answer). Two wire formats:
 *
 * - `flywheel` (default): one `POST <url>` per completion with JSON `{ model, prompt, completion }`, answered by
 *   `{ "score": <number> }`. An outcome reward model (ORM) scores finished traces; a process reward model (PRM)
 *   gets partial traces (complete step lines so far) as `completion` and scores how promising they are.
 * - `vllm-score`: vLLM's score API (`vllm serve <model> --task score`, `POST /score`): one request per prompt with
 *   `{ model, text_1: prompt, text_2: [completions...] }`, answered by `{ data: [{ index, score }, ...] }`.
 */
export interface RewardModelEndpoint {
  /** The full URL to POST to, e.g. `http://rm:8000/score`. */
  url: string;
  /** Sent as `model`; default "reward-model". */
  model?: string;
  format?: 'flywheel' | 'vllm-score';
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Default 30 s per request. */
  timeoutMs?: number;
  /** Retries of connection errors, 429 and 5xx; default 3. */
  maxRetries?: number;
  /** For tests; default the global fetch. */
  fetch?: typeof fetch;
}

export interface RewardScores {
  /** One score per completion, in order. */
  scores: number[];
  /** HTTP requests made (reported as the outcome's `scorerCalls`). */
  requests: number;
}

export interface RewardModelClient {
  score(prompt: string, completions: readonly string[]): Promise<RewardScores>;
}

/** The reward model answered with something other than scores; says what came back and from where. */
export class RewardModelError extends Error {
  constructor(
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'RewardModelError';
  }
}

/**
 * @example
 * const orm = createRewardModelClient({ url: 'http://localhost:8001/score', format: 'vllm-score', model: 'my-orm' });
 * const { scores } = await orm.score(prompt, [traceA, traceB]);
 */
export function createRewardModelClient(endpoint: RewardModelEndpoint): RewardModelClient {
  const send = endpoint.fetch ?? fetch;
  const model = endpoint.model ?? 'reward-model';
  const maxRetries = endpoint.maxRetries ?? 3;

  async function post(body: unknown): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await send(endpoint.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}) },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(endpoint.timeoutMs ?? 30_000),
        });
        const text = await res.text();
        if (!res.ok) {
          throw new RewardModelError(`reward model at ${endpoint.url} answered ${res.status}: ${text.slice(0, 200)}`, res.status === 429 || res.status >= 500);
        }
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new RewardModelError(`reward model at ${endpoint.url} answered with invalid JSON: ${text.slice(0, 200)}`, true);
        }
      } catch (err) {
        const retryable = err instanceof RewardModelError ? err.retryable : true; // network errors and timeouts
        if (!retryable || attempt >= maxRetries) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
  }

  return {
    async score(prompt, completions) {
      if (completions.length === 0) return { scores: [], requests: 0 };
      if (endpoint.format === 'vllm-score') {
        const res = (await post({ model, text_1: prompt, text_2: completions })) as { data?: Array<{ index?: number; score?: unknown }> };
        const scores = new Array<number>(completions.length).fill(NaN);
        for (const [i, row] of (res?.data ?? []).entries()) scores[row.index ?? i] = Number(row.score);
        if (scores.some((s) => !Number.isFinite(s))) {
          throw new RewardModelError(`reward model at ${endpoint.url}: expected { data: [{ index, score }] } with ${completions.length} scores`);
        }
        return { scores, requests: 1 };
      }
      const scores: number[] = [];
      for (const completion of completions) {
        const res = (await post({ model, prompt, completion })) as { score?: unknown } | null;
        const score = Number(res?.score);
        if (res?.score === undefined || !Number.isFinite(score)) {
          throw new RewardModelError(`reward model at ${endpoint.url}: expected { "score": <number> }, got ${JSON.stringify(res).slice(0, 200)}`);
        }
        scores.push(score);
      }
      return { scores, requests: completions.length };
    },
  };
}
