/**
 * Step-level search, one shard of problems at a time (MCTS, beam, or whole-trace best-of-N / majority with a
 * budget). On train problems it is the expert of expert iteration: it runs where sampling failed (or where the
 * adaptive plan put search budget) and its verified traces join the training data. On held-out problems it
 * measures the model with search, beside the raw model. Each problem's traces, verdicts and search result are
 * written in one transaction, so a retried shard skips what is done and redoes nothing else.
 */
import { sql } from 'drizzle-orm';
import type { RunConfig } from '../config/schema.js';
import { roundBudgets } from '../db/budgets.js';
import type { Db } from '../db/client.js';
import { problemsInShard } from '../db/problems.js';
import { getRoundContext } from '../db/rounds.js';
import type { Problem } from '../db/schema.js';
import { searchResults, traces, verdicts } from '../db/schema.js';
import { createModelClient } from '../lib/llm/client.js';
import { hashSeed } from '../lib/rng.js';
import { createCompletionsStepModel } from '../lib/search/completions-model.js';
import { createRewardModelClient } from '../lib/search/reward-model.js';
import { runStrategy } from '../lib/search/run.js';
import type { BudgetUnit, SearchOutcome, StrategyName } from '../lib/search/types.js';
import type { Verifier } from '../lib/verify/types.js';
import { verdictRow } from '../db/traces.js';
import type { ShardInput, ShardResult } from '../workflows/shared.js';
import { resolveEndpoint, type ActivityDeps } from './deps.js';
import { cancellationSignal, forEachLimit, startHeartbeats } from './heartbeat.js';

/** Whether the verifier may steer search on held-out problems (see `search.step.verifyAtEval`). */
export function verifiesAtEval(config: RunConfig): boolean {
  const v = config.search.step.verifyAtEval;
  return v === 'auto' ? config.verifier.name === 'countdown' : v;
}

interface Job {
  problem: Problem;
  strategy: StrategyName;
  budget: number;
  /** Adaptive plans split calls; a uniform budget counts `search.step.budgetUnit`. */
  budgetUnit: BudgetUnit;
}

export function stepSearchActivities(deps: ActivityDeps) {
  return {
    async searchShard(input: ShardInput): Promise<ShardResult> {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, input.roundId);
      const step = config.search.step;
      const result: ShardResult = { written: 0, skipped: 0, errors: 0 };
      const model = input.purpose === 'train' ? round.sampler : round.model;
      if (!model) throw new Error(`round ${round.index} has no ${input.purpose === 'train' ? 'sampler' : 'model'} yet`);
      const problems = await problemsInShard(db, run.taskSet, input.purpose === 'train' ? 'train' : 'test', input.shard, input.shards);
      const jobs = await planJobs(db, config, round.id, input.purpose, problems);
      if (jobs.length === 0) return result;

      const endpoint = resolveEndpoint(deps, config.model);
      const verifier = deps.verifier(config.verifier, config.model);
      const signal = cancellationSignal();
      const stepModel = createCompletionsStepModel(createModelClient(endpoint), {
        model,
        template: step.template,
        retry: { maxRetries: endpoint.maxRetries, signal },
      });
      const rm = step.rewardModel;
      const rewardModel = rm
        ? createRewardModelClient({ url: rm.url, model: rm.model, format: rm.format, apiKey: rm.apiKeyEnv ? process.env[rm.apiKeyEnv] : undefined })
        : undefined;
      const verifyDuringSearch = input.purpose === 'train' || verifiesAtEval(config);
      const done = await searchedProblems(db, round.id, input.purpose, jobs.map((j) => j.problem.id));
      const heartbeats = startHeartbeats();
      try {
        let finished = 0;
        await forEachLimit(jobs, step.concurrency, async (job) => {
          if (done.has(`${job.problem.id}:${job.strategy}`)) {
            result.skipped++;
            return;
          }
          const outcome = await runStrategy(
            job.strategy,
            { prompt: job.problem.prompt, reference: job.problem.reference },
            job.budget,
            { model: stepModel, verifier, verifyDuringSearch, rewardModel, budgetUnit: job.budgetUnit, seed: hashSeed(run.id, round.index, job.problem.id, input.purpose), signal },
          );
          const at = { roundId: round.id, purpose: input.purpose, model, problemId: job.problem.id, prompt: job.problem.prompt, reference: job.problem.reference };
          await storeOutcome(db, verifier, at, outcome);
          result.written++;
          heartbeats.beat({ searched: ++finished, total: jobs.length });
        });
      } finally {
        heartbeats.stop();
      }
      return result;
    },
  };
}

