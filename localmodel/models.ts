/**
 * The models the server hosts: the untrained base `countdown-mlp` and every model a fine-tuning job produced.
 * Weights load lazily and stay cached; fine-tuned models are immutable once written.
 */
import type { Model } from 'openai/resources/models';
import type { Policy, PolicyJson } from './policy.js';
import { BASE_MODEL, createBasePolicy, policyFromJson } from './policy.js';
import type { DataDir } from './store.js';
import { notFound } from './http.js';

/** What `models/<job id>.json` holds. */
export interface ModelRecord {
  id: string;
  created: number;
  /** The model this one was trained from. */
  parent: string;
  job: string;
  weights: PolicyJson;
}

const OWNER = 'localmodel';
/** Fixed, so that the base model's listing never changes. */
const BASE_CREATED = 1_717_200_000;

/** A LoRA adapter loaded at runtime (vLLM's /v1/load_lora_adapter): in memory only, as in vLLM. */
interface Adapter {
  path: string;
  policy: Policy;
  created: number;
}

/** vLLM lists an adapter with the directory it came from (`root`) and its base model (`parent`). */
export type AdapterModel = Model & { root: string; parent: string };

export class ModelRegistry {
  private readonly records = new Map<string, Omit<ModelRecord, 'weights'> & { file: string }>();
  private readonly policies = new Map<string, Policy>();
  private readonly adapters = new Map<string, Adapter>();

  constructor(private readonly dir: DataDir) {
    this.policies.set(BASE_MODEL, createBasePolicy());
    for (const file of dir.list('models', '.json')) {
      const { weights: _weights, ...meta } = dir.readJson<ModelRecord>(`models/${file}`);
      this.records.set(meta.id, { ...meta, file: `models/${file}` });
    }
  }

  list(): Model[] {
    const base: Model = { id: BASE_MODEL, object: 'model', created: BASE_CREATED, owned_by: OWNER };
    const tuned = [...this.records.values()]
      .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))
      .map((r): Model => ({ id: r.id, object: 'model', created: r.created, owned_by: OWNER }));
    const adapters = [...this.adapters.entries()].map(
      ([id, a]): AdapterModel => ({ id, object: 'model', created: a.created, owned_by: OWNER, root: a.path, parent: BASE_MODEL }),
    );
    return [base, ...tuned, ...adapters];
  }

  has(id: string): boolean {
    return id === BASE_MODEL || this.records.has(id) || this.adapters.has(id);
  }

  hasAdapter(name: string): boolean {
    return this.adapters.has(name);
  }

  /** Serves `policy` under `name` (replacing an adapter of that name: vLLM's load_inplace). */
  addAdapter(name: string, path: string, policy: Policy): void {
    this.adapters.set(name, { path, policy, created: Math.floor(Date.now() / 1000) });
  }

  removeAdapter(name: string): boolean {
    return this.adapters.delete(name);
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

  /** Stores a fine-tuned model (idempotent per job: a re-run job overwrites its own file with the same weights). */
  add(record: ModelRecord): void {
    const file = `models/${record.job}.json`;
    this.dir.writeJson(file, record);
    const { weights: _weights, ...meta } = record;
    this.records.set(record.id, { ...meta, file });
    this.policies.delete(record.id);
  }
}
