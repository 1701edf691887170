/**
 * What the run report reads: the per-round numbers of `flywheel.round_metrics` (also what `status` and `demo` print),
 * search compute per problem, the adaptive plan's bins, per-problem difficulty, the funnel into training sets,
 * trainer progress, lineage, model errors and the rounds that trained a process reward model. Plain rows; lib/report
 * turns them into charts.
 */
import { sql } from 'drizzle-orm';
import { prmGateOf } from '../lib/report/prm.js';
import type { PrmRound, ReportRound } from '../lib/report/types.js';
import type { Db } from './client.js';
import { roundCosts } from './costs.js';

const rowsOf = async <T>(db: Db, query: ReturnType<typeof sql>) => (await db.execute(query)).rows as T[];

/** Whether a table or view of the schema has a column: a database migrated by older code lacks the newer ones. */
async function hasColumn(db: Db, table: string, column: string): Promise<boolean> {
  const [row] = await rowsOf<{ n: number }>(
    db,
    sql`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'flywheel' AND table_name = ${table} AND column_name = ${column}`,
  );
  return Number(row?.n) > 0;
}

/** A round as `status` and the demo show it: the report's round (lib/report/types.ts) and the operator's counts. */
export interface RoundReport extends ReportRound {
  sampler: string | null;
  errors: number;
  fineTuneJobs: number;
  searchProblemsSolved: number;
  rationalized: number;
  rationalizedCorrect: number;
  /** Inference tokens (prompt + completion) of the round's stages, from flywheel.round_costs. */
  tokens: number;
  /** What the round cost at the config's prices; null when nothing in it is priced. */
  cost: number | null;
}

/** A run's rounds from `flywheel.round_metrics`, with each round's tokens and cost from `flywheel.round_costs`. */
export async function roundReports(db: Db, runId: string): Promise<RoundReport[]> {
  const res = await db.execute(sql`SELECT * FROM flywheel.round_metrics WHERE run_id = ${runId} ORDER BY round`);
  const costs = new Map((await roundCosts(db, runId)).map((c) => [c.round, c]));
  return (res.rows as Array<Record<string, unknown>>).map((r) => ({
    round: Number(r.round),
    model: (r.model as string) ?? null,
    sampler: (r.sampler as string) ?? null,
    stage: String(r.stage),
    status: String(r.status),
    planned: Number(r.planned),
    traces: Number(r.traces),
    verified: Number(r.verified),
    correct: Number(r.correct),
    errors: Number(r.errors),
    fineTuneJobs: Number(r.fine_tune_jobs),
    datasetItems: r.dataset_items === null ? null : Number(r.dataset_items),
    greedyPassAt1: r.greedy_pass_at_1 === null ? null : Number(r.greedy_pass_at_1),
    passAtK: (r.pass_at_k as Record<string, number>) ?? {},
    majAtK: (r.maj_at_k as Record<string, number>) ?? {},
    promoted: (r.promoted as boolean | null) ?? null,
    searchTraces: Number(r.search_traces),
    searchProblemsSolved: Number(r.search_problems_solved),
    search:
      r.search_strategy === null
        ? null
        : {
            strategy: String(r.search_strategy),
            budget: Number(r.search_budget),
            accuracy: Number(r.search_accuracy),
            meanCalls: r.search_mean_calls === null ? null : Number(r.search_mean_calls),
          },
    modelErrors: Number(r.model_errors),
    coverage: (r.coverage as RoundReport['coverage']) ?? null,
    rationalized: Number(r.rationalized),
    rationalizedCorrect: Number(r.rationalized_correct),
    tokens: costs.get(Number(r.round))?.tokens ?? 0,
    cost: costs.get(Number(r.round))?.cost ?? null,
  }));
}

export interface SearchOutcomeRow {
  round: number;
  purpose: string;
  strategy: string;
  calls: number;
  tokens: number;
  correct: boolean;
}

/** One row per problem a strategy searched: the model calls it spent and whether its answer verified. */
export async function searchOutcomes(db: Db, runId: string): Promise<SearchOutcomeRow[]> {
  const rows = await rowsOf<{ round: number; purpose: string; strategy: string; calls: number; tokens: number; correct: boolean | null }>(
    db,
    sql`
    SELECT r.index AS round, s.purpose, s.strategy, s.calls, s.tokens,
           (SELECT bool_or(v.correct) FROM flywheel.verdicts v WHERE v.trace_id = s.trace_id) AS correct
    FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id
    WHERE r.run_id = ${runId} AND s.strategy <> 'labels' -- rollout labels are compute, not a search with an answer
    ORDER BY r.index, s.purpose, s.strategy, s.calls`,
  );
  return rows.map((r) => ({ ...r, round: Number(r.round), calls: Number(r.calls), tokens: Number(r.tokens), correct: r.correct === true }));
}

