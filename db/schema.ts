/**
 * The source of truth for flywheel's tables (Postgres schema `flywheel`). Migrations in `migrations/` are generated
 * from this file with `npm run db:generate`; the views people query with psql live in a custom migration.
 *
 * Every table that a stage writes has a natural unique key, so a retried activity or a re-run stage upserts and
 * never writes a row twice.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const flywheel = pgSchema('flywheel');

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();
const id = () => bigserial('id', { mode: 'number' }).primaryKey();
const ref = (name: string) => bigint(name, { mode: 'number' });

/** One flywheel run: the validated config it was started with, and where it stands. */
export const runs = flywheel.table('runs', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** The validated run config, secrets excluded by construction (it names env variables, never keys). */
  config: jsonb('config').notNull(),
  taskSet: text('task_set').notNull(),
  status: text('status').notNull().default('created'),
  baseModel: text('base_model').notNull(),
  currentModel: text('current_model').notNull(),
  rounds: integer('rounds').notNull(),
  error: text('error'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Problems of a task set (shared by runs on the same set). `reference` holds answers, tests, numbers. */
export const problems = flywheel.table(
  'problems',
  {
    id: id(),
    taskSet: text('task_set').notNull(),
    externalId: text('external_id').notNull(),
    split: text('split').notNull(),
    /** Order within the task set and split: shards are ranges of it. */
    position: integer('position').notNull(),
    prompt: text('prompt').notNull(),
    reference: jsonb('reference').notNull(),
    metadata: jsonb('metadata').notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [
    uniqueIndex('problems_task_set_external_id').on(t.taskSet, t.externalId),
    index('problems_task_set_split_position').on(t.taskSet, t.split, t.position),
  ],
);

/** Every model a run knows: its base and each fine-tuned candidate, with what it was trained on. */
export const models = flywheel.table(
  'models',
  {
    id: id(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id),
    round: integer('round').notNull(),
    name: text('name').notNull(),
    provider: text('provider').notNull(),
    baseUrl: text('base_url').notNull(),
    /** The model it was fine-tuned from (null for the base model). */
    parentName: text('parent_name'),
    datasetId: ref('dataset_id'),
    fineTuneId: ref('fine_tune_id'),
    promoted: boolean('promoted').notNull().default(false),
    /** `api`: served by the trainer's own API (OpenAI); `adapter` / `full`: a checkpoint a command trainer wrote. */
    kind: text('kind'),
    /** Which learner it is: the `policy` that writes traces, or the `prm` (process reward model) that scores steps. */
    learner: text('learner').notNull().default('policy'),
    /** Base URLs of the replicas that serve it (the deploy step fills it; empty until deployed). */
    servedAt: jsonb('served_at').notNull().default(sql`'[]'::jsonb`),
    /** The checkpoint directory it was loaded from, for a model a command trainer produced. */
    checkpointPath: text('checkpoint_path'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('models_run_name').on(t.runId, t.name)],
);

/** One round of a run: `model` is the model this round trained and evaluated, `sampler` the one that generated. */
export const rounds = flywheel.table(
  'rounds',
  {
    id: id(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id),
    index: integer('index').notNull(),
    model: text('model'),
    sampler: text('sampler'),
    stage: text('stage').notNull().default('planned'),
    status: text('status').notNull().default('running'),
    /** Samples this round planned to generate (problems × samples, or the adaptive plan). */
    planned: integer('planned').notNull().default(0),
    stats: jsonb('stats').notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('rounds_run_index').on(t.runId, t.index)],
);

/** Stage completion, so a new execution of a round skips what is done. */
export const roundStages = flywheel.table(
  'round_stages',
  {
    roundId: ref('round_id')
      .notNull()
      .references(() => rounds.id),
    stage: text('stage').notNull(),
    status: text('status').notNull(),
    result: jsonb('result').notNull().default(sql`'{}'::jsonb`),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.roundId, t.stage] })],
);

/**
 * Batches of a round's requests sent to a provider's Batch API (`generate.mode: batch`). A row is written with the
 * provider's batch id before anything waits on it, so a retried activity finds the batch instead of creating it
 * again. One row per (round, purpose, attempt, file index); `status` and the counts are the provider's, as last seen.
 */
export const batches = flywheel.table(
  'batches',
  {
    id: id(),
    roundId: ref('round_id')
      .notNull()
      .references(() => rounds.id),
    purpose: text('purpose').notNull(),
    /** 1 for the round's first batches, 2 for the first resubmission of failed or expired lines, and so on. */
    attempt: integer('attempt').notNull(),
    fileIndex: integer('file_index').notNull(),
    inputFileId: text('input_file_id').notNull(),
    batchId: text('batch_id').notNull(),
    status: text('status').notNull().default('validating'),
    requests: integer('requests').notNull(),
    completed: integer('completed').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    outputFileId: text('output_file_id'),
    errorFileId: text('error_file_id'),
    /** Set once the output and error lines are stored as traces. */
    ingestedAt: timestamp('ingested_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('batches_key').on(t.roundId, t.purpose, t.attempt, t.fileIndex),
    uniqueIndex('batches_batch_id').on(t.batchId),
  ],
);

/** Every sampled or searched reasoning trace. One row per (round, problem, purpose, strategy, sample index). */
export const traces = flywheel.table(
  'traces',
  {
    id: id(),
    roundId: ref('round_id')
      .notNull()
      .references(() => rounds.id),
    problemId: ref('problem_id')
      .notNull()
      .references(() => problems.id),
    /** 'train' (the round's samples) or 'eval' (held-out evaluation). */
    purpose: text('purpose').notNull(),
    /** 'sample', 'greedy', or a search strategy such as 'mcts'. */
    strategy: text('strategy').notNull(),
    sampleIndex: integer('sample_index').notNull(),
    model: text('model').notNull(),
    text: text('text').notNull(),
    /** Mean log-probability per token, when the server reported it. */
    logprob: real('logprob'),
    /** Search score (the scorer's value), when a search ranked it. */
    score: real('score'),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    latencyMs: integer('latency_ms').notNull().default(0),
    finishReason: text('finish_reason'),
    /** Set when the model server failed for this sample after retries (malformed response...): counted, not lost. */
    error: text('error'),
    flags: jsonb('flags').notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('traces_sample_key').on(t.roundId, t.problemId, t.purpose, t.strategy, t.sampleIndex),
    index('traces_round_purpose').on(t.roundId, t.purpose),
  ],
);

/**
 * Every failed attempt of a model request (5xx, 429, timeouts, malformed responses), whether a retry then
 * succeeded or not: faults are counted, never silently absorbed.
 */
export const modelErrors = flywheel.table(
  'model_errors',
  {
    id: id(),
    roundId: ref('round_id')
      .notNull()
      .references(() => rounds.id),
    problemId: ref('problem_id')
      .notNull()
      .references(() => problems.id),
    purpose: text('purpose').notNull(),
    strategy: text('strategy').notNull(),
    attempt: integer('attempt').notNull(),
    error: text('error').notNull(),
    /** True when no retry was left: the request failed for good in this activity attempt. */
    final: boolean('final').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index('model_errors_round').on(t.roundId)],
);

/** Ground-truth verdicts; the verifier version is part of the key. */
export const verdicts = flywheel.table(
  'verdicts',
  {
    id: id(),
    traceId: ref('trace_id')
      .notNull()
      .references(() => traces.id),
    verifier: text('verifier').notNull(),
    verifierVersion: text('verifier_version').notNull(),
    score: real('score').notNull(),
    correct: boolean('correct').notNull(),
    answer: text('answer'),
    detail: text('detail').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('verdicts_trace_verifier').on(t.traceId, t.verifier, t.verifierVersion)],
);

/** A round's per-problem plan under difficulty-adaptive budgets: why a problem gets the samples and search it gets. */
export const problemBudgets = flywheel.table(
  'problem_budgets',
  {
    roundId: ref('round_id')
      .notNull()
      .references(() => rounds.id),
    problemId: ref('problem_id')
      .notNull()
      .references(() => problems.id),
    /** solved-always, easy, medium, hard or unseen. */
    bin: text('bin').notNull(),
    /** Posterior solve rate from the problem's history in this run. */
    solveRate: real('solve_rate').notNull(),
    samples: integer('samples').notNull(),
    /** Step-level search for this problem in the search stage ('none' when sampling is its whole budget). */
    strategy: text('strategy').notNull(),
    searchBudget: integer('search_budget').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.roundId, t.problemId] })],
);

