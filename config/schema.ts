/**
 * The run config: what a user writes in YAML or JSON to start a flywheel run. Every field has a default where
 * one makes sense; unknown keys are errors (a typo must not silently fall back to a default).
 *
 * Secrets never live here: the config names the environment variable that holds a key (`model.apiKeyEnv`), and
 * the validated config is what gets stored in Postgres.
 */
import { z } from 'zod';
import { unknownPlaceholders } from '../lib/train/command/template.js';
import { priceFor } from '../lib/cost/index.js';
import { verifierSpecSchema } from '../lib/verify/index.js';

const positiveInt = () => z.number().int().positive();
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable, e.g. OPENAI_API_KEY');

export const countdownTaskSchema = z.strictObject({
  kind: z.literal('countdown'),
  /** Seed of the problem generator: the same seed gives the same problems. */
  seed: z.number().int().default(42),
  train: positiveInt().default(500),
  test: positiveInt().default(200),
});

export const jsonlTaskSchema = z.strictObject({
  kind: z.literal('jsonl'),
  /** Name of the task set (problems are stored under it and shared by runs that use the same name). */
  name: z.string().min(1),
  /** JSONL of `{id, prompt, answer | tests, metadata}` for training (relative paths are from the config file). */
  train: z.string().min(1),
  /** JSONL of held-out problems. */
  test: z.string().min(1),
});

export const taskSchema = z.discriminatedUnion('kind', [countdownTaskSchema, jsonlTaskSchema]);

/** A verifier spec, e.g. `{name: countdown}`, `{name: math}`, `{name: code, timeoutMs: 5000}` (see lib/verify). */
export const verifierSchema = verifierSpecSchema;

export const modelSchema = z.strictObject({
  /** OpenAI-compatible base URL (vLLM, SGLang, OpenAI, llama.cpp), or `embedded` for the local model server. */
  baseUrl: z.string().min(1).default('embedded'),
  /**
   * Several inference replicas of the same model (each an OpenAI-compatible base URL): generation is spread across
   * them and a deploy reaches every one. When set, it replaces `baseUrl`.
   */
  baseUrls: z.array(z.string().url()).min(1).optional(),
  /** Name of the environment variable holding the API key (read by workers; never stored). */
  apiKeyEnv: envName.optional(),
  /** The base model (round 0). */
  name: z.string().min(1).default('countdown-mlp'),
  systemPrompt: z.string().optional(),
  /** Per-request timeout; a hung request is abandoned and retried. */
  timeoutMs: positiveInt().default(60_000),
  /** Retries per request (429 honours Retry-After; 5xx and timeouts back off). */
  maxRetries: z.number().int().min(0).default(4),
  /**
   * Requests in flight to one base URL from one worker, shared by every shard, search and rationalization that
   * worker runs (default {@link DEFAULT_MAX_CONCURRENCY}). Size it to what the server batches: vLLM's
   * `--max-num-seqs` (or SGLang's `--max-running-requests`) ÷ the samples per request (`n`) ÷ the workers that
   * share the server.
   */
  maxConcurrency: positiveInt().max(100_000).optional(),
  /**
   * A rate-limited API's budgets per worker: requests started per minute and tokens per minute (a request is
   * charged its prompt characters ÷ 4 plus max_tokens × n, as OpenAI counts it). A 429 pauses the endpoint for its
   * Retry-After either way.
   */
  rateLimit: z.strictObject({ rpm: positiveInt().optional(), tpm: positiveInt().optional() }).optional(),
});

/** Requests in flight per endpoint and worker when `model.maxConcurrency` is not set. */
export const DEFAULT_MAX_CONCURRENCY = 128;
/** The most generate shards a round keeps in flight (`generate.maxShardsInFlight`); a worker's default slots. */
export const MAX_SHARDS_IN_FLIGHT = 500;