export interface BudgetBinRow {
  round: number;
  bin: string;
  problems: number;
  samples: number;
  searchBudget: number;
}

/** The adaptive plan of each round, per difficulty bin (empty when adaptive budgets were off). */
export async function budgetBins(db: Db, runId: string): Promise<BudgetBinRow[]> {
  const rows = await rowsOf<{ round: number; bin: string; problems: number; samples: number; search_budget: number }>(
    db,
    sql`
    SELECT r.index AS round, b.bin, count(*)::int AS problems, sum(b.samples)::int AS samples, sum(b.search_budget)::int AS search_budget
    FROM flywheel.problem_budgets b JOIN flywheel.rounds r ON r.id = b.round_id
    WHERE r.run_id = ${runId} GROUP BY r.index, b.bin ORDER BY r.index, b.bin`,
  );
  return rows.map((r) => ({ round: Number(r.round), bin: r.bin, problems: Number(r.problems), samples: Number(r.samples), searchBudget: Number(r.search_budget) }));
}

export interface ProblemRoundRow {
  problemId: number;
  problem: string;
  round: number;
  n: number;
  c: number;
}

/** Samples drawn and correct per train problem and round (from `flywheel.problem_difficulty`). */
export async function problemRounds(db: Db, runId: string): Promise<ProblemRoundRow[]> {
  const rows = await rowsOf<{ problem_id: number; problem: string; round: number; n: number; c: number }>(
    db,
    sql`
    SELECT problem_id, problem, round, n::int, c::int FROM flywheel.problem_difficulty
    WHERE run_id = ${runId} AND purpose = 'train' ORDER BY problem_id, round`,
  );
  return rows.map((r) => ({ problemId: Number(r.problem_id), problem: r.problem, round: Number(r.round), n: Number(r.n), c: Number(r.c) }));
}

/** The prompts of some problems (for the list of the hardest ones). */
export async function problemPrompts(db: Db, problemIds: number[]): Promise<Map<number, string>> {
  if (problemIds.length === 0) return new Map();
  const rows = await rowsOf<{ id: number; prompt: string }>(
    db,
    sql`SELECT id, prompt FROM flywheel.problems WHERE id IN (${sql.join(problemIds.map((id) => sql`${id}`), sql`, `)})`,
  );
  return new Map(rows.map((r) => [Number(r.id), r.prompt]));
}

/** How many of each round's train traces ended up in a training set (of the round after it). */
export async function trainedFromRound(db: Db, runId: string): Promise<Map<number, number>> {
  const rows = await rowsOf<{ round: number; n: number }>(
    db,
    sql`
    SELECT sr.index AS round, count(*)::int AS n
    FROM flywheel.dataset_items di JOIN flywheel.datasets d ON d.id = di.dataset_id
    JOIN flywheel.traces t ON t.id = di.trace_id JOIN flywheel.rounds sr ON sr.id = t.round_id
    WHERE d.run_id = ${runId} GROUP BY sr.index`,
  );
  return new Map(rows.map((r) => [Number(r.round), Number(r.n)]));
}

export interface TrainerRow {
  round: number;
  backend: string;
  status: string;
  externalJobId: string | null;
  resultModel: string | null;
  hyperparameters: unknown;
  /** The trainer's reported progress (`fine_tunes.progress`, when the schema has it): null when not reported. */
  progress: unknown;
}

/** The run's trainer jobs, with their progress when the table records it (a column other work may add). */
export async function trainerJobs(db: Db, runId: string): Promise<TrainerRow[]> {
  const [hasProgress, hasLearner] = await Promise.all([hasColumn(db, 'fine_tunes', 'progress'), hasColumn(db, 'fine_tunes', 'learner')]);
  const progress = hasProgress ? sql`ft.progress` : sql`NULL::jsonb`;
  // The policy's jobs: a round's PRM job (finetune.prm) is reported with the PRM (prmRounds), not as the round's trainer job.
  const policyOnly = hasLearner ? sql`AND ft.learner = 'policy'` : sql``;
  const rows = await rowsOf<{ round: number; backend: string; status: string; external_job_id: string | null; result_model: string | null; hyperparameters: unknown; progress: unknown }>(
    db,
    sql`SELECT ft.round, ft.backend, ft.status, ft.external_job_id, ft.result_model, ft.hyperparameters, ${progress} AS progress
        FROM flywheel.fine_tunes ft WHERE ft.run_id = ${runId} ${policyOnly} ORDER BY ft.round`,
  );
  return rows.map((r) => ({
    round: Number(r.round),
    backend: r.backend,
    status: r.status,
    externalJobId: r.external_job_id,
    resultModel: r.result_model,
    hyperparameters: r.hyperparameters,
    progress: r.progress ?? null,
  }));
}