/** What a search strategy chose for a problem, and the compute it spent. */
export const searchResults = flywheel.table(
  'search_results',
  {
    roundId: ref('round_id')
      .notNull()
      .references(() => rounds.id),
    problemId: ref('problem_id')
      .notNull()
      .references(() => problems.id),
    purpose: text('purpose').notNull(),
    strategy: text('strategy').notNull(),
    traceId: ref('trace_id').references(() => traces.id),
    answer: text('answer'),
    votes: integer('votes').notNull().default(0),
    calls: integer('calls').notNull().default(0),
    tokens: integer('tokens').notNull().default(0),
    /** Prompt tokens the server read for the search's requests, and those it served from its prefix cache (null: not reported). */
    promptTokens: integer('prompt_tokens').notNull().default(0),
    cachedPromptTokens: integer('cached_prompt_tokens'),
    /** Requests to a reward or process reward model (not model calls: no generated tokens). */
    scorerCalls: integer('scorer_calls').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.roundId, t.problemId, t.purpose, t.strategy] })],
);

/**
 * What a step-level search learnt about each step it expanded (lib/search/step-stats.ts): the step labels a process
 * reward model trains on. One row per (round, problem, purpose, strategy, prefix, step); the first write wins (ON
 * CONFLICT DO NOTHING): a seeded search retried writes the same numbers, so there is nothing to update.
 */
