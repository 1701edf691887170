/**
 * Generating a shard's samples: plan what is missing (a retried shard requests only that), sample each problem's
 * missing indices in one request, and turn the response into trace rows, or a malformed response into error rows
 * (recorded against the samples, not lost). Failures the caller must classify are thrown as {@link SamplingFailed}.
 */
import type OpenAI from 'openai';
import { classifyError, MalformedResponseError } from '../llm/client.js';
import type { EndpointLimiter } from '../llm/limiter.js';
import { sampleChat } from '../llm/sample.js';
import type { SampleGroup } from '../round/samples.js';

export interface SampleTask {
  problem: { id: number; prompt: string };
  group: SampleGroup;
  /** Sample indices not stored yet. */
  missing: number[];
  /** Samples of the group already stored. */
  skipped: number;
}

/**
 * For each problem and sample group: the indices still missing. `existing`: problem → strategy → stored indices;
 * `samplesOf`: a problem's own number of samples (difficulty-adaptive budgets), else the group's.
 */
export function planMissingSamples(
  problems: ReadonlyArray<{ id: number; prompt: string }>,
  groups: readonly SampleGroup[],
  existing: ReadonlyMap<number, ReadonlyMap<string, ReadonlySet<number>>>,
  samplesOf: (problemId: number) => number | undefined = () => undefined,
): SampleTask[] {
  return problems.flatMap((problem) =>
    groups.map((planned) => {
      const group = { ...planned, n: samplesOf(problem.id) ?? planned.n };
      const have = existing.get(problem.id)?.get(group.strategy);
      const missing = Array.from({ length: group.n }, (_, i) => i).filter((i) => !have?.has(i));
      return { problem: { id: problem.id, prompt: problem.prompt }, group, missing, skipped: group.n - missing.length };
    }),
  );
}

/** A generated sample as stored: a trace row without its round, purpose and model. */
export interface GeneratedTrace {
  problemId: number;
  strategy: string;
  sampleIndex: number;
  text: string;
  logprob?: number | null;
  promptTokens?: number;
  completionTokens?: number;
  latencyMs?: number;
  finishReason?: string | null;
  error?: string;
  flags?: Record<string, unknown>;
}

/** A failed model request: every retry, and the final failure. */
export interface ModelErrorRecord {
  problemId: number;
  strategy: string;
  attempt: number;
  error: string;
  final: boolean;
}

/**
 * Sampling stopped: `cancelled` (the caller's signal aborted; nobody's fault), `refused` (the server will refuse
 * again: 400, 401, 404), or `unavailable` (retries ran out on a retryable error; another attempt may succeed).
 */
export class SamplingFailed extends Error {
  constructor(
    readonly kind: 'cancelled' | 'refused' | 'unavailable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SamplingFailed';
  }
}

export interface SampleOptions {
  model: string;
  systemPrompt?: string;
  maxTokens: number;
  seed: number;
  maxRetries: number;
  /** Named in errors, so an operator knows which server. */
  baseUrl: string;
  /** The endpoint's process-wide limiter (requests in flight, per-minute budgets, 429 pauses). */
  limiter?: EndpointLimiter;
  signal?: AbortSignal;
  /** Told of every failed request, retried or final, to store. */
  onError(error: ModelErrorRecord): void;
  log?(line: string): void;
}

/** Samples a task's missing indices in one request; returns the traces to store and how many are error rows. */
export async function sampleMissing(client: OpenAI, task: SampleTask, options: SampleOptions): Promise<{ traces: GeneratedTrace[]; errors: number }> {
  const { problem, group, missing } = task;
  const at = { problemId: problem.id, strategy: group.strategy };
  const failed = (attempt: number, error: string, final: boolean) => options.onError({ ...at, attempt, error: error.slice(0, 500), final });
  let attempts = 0;
  try {
    const res = await sampleChat(
      client,
      {
        model: options.model,
        prompt: problem.prompt,
        systemPrompt: options.systemPrompt,
        n: missing.length,
        temperature: group.temperature,
        maxTokens: options.maxTokens,
        seed: options.seed,
        logprobs: true,
      },
      {
        maxRetries: options.maxRetries,
        signal: options.signal,
        limiter: options.limiter,
        onRetry: (e) => {
          attempts = e.attempt;
          failed(e.attempt, e.error, false);
          options.log?.(`model request retry ${e.attempt} (${e.error}); waiting ${Math.round(e.delayMs)} ms`);
        },
      },
    );
    const traces = res.samples.flatMap((s, i): GeneratedTrace[] => {
      const sampleIndex = missing[i];
      if (sampleIndex === undefined) return [];
      return [
        {
          ...at,
          sampleIndex,
          text: s.text,
          logprob: s.logprob,
          promptTokens: res.promptTokens,
          completionTokens: s.completionTokens,
          latencyMs: res.latencyMs,
          finishReason: s.finishReason,
          flags: res.retries ? { retries: res.retries } : {},
        },
      ];
    });
    return { traces, errors: 0 };
  } catch (err) {
    // Cancelled (the worker shuts down, the workflow cancels): the model server did nothing wrong (found by the
    // durability tests: a graceful worker restart mid-generation sent the round to NeedsAttention).
    if (options.signal?.aborted) throw new SamplingFailed('cancelled', 'cancelled while sampling', { cause: err });
    failed(attempts + 1, describeError(err), true);
    const malformed = err instanceof MalformedResponseError || err instanceof SyntaxError;
    if (!malformed) {
      if (!classifyError(err).retry) throw new SamplingFailed('refused', `model server refused the request: ${errorMessage(err)}`, { cause: err });
      // Say where and how often, so the round's NeedsAttention details are actionable.
      const tries = attempts + 1;
      throw new SamplingFailed('unavailable', `model server ${options.baseUrl}: ${describeError(err)} (${tries} ${tries === 1 ? 'attempt' : 'attempts'})`, { cause: err });
    }
    // A malformed answer after retries is recorded against the samples (an error verdict follows), not lost.
    const error = `malformed response: ${errorMessage(err)}`.slice(0, 500);
    return { traces: missing.map((sampleIndex) => ({ ...at, sampleIndex, text: '', error })), errors: missing.length };
  }
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

function describeError(err: unknown): string {
  const c = classifyError(err);
  return c.retry ? c.reason : errorMessage(err);
}