/** Which problems of the shard to search, with which strategy and budget. */
async function planJobs(db: Db, config: RunConfig, roundId: number, purpose: ShardInput['purpose'], problems: Problem[]): Promise<Job[]> {
  const step = config.search.step;
  if (step.strategy === 'none') return [];
  const budget = purpose === 'train' ? (step.trainBudget ?? step.budget) : step.budget;
  const uniform = (list: Problem[]) => list.map((problem) => ({ problem, strategy: step.strategy as StrategyName, budget, budgetUnit: step.budgetUnit }));
  if (purpose === 'eval') return step.eval ? uniform(problems) : [];
  const budgets = await roundBudgets(db, roundId, problems.map((p) => p.id));
  if (budgets.size > 0) {
    // The adaptive plan decided per problem.
    return problems.flatMap((problem) => {
      const b = budgets.get(problem.id);
      return b && b.searchBudget > 0 && b.strategy !== 'none' ? [{ problem, strategy: b.strategy as StrategyName, budget: b.searchBudget, budgetUnit: 'calls' as const }] : [];
    });
  }
  if (step.train === 'none') return [];
  if (step.train === 'all') return uniform(problems);
  const solved = await db.execute(sql`
    SELECT DISTINCT t.problem_id FROM flywheel.traces t JOIN flywheel.verdicts v ON v.trace_id = t.id
    WHERE t.round_id = ${roundId} AND t.purpose = 'train' AND t.strategy = 'sample' AND v.correct
      AND t.problem_id IN (${sql.join(problems.map((p) => sql`${p.id}`), sql`, `)})`);
  const done = new Set((solved.rows as Array<{ problem_id: string | number }>).map((r) => Number(r.problem_id)));
  return uniform(problems.filter((p) => !done.has(p.id)));
}

async function searchedProblems(db: Db, roundId: number, purpose: string, problemIds: number[]): Promise<Set<string>> {
  const res = await db.execute(sql`
    SELECT problem_id, strategy FROM flywheel.search_results
    WHERE round_id = ${roundId} AND purpose = ${purpose} AND problem_id IN (${sql.join(problemIds.map((id) => sql`${id}`), sql`, `)})`);
  return new Set((res.rows as Array<{ problem_id: string | number; strategy: string }>).map((r) => `${Number(r.problem_id)}:${r.strategy}`));
}

/**
 * Stores what a search produced: on held-out problems only the chosen trace; on train problems every finished
 * trace (each a real model generation, verified), so training can use all that search found.
 */
async function storeOutcome(
  db: Db,
  verifier: Verifier,
  at: { roundId: number; purpose: ShardInput['purpose']; model: string; problemId: number; prompt: string; reference: unknown },
  outcome: SearchOutcome,
): Promise<void> {
  const keep = at.purpose === 'eval' ? outcome.traces.filter((t) => t.text === outcome.text).slice(0, 1) : outcome.traces;
  // Every stored trace gets a verdict: those the search did not verify are verified here (the verify stage has run).
  const judged = await Promise.all(
    keep.map(async (trace) => trace.verdict ?? (trace.text === outcome.text ? outcome.verdict : null) ?? verifier.verify({ prompt: at.prompt, reference: at.reference, text: trace.text })),
  );
  await db.transaction(async (tx) => {
    let chosen = null as number | null;
    for (const [i, trace] of keep.entries()) {
      const isChosen: boolean = trace.text === outcome.text && chosen === null;
      const [row] = await tx
        .insert(traces)
        .values({
          roundId: at.roundId,
          problemId: at.problemId,
          purpose: at.purpose,
          strategy: outcome.strategy,
          sampleIndex: i,
          model: at.model,
          text: trace.text,
          score: trace.score,
          flags: isChosen ? { search: { chosen: true, ...outcome.detail } } : {},
        })
        .onConflictDoNothing()
        .returning({ id: traces.id });
      if (!row) continue;
      if (isChosen) chosen = row.id;
      await tx.insert(verdicts).values(verdictRow(row.id, verifier, judged[i])).onConflictDoNothing();
    }
    await tx
      .insert(searchResults)
      .values({
        roundId: at.roundId,
        problemId: at.problemId,
        purpose: at.purpose,
        strategy: outcome.strategy,
        traceId: chosen,
        answer: outcome.answer,
        votes: typeof outcome.detail.votes === 'number' ? outcome.detail.votes : 0,
        calls: outcome.calls,
        tokens: outcome.tokens,
        promptTokens: outcome.promptTokens,
        cachedPromptTokens: outcome.cachedPromptTokens,
      })
      .onConflictDoNothing();
  });
}
