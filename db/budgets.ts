/** Difficulty history and per-problem budgets (difficulty-adaptive allocation). */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { problemBudgets } from './schema.js';

export type NewProblemBudget = typeof problemBudgets.$inferInsert;
export type ProblemBudget = typeof problemBudgets.$inferSelect;

export interface RoundCounts {
  problemId: number;
  round: number;
  n: number;
  c: number;
}

/** Per train problem and earlier round of the run: samples drawn and samples verified correct. */
export async function solveHistory(db: Db, runId: string, beforeRound: number): Promise<RoundCounts[]> {
  const res = await db.execute(sql`
    SELECT t.problem_id, r.index, count(*)::int AS n, count(*) FILTER (WHERE v.correct)::int AS c
    FROM flywheel.traces t
    JOIN flywheel.rounds r ON r.id = t.round_id
    LEFT JOIN LATERAL (SELECT bool_or(vd.correct) AS correct FROM flywheel.verdicts vd WHERE vd.trace_id = t.id) v ON true
    WHERE r.run_id = ${runId} AND r.index < ${beforeRound} AND t.purpose = 'train' AND t.strategy = 'sample'
    GROUP BY t.problem_id, r.index`);
  return (res.rows as Array<Record<string, number>>).map((r) => ({ problemId: Number(r.problem_id), round: Number(r.index), n: Number(r.n), c: Number(r.c) }));
}

/** Writes a round's plan once; a re-run finds it and leaves it as it is. */
export async function insertBudgets(db: Db, rows: NewProblemBudget[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    await db.insert(problemBudgets).values(rows.slice(i, i + 1000)).onConflictDoNothing();
  }
}

export async function roundBudgets(db: Db, roundId: number, problemIds?: number[]): Promise<Map<number, ProblemBudget>> {
  const where = problemIds
    ? and(eq(problemBudgets.roundId, roundId), inArray(problemBudgets.problemId, problemIds.length ? problemIds : [-1]))
    : eq(problemBudgets.roundId, roundId);
  const rows = await db.select().from(problemBudgets).where(where);
  return new Map(rows.map((r) => [r.problemId, r]));
}
