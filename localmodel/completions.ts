/**
 * `POST /v1/completions` (legacy completions), the step-level interface a search uses: the prompt is a countdown
 * prompt followed by the step lines taken so far, one per line; the model continues from the state those steps
 * reach. With `stop: ["\n"]` the text is exactly the next step line (or the `Answer:` line when one number is
 * left), and `logprobs: k` lists the k most likely next steps with their log-probabilities.
 *
 * The prompt should end with a newline after its last step; either way the model starts a fresh step line and
 * never emits a leading newline. Step lines after an illegal one are ignored (the state is the last legal one).
 * `prompt` may also be an array of such strings: choices then come grouped by prompt, `n` per prompt.
 */
import { randomBytes } from 'node:crypto';
import type { Completion, CompletionChoice } from 'openai/resources/completions';
import { parsePrompt, parseTrace } from '../lib/tasks/countdown.js';
import type { GeneratedChoice } from './generate.js';
import { generateChoices, unreadableChoices } from './generate.js';
import { parseHint } from './hint.js';
import { ApiError, badRequest, optionalInt, optionalNumber, optionalStop, refuseStream, requiredString } from './http.js';
import type { ModelRegistry } from './models.js';
import type { Policy } from './policy.js';
import type { PrefixCache } from './prefix-cache.js';
import { requestUsage } from './prefix-cache.js';
import { promptTokens } from './tokenizer.js';
import { nowSeconds } from './store.js';
import { MAX_N, MAX_TOP_LOGPROBS } from './chat.js';

function readPrompts(body: Record<string, unknown>): string[] {
  const prompt = body.prompt;
  if (prompt === undefined) throw new ApiError(400, "Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  if (typeof prompt === 'string') return [prompt];
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.length <= 256 && prompt.every((p) => typeof p === 'string')) return prompt;
  throw badRequest('prompt', "Invalid 'prompt': expected a string, or an array of 1 to 256 strings.");
}

/** Continuations of one prompt (a countdown prompt plus the steps taken so far). */
export function continuePrompt(
  policy: Policy,
  prompt: string,
  options: Parameters<typeof generateChoices>[3],
): GeneratedChoice[] {
  const problem = parsePrompt(prompt);
  if (!problem) return unreadableChoices(options.n, options.topLogprobs, options.tokens);
  const taken = parseTrace(problem, prompt);
  if (taken.answer !== null) {
    // The trace is already finished: nothing left to write.
    return Array.from({ length: options.n }, () => ({ text: '', tokens: [], finishReason: 'stop' as const }));
  }
  return generateChoices(policy, problem, taken.steps, { ...options, hint: parseHint(prompt) });
}

export function createCompletion(body: Record<string, unknown>, models: ModelRegistry, cache?: PrefixCache): Completion {
  refuseStream(body);
  if (body.echo === true) throw badRequest('echo', "Invalid 'echo': this server does not echo the prompt; leave 'echo' out.");
  const model = requiredString(body, 'model');
  const prompts = readPrompts(body);
  const n = optionalInt(body, 'n', 1, MAX_N) ?? 1;
  const temperature = optionalNumber(body, 'temperature', 0, 2) ?? 1;
  const seed = optionalInt(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const maxTokens = optionalInt(body, 'max_tokens', 1, 1_000_000);
  const logprobs = optionalInt(body, 'logprobs', 0, MAX_TOP_LOGPROBS);
  const stop = optionalStop(body);
  const policy = models.policy(model);
  const tokens = models.tokens(model);

  const choices: CompletionChoice[] = [];
  let completionTokens = 0;
  for (const prompt of prompts) {
    const generated = continuePrompt(policy, prompt, { n, temperature, seed, maxTokens, stop, topLogprobs: logprobs ?? 0, tokens });
    generated.forEach((c) => {
      completionTokens += c.tokens.length;
      const choice: CompletionChoice & { stop_reason: string | null } = {
        index: choices.length,
        text: c.text,
        logprobs: logprobs === undefined ? null : completionLogprobs(c, prompt.length),
        finish_reason: c.finishReason,
        // vLLM's field: the stop string that matched, null when the model ended the text itself.
        stop_reason: c.stopMatched ?? null,
      };
      choices.push(choice);
    });
  }
  return {
    id: `cmpl-${randomBytes(12).toString('hex')}`,
    object: 'text_completion',
    created: nowSeconds(),
    model,
    system_fingerprint: 'localmodel',
    choices,
    usage: requestUsage(cache, model, prompts.map((p) => promptTokens(p, tokens)), completionTokens),
  };
}

/** OpenAI's legacy logprobs: parallel arrays; offsets count from the start of the prompt. */
function completionLogprobs(c: GeneratedChoice, promptLength: number): CompletionChoice.Logprobs {
  const textOffset: number[] = [];
  let offset = promptLength;
  for (const t of c.tokens) {
    textOffset.push(offset);
    offset += t.text.length;
  }
  return {
    tokens: c.tokens.map((t) => t.text),
    token_logprobs: c.tokens.map((t) => t.logprob),
    // As vLLM: the k best tokens, plus the sampled one when it is not among them (k or k + 1 entries).
    top_logprobs: c.tokens.map((t) => {
      const top: Record<string, number> = Object.fromEntries(t.top.map((alt) => [alt.text, alt.logprob]));
      if (t.top.length > 0 && !Object.hasOwn(top, t.text)) top[t.text] = t.logprob;
      return top;
    }),
    text_offset: textOffset,
  };
}
