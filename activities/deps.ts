/**
 * What activities need from the outside world, passed in by the worker (and by tests, with fakes where the real
 * thing cannot run here). Nothing in here is a Temporal concept.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { RunConfig } from '../config/schema.js';
import type { Db } from '../db/client.js';
import { createDeployer, deployerOptions, type Deployer } from '../lib/deploy/index.js';
import { createModelClient, type ModelEndpoint } from '../lib/llm/client.js';
import { createRewardModelClient, type RewardModelClient } from '../lib/search/reward-model.js';
import { createCommandTrainer } from '../lib/train/command/trainer.js';
import { commandTrainerOptions } from '../lib/train/command/from-config.js';
import { createOpenAITrainer } from '../lib/train/openai.js';
import type { Trainer } from '../lib/train/types.js';
import { createVerifier } from '../lib/verify/index.js';
import type { Verifier } from '../lib/verify/types.js';

export interface ActivityDeps {
  db: Db;
  /** Where a run's model lives and with which key (resolved from this worker's environment). */
  modelEndpoint(model: RunConfig['model']): ModelEndpoint;
  /** The run's verifier; only an LLM judge needs the model endpoint (and its key) on this worker. */
  verifier(spec: RunConfig['verifier'], model: RunConfig['model']): Verifier;
  trainer(config: RunConfig, endpoint: ModelEndpoint): Trainer;
  /** How the run's new checkpoints reach its inference replicas; null when the run does not deploy (`deploy.kind: none`). */
  deployer(config: RunConfig): Deployer | null;
  /** The reward model step search ranks with, its key (if any) from this worker's environment. */
  rewardModel(spec: RewardModelSpec): RewardModelClient;
  log(line: string): void;
}

export type RewardModelSpec = NonNullable<RunConfig['search']['step']['rewardModel']>;

export interface DefaultDepsOptions {
  db: Db;
  /** Base URL used for `model.baseUrl: embedded` (the local model server of `flywheel dev`). */
  embeddedModelUrl?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** A non-retryable configuration problem on this worker: retrying will not fix it, a person will. */
export class WorkerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerConfigError';
  }
}

/**
 * Runs `resolve` (a deps lookup that reads this worker's configuration) and reports a configuration problem (no
 * embedded server known, an API key's variable unset) as non-retryable: the round waits for a person instead of
 * burning retries.
 */
export function onThisWorker<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (err) {
    if (err instanceof WorkerConfigError) throw ApplicationFailure.nonRetryable(err.message, 'WorkerConfigError');
    throw err;
  }
}

/** The run's model endpoint on this worker; a configuration problem is non-retryable (see {@link onThisWorker}). */
export function resolveEndpoint(deps: ActivityDeps, model: RunConfig['model']): ModelEndpoint {
  return onThisWorker(() => deps.modelEndpoint(model));
}

/** The reward model of step search on this worker; a key missing here is non-retryable. */
export function resolveRewardModel(deps: ActivityDeps, spec: RewardModelSpec): RewardModelClient {
  return onThisWorker(() => deps.rewardModel(spec));
}

export function createDefaultDeps(options: DefaultDepsOptions): ActivityDeps {
  const env = options.env ?? process.env;
  const verifiers = new Map<string, Verifier>();
  /** The value of the variable a config field names; unset is a configuration problem of this worker. */
  const secret = (field: string, name: string): string => {
    const value = env[name];
    if (!value) {
      throw new WorkerConfigError(`${field} names ${name}, which is not set in this worker's environment: set it and resume the round`);
    }
    return value;
  };
  const deps: ActivityDeps = {
    db: options.db,
    modelEndpoint(model) {
      // Several replicas (they replace `baseUrl`): requests are spread across them (lib/llm/replicas.ts).
      const baseUrls = model.baseUrls;
      if (baseUrls?.[0]) {
        const apiKey = model.apiKeyEnv ? secret('model.apiKeyEnv', model.apiKeyEnv) : undefined;
        return { baseUrl: baseUrls[0], baseUrls, apiKey, timeoutMs: model.timeoutMs, maxRetries: model.maxRetries };
      }
      let baseUrl = model.baseUrl;
      if (baseUrl === 'embedded') {
        baseUrl = options.embeddedModelUrl ?? env.FLYWHEEL_MODEL_URL ?? '';
        if (!baseUrl) {
          throw new WorkerConfigError(
            'model.baseUrl is "embedded" but this worker knows no embedded model server: start it with `flywheel dev`, ' +
              'or set FLYWHEEL_MODEL_URL on the worker',
          );
        }
      }
      const apiKey = model.apiKeyEnv ? secret('model.apiKeyEnv', model.apiKeyEnv) : undefined;
      return { baseUrl, apiKey, timeoutMs: model.timeoutMs, maxRetries: model.maxRetries };
    },
    verifier(spec, model) {
      const key = JSON.stringify([spec, spec.name === 'judge' ? model : null]);
      let v = verifiers.get(key);
      if (!v) {
        const openai = spec.name === 'judge' ? createModelClient(resolveEndpoint(deps, model)) : undefined;
        v = createVerifier(spec, { openai });
        verifiers.set(key, v);
      }
      return v;
    },
    trainer(config, endpoint) {
      if (config.finetune.backend === 'command') {
        // `flywheel run` stored the finetune paths absolute; a relative one left (an older run) is taken from the
        // worker's directory.
        let options;
        try {
          options = commandTrainerOptions(config.finetune, process.cwd(), env);
        } catch (err) {
          throw new WorkerConfigError(err instanceof Error ? err.message : String(err));
        }
        return createCommandTrainer(options);
      }
      return createOpenAITrainer(createModelClient(endpoint), { maxRetries: endpoint.maxRetries });
    },
    deployer(config) {
      if (config.deploy.kind === 'none') return null;
      // The replicas default to the model's, `embedded` resolved as generation resolves it.
      const replicas = config.deploy.replicas ?? ((e) => e.baseUrls ?? [e.baseUrl])(deps.modelEndpoint(config.model));
      const { apiKeyEnv } = config.deploy;
      const modelKeyEnv = config.model.apiKeyEnv;
      const apiKey = apiKeyEnv ? secret('deploy.apiKeyEnv', apiKeyEnv) : modelKeyEnv ? secret('model.apiKeyEnv', modelKeyEnv) : undefined;
      const options = deployerOptions(config.deploy, replicas, env);
      return options ? createDeployer({ ...options, apiKey }) : null;
    },
    rewardModel(spec) {
      const apiKey = spec.apiKeyEnv ? secret('search.step.rewardModel.apiKeyEnv', spec.apiKeyEnv) : undefined;
      return createRewardModelClient({ url: spec.url, model: spec.model, format: spec.format, apiKey });
    },
    log: options.log ?? (() => {}),
  };
  return deps;
}