/** The endpoint limits of a run's model section (lib/llm/limiter.ts). */
export function modelLimits(model: { maxConcurrency?: number; rateLimit?: { rpm?: number; tpm?: number } }) {
  return { maxConcurrency: model.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY, rpm: model.rateLimit?.rpm, tpm: model.rateLimit?.tpm };
}

export const generateSchema = z.strictObject({
  samplesPerProblem: positiveInt().default(16),
  temperature: z.number().min(0).max(2).default(1),
  /** Upper bound on completion tokens per sample. */
  maxTokens: positiveInt().default(512),
  /** How many samples one shard activity generates (shards are ranges of problems). */
  shardSamples: positiveInt().default(1024),
  /**
   * Deprecated: a cap on one shard's requests in flight. What matters is `model.maxConcurrency` (per endpoint and
   * worker, across shards); unset, a shard may use all of it.
   */
  concurrency: positiveInt().optional(),
  /** Shard activities in flight at once within a round (spread over the workers serving the generate queue). */
  maxShardsInFlight: positiveInt().max(MAX_SHARDS_IN_FLIGHT).default(16),
  /**
   * `online`: requests as the shards run. `batch`: the round's missing requests go to the provider's Batch API
   * (results within 24 h, usually at a lower price), and the round waits for them with a workflow timer.
   */
  mode: z.enum(['online', 'batch']).default('online'),
  /** Batch mode: seconds between two looks at the round's batches (a workflow timer; no worker waits). */
  batchPollSeconds: positiveInt().max(86_400).default(60),
  /** Batch mode: batches a request may be in (the first and its resubmissions) before the round needs attention. */
  batchAttempts: positiveInt().max(10).default(3),
});

export const rewardModelSchema = z.strictObject({
  /** POST endpoint of an outcome/process reward model. */
  url: z.string().url(),
  model: z.string().min(1).default('reward-model'),
  /** `flywheel`: `{model, prompt, completion}` → `{score}`; `vllm-score`: vLLM's /score API. */
  format: z.enum(['flywheel', 'vllm-score']).default('flywheel'),
  apiKeyEnv: envName.optional(),
});

const MAX_CALL_BUDGET = 4096;
const MAX_TOKEN_BUDGET = 1_000_000;

export const stepSearchSchema = z.strictObject({
  /** Step-level search through the completions API (MCTS, beam), or whole-trace search (best-of-N, majority). */
  strategy: z.enum(['mcts', 'beam', 'best-of-n', 'majority', 'none']).default('none'),
  /** Model calls (generated sequences) per problem, or generated tokens with `budgetUnit: tokens`. */
  budget: positiveInt().max(MAX_TOKEN_BUDGET).default(64),
  /** Budget per train problem, when it should differ from the held-out one (default: `budget`). */
  trainBudget: positiveInt().max(MAX_TOKEN_BUDGET).optional(),
  /**
   * What `budget` and `trainBudget` count: `calls` (generated sequences, at most 4096) or `tokens` (generated
   * completion tokens, as a GPU pays for them). Adaptive plans (`adaptive`) always split calls.
   */
  budgetUnit: z.enum(['calls', 'tokens']).default('calls'),
  /** Train problems a round searches: those no sample solved (the expert of expert iteration), all, or none. */
  train: z.enum(['unsolved', 'all', 'none']).default('unsolved'),
  /** Also report held-out accuracy with search, beside the raw model's. */
  eval: z.boolean().default(true),
  /**
   * Let the verifier steer search on held-out problems. `auto`: only for verifiers that read nothing hidden
   * (countdown checks the numbers and target in the prompt); otherwise search ranks by reward model or agreement.
   * Training-time search always verifies (train references are known).
   */
  verifyAtEval: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  /** How a partial trace continues through /v1/completions: `{prompt}` and `{partial}` are replaced. */
  template: z.string().includes('{partial}').default('{prompt}\n\n{partial}'),
  rewardModel: rewardModelSchema.optional(),
  /**
   * What step search values a step by: `rollout` (the judged end of rollouts), `prm` (a process reward model:
   * MCTS evaluates each new leaf with it, beam scores its children with it, best-of-N ranks its traces with it where
   * the verifier does not rank them), or `mix` (MCTS: `valueMix · prm + (1 − valueMix) · rollout`; beam and
   * best-of-N: the PRM). PRM requests are counted as scorer calls.
   */
  value: z.enum(['rollout', 'prm', 'mix']).default('rollout'),
  /** The PRM's weight λ in `value: mix`. */
  valueMix: z.number().min(0).max(1).default(0.5),
  /**
   * The process reward model endpoint for `value: prm | mix`. With `finetune.prm.enabled` it may be left out: the
   * run's current PRM is asked by name at `<model.baseUrl>/reward` (the embedded server), or at this `url`
   * with `model` replaced by the current PRM's name; before the run has a PRM, steps are valued by rollouts.
   */
  prm: rewardModelSchema.optional(),
  /** Problems searched at once within a shard. */
  concurrency: positiveInt().max(64).default(4),
}).superRefine((step, ctx) => {
  if (step.budgetUnit !== 'calls') return;
  for (const key of ['budget', 'trainBudget'] as const) {
    const v = step[key];
    if (v !== undefined && v > MAX_CALL_BUDGET) {
      ctx.addIssue({ code: 'custom', path: [key], message: `at most ${MAX_CALL_BUDGET} model calls; for a budget in generated tokens set budgetUnit: tokens` });
    }
  }
});

