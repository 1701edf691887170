/** Drawing N samples for one prompt through chat completions, with per-sample text, tokens and log-probability. */
import type OpenAI from 'openai';
import { MalformedResponseError, withRetries, type RetryOptions } from './client.js';
import { requestTokens } from './limiter.js';

export interface SampleRequest {
  model: string;
  prompt: string;
  systemPrompt?: string;
  n: number;
  temperature: number;
  maxTokens: number;
  seed?: number;
  /** Ask for token log-probabilities (the mean per token is kept). */
  logprobs?: boolean;
}

export interface Sample {
  text: string;
  finishReason: string | null;
  /** Mean log-probability per completion token, when the server reported them. */
  logprob: number | null;
  completionTokens: number;
}

export interface SampleResponse {
  samples: Sample[];
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  /** Failed attempts before this response (each one reported through onRetry too). */
  retries: number;
}

/** The chat/completions body of a sample request (the same whether sent now or in a batch file). */
export function chatRequestBody(request: SampleRequest): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [];
  if (request.systemPrompt) messages.push({ role: 'system', content: request.systemPrompt });
  messages.push({ role: 'user', content: request.prompt });
  return {
    model: request.model,
    messages,
    n: request.n,
    temperature: request.temperature,
    max_tokens: request.maxTokens,
    seed: request.seed,
    logprobs: request.logprobs ?? false,
  };
}

/**
 * One request for `n` samples. A response whose shape is wrong is a {@link MalformedResponseError} (retried like a
 * 5xx, then left to the caller to record).
 */
export async function sampleChat(client: OpenAI, request: SampleRequest, retry: RetryOptions): Promise<SampleResponse> {
  let retries = 0;
  // From the first attempt's start, not from the call: time queued for the endpoint's limiter is not latency.
  let started: number | undefined;
  const tokens = requestTokens((request.systemPrompt?.length ?? 0) + request.prompt.length, request.maxTokens, request.n);
  const response = await withRetries(
    async () => {
      started ??= Date.now();
      const res = await client.chat.completions.create(chatRequestBody(request), { signal: retry.signal });
      checkShape(res, request.n);
      return res;
    },
    { ...retry, tokens, onRetry: (e) => (retries++, retry.onRetry?.(e)) },
  );
  return { ...samplesOf(response), latencyMs: Date.now() - (started ?? Date.now()), retries };
}

/**
 * The samples of a chat completion that asked for `n` choices; {@link MalformedResponseError} when its shape is
 * wrong (a batch output line is checked the same way as a live response).
 */
export function parseChatCompletion(response: unknown, n: number): Omit<SampleResponse, 'latencyMs' | 'retries'> {
  checkShape(response, n);
  return samplesOf(response);
}

function samplesOf(response: OpenAI.Chat.ChatCompletion): Omit<SampleResponse, 'latencyMs' | 'retries'> {
  const samples = response.choices.map((choice): Sample => {
    const tokens = choice.logprobs?.content ?? null;
    const logprob = tokens && tokens.length ? tokens.reduce((s, t) => s + t.logprob, 0) / tokens.length : null;
    return {
      text: choice.message.content ?? '',
      finishReason: choice.finish_reason ?? null,
      logprob,
      completionTokens: tokens?.length ?? 0,
    };
  });
  // Servers report usage for the whole request; spread completion tokens over samples when they gave no logprobs.
  const completionTokens = response.usage?.completion_tokens ?? 0;
  if (samples.every((s) => s.completionTokens === 0) && samples.length) {
    for (const s of samples) s.completionTokens = Math.round(completionTokens / samples.length);
  }
  return { samples, promptTokens: response.usage?.prompt_tokens ?? 0, completionTokens };
}

function checkShape(res: unknown, n: number): asserts res is OpenAI.Chat.ChatCompletion {
  const r = res as { choices?: Array<{ message?: { content?: unknown } }> } | null;
  if (!r || typeof r !== 'object' || !Array.isArray(r.choices)) {
    throw new MalformedResponseError('the response has no "choices" array');
  }
  if (r.choices.length !== n) {
    throw new MalformedResponseError(`asked for ${n} choices, the response has ${r.choices.length}`);
  }
  for (const [i, c] of r.choices.entries()) {
    if (!c?.message || (typeof c.message.content !== 'string' && c.message.content !== null)) {
      throw new MalformedResponseError(`choice ${i} has no message content`);
    }
  }
}
