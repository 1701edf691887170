/**
 * `POST /v1/chat/completions`: the last user message is the countdown prompt; each choice is a whole trace (step
 * lines, then the answer line). Validation errors name the offending field.
 */
import { randomBytes } from 'node:crypto';
import type { ChatCompletion, ChatCompletionTokenLogprob } from 'openai/resources/chat/completions';
import { parsePrompt } from '../lib/tasks/countdown.js';
import type { ChatContent } from './dataset.js';
import { contentText } from './dataset.js';
import type { Token } from './generate.js';
import { generateChoices, unreadableChoices } from './generate.js';
import { parseHint } from './hint.js';
import { ApiError, badRequest, optionalBoolean, optionalInt, optionalNumber, optionalStop, refuseStream, requiredString } from './http.js';
import type { ModelRegistry } from './models.js';
import type { PrefixCache } from './prefix-cache.js';
import { requestUsage } from './prefix-cache.js';
import { promptTokens } from './tokenizer.js';
import { nowSeconds } from './store.js';

export const MAX_N = 128;
export const MAX_TOP_LOGPROBS = 20;

interface ChatMessage {
  role: string;
  content: ChatContent;
}

function readMessages(body: Record<string, unknown>): ChatMessage[] {
  const messages = body.messages;
  if (messages === undefined) throw new ApiError(400, "Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  if (!Array.isArray(messages) || messages.length === 0) throw badRequest('messages', "Invalid 'messages': expected a non-empty array of messages.");
  messages.forEach((m, i) => {
    if (!m || typeof m !== 'object' || typeof (m as ChatMessage).role !== 'string') {
      throw badRequest(`messages[${i}]`, `Invalid 'messages[${i}]': expected an object with a string 'role'.`);
    }
  });
  return messages as ChatMessage[];
}

/** The prompt a chat request sends: each message as a role token followed by its content's tokens. */
function chatPromptTokens(messages: readonly ChatMessage[], mode: Parameters<typeof promptTokens>[1]): string[] {
  return messages.flatMap((m) => [`<|${m.role}|>`, ...promptTokens(contentText(m.content) ?? '', mode)]);
}

export function createChatCompletion(body: Record<string, unknown>, models: ModelRegistry, cache?: PrefixCache): ChatCompletion {
  refuseStream(body);
  const model = requiredString(body, 'model');
  const messages = readMessages(body);
  const n = optionalInt(body, 'n', 1, MAX_N) ?? 1;
  const temperature = optionalNumber(body, 'temperature', 0, 2) ?? 1;
  const seed = optionalInt(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const maxTokens = optionalInt(body, 'max_completion_tokens', 1, 1_000_000) ?? optionalInt(body, 'max_tokens', 1, 1_000_000);
  const logprobs = optionalBoolean(body, 'logprobs') ?? false;
  const topLogprobs = optionalInt(body, 'top_logprobs', 0, MAX_TOP_LOGPROBS);
  if (topLogprobs !== undefined && !logprobs) throw badRequest('top_logprobs', "Invalid 'top_logprobs': it needs 'logprobs' set to true.");
  const stop = optionalStop(body);
  const policy = models.policy(model);
  const tokens = models.tokens(model);

  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const prompt = lastUser ? contentText(lastUser.content) : null;
  const problem = prompt === null ? null : parsePrompt(prompt);
  const hint = prompt === null ? null : parseHint(prompt);
  const choices = problem
    ? generateChoices(policy, problem, [], { n, temperature, seed, maxTokens, stop, topLogprobs: topLogprobs ?? 0, hint, tokens })
    : unreadableChoices(n, topLogprobs ?? 0, tokens);

  const completionTokens = choices.reduce((sum, c) => sum + c.tokens.length, 0);
  return {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model,
    system_fingerprint: 'localmodel',
    choices: choices.map((c, index) => ({
      index,
      message: { role: 'assistant', content: c.text, refusal: null },
      logprobs: logprobs ? { content: c.tokens.map(tokenLogprob), refusal: null } : null,
      finish_reason: c.finishReason,
    })),
    usage: requestUsage(cache, model, [chatPromptTokens(messages, tokens)], completionTokens),
  };
}

function bytes(text: string): number[] {
  return Array.from(Buffer.from(text, 'utf8'));
}

function tokenLogprob(t: Token): ChatCompletionTokenLogprob {
  return {
    token: t.text,
    logprob: t.logprob,
    bytes: bytes(t.text),
    top_logprobs: t.top.map((alt) => ({ token: alt.text, logprob: alt.logprob, bytes: bytes(alt.text) })),
  };
}
