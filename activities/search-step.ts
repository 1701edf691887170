/**
 * The step-level search activity, one shard at a time: on train problems it searches where sampling failed (or where the
 * adaptive plan put search budget) and its verified traces join the training data. On held-out problems it
 * measures the model with search, beside the raw model. Each problem's traces, verdicts, step labels (what MCTS or
 * beam learnt about each step, for the PRM) and search result are written in one transaction, so a retried shard skips what is done and redoes nothing else.
 */
import { roundBudgets } from '../db/budgets.js';
import { problemsInShard } from '../db/problems.js';
import { getRoundContext } from '../db/rounds.js';
import { currentPrm } from '../db/runs.js';
import type { RunConfig } from '../config/schema.js';
import { searchedProblems, storeSearchOutcome } from '../db/search.js';
import { sampledTraceTexts } from '../db/search-steps.js';
import { solvedBySampling } from '../db/traces.js';
import { createModelClient } from '../lib/llm/client.js';
import { limiterOf } from '../lib/llm/limiter.js';
import { hashSeed } from '../lib/rng.js';
import { samplingModel, splitOf } from '../lib/round/purpose.js';
import { verifiesDuringSearch } from '../lib/round/samples.js';
import { planSearchJobs, searchTracesToStore } from '../lib/round/search-jobs.js';
import { createCompletionsStepModel } from '../lib/search/completions-model.js';
import { rolloutLabels } from '../lib/search/rollout-labels.js';
import { runStrategy } from '../lib/search/run.js';
import type { ShardInput, ShardResult } from '../workflows/shared.js';
import { resolveEndpoint, resolveRewardModel, type ActivityDeps, type RewardModelSpec } from './deps.js';
import { cancellationSignal, forEachLimit, startHeartbeats } from './heartbeat.js';

