/**
 * A {@link StepModel} over the legacy completions API (`client.completions.create`), which every OpenAI-compatible
 * server offers for base models: vLLM, SGLang, llama.cpp, and the embedded `localmodel`. The prompt of a request
 * is `template` filled with the problem's prompt and the partial trace; a step request stops at the end of the
 * line, a rollout runs to the end of the trace.
 */
import type OpenAI from 'openai';
import type { CompletionChoice } from 'openai/resources/completions';
import { withRetries, type RetryOptions } from '../llm/client.js';
import { requestTokens } from '../llm/limiter.js';
import type { Generation, GeneratedSequence, StepLine, StepModel, StepRequest } from './types.js';

export interface CompletionsStepModelOptions {
  /** Model name on the server. */
  model: string;
  /** How the request prompt is built; default "{prompt}\n\n{partial}". */
  template?: string;
  /** Stop sequences of a step request; default ["\n"]. */
  stop?: string[];
  /** Stop sequences of a rollout; default none (the model ends the trace). */
  rolloutStop?: string[];
  /** max_tokens of a step request; default 64 (a step line of an LLM is 10–40 tokens; the embedded model's 1 or ~10). */
  maxStepTokens?: number;
  /** max_tokens of a rollout; default 1024. */
  maxRolloutTokens?: number;
  /** Alternatives listed per position (`logprobs`); default 20, 0 to ask for none. OpenAI caps it at 5. */
  logprobs?: number;
  /** A line that ends the trace; default `Answer:` or `Final answer:` at the start of a line. */
  finalLine?: RegExp;
  /** Default: 3 retries. */
  retry?: RetryOptions;
}

export const DEFAULT_TEMPLATE = '{prompt}\n\n{partial}';

/**
 * OpenAI and vLLM report -9999 for a listed token of probability 0 (-inf): such alternatives are no candidates.
 */
export const IMPOSSIBLE_LOGPROB = -9999;

function possible(logprob: number): boolean {
  return Number.isFinite(logprob) && logprob > IMPOSSIBLE_LOGPROB;
}
export const DEFAULT_FINAL_LINE = /^\s*(?:final\s+)?answer\s*:/i;

/** The request prompt: `template` with {prompt} and {partial} filled in (no `$` surprises of String.replace). */
export function fillTemplate(template: string, prompt: string, partial: string): string {
  return template.split('{prompt}').map((part) => part.split('{partial}').join(partial)).join(prompt);
}

/**
 * @example
 * const model = createCompletionsStepModel(new OpenAI({ baseURL: server.url, apiKey: 'unused' }), { model: 'countdown-mlp' });
 * const { sequences } = await model.step(prompt, '', { n: 1, temperature: 0 });
 */
export function createCompletionsStepModel(client: OpenAI, options: CompletionsStepModelOptions): StepModel {
  const template = options.template ?? DEFAULT_TEMPLATE;
  const stop = options.stop ?? ['\n'];
  const logprobs = options.logprobs ?? 20;
  const finalLine = options.finalLine ?? DEFAULT_FINAL_LINE;
  const retry = options.retry ?? { maxRetries: 3 };

  async function complete(prompt: string, partial: string, request: StepRequest, mode: 'step' | 'rollout'): Promise<Generation> {
    const body: OpenAI.Completions.CompletionCreateParamsNonStreaming = {
      model: options.model,
      prompt: fillTemplate(template, prompt, partial),
      n: request.n,
      temperature: request.temperature,
      max_tokens: Math.min(mode === 'step' ? (options.maxStepTokens ?? 64) : (options.maxRolloutTokens ?? 1024), request.maxTokens ?? Infinity),
      ...(request.seed === undefined ? {} : { seed: request.seed }),
      ...(logprobs > 0 ? { logprobs } : {}),
    };
    const stopFor = mode === 'step' ? stop : options.rolloutStop;
    if (stopFor?.length) body.stop = stopFor;
    const tokens = requestTokens(String(body.prompt).length, body.max_tokens ?? 0, request.n);
    const res = await withRetries(() => client.completions.create(body, { signal: retry.signal }), { ...retry, tokens });
    if (!Array.isArray(res.choices) || res.choices.length !== request.n) {
      throw new Error(`completions for model ${options.model}: asked for ${request.n} choices, got ${res.choices?.length ?? 'none'}`);
    }
    const sequences = res.choices.map((c) => parseChoice(c, mode, finalLine));
    const completionTokens = res.usage?.completion_tokens ?? res.choices.reduce((s, c) => s + (c.logprobs?.tokens?.length ?? 0), 0);
    const cached = res.usage?.prompt_tokens_details?.cached_tokens;
    return { sequences, completionTokens, promptTokens: res.usage?.prompt_tokens ?? 0, cachedPromptTokens: typeof cached === 'number' ? cached : null };
  }

  return {
    step: (prompt, partial, request) => complete(prompt, partial, request, 'step'),
    rollout: (prompt, partial, request) => complete(prompt, partial, request, 'rollout'),
  };
}

