/** Evaluation metrics per round and model. */
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { evals, rounds } from './schema.js';

export interface NewEval {
  roundId: number;
  model: string;
  split: string;
  metric: string;
  k: number;
  strategy: string;
  value: number;
  problems: number;
}

export async function upsertEvals(db: Db, rows: NewEval[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insert(evals)
    .values(rows)
    .onConflictDoUpdate({
      target: [evals.roundId, evals.model, evals.split, evals.metric, evals.k, evals.strategy],
      set: { value: sql`excluded.value`, problems: sql`excluded.problems` },
    });
}

/** The latest value of one metric for a model within a run (e.g. the greedy pass@1 of the current model). */
export async function latestMetric(db: Db, runId: string, model: string, metric: string, k = 1): Promise<number | null> {
  const [row] = await db
    .select({ value: evals.value })
    .from(evals)
    .innerJoin(rounds, eq(rounds.id, evals.roundId))
    .where(and(eq(rounds.runId, runId), eq(evals.model, model), eq(evals.metric, metric), eq(evals.k, k), eq(evals.strategy, 'none')))
    .orderBy(desc(rounds.index))
    .limit(1);
  return row?.value ?? null;
}
