/** Step labels: what step-level search learnt about each step it expanded (`flywheel.search_steps`). */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { StepStat } from '../lib/search/step-stats.js';
import type { Db } from './client.js';
import { searchSteps } from './schema.js';

/** Where a search's steps are stored: the round, problem, purpose and strategy of its search result. */
export interface StepsAt {
  roundId: number;
  problemId: number;
  purpose: string;
  strategy: string;
  /** `mcts`, `beam` or `rollouts` (Math-Shepherd labelling). */
  source: string;
}

/** Hex sha256 of a text: the key of a prefix or a step. */
export function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const CHUNK = 1000; // rows per INSERT: 17 parameters each, far under Postgres's 65,535

/**
 * Stores a search's step statistics (in the caller's transaction when given one). The first write of a step wins:
 * a retried shard re-runs the same seeded search and would write the same numbers, so a conflict changes nothing.
 */
export async function insertSearchSteps(db: Db, at: StepsAt, steps: readonly StepStat[]): Promise<number> {
  let written = 0;
  for (let i = 0; i < steps.length; i += CHUNK) {
    const rows = steps.slice(i, i + CHUNK).map((s) => ({
      ...at,
      prefixHash: textHash(s.prefix),
      prefix: s.prefix,
      stepHash: textHash(s.step),
      step: s.step,
      depth: s.depth,
      visits: s.visits,
      rollouts: s.rollouts,
      verifiedRollouts: s.verifiedRollouts,
      value: s.value === null || Number.isFinite(s.value) ? s.value : null,
      finalVerdict: s.verdict,
    }));
    const res = await db.insert(searchSteps).values(rows).onConflictDoNothing().returning({ id: searchSteps.id });
    written += res.length;
  }
  return written;
}

/** The texts of the first `perProblem` sampled train traces (by sample index) of each problem, for rollout labels. */
export async function sampledTraceTexts(db: Db, roundId: number, problemIds: readonly number[], perProblem: number): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  if (problemIds.length === 0) return out;
  const res = await db.execute(sql`
    SELECT problem_id, text FROM (
      SELECT t.problem_id, t.text, t.sample_index,
             row_number() OVER (PARTITION BY t.problem_id ORDER BY t.sample_index) AS n
      FROM flywheel.traces t
      WHERE t.round_id = ${roundId} AND t.purpose = 'train' AND t.strategy = 'sample' AND t.error IS NULL
        AND t.problem_id IN (${sql.join(problemIds.map((id) => sql`${id}`), sql`, `)})) x
    WHERE n <= ${perProblem}
    ORDER BY problem_id, sample_index`);
  for (const row of res.rows as Array<{ problem_id: string | number; text: string }>) {
    const id = Number(row.problem_id);
    const list = out.get(id);
    if (list) list.push(row.text);
    else out.set(id, [row.text]);
  }
  return out;
}