interface TokenSpan {
  start: number;
  text: string;
  logprob: number | null;
  top: Record<string, number> | null;
}

function tokenSpans(choice: CompletionChoice): TokenSpan[] {
  const lp = choice.logprobs;
  if (!lp?.tokens) return [];
  let offset = 0;
  return lp.tokens.map((text, i) => {
    const span = { start: offset, text, logprob: lp.token_logprobs?.[i] ?? null, top: lp.top_logprobs?.[i] ?? null };
    offset += text.length;
    return span;
  });
}

/**
 * Splits one choice into lines. A line's log-probability sums the tokens that start in it (its newline included);
 * its alternatives are the top tokens of its first position that end a line, when that token starts the line.
 */
export function parseChoice(choice: CompletionChoice, mode: 'step' | 'rollout', finalLine: RegExp = DEFAULT_FINAL_LINE): GeneratedSequence {
  const text = choice.text ?? '';
  const stoppedByModel = choice.finish_reason === 'stop';
  // vLLM reports which stop string matched; null there means the model itself ended (EOS).
  const eos = stoppedByModel && (choice as { stop_reason?: unknown }).stop_reason === null;
  const pieces = text.replace(/\r/g, '').split('\n');
  if (pieces.length > 1 && pieces[pieces.length - 1] === '') pieces.pop();
  if (mode === 'step' && text === '' && stoppedByModel) return { lines: [], finished: true, meanLogprob: null };

  const spans = tokenSpans(choice);
  const lines: StepLine[] = [];
  let start = 0;
  for (const [i, piece] of pieces.entries()) {
    const end = start + piece.length; // the newline (if any) sits at `end`
    const own = spans.filter((s) => s.start >= start && s.start <= end);
    const logprob = own.length && own.every((s) => s.logprob !== null) ? own.reduce((a, s) => a + s.logprob!, 0) : null;
    const last = i === pieces.length - 1;
    const final = finalLine.test(piece) || (last && (mode === 'rollout' ? stoppedByModel : eos));
    const first = own[0];
    const alternatives: StepLine['alternatives'] = [];
    if (first && first.start === start && first.top) {
      // A final line written as one token (a line-level vocabulary): its final-looking alternatives are whole too.
      const wholeFinal = final && first.text.replace(/\r?\n$/, '') === piece;
      for (const [alt, altLogprob] of Object.entries(first.top)) {
        if (!possible(altLogprob)) continue;
        const cut = alt.indexOf('\n');
        const line = (cut >= 0 ? alt.slice(0, cut) : wholeFinal && finalLine.test(alt) ? alt : '').replace(/\r/g, '');
        if (line.trim() !== '') alternatives.push({ text: line, logprob: altLogprob });
      }
    }
    lines.push({ text: piece, logprob, alternatives, final });
    if (final) break;
    start = end + 1;
  }
  // Cut mid-line by max_tokens: that line is not a step.
  if (!stoppedByModel && !text.endsWith('\n') && lines.length && !lines[lines.length - 1]!.final) lines.pop();
  const finished = lines.length > 0 && lines[lines.length - 1]!.final;
  const tokenLogprobs = spans.map((s) => s.logprob).filter((x): x is number => x !== null);
  const meanLogprob = tokenLogprobs.length ? tokenLogprobs.reduce((a, b) => a + b, 0) / tokenLogprobs.length : null;
  return { lines, finished, meanLogprob };
}