export const searchSchema = z.strictObject({
  /** Strategies computed over each round's samples. */
  strategies: z.array(z.enum(['best-of-n', 'majority'])).default(['best-of-n', 'majority']),
  /**
   * Best-of-N scorer: `self-consistency` (agreement with the other samples), `logprob` (mean token
   * log-probability) or `verifier` (the verifier's graded score).
   */
  scorer: z.enum(['self-consistency', 'logprob', 'verifier']).default('self-consistency'),
  step: stepSearchSchema.default(stepSearchSchema.parse({})),
});

export const adaptiveSchema = z.strictObject({
  /**
   * Difficulty-adaptive budgets (Snell et al. 2024): from round 1, each train problem's samples (and search budget)
   * follow its solve history, at the same total as the uniform plan: few on problems solved every time, more
   * samples or MCTS on medium and hard ones. Recorded per problem in flywheel.problem_budgets.
   */
  enabled: z.boolean().default(false),
  minSamples: positiveInt().default(2),
  maxSamples: positiveInt().max(1024).default(64),
});

export const labelsSchema = z.strictObject({
  /**
   * Math-Shepherd step labels of ordinary samples (Wang et al. 2024): `rollouts` continuations from each step
   * prefix of a few sampled train traces per problem, in the search stage; the share the verifier accepts labels
   * the step for the PRM dataset. Model calls, counted as the search stage's compute. 0: off.
   */
  rollouts: z.number().int().min(0).max(64).default(0),
  /** Sampled traces labelled per train problem (correct and incorrect alike, by sample index). */
  tracesPerProblem: positiveInt().max(64).default(2),
  /** Most model calls per problem for its labels. */
  budget: positiveInt().max(4096).default(128),
});

export const rationalizeSchema = z.strictObject({
  /**
   * STaR rationalization (Zelikman et al. 2022): train problems that neither sampling nor search solved are asked
   * again with the reference answer as a hint; a verified rationale is kept WITHOUT the hint (trained as the
   * answer to the original prompt) and flagged, since such traces carry more false positives.
   */
  enabled: z.boolean().default(false),
  /** Appended to the prompt after a blank line; `{answer}` is the reference answer (or countdown's solution). */
  hint: z.string().includes('{answer}').default('Hint: one solution is {answer}. Write the steps that reach it.'),
  samples: positiveInt().max(64).default(4),
});

