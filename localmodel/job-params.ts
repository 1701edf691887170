/**
 * The fields of a fine-tuning job request, checked one by one; each error names its field the way OpenAI does
 * (`hyperparameters.n_epochs`, `method.type`, `suffix`, `metadata.<key>`).
 */
import { badRequest } from './http.js';
import { DEFAULT_TRAIN } from './train.js';

/** Resolved hyperparameters: 'auto' becomes the trainer's default. */
export type Hyperparameters = { n_epochs: number; learning_rate_multiplier: number; batch_size: number };

/**
 * What a job trains: `supervised` (OpenAI's: the step policy on chat JSONL) or `prm`, this server's value objective:
 * `method: {type: 'prm', prm: {hyperparameters: {...}}}` trains the value head on a stepwise JSONL file
 * (`{prompt, completions, labels, soft_labels?}` per line, TRL's PRM format) by binary cross-entropy.
 */
export type JobMethod = 'supervised' | 'prm';

export function readMethod(body: Record<string, unknown>): JobMethod {
  const method = body.method as { type?: unknown } | undefined | null;
  if (method === undefined || method === null) return 'supervised';
  if (typeof method !== 'object') throw badRequest('method', "Invalid 'method': expected an object like {type: 'supervised', supervised: {hyperparameters: {...}}}.");
  if (method.type !== 'supervised' && method.type !== 'prm') {
    throw badRequest('method.type', `Invalid 'method.type': ${JSON.stringify(method.type)}; this server offers 'supervised' fine-tuning and 'prm' (a value head on stepwise labels).`);
  }
  return method.type;
}

export function readHyperparameters(body: Record<string, unknown>, defaults: { epochs: number; batchSize: number } = DEFAULT_TRAIN): Hyperparameters {
  const type = readMethod(body);
  const method = body.method as Record<string, { hyperparameters?: unknown } | undefined> | undefined;
  const top = (body.hyperparameters ?? {}) as Record<string, unknown>;
  const nested = (method?.[type]?.hyperparameters ?? {}) as Record<string, unknown>;
  if (typeof top !== 'object' || typeof nested !== 'object') throw badRequest('hyperparameters', "Invalid 'hyperparameters': expected an object.");
  const merged = { ...top, ...nested };
  const where = method?.[type]?.hyperparameters ? `method.${type}.hyperparameters` : 'hyperparameters';
  const pick = (field: string, fallback: number, min: number, max: number, integer: boolean): number => {
    const v = merged[field];
    if (v === undefined || v === null || v === 'auto') return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw badRequest(`${where}.${field}`, `Invalid '${where}.${field}': expected 'auto' or ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v)}.`);
    }
    return v;
  };
  return {
    n_epochs: pick('n_epochs', defaults.epochs, 1, 100, true),
    learning_rate_multiplier: pick('learning_rate_multiplier', 1, 1e-4, 100, false),
    batch_size: pick('batch_size', defaults.batchSize, 1, 1024, true),
  };
}

export function readSuffix(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(value)) {
    throw badRequest('suffix', "Invalid 'suffix': use 1 to 64 letters, digits, '.', '_' or '-'.");
  }
  return value;
}

export function readMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest('metadata', "Invalid 'metadata': expected an object of string values.");
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 16) throw badRequest('metadata', "Invalid 'metadata': at most 16 keys.");
  for (const [k, v] of entries) {
    if (k.length > 64) throw badRequest('metadata', `Invalid 'metadata': key '${k.slice(0, 20)}…' is longer than 64 characters.`);
    if (typeof v !== 'string' || v.length > 512) throw badRequest(`metadata.${k}`, `Invalid 'metadata.${k}': expected a string of at most 512 characters.`);
  }
  return value as Record<string, string>;
}