export const searchSteps = flywheel.table(
  'search_steps',
  {
    id: id(),
    roundId: ref('round_id')
      .notNull()
      .references(() => rounds.id),
    problemId: ref('problem_id')
      .notNull()
      .references(() => problems.id),
    purpose: text('purpose').notNull(),
    strategy: text('strategy').notNull(),
    /** Where the numbers come from: `mcts` (tree statistics), `beam` (process scores), `rollouts` (Math-Shepherd). */
    source: text('source').notNull(),
    /** sha256 (hex) of `prefix`, the trace before the step. */
    prefixHash: text('prefix_hash').notNull(),
    prefix: text('prefix').notNull(),
    /** sha256 (hex) of `step`. */
    stepHash: text('step_hash').notNull(),
    step: text('step').notNull(),
    depth: integer('depth').notNull(),
    visits: integer('visits').notNull().default(0),
    rollouts: integer('rollouts').notNull().default(0),
    /** Rollouts through the step the verifier accepted; null when the search did not verify (no label from it). */
    verifiedRollouts: integer('verified_rollouts'),
    /** The search's estimate: MCTS mean value, beam's process score; null when never valued. */
    value: doublePrecision('value'),
    /** The verifier's verdict on the trace the step ended; null when it ended none. */
    finalVerdict: boolean('final_verdict'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('search_steps_key').on(t.roundId, t.problemId, t.purpose, t.strategy, t.prefixHash, t.stepHash),
    index('search_steps_problem').on(t.problemId),
  ],
);

/**
 * A training set, built in SQL by the filter stage, with the filter config that built it: the policy's (`kind`
 * 'policy', its traces in `dataset_items`) and the process reward model's ('prm', its step labels in
 * `prm_dataset_items`), one of each per round.
 */
export const datasets = flywheel.table(
  'datasets',
  {
    id: id(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id),
    round: integer('round').notNull(),
    kind: text('kind').notNull().default('policy'),
    filter: jsonb('filter').notNull(),
    items: integer('items').notNull().default(0),
    problems: integer('problems').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('datasets_run_round_kind').on(t.runId, t.round, t.kind)],
);

/** Which traces a dataset holds: with `models.dataset_id`, which traces trained which model. */
export const datasetItems = flywheel.table(
  'dataset_items',
  {
    datasetId: ref('dataset_id')
      .notNull()
      .references(() => datasets.id),
    traceId: ref('trace_id')
      .notNull()
      .references(() => traces.id),
  },
  (t) => [primaryKey({ columns: [t.datasetId, t.traceId] })],
);

/**
 * Which step labels a PRM dataset holds: one row per deduplicated (problem, prefix, step) of the window, `step_id`
 * the first `search_steps` row of it, with the labels summed over its duplicates (soft = verified / rollouts, hard =
 * the final verdict, else soft ≥ 0.5). `example` marks the steps that end an example after balancing; an example's
 * earlier steps are the items on its path (lineage: which step labels trained which PRM).
 */
export const prmDatasetItems = flywheel.table(
  'prm_dataset_items',
  {
    datasetId: ref('dataset_id')
      .notNull()
      .references(() => datasets.id),
    stepId: ref('step_id')
      .notNull()
      .references(() => searchSteps.id),
    problemId: ref('problem_id')
      .notNull()
      .references(() => problems.id),
    depth: integer('depth').notNull(),
    rollouts: integer('rollouts').notNull(),
    verifiedRollouts: integer('verified_rollouts').notNull(),
    softLabel: doublePrecision('soft_label').notNull(),
    label: boolean('label').notNull(),
    /** Every earlier step of its path is an item too, so it can end an example. */
    complete: boolean('complete').notNull().default(false),
    /** Kept as the last step of an example (balanced positives and negatives). */
    example: boolean('example').notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.datasetId, t.stepId] }), index('prm_dataset_items_problem').on(t.datasetId, t.problemId)],
);

