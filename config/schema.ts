/**
 * The run config: what a user writes in YAML or JSON to start a flywheel run. Every field has a default where
 * one makes sense; unknown keys are errors (a typo must not silently fall back to a default).
 *
 * Secrets never live here: the config names the environment variable that holds a key (`model.apiKeyEnv`), and
 * the validated config is what gets stored in Postgres.
 */
import { z } from 'zod';
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
  /** Name of the environment variable holding the API key (read by workers; never stored). */
  apiKeyEnv: envName.optional(),
  /** The base model (round 0). */
  name: z.string().min(1).default('countdown-mlp'),
  systemPrompt: z.string().optional(),
  /** Per-request timeout; a hung request is abandoned and retried. */
  timeoutMs: positiveInt().default(60_000),
  /** Retries per request (429 honours Retry-After; 5xx and timeouts back off). */
  maxRetries: z.number().int().min(0).default(4),
});

export const generateSchema = z.strictObject({
  samplesPerProblem: positiveInt().default(16),
  temperature: z.number().min(0).max(2).default(1),
  /** Upper bound on completion tokens per sample. */
  maxTokens: positiveInt().default(512),
  /** How many samples one shard activity generates (shards are ranges of problems). */
  shardSamples: positiveInt().default(1024),
  /** Concurrent model requests within one shard. */
  concurrency: positiveInt().default(8),
  /** Shard activities in flight at once within a round. */
  maxShardsInFlight: positiveInt().max(500).default(16),
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

export const finetuneSchema = z.strictObject({
  backend: z.enum(['openai']).default('openai'),
  /**
   * `base`: every round trains the base model on the new data (ReST-EM). `previous`: continue from the last
   * promoted model (cheaper, but prone to collapse at high learning rates).
   */
  from: z.enum(['base', 'previous']).default('base'),
  hyperparameters: z
    .strictObject({
      nEpochs: positiveInt().optional(),
      learningRateMultiplier: z.number().positive().optional(),
      batchSize: positiveInt().optional(),
    })
    .default({}),
  /** Appended to fine-tuned model names. */
  suffix: z.string().regex(/^[a-zA-Z0-9-]{1,40}$/, 'letters, digits and dashes, at most 40').default('flywheel'),
  pollIntervalMs: positiveInt().default(2_000),
  /** Give up on a trainer job after this long (it is then reported, not resubmitted). */
  timeoutMinutes: positiveInt().default(24 * 60),
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
    filter: filterSchema.default(filterSchema.parse({})),
    finetune: finetuneSchema.default(finetuneSchema.parse({})),
    evaluate: evaluateSchema.default(evaluateSchema.parse({})),
    promote: promoteSchema.default(promoteSchema.parse({})),
    durability: durabilitySchema.default(durabilitySchema.parse({})),
  });

export type RunConfig = z.infer<typeof runConfigSchema>;
export type RunConfigInput = z.input<typeof runConfigSchema>;