export const filterSchema = z.strictObject({
  /** Keep only traces the verifier accepted. */
  correctOnly: z.boolean().default(true),
  /** Lowest verifier score kept, when correctOnly is false. */
  minScore: z.number().min(0).max(1).default(1),
  /** Drop traces whose text repeats another kept trace of the same problem. */
  dedupe: z.boolean().default(true),
  /** At most this many traces per problem (STaR/ReST-EM keep a few per problem to balance difficulty). */
  maxPerProblem: positiveInt().default(4),
  /** How many of the latest rounds' traces to pool (1 = only the traces of the round before). */
  window: positiveInt().default(1),
  /** Train on rationalized traces (STaR), when rationalization is on. */
  rationalized: z.boolean().default(true),
});

/** A shell command template: its `{placeholders}` must be known ones (a typo must not run as literal text). */
const commandTemplate = (what: string) =>
  z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      const unknown = unknownPlaceholders(text);
      if (unknown.length) {
        ctx.addIssue({ code: 'custom', message: `${what} uses unknown placeholder${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{${u}}`).join(', ')} (see lib/train/command/template.ts for the list; {{ and }} are literal braces)` });
      }
    });

const regexString = z.string().min(1).superRefine((text, ctx) => {
  try {
    new RegExp(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
  }
});

/** The trainer runs as a detached process on the train worker's machine, and outlives the worker. */
export const localLauncherSchema = z.strictObject({ kind: z.literal('local') });

/** The trainer runs as a Slurm batch job (sbatch), tracked with squeue / scontrol and cancelled with scancel. */
export const slurmLauncherSchema = z.strictObject({
  kind: z.literal('slurm'),
  partition: z.string().min(1).optional(),
  /** e.g. `gpu:1`, `gpu:a100:8`. */
  gres: z.string().min(1).optional(),
  /** Time limit, e.g. `04:00:00`. */
  time: z.string().min(1).optional(),
  account: z.string().min(1).optional(),
  cpusPerTask: positiveInt().optional(),
  mem: z.string().min(1).optional(),
  /** Further sbatch options, one `#SBATCH` line each, e.g. `--qos=high`, `--nodes=2`. */
  sbatch: z.array(z.string().regex(/^--?[A-Za-z]/, 'an sbatch option such as --qos=high')).default([]),
  /**
   * A batch script template file (relative paths are from the config file): its `#SBATCH` lines are kept, and its
   * body runs where it writes `{command}` (module loads, srun/torchrun wrappers...).
   */
  scriptTemplate: z.string().min(1).optional(),
});

/** Any scheduler through submit / status / cancel command templates whose output is parsed (e.g. Kubernetes). */
export const templatesLauncherSchema = z.strictObject({
  kind: z.literal('templates'),
  /** Gets `{script}` (the job script, on the shared workdir) and `{jobName}`; prints the job id. */
  submit: commandTemplate('finetune.launcher.submit'),
  /** First group = the job id in submit's output (default: all of it, trimmed). */
  jobIdPattern: regexString.optional(),
  /** Gets `{jobId}`; prints what `states` maps. */
  status: commandTemplate('finetune.launcher.status'),
  states: z.strictObject({
    succeeded: regexString,
    failed: regexString,
    queued: regexString.optional(),
    running: regexString.optional(),
  }),
  /** Status output meaning the scheduler does not know the job (default: `not ?found`). */
  notFoundPattern: regexString.optional(),
  cancel: commandTemplate('finetune.launcher.cancel'),
  timeoutMs: positiveInt().default(60_000),
});

export const launcherSchema = z.discriminatedUnion('kind', [localLauncherSchema, slurmLauncherSchema, templatesLauncherSchema]);

const hyperparametersSchema = z
  .strictObject({
    nEpochs: positiveInt().optional(),
    learningRateMultiplier: z.number().positive().optional(),
    batchSize: positiveInt().optional(),
  })
  .default({});

