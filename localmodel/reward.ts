/**
 * The embedded server as a process reward model endpoint, in the two wire formats lib/search/reward-model.ts
 * speaks, for any model with a value head (a PRM fine-tune or a loaded PRM checkpoint):
 *
 * - `flywheel`: `POST /v1/reward {model, prompt, completion}` → `{score, model}`, one partial trace per request.
 * - vLLM's score API: `POST /score` (and `/v1/score`) `{model, text_1: prompt, text_2: completion | completions}` →
 *   `{id, object: "list", created, model, data: [{index, object: "score", score}], usage}`.
 *
 * A score is the value head's estimate in [0, 1] that the prefix ends in a verified answer.
 */
import { ApiError, badRequest } from './http.js';
import type { ModelRegistry } from './models.js';
import { newId, nowSeconds } from './store.js';
import { ValueInputError, scoreCompletion } from './value.js';

function requireString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string') throw new ApiError(400, `Missing required parameter: '${field}' (a string).`, field, 'missing_required_parameter');
  return v;
}

function score(models: ModelRegistry, model: string, prompt: string, completion: string, promptField: string): number {
  const value = models.value(model)!;
  try {
    return scoreCompletion(value, prompt, completion);
  } catch (err) {
    if (err instanceof ValueInputError) throw badRequest(promptField, `Invalid '${promptField}': ${err.message}.`);
    throw err;
  }
}

/** `POST /v1/reward` */
export function flywheelReward(models: ModelRegistry, body: Record<string, unknown>) {
  const model = requireString(body, 'model');
  const prompt = requireString(body, 'prompt');
  const completion = requireString(body, 'completion');
  return { model, score: score(models, model, prompt, completion, 'prompt') };
}

/** `POST /score`, vLLM's shape (one prompt against one or many completions). */
export function vllmScore(models: ModelRegistry, body: Record<string, unknown>) {
  const model = requireString(body, 'model');
  const prompt = requireString(body, 'text_1');
  const raw = body.text_2;
  const completions = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(completions) || !completions.every((c) => typeof c === 'string')) {
    throw badRequest('text_2', "Invalid 'text_2': expected a string or an array of strings.");
  }
  const data = completions.map((completion, index) => ({ index, object: 'score' as const, score: score(models, model, prompt, completion, 'text_1') }));
  const tokens = completions.reduce((n, c) => n + c.split('\n').length, 1);
  return { id: newId('score'), object: 'list' as const, created: nowSeconds(), model, data, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}
