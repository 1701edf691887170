/**
 * Expert iteration in the regime of a real LLM: the embedded model served with subword tokens
 * (`countdown-mlp-subword`), so step search sees only sampled children (top_logprobs cover the next token, not the
 * next step). MCTS on the train problems no sample solved finds solutions, its verified traces join the next
 * training set, and the compute it spent is recorded per problem in calls, generated tokens and prompt tokens
 * (with the share the server's prefix cache served). Real Temporal, Postgres and the embedded model over HTTP.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../config/load.js';
import { roundReports } from '../../db/report.js';
import type { TestDatabase } from '../helpers/services.js';
import { completedRun, type CompletedRun } from '../helpers/flywheel-run.js';

const TRAIN = 40;
const TEST = 10;

const config = parseRunConfig(`
name: search-flywheel-subword
rounds: 1
task: {kind: countdown, seed: 13, train: ${TRAIN}, test: ${TEST}}
model: {name: countdown-mlp-subword}
generate: {samplesPerProblem: 8, shardSamples: 64}
search:
  step: {strategy: mcts, budget: 32, trainBudget: 32, train: unsolved, eval: true}
finetune: {hyperparameters: {nEpochs: 10}, pollIntervalMs: 200}
evaluate: {samples: 2, k: [1, 2]}
`);

let run: CompletedRun;
let db: TestDatabase;
let runId: string;

beforeAll(async () => {
  run = await completedRun(config, 'search-subword');
  ({ db, runId } = run);
});

afterAll(() => run?.close());

const rows = async <T>(query: ReturnType<typeof sql>) => (await db.db.execute(query)).rows as T[];

describe('search in the flywheel with subword tokens', () => {
  it('MCTS solves train problems no sample solved, and those traces train the next model', async () => {
    const [r0] = await rows<{ unsolved: number; searched: number; found: number; max_calls: number }>(sql`
      WITH round0 AS (SELECT id FROM flywheel.rounds WHERE run_id = ${runId} AND index = 0),
      solved AS (
        SELECT DISTINCT t.problem_id FROM flywheel.traces t JOIN flywheel.verdicts v ON v.trace_id = t.id
        WHERE t.round_id = (SELECT id FROM round0) AND t.purpose = 'train' AND t.strategy = 'sample' AND v.correct)
      SELECT (SELECT ${TRAIN} - count(*) FROM solved)::int AS unsolved,
             (SELECT count(*) FROM flywheel.search_results s
               WHERE s.round_id = (SELECT id FROM round0) AND s.purpose = 'train' AND s.strategy = 'mcts')::int AS searched,
             (SELECT count(DISTINCT t.problem_id) FROM flywheel.traces t JOIN flywheel.verdicts v ON v.trace_id = t.id
               WHERE t.round_id = (SELECT id FROM round0) AND t.strategy = 'mcts' AND t.purpose = 'train' AND v.correct
                 AND t.problem_id NOT IN (SELECT problem_id FROM solved))::int AS found,
             (SELECT max(s.calls) FROM flywheel.search_results s
               WHERE s.round_id = (SELECT id FROM round0) AND s.strategy = 'mcts')::int AS max_calls`);
    expect(r0!.unsolved).toBeGreaterThan(0);
    expect(r0!.searched).toBe(r0!.unsolved);
    expect(r0!.found).toBeGreaterThan(0);
    expect(r0!.max_calls).toBeLessThanOrEqual(32);

    const [trained] = await rows<{ from_search: number; problems_from_search: number; unverified: number }>(sql`
      SELECT count(*) FILTER (WHERE t.strategy = 'mcts')::int AS from_search,
             count(DISTINCT t.problem_id) FILTER (WHERE t.strategy = 'mcts')::int AS problems_from_search,
             count(*) FILTER (WHERE v.id IS NULL OR NOT v.correct)::int AS unverified
      FROM flywheel.dataset_items di JOIN flywheel.datasets d ON d.id = di.dataset_id
      JOIN flywheel.traces t ON t.id = di.trace_id LEFT JOIN flywheel.verdicts v ON v.trace_id = t.id
      WHERE d.run_id = ${runId} AND d.round = 1`);
    expect(trained!.unverified).toBe(0);
    expect(trained!.from_search).toBeGreaterThan(0);
    expect(trained!.problems_from_search).toBe(r0!.found);

    const report = await roundReports(db.db, runId);
    expect(report[1]!.model).toMatch(/^ft:countdown-mlp-subword:/);
  });

  it('records compute per problem as a GPU sees it: calls, generated tokens, prompt tokens and cached prompt tokens', async () => {
    const results = await rows<{ calls: number; tokens: number; prompt_tokens: number; cached_prompt_tokens: number | null }>(sql`
      SELECT s.calls, s.tokens, s.prompt_tokens, s.cached_prompt_tokens FROM flywheel.search_results s
      JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND s.strategy = 'mcts'`);
    expect(results.length).toBeGreaterThan(TEST);
    for (const r of results) {
      expect(r.calls).toBeGreaterThan(0);
      expect(r.tokens).toBeGreaterThanOrEqual(10 * r.calls); // several tokens per step, and every call writes a step
      expect(r.prompt_tokens).toBeGreaterThan(r.calls);
      expect(r.cached_prompt_tokens).not.toBeNull();
      expect(r.cached_prompt_tokens!).toBeLessThan(r.prompt_tokens);
    }
    // Searches that made many requests re-sent their prefixes: most of their prompt tokens were cached.
    const long = results.filter((r) => r.calls >= 8);
    expect(long.length).toBeGreaterThan(0);
    for (const r of long) expect(r.cached_prompt_tokens! / r.prompt_tokens).toBeGreaterThan(0.5);
  });

  it('measures held-out accuracy with search beside the raw model', async () => {
    const report = await roundReports(db.db, runId);
    for (const r of report) {
      expect(r.search).toMatchObject({ strategy: 'mcts', budget: 32 });
      expect(r.search!.meanCalls!).toBeLessThanOrEqual(32);
    }
    expect(report[0]!.search!.accuracy).toBeGreaterThan(report[0]!.greedyPassAt1!);
  });
});
