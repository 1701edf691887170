/**
 * The models the server hosts: the untrained bases and every model a fine-tuning job produced. The two bases have
 * the same weights and differ in their tokenizer: `countdown-mlp` writes whole steps as tokens,
 * `countdown-mlp-subword` writes subword tokens like an LLM (see tokenizer.ts). A fine-tuned model keeps its
 * base's tokenizer. Weights load lazily and stay cached; fine-tuned models are immutable once written.
 */
import type { Model } from 'openai/resources/models';
import type { Policy, PolicyJson } from './policy.js';
import { BASE_MODEL, SUBWORD_BASE_MODEL, createBasePolicy, policyFromJson } from './policy.js';
import type { TokenMode } from './tokenizer.js';
import type { ValueHead, ValueJson } from './value.js';
import { valueFromJson } from './value.js';
import type { DataDir } from './store.js';
import { ApiError, notFound } from './http.js';

/** What `models/<job id>.json` holds. */
export interface ModelRecord {
  id: string;
  created: number;
  /** The model this one was trained from. */
  parent: string;
  job: string;
  weights: PolicyJson;
  /** A PRM (a fine-tune with `method.type: prm`): the value head trained on top of `weights`. */
  value?: ValueJson;
}

const OWNER = 'localmodel';
/** Fixed, so that the base model's listing never changes. */
const BASE_CREATED = 1_717_200_000;

/** A LoRA adapter loaded at runtime (vLLM's /v1/load_lora_adapter): in memory only, as in vLLM. */
interface Adapter {
  path: string;
  policy: Policy;
  value: ValueHead | null;
  created: number;
}

/** vLLM lists an adapter with the directory it came from (`root`) and its base model (`parent`). */
export type AdapterModel = Model & { root: string; parent: string };

/** The base models and their tokenizers. */
export const BASE_MODELS: Readonly<Record<string, TokenMode>> = { [BASE_MODEL]: 'steps', [SUBWORD_BASE_MODEL]: 'subword' };

export class ModelRegistry {
  private readonly records = new Map<string, Omit<ModelRecord, 'weights' | 'value'> & { file: string; hasValue: boolean }>();
  private readonly policies = new Map<string, Policy>();
  private readonly values = new Map<string, ValueHead>();
  private readonly adapters = new Map<string, Adapter>();

  /** `forcedTokens`, when given, is the tokenizer of every model hosted (the server's `tokens` option). */
  constructor(
    private readonly dir: DataDir,
    private readonly forcedTokens?: TokenMode,
  ) {
    const base = createBasePolicy();
    for (const name of Object.keys(BASE_MODELS)) this.policies.set(name, base);
    for (const file of dir.list('models', '.json')) {
      const { weights: _weights, value, ...meta } = dir.readJson<ModelRecord>(`models/${file}`);
      this.records.set(meta.id, { ...meta, file: `models/${file}`, hasValue: value !== undefined });
    }
  }

  list(): Model[] {
    const bases = Object.keys(BASE_MODELS).map((id): Model => ({ id, object: 'model', created: BASE_CREATED, owned_by: OWNER }));
    const tuned = [...this.records.values()]
      .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))
      .map((r): Model => ({ id: r.id, object: 'model', created: r.created, owned_by: OWNER }));
    const adapters = [...this.adapters.entries()].map(
      ([id, a]): AdapterModel => ({ id, object: 'model', created: a.created, owned_by: OWNER, root: a.path, parent: BASE_MODEL }),
    );
    return [...bases, ...tuned, ...adapters];
  }

  has(id: string): boolean {
    return this.isBase(id) || this.records.has(id) || this.adapters.has(id);
  }

  hasAdapter(name: string): boolean {
    return this.adapters.has(name);
  }

  /** Serves `policy` under `name` (replacing an adapter of that name: vLLM's load_inplace). */
  addAdapter(name: string, path: string, policy: Policy, value: ValueHead | null = null): void {
    this.adapters.set(name, { path, policy, value, created: Math.floor(Date.now() / 1000) });
  }

  removeAdapter(name: string): boolean {
    return this.adapters.delete(name);
  }

  isBase(id: string): boolean {
    return Object.hasOwn(BASE_MODELS, id);
  }

  /** The base a model was trained from, through its parents (itself for a base). */
  root(id: string): string {
    let at = id;
    for (let hops = 0; !this.isBase(at); hops++) {
      const record = this.records.get(at);
      if (!record || hops > 10_000) return BASE_MODEL; // a record whose lineage is lost: the steps base
      at = record.parent;
    }
    return at;
  }

  /** What a model's clients see as tokens: the server's `tokens` option, else its base's tokenizer. */
  tokens(id: string): TokenMode {
    return this.forcedTokens ?? BASE_MODELS[this.root(id)]!;
  }

  /** The model object, or a 404 naming the model. */
  get(id: string, param: string | null = null): Model {
    const model = this.list().find((m) => m.id === id);
    if (!model) throw notFound('model', id, param, 'model_not_found');
    return model;
  }

  /** The weights of a model, or a 404 naming the `model` field. */
  policy(id: string): Policy {
    const adapter = this.adapters.get(id);
    if (adapter) return adapter.policy;
    const cached = this.policies.get(id);
    if (cached) return cached;
    const record = this.records.get(id);
    if (!record) throw notFound('model', id, 'model', 'model_not_found');
    const policy = policyFromJson(this.dir.readJson<ModelRecord>(record.file).weights);
    this.policies.set(id, policy);
    return policy;
  }

  /** True when the model is a PRM: it has a value head to score steps with. */
  hasValue(id: string): boolean {
    return this.adapters.get(id)?.value != null || this.records.get(id)?.hasValue === true;
  }

  /**
   * The value head of a PRM: a 404 naming `param` for an unknown model, a 400 for a policy that has none.
   * `null` only when `optional` and the model has none (a policy a PRM job starts from).
   */
  value(id: string, param: string | null = 'model', optional = false): ValueHead | null {
    const adapter = this.adapters.get(id);
    if (adapter?.value) return adapter.value;
    const cached = this.values.get(id);
    if (cached) return cached;
    const record = this.records.get(id);
    if (!this.has(id)) throw notFound('model', id, param, 'model_not_found');
    if (!record?.hasValue) {
      if (optional) return null;
      throw new ApiError(400, `The model '${id}' is a policy with no value head; score with a PRM (a fine-tune made with method.type 'prm').`, param, 'model_not_prm');
    }
    const json = this.dir.readJson<ModelRecord>(record.file).value!;
    const value = valueFromJson(json);
    this.values.set(id, value);
    return value;
  }

  /** Stores a fine-tuned model (idempotent per job: a re-run job overwrites its own file with the same weights). */
  add(record: ModelRecord): void {
    const file = `models/${record.job}.json`;
    this.dir.writeJson(file, record);
    const { weights: _weights, value, ...meta } = record;
    this.records.set(record.id, { ...meta, file, hasValue: value !== undefined });
    this.policies.delete(record.id);
    this.values.delete(record.id);
  }
}