/**
 * The rounds that trained a PRM: the job, the model it made, the step labels and examples it was trained on, what
 * the PRM gate measured (`rounds.stats.prm`) and the PRM requests of the round's searches. Empty for a run without
 * PRMs and on a database migrated before the second learner existed (no `fine_tunes.learner`).
 */
export async function prmRounds(db: Db, runId: string): Promise<PrmRound[]> {
  const [hasLearner, hasLabels, hasScorerCalls] = await Promise.all([
    hasColumn(db, 'fine_tunes', 'learner'),
    hasColumn(db, 'model_lineage', 'step_labels_by_round'),
    hasColumn(db, 'search_results', 'scorer_calls'),
  ]);
  if (!hasLearner) return [];
  const labels = hasLabels
    ? sql`(SELECT l.step_labels_by_round FROM flywheel.model_lineage l WHERE l.run_id = ft.run_id AND l.model = m.name AND l.depth = 0)`
    : sql`NULL::jsonb`;
  const scorerCalls = hasScorerCalls ? sql`(SELECT sum(s.scorer_calls)::int FROM flywheel.search_results s WHERE s.round_id = r.id)` : sql`NULL::int`;
  const rows = await rowsOf<{
    round: number;
    status: string;
    external_job_id: string | null;
    model: string | null;
    step_labels_by_round: Record<string, number> | null;
    examples: number | null;
    gate: unknown;
    scorer_calls: number | null;
  }>(
    db,
    sql`SELECT ft.round, ft.status, ft.external_job_id, m.name AS model, ${labels} AS step_labels_by_round, d.items AS examples,
               r.stats -> 'prm' AS gate, ${scorerCalls} AS scorer_calls
        FROM flywheel.fine_tunes ft
        LEFT JOIN flywheel.models m ON m.fine_tune_id = ft.id
        LEFT JOIN flywheel.datasets d ON d.id = ft.dataset_id
        LEFT JOIN flywheel.rounds r ON r.run_id = ft.run_id AND r.index = ft.round
        WHERE ft.run_id = ${runId} AND ft.learner = 'prm' ORDER BY ft.round`,
  );
  return rows.map((r) => ({
    round: Number(r.round),
    model: r.model,
    jobStatus: r.status,
    externalJobId: r.external_job_id,
    stepLabelsByRound: r.step_labels_by_round,
    examples: r.examples === null ? null : Number(r.examples),
    gate: prmGateOf(r.gate),
    // sum() over no rows is null: a round that searched nothing made 0 requests; null only without the column.
    searchScorerCalls: r.scorer_calls === null ? (hasScorerCalls ? 0 : null) : Number(r.scorer_calls),
  }));
}

export interface LineageRow {
  depth: number;
  model: string;
  trainedFrom: string | null;
  datasetRound: number | null;
  datasetItems: number | null;
  tracesByRound: Record<string, number> | null;
  filter: unknown;
}

/** The chain of a model back to the base: each ancestor, what it was trained from and on which rounds' traces. */
export async function lineage(db: Db, runId: string, model: string): Promise<LineageRow[]> {
  const rows = await rowsOf<{ depth: number; ancestor: string; trained_from: string | null; dataset_round: number | null; dataset_items: number | null; traces_by_round: Record<string, number> | null; dataset_filter: unknown }>(
    db,
    sql`SELECT depth, ancestor, trained_from, dataset_round, dataset_items, traces_by_round, dataset_filter
        FROM flywheel.model_lineage WHERE run_id = ${runId} AND model = ${model} ORDER BY depth`,
  );
  return rows.map((r) => ({
    depth: Number(r.depth),
    model: r.ancestor,
    trainedFrom: r.trained_from,
    datasetRound: r.dataset_round === null ? null : Number(r.dataset_round),
    datasetItems: r.dataset_items === null ? null : Number(r.dataset_items),
    tracesByRound: r.traces_by_round,
    filter: r.dataset_filter,
  }));
}

export interface ModelErrorRow {
  round: number;
  error: string;
  final: boolean;
  n: number;
}

/** Failed model requests per round and message (retried or final). */
export async function modelErrorCounts(db: Db, runId: string): Promise<ModelErrorRow[]> {
  const rows = await rowsOf<{ round: number; error: string; final: boolean; n: number }>(
    db,
    sql`SELECT r.index AS round, me.error, me.final, count(*)::int AS n
        FROM flywheel.model_errors me JOIN flywheel.rounds r ON r.id = me.round_id
        WHERE r.run_id = ${runId} GROUP BY r.index, me.error, me.final ORDER BY r.index`,
  );
  return rows.map((r) => ({ round: Number(r.round), error: r.error, final: r.final, n: Number(r.n) }));
}
