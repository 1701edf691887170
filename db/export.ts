/**
 * What `flywheel export` reads, streamed from Postgres through a cursor (pg-query-stream): a run's training sets or
 * raw traces are never held in memory whole, however many rounds they span.
 */
import type pg from 'pg';
import { sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { streamRows } from './cursor.js';

export interface RoundRange {
  from: number;
  to: number;
}

export interface TrainingRow {
  trained_in_round: number;
  trained_model: string | null;
  trace_id: string;
  problem: string;
  prompt: string;
  completion: string;
  sampled_by: string;
  sampled_in_round: number;
  strategy: string;
  rationalized: boolean;
  verifier_score: number | null;
}

export interface TraceRow {
  round: number;
  trace_id: string;
  purpose: string;
  strategy: string;
  sample_index: number;
  problem: string;
  split: string;
  prompt: string;
  text: string;
  model: string;
  logprob: number | null;
  score: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  latency_ms: number;
  finish_reason: string | null;
  error: string | null;
  flags: Record<string, unknown>;
  verifier: string | null;
  verifier_version: string | null;
  correct: boolean | null;
  verifier_score: number | null;
  answer: string | null;
  /** The searches that chose this trace: strategy, votes, model calls and tokens each spent. */
  chosen_by: Array<{ strategy: string; votes: number; calls: number; tokens: number }> | null;
}

/** The examples of the training sets of rounds `range` (a set of round n holds traces sampled before it). */
export function streamTrainingExamples(pool: pg.Pool, runId: string, range: RoundRange): AsyncGenerator<TrainingRow> {
  return streamRows<TrainingRow>(
    pool,
    `SELECT trained_in_round, trained_model, trace_id::text, problem, prompt, completion, sampled_by, sampled_in_round,
            strategy, rationalized, verifier_score
     FROM flywheel.training_examples
     WHERE run_id = $1 AND trained_in_round BETWEEN $2 AND $3
     ORDER BY trained_in_round, training_examples.trace_id`, // the number, not the text it is selected as
    [runId, range.from, range.to],
  );
}

/** Every trace sampled or searched in rounds `range`, with its verdict and the searches that chose it. */
export function streamTraces(pool: pg.Pool, runId: string, range: RoundRange): AsyncGenerator<TraceRow> {
  return streamRows<TraceRow>(
    pool,
    `SELECT r.index AS round, t.id::text AS trace_id, t.purpose, t.strategy, t.sample_index, p.external_id AS problem, p.split,
            p.prompt, t.text, t.model, t.logprob, t.score, t.prompt_tokens, t.completion_tokens, t.latency_ms,
            t.finish_reason, t.error, t.flags, v.verifier, v.verifier_version, v.correct, v.score AS verifier_score, v.answer,
            (SELECT jsonb_agg(jsonb_build_object('strategy', s.strategy, 'votes', s.votes, 'calls', s.calls, 'tokens', s.tokens) ORDER BY s.strategy)
               FROM flywheel.search_results s WHERE s.trace_id = t.id) AS chosen_by
     FROM flywheel.traces t
     JOIN flywheel.rounds r ON r.id = t.round_id
     JOIN flywheel.problems p ON p.id = t.problem_id
     LEFT JOIN LATERAL (
       SELECT vd.verifier, vd.verifier_version, vd.correct, vd.score, vd.answer FROM flywheel.verdicts vd
       WHERE vd.trace_id = t.id ORDER BY vd.created_at DESC LIMIT 1) v ON true
     WHERE r.run_id = $1 AND r.index BETWEEN $2 AND $3
     ORDER BY r.index, t.id`,
    [runId, range.from, range.to],
  );
}

export interface ExportLineage {
  datasets: Array<{
    round: number;
    items: number;
    problems: number;
    filter: unknown;
    trainedModel: string | null;
    parentModel: string | null;
    promoted: boolean | null;
    tracesByRound: Record<string, number> | null;
  }>;
  verifiers: Array<{ verifier: string; version: string; verdicts: number }>;
  /** Traces (and verified-correct ones) of the rounds, for a `--traces` export. */
  traces: { total: number; correct: number };
}

/** Where the exported rows come from: each round's training set, its filter, the model it trained, the verifiers. */
export async function exportLineage(db: Db, runId: string, range: RoundRange): Promise<ExportLineage> {
  const datasets = (
    await db.execute(sql`
      SELECT d.round, d.items, d.problems, d.filter, m.name AS trained_model, m.parent_name, m.promoted, l.traces_by_round
      FROM flywheel.datasets d
      LEFT JOIN flywheel.models m ON m.run_id = d.run_id AND m.dataset_id = d.id
      LEFT JOIN flywheel.model_lineage l ON l.run_id = d.run_id AND l.model = m.name AND l.depth = 0
      WHERE d.run_id = ${runId} AND d.round BETWEEN ${range.from} AND ${range.to} AND d.kind = 'policy'
      ORDER BY d.round`)
  ).rows as Array<{ round: number; items: number; problems: number; filter: unknown; trained_model: string | null; parent_name: string | null; promoted: boolean | null; traces_by_round: Record<string, number> | null }>;
  const verifiers = (
    await db.execute(sql`
      SELECT v.verifier, v.verifier_version AS version, count(*)::int AS verdicts
      FROM flywheel.verdicts v JOIN flywheel.traces t ON t.id = v.trace_id JOIN flywheel.rounds r ON r.id = t.round_id
      WHERE r.run_id = ${runId} AND r.index BETWEEN ${range.from} AND ${range.to}
      GROUP BY 1, 2 ORDER BY 1, 2`)
  ).rows as Array<{ verifier: string; version: string; verdicts: number }>;
  const [traces] = (
    await db.execute(sql`
      SELECT count(*)::int AS total, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM flywheel.verdicts v WHERE v.trace_id = t.id AND v.correct))::int AS correct
      FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id
      WHERE r.run_id = ${runId} AND r.index BETWEEN ${range.from} AND ${range.to}`)
  ).rows as Array<{ total: number; correct: number }>;
  return {
    datasets: datasets.map((d) => ({
      round: Number(d.round),
      items: Number(d.items),
      problems: Number(d.problems),
      filter: d.filter,
      trainedModel: d.trained_model,
      parentModel: d.parent_name,
      promoted: d.promoted,
      tracesByRound: d.traces_by_round,
    })),
    verifiers: verifiers.map((v) => ({ ...v, verdicts: Number(v.verdicts) })),
    traces: { total: Number(traces?.total ?? 0), correct: Number(traces?.correct ?? 0) },
  };
}

/** The PRM datasets (kind 'prm') of rounds `range`, in round order: id, round, examples, problems, filter. */
export async function prmDatasets(db: Db, runId: string, range: RoundRange): Promise<Array<{ id: number; round: number; items: number; problems: number; filter: unknown }>> {
  const res = await db.execute(sql`
    SELECT id, round, items, problems, filter FROM flywheel.datasets
    WHERE run_id = ${runId} AND kind = 'prm' AND round BETWEEN ${range.from} AND ${range.to}
    ORDER BY round`);
  return (res.rows as Array<{ id: number; round: number; items: number; problems: number; filter: unknown }>).map((d) => ({
    ...d,
    id: Number(d.id),
    round: Number(d.round),
    items: Number(d.items),
    problems: Number(d.problems),
  }));
}

/** The highest round index a run has (for a whole-run export). */
export async function lastRound(db: Db, runId: string): Promise<number | null> {
  const [row] = (await db.execute(sql`SELECT max(index) AS last FROM flywheel.rounds WHERE run_id = ${runId}`)).rows as Array<{ last: number | null }>;
  return row?.last === null || row?.last === undefined ? null : Number(row.last);
}