export function stepSearchActivities(deps: ActivityDeps) {
  return {
    async searchShard(input: ShardInput): Promise<ShardResult> {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, input.roundId);
      const step = config.search.step;
      const result: ShardResult = { written: 0, skipped: 0, errors: 0 };
      const model = samplingModel(round, input.purpose);
      const problems = await problemsInShard(db, run.taskSet, splitOf(input.purpose), input.shard, input.shards);
      const ids = problems.map((p) => p.id);
      const train = input.purpose === 'train';
      const jobs = planSearchJobs(
        config,
        input.purpose,
        problems,
        train ? await roundBudgets(db, round.id, ids) : new Map(),
        train ? await solvedBySampling(db, round.id, ids) : new Set(),
      );
      // Math-Shepherd labels of the round's sampled train traces (`labels.rollouts`), beside the search.
      const labelled = train && config.labels.rollouts > 0 ? problems : [];
      if (jobs.length === 0 && labelled.length === 0) return result;

      const endpoint = resolveEndpoint(deps, config.model);
      const verifier = deps.verifier(config.verifier, config.model);
      const rewardModel = step.rewardModel ? resolveRewardModel(deps, step.rewardModel) : undefined;
      const prmSpec = step.value === 'rollout' ? null : await prmEndpoint(db, run.id, config, endpoint.baseUrl);
      const prm = prmSpec ? resolveRewardModel(deps, prmSpec) : undefined;
      const signal = cancellationSignal();
      const stepModel = createCompletionsStepModel(createModelClient(endpoint), {
        model,
        template: step.template,
        retry: { maxRetries: endpoint.maxRetries, signal, limiter: limiterOf(endpoint) },
      });
      const verifyDuringSearch = verifiesDuringSearch(config, input.purpose);
      // A learned value steers the step searches: MCTS evaluates leaves with it, beam scores children with it, and
      // best-of-N ranks its whole traces with it where the verifier does not rank them (held-out, not verified).
      const valueOptions = prm
        ? {
            mcts: { value: step.value, valueMix: step.valueMix, prm },
            beam: { processScorer: 'prm' as const, prm },
            bestOfN: verifyDuringSearch ? {} : { scorer: 'reward-model' as const, rewardModel: prm },
          }
        : {};
      const done = await searchedProblems(db, round.id, input.purpose, ids);
      const heartbeats = startHeartbeats();
      try {
        let finished = 0;
        await forEachLimit(jobs, step.concurrency, async ({ problem, strategy, budget, budgetUnit }) => {
          if (done.has(`${problem.id}:${strategy}`)) {
            result.skipped++;
            return;
          }
          const task = { prompt: problem.prompt, reference: problem.reference };
          const seed = hashSeed(run.id, round.index, problem.id, input.purpose);
          const outcome = await runStrategy(strategy, task, budget, { model: stepModel, verifier, verifyDuringSearch, rewardModel, budgetUnit, seed, signal, ...valueOptions });
          const stored = await searchTracesToStore(outcome, input.purpose, (text) => verifier.verify({ ...task, text }));
          const at = { roundId: round.id, problemId: problem.id, purpose: input.purpose, strategy: outcome.strategy };
          await storeSearchOutcome(
            db,
            verifier,
            stored.traces.map((t, sampleIndex) => ({
              trace: { ...at, sampleIndex, model, text: t.text, score: t.score, flags: t.flags },
              verdict: t.verdict,
            })),
            stored.chosen,
            {
              ...at,
              answer: outcome.answer,
              votes: typeof outcome.detail.votes === 'number' ? outcome.detail.votes : 0,
              calls: outcome.calls,
              tokens: outcome.tokens,
              promptTokens: outcome.promptTokens,
              cachedPromptTokens: outcome.cachedPromptTokens,
              scorerCalls: outcome.scorerCalls,
            },
            outcome.steps,
          );
          result.written++;
          heartbeats.beat({ searched: ++finished, total: jobs.length + labelled.length });
        });
        const texts = labelled.length ? await sampledTraceTexts(db, round.id, ids, config.labels.tracesPerProblem) : new Map<number, string[]>();
        await forEachLimit(labelled, step.concurrency, async (problem) => {
          if (done.has(`${problem.id}:labels`)) {
            result.skipped++;
            return;
          }
          const task = { prompt: problem.prompt, reference: problem.reference };
          const seed = hashSeed(run.id, round.index, problem.id, 'labels');
          const labels = await rolloutLabels(task, texts.get(problem.id) ?? [], {
            model: stepModel,
            verifier,
            rollouts: config.labels.rollouts,
            budget: config.labels.budget,
            seed,
            signal,
          });
          const { calls, tokens, promptTokens, cachedPromptTokens } = labels;
          const at = { roundId: round.id, problemId: problem.id, purpose: input.purpose, strategy: 'labels' };
          await storeSearchOutcome(db, verifier, [], null, { ...at, answer: null, votes: 0, calls, tokens, promptTokens, cachedPromptTokens }, labels.steps, 'rollouts');
          result.written++;
          heartbeats.beat({ searched: ++finished, total: jobs.length + labelled.length });
        });
      } finally {
        heartbeats.stop();
      }
      return result;
    },
  };
}

/**
 * The PRM a search asks: with `finetune.prm.enabled`, the run's current PRM by name (at `search.step.prm.url`, else
 * the model server's `/reward`), or none before the run has one (steps are then valued by rollouts); otherwise the
 * configured `search.step.prm`.
 */
async function prmEndpoint(db: ActivityDeps['db'], runId: string, config: RunConfig, baseUrl: string): Promise<RewardModelSpec | null> {
  const step = config.search.step;
  if (!config.finetune.prm.enabled) return step.prm ?? null;
  const current = await currentPrm(db, runId);
  if (!current) return null;
  return { ...(step.prm ?? { url: `${baseUrl.replace(/\/+$/, '')}/reward`, format: 'flywheel' as const }), model: current.name };
}
