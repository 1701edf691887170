/** Step-level search results: what was searched, what it found, and how it did on held-out problems. */
import { sql } from 'drizzle-orm';
import type { Db } from './client.js';
import type { StepStat } from '../lib/search/step-stats.js';
import { searchResults, type NewTrace } from './schema.js';
import { insertSearchSteps } from './search-steps.js';
import { insertVerifiedTraces, type VerifiedTrace } from './traces.js';

/** `problemId:strategy` of the problems (of these) a search of this round and purpose already stored. */
export async function searchedProblems(db: Db, roundId: number, purpose: string, problemIds: readonly number[]): Promise<Set<string>> {
  if (problemIds.length === 0) return new Set();
  const res = await db.execute(sql`
    SELECT problem_id, strategy FROM flywheel.search_results
    WHERE round_id = ${roundId} AND purpose = ${purpose} AND problem_id IN (${sql.join(problemIds.map((id) => sql`${id}`), sql`, `)})`);
  return new Set((res.rows as Array<{ problem_id: string | number; strategy: string }>).map((r) => `${Number(r.problem_id)}:${r.strategy}`));
}

export interface SearchRecord {
  roundId: number;
  problemId: number;
  purpose: string;
  strategy: string;
  answer: string | null;
  votes: number;
  calls: number;
  tokens: number;
  /** Prompt tokens sent, and how many of them a prefix cache served (null: the server did not say). */
  promptTokens?: number;
  cachedPromptTokens?: number | null;
  /** Requests to a reward model or PRM the search made. */
  scorerCalls?: number;
}

/**
 * Stores one problem's search in one transaction: its traces with their verdicts, the step labels it learnt
 * (`steps`, from MCTS or beam; `search_steps`), and the search result pointing at the chosen trace (`chosen`: its
 * index in `rows`, or null). A retried shard finds the result and skips it.
 */
export async function storeSearchOutcome(
  db: Db,
  verifier: { name: string; version: string },
  rows: ReadonlyArray<VerifiedTrace & { trace: NewTrace }>,
  chosen: number | null,
  result: SearchRecord,
  steps: readonly StepStat[] = [],
  /** Where the step numbers come from (`search_steps.source`): the strategy's name, or `rollouts` for labels. */
  source: string = result.strategy,
): Promise<void> {
  await db.transaction(async (tx) => {
    const ids = await insertVerifiedTraces(tx, verifier, rows);
    const traceId = chosen === null ? null : (ids[chosen] ?? null);
    const { roundId, problemId, purpose, strategy } = result;
    if (steps.length) await insertSearchSteps(tx, { roundId, problemId, purpose, strategy, source }, steps);
    await tx.insert(searchResults).values({ ...result, traceId }).onConflictDoNothing();
  });
}

/** Per held-out problem searched with `strategy`: whether the trace it chose was verified correct, and its calls. */
export async function evalSearchOutcomes(
  db: Db,
  roundId: number,
  strategy: string,
  verifier: { name: string; version: string },
): Promise<Array<{ calls: number; correct: boolean }>> {
  const res = await db.execute(sql`
    SELECT s.problem_id, s.calls, coalesce(v.correct, false) AS correct
    FROM flywheel.search_results s
    LEFT JOIN flywheel.verdicts v ON v.trace_id = s.trace_id AND v.verifier = ${verifier.name} AND v.verifier_version = ${verifier.version}
    WHERE s.round_id = ${roundId} AND s.purpose = 'eval' AND s.strategy = ${strategy}`);
  return (res.rows as Array<{ calls: number; correct: boolean }>).map((r) => ({ calls: Number(r.calls), correct: Boolean(r.correct) }));
}
