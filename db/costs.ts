/** What a run has spent, from the `flywheel.round_costs` view: per round and stage, in all, and per sample so far. */
import { sql } from 'drizzle-orm';
import type { UsageSoFar } from '../lib/cost/index.js';
import type { Db } from './client.js';

export interface StageCost {
  round: number;
  stage: string;
  model: string | null;
  /** Traces drawn (search: generated sequences; fine-tune: jobs). */
  samples: number;
  inputTokens: number;
  outputTokens: number;
  tokens: number;
  trainedTokens: number;
  hours: number;
  /** null: no price for this model (or trainer) in the run's config. */
  cost: number | null;
}

export async function stageCosts(db: Db, runId: string): Promise<StageCost[]> {
  const res = await db.execute(sql`
    SELECT round, stage, model, samples, input_tokens, output_tokens, tokens, trained_tokens, hours, cost
    FROM flywheel.round_costs WHERE run_id = ${runId} ORDER BY round, stage, model`);
  return (res.rows as Array<Record<string, unknown>>).map((r) => ({
    round: Number(r.round),
    stage: String(r.stage),
    model: (r.model as string | null) ?? null,
    samples: Number(r.samples),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    tokens: Number(r.tokens),
    trainedTokens: Number(r.trained_tokens),
    hours: Number(r.hours),
    cost: r.cost === null ? null : Number(r.cost),
  }));
}

export interface RoundCost {
  round: number;
  tokens: number;
  /** Sum of the priced stages; null when nothing in the round is priced. */
  cost: number | null;
  /** Stages with usage but no price (their cost is not in `cost`). */
  unpriced: string[];
}

/** Per round: tokens and cost, summed over its stages. */
export function roundTotals(stages: StageCost[]): RoundCost[] {
  const byRound = new Map<number, RoundCost>();
  for (const s of stages) {
    const r = byRound.get(s.round) ?? { round: s.round, tokens: 0, cost: null, unpriced: [] };
    r.tokens += s.tokens;
    if (s.cost !== null) r.cost = (r.cost ?? 0) + s.cost;
    else if (s.tokens > 0 || s.trainedTokens > 0 || s.hours > 0) r.unpriced.push(s.stage);
    byRound.set(s.round, r);
  }
  return [...byRound.values()].sort((a, b) => a.round - b.round);
}

export async function roundCosts(db: Db, runId: string): Promise<RoundCost[]> {
  return roundTotals(await stageCosts(db, runId));
}

/** The run's spend so far (what a budget is checked against): priced cost and inference tokens. */
export async function runSpend(db: Db, runId: string): Promise<{ cost: number; tokens: number }> {
  const res = await db.execute(sql`
    SELECT coalesce(sum(cost), 0)::float8 AS cost, coalesce(sum(tokens), 0)::bigint AS tokens FROM flywheel.round_costs WHERE run_id = ${runId}`);
  const row = res.rows[0] as { cost: number; tokens: string | number };
  return { cost: Number(row.cost), tokens: Number(row.tokens) };
}

/** Requests and tokens of one stage over the run so far: the basis of a cost estimate for the next round's stage. */
export async function usageSoFar(db: Db, runId: string, stage: string): Promise<UsageSoFar> {
  const res = await db.execute(sql`
    SELECT coalesce(sum(samples), 0)::bigint AS samples, coalesce(sum(input_tokens), 0)::bigint AS input,
           coalesce(sum(output_tokens), 0)::bigint AS output
    FROM flywheel.round_costs WHERE run_id = ${runId} AND stage = ${stage}`);
  const row = res.rows[0] as Record<string, string | number>;
  return { samples: Number(row.samples), inputTokens: Number(row.input), outputTokens: Number(row.output) };
}