/** One trainer job per round; the external job id is recorded before anything waits on it. */
export const fineTunes = flywheel.table(
  'fine_tunes',
  {
    id: id(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id),
    round: integer('round').notNull(),
    /** `policy` or `prm`: a round trains at most one job of each learner. */
    learner: text('learner').notNull().default('policy'),
    backend: text('backend').notNull(),
    externalJobId: text('external_job_id'),
    trainingFile: text('training_file'),
    status: text('status').notNull(),
    baseModel: text('base_model').notNull(),
    resultModel: text('result_model'),
    datasetId: ref('dataset_id').references(() => datasets.id),
    hyperparameters: jsonb('hyperparameters').notNull(),
    error: text('error'),
    /** Jobs of this round that failed before and were replaced after an operator resumed the round. */
    supersededJobIds: jsonb('superseded_job_ids').notNull().default(sql`'[]'::jsonb`),
    /** Where a command trainer's job runs: `local`, `slurm`, `templates` (null for the openai backend). */
    launcher: text('launcher'),
    /** The trainer's progress points, oldest first: `{step, loss, epoch, lr, ...}` (lib/train/progress.ts). */
    progress: jsonb('progress').notNull().default(sql`'[]'::jsonb`),
    exitCode: integer('exit_code'),
    /** The end of a failed job's log, as shown with NeedsAttention. */
    logTail: text('log_tail'),
    /** The checkpoint directory a successful command job wrote. */
    checkpointPath: text('checkpoint_path'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('fine_tunes_run_round_learner').on(t.runId, t.round, t.learner)],
);

/** Metrics of a model on a split, raw (`strategy` = 'none') and with search. `k` is 0 where it does not apply. */
export const evals = flywheel.table(
  'evals',
  {
    id: id(),
    roundId: ref('round_id')
      .notNull()
      .references(() => rounds.id),
    model: text('model').notNull(),
    split: text('split').notNull(),
    metric: text('metric').notNull(),
    k: integer('k').notNull().default(0),
    strategy: text('strategy').notNull().default('none'),
    value: doublePrecision('value').notNull(),
    problems: integer('problems').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('evals_key').on(t.roundId, t.model, t.split, t.metric, t.k, t.strategy)],
);

export type Run = typeof runs.$inferSelect;
export type Problem = typeof problems.$inferSelect;
export type Round = typeof rounds.$inferSelect;
export type Trace = typeof traces.$inferSelect;
export type SearchStep = typeof searchSteps.$inferSelect;
export type NewTrace = typeof traces.$inferInsert;
export type Verdict = typeof verdicts.$inferSelect;
export type FineTune = typeof fineTunes.$inferSelect;
export type Eval = typeof evals.$inferSelect;