/**
 * The second learner: a process reward model trained each round, after the policy, on the round's PRM dataset
 * (stepwise JSONL: `{prompt, completions, labels}`), through the same backends. `openai` sends a fine-tuning job
 * with `method: {type: 'prm'}` (the embedded server trains its value head); `command` runs `command` with the same
 * placeholders as the policy's trainer (`flywheel train-prm ...`, or trainers/prm_trl.py for real models).
 */
export const prmFinetuneSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    backend: z.enum(['openai', 'command']).default('openai'),
    /** `previous` (default): continue from the run's current PRM; `base`: a fresh head every round. */
    from: z.enum(['base', 'previous']).default('previous'),
    hyperparameters: hyperparametersSchema,
    suffix: z.string().regex(/^[a-zA-Z0-9-]{1,40}$/, 'letters, digits and dashes, at most 40').default('prm'),
    command: commandTemplate('finetune.prm.command').optional(),
    /**
     * How many of the latest rounds' step labels the PRM dataset pools: `all` (default; labels are scarce, and a
     * step's counts from every round are merged) or a number of rounds (1 = only the round before).
     */
    window: z.union([positiveInt(), z.literal('all')]).default('all'),
    /**
     * The PRM gate: a candidate is promoted when its balanced accuracy on held-out step labels (the mean of its
     * accuracy on good and on bad steps: most held-out steps are bad) drops by at most this much.
     */
    maxAccuracyDrop: z.number().min(0).max(1).default(0),
  })
  .superRefine((prm, ctx) => {
    if (prm.backend === 'command' && !prm.command) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'finetune.prm.backend: command needs the PRM trainer command line in finetune.prm.command' });
    }
  });

export const finetuneSchema = z
  .strictObject({
    /** `openai`: the fine-tuning API (OpenAI, the embedded model). `command`: your own trainer command. */
    backend: z.enum(['openai', 'command']).default('openai'),
    /**
     * `base`: every round trains the base model on the new data (ReST-EM). `previous`: continue from the last
     * promoted model (cheaper, but prone to collapse at high learning rates).
     */
    from: z.enum(['base', 'previous']).default('base'),
    hyperparameters: hyperparametersSchema,
    /** Appended to fine-tuned model names. */
    suffix: z.string().regex(/^[a-zA-Z0-9-]{1,40}$/, 'letters, digits and dashes, at most 40').default('flywheel'),
    pollIntervalMs: positiveInt().default(2_000),
    /** Give up on a trainer job after this long (it is then reported, not resubmitted). */
    timeoutMinutes: positiveInt().default(24 * 60),
    /**
     * `command` backend: the trainer command line, with placeholders such as `{dataset}`, `{outputDir}`,
     * `{baseModel}`, `{fromCheckpoint}`, `{seed}`, `{epochs}` (also exported as FLYWHEEL_* variables).
     */
    command: commandTemplate('finetune.command').optional(),
    /** `command` backend: where the job runs. */
    launcher: launcherSchema.default({ kind: 'local' }),
    /**
     * `command` backend: a directory the worker and the trainer both read and write (a shared filesystem on a
     * cluster): datasets, job scripts, logs, checkpoints. Relative paths are from the worker's directory.
     */
    workdir: z.string().min(1).optional(),
    /** Extra environment variables for the trainer job (values here are stored with the run: no secrets). */
    env: z.record(envName, z.string()).default({}),
    /** Credential-like variables of the worker the trainer may inherit (e.g. HF_TOKEN, WANDB_API_KEY). */
    passEnv: z.array(envName).default([]),
    prm: prmFinetuneSchema.default(prmFinetuneSchema.parse({})),
  })
  .superRefine((finetune, ctx) => {
    if (finetune.backend === 'command' && !finetune.command) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'finetune.backend: command needs the trainer command line in finetune.command' });
    }
    if ((finetune.backend === 'command' || finetune.prm.backend === 'command') && !finetune.workdir) {
      const which = finetune.backend === 'command' ? 'finetune.backend' : 'finetune.prm.backend';
      ctx.addIssue({ code: 'custom', path: ['workdir'], message: `${which}: command needs finetune.workdir, a directory the trainer can read (a shared filesystem on a cluster)` });
    }
  });

/**
 * How a new checkpoint reaches the inference servers before anything samples with it. `none`: the trainer's
 * model is served as it is (the OpenAI fine-tuning API). Names are unique to run and round.
 */
export const deploySchema = z
  .strictObject({
    kind: z.enum(['none', 'vllm-lora', 'sglang-lora', 'sglang-weights', 'command']).default('none'),
    /** Servers to deploy to (OpenAI base URLs); default: `model.baseUrls` or `model.baseUrl`. */
    replicas: z.array(z.string().url()).min(1).optional(),
    /** `command`: a restart script, with `{checkpoint}`, `{modelName}`, `{replica}` (run once per replica). */
    command: z.string().min(1).optional(),
    /** Give up on a replica that has not loaded the model after this long. */
    timeoutSeconds: positiveInt().default(600),
    /** Adapters of this run kept loaded besides the current and the candidate (vLLM's --max-loras bounds them). */
    keepAdapters: z.number().int().min(0).default(0),
    apiKeyEnv: envName.optional(),
  })
  .superRefine((deploy, ctx) => {
    if (deploy.kind === 'command' && !deploy.command) ctx.addIssue({ code: 'custom', path: ['command'], message: 'deploy.kind: command needs deploy.command (the restart script)' });
  });

export const evaluateSchema = z.strictObject({
  /** Greedy (temperature 0) pass@1. */
  greedy: z.boolean().default(true),
  /** Samples per held-out problem for pass@k and maj@k (0 to skip). */
  samples: z.number().int().min(0).default(8),
  temperature: z.number().min(0).max(2).default(1),
  /** The k of pass@k and maj@k; each must be at most `samples`. */
  k: z.array(positiveInt()).default([1, 8]),
}).superRefine((evaluate, ctx) => {
  for (const [i, k] of evaluate.k.entries()) {
    if (k > evaluate.samples) {
      ctx.addIssue({
        code: 'custom',
        path: ['k', i],
        message: `k=${k} needs at least ${k} samples per problem, but evaluate.samples is ${evaluate.samples}`,
      });
    }
  }
});

export const promoteSchema = z.strictObject({
  /** A candidate is promoted when its held-out greedy pass@1 is at least the current model's plus this. */
  minImprovement: z.number().min(-1).max(1).default(0),
});

export const durabilitySchema = z.strictObject({
  /** Attempts of an activity (a shard, a stage) before its round shows NeedsAttention and waits for an operator. */
  activityAttempts: positiveInt().max(100).default(5),
  retryInitialIntervalMs: positiveInt().default(1_000),
  retryMaxIntervalMs: positiveInt().default(30_000),
  /** A worker that stops heartbeating for this long is presumed dead; its activity is retried elsewhere. */
  heartbeatTimeoutSeconds: positiveInt().default(60),
});

const price = () => z.number().min(0);

export const modelPriceSchema = z.strictObject({
  /** Price per million prompt tokens. */
  inputPerMTok: price(),
  /** Price per million completion tokens. */
  outputPerMTok: price(),
});

export const trainerPriceSchema = z.union([
  z.strictObject({
    /** Price of one GPU-hour; a job costs its wall-clock hours × gpus × this. */
    perGpuHour: price(),
    gpus: positiveInt().default(1),
  }),
  z.strictObject({
    /** Price per million trained tokens (training file tokens × epochs), as OpenAI bills fine-tuning. */
    perMTrainedTokens: price(),
  }),
]);

export const costsSchema = z.strictObject({
  /**
   * Prices by model name. A key ending in `*` prices every model whose name starts with the rest
   * (`ft:countdown-mlp:*` for every fine-tune); the exact name wins, then the longest prefix.
   */
  models: z.record(z.string().min(1), modelPriceSchema).default({}),
  trainer: trainerPriceSchema.optional(),
});

export const budgetSchema = z.strictObject({
  /** Most a run may spend (in the currency of the prices); a stage that would pass it waits for an operator. */
  maxCost: z.number().positive().optional(),
  /** Most tokens (prompt + completion) a run may use. */
  maxTokens: positiveInt().optional(),
});

export const runConfigSchema = z
  .strictObject({
    name: z.string().min(1).max(80).default('flywheel'),
    /** Training rounds after round 0 (round 0 samples with and evaluates the base model). */
    rounds: z.number().int().min(0).max(1000).default(5),
    task: taskSchema,
    verifier: verifierSchema.default({ name: 'countdown' }),
    model: modelSchema.default(modelSchema.parse({})),
    generate: generateSchema.default(generateSchema.parse({})),
    search: searchSchema.default(searchSchema.parse({})),
    adaptive: adaptiveSchema.default(adaptiveSchema.parse({})),
    rationalize: rationalizeSchema.default(rationalizeSchema.parse({})),
    labels: labelsSchema.default(labelsSchema.parse({})),
    filter: filterSchema.default(filterSchema.parse({})),
    finetune: finetuneSchema.default(finetuneSchema.parse({})),
    deploy: deploySchema.default(deploySchema.parse({})),
    evaluate: evaluateSchema.default(evaluateSchema.parse({})),
    promote: promoteSchema.default(promoteSchema.parse({})),
    durability: durabilitySchema.default(durabilitySchema.parse({})),
    costs: costsSchema.default(costsSchema.parse({})),
    budget: budgetSchema.default({}),
  })
  .superRefine((config, ctx) => {
    // An endpoint budget that the shards can never fill is a mistake, not a preference: say which knob to turn.
    const { maxConcurrency } = config.model;
    const perShard = config.generate.concurrency;
    if (maxConcurrency !== undefined && perShard !== undefined && perShard * config.generate.maxShardsInFlight < maxConcurrency) {
      ctx.addIssue({
        code: 'custom',
        path: ['generate', 'concurrency'],
        message:
          `model.maxConcurrency ${maxConcurrency} can never be reached: generate.maxShardsInFlight ${config.generate.maxShardsInFlight} × ` +
          `generate.concurrency ${perShard} = ${perShard * config.generate.maxShardsInFlight} requests at most; remove generate.concurrency ` +
          '(deprecated: model.maxConcurrency is the limit that matters) or raise generate.maxShardsInFlight',
      });
    }
    const step = config.search.step;
    if (step.value !== 'rollout' && !step.prm && !config.finetune.prm.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['search', 'step', 'prm'],
        message: `search.step.value: ${step.value} needs a PRM: train one each round (finetune.prm.enabled: true) or name its endpoint in search.step.prm ({url, model, format})`,
      });
    }
    // A command-trained PRM is a checkpoint on disk: the PRM gate measures every new one (whatever search.step.value
    // is) through the reward endpoint, so something must serve it there by name.
    const prm = config.finetune.prm;
    if (prm.enabled && prm.backend === 'command' && config.deploy.kind === 'none' && !step.prm) {
      ctx.addIssue({
        code: 'custom',
        path: ['finetune', 'prm', 'backend'],
        message:
          'finetune.prm.backend: command leaves each PRM as a checkpoint on disk, and with deploy.kind: none nothing serves it: the PRM gate ' +
          '(and search.step.value: prm | mix) asks the reward endpoint for it by name. Deploy it (deploy.kind: vllm-lora, sglang-lora, ' +
          'sglang-weights or command), or name in search.step.prm ({url, model, format}) an endpoint that serves the run\'s PRMs by name',
      });
    }
    // A cost limit needs prices: without one for the model, spend would read 0 and the limit would never hold.
    if (config.budget.maxCost !== undefined && !priceFor(config.costs.models, config.model.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'maxCost'],
        message: `a cost budget needs a price for the model '${config.model.name}': add costs.models.${config.model.name}: {inputPerMTok, outputPerMTok}`,
      });
    }
  });

export type RunConfig = z.infer<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;
