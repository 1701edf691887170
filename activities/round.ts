/** Bookkeeping activities of runs and rounds: planning, stage markers, attention, completion. */
import type { RunConfig } from '../config/schema.js';
import { getRun, runConfig, setRunStatus } from '../db/runs.js';
import { roundPromoted } from '../lib/round/promotion.js';
import { insertBudgets, roundBudgets, solveHistory, type NewProblemBudget } from '../db/budgets.js';
import { countProblems, problemIds } from '../db/problems.js';
import { allocateBudget, type ProblemHistory } from '../lib/search/budget.js';
import {
  beginStage,
  completeStage,
  doneStages,
  ensureRound,
  getRoundByIndex,
  getRoundContext,
  setAttention,
  setPlanned,
  updateRound,
} from '../db/rounds.js';
import { STAGES, type RoundInput, type RoundPlan, type Stage } from '../workflows/shared.js';
import type { ActivityDeps } from './deps.js';

const ROUND_ZERO: Stage[] = ['evaluate', 'generate', 'verify', 'search'];

/** Upper bound on shards per stage, which bounds a round's history (each shard is a few events). */
export const MAX_SHARDS = 200;

/** The model a round starts from: the base for round 0, else what the round before promoted. */
export async function startModel(deps: ActivityDeps, runId: string, round: number): Promise<string> {
  if (round === 0) return (await getRun(deps.db, runId)).baseModel;
  const previous = await getRoundByIndex(deps.db, runId, round - 1);
  if (!previous?.sampler || previous.status !== 'completed') {
    throw new Error(`round ${round} of run ${runId} cannot start: round ${round - 1} has not completed`);
  }
  return previous.sampler;
}

export function roundActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    async loadRun({ runId }: { runId: string }) {
      const run = await getRun(db, runId);
      if (run.status === 'created') await setRunStatus(db, runId, 'running');
      return { name: run.name, rounds: run.rounds, currentModel: run.currentModel };
    },

    async startRound({ runId, round }: RoundInput): Promise<RoundPlan> {
      const run = await getRun(db, runId);
      const config = runConfig(run);
      const [trainProblems, testProblems] = await Promise.all([
        countProblems(db, run.taskSet, 'train'),
        countProblems(db, run.taskSet, 'test'),
      ]);
      const model = await startModel(deps, runId, round);
      const planned = trainProblems * config.generate.samplesPerProblem;
      const row = await ensureRound(db, runId, round, {
        planned,
        sampler: round === 0 ? model : null,
        model: round === 0 ? model : null,
      });
      const adaptivePlanned = config.adaptive.enabled && round > 0 ? await planAdaptiveBudgets(deps, row.id, runId, round, config) : null;
      const done = await doneStages(db, row.id);
      const stages = (round === 0 ? ROUND_ZERO : [...STAGES]).filter((s) => !done.has(s));
      // Shards hold about `shardSamples` samples, but a stage never has more than MAX_SHARDS of them: a huge
      // round gets bigger shards rather than a history of thousands of activities.
      const shardsFor = (problems: number, perProblem: number) =>
        Math.max(1, Math.min(problems, MAX_SHARDS, Math.ceil((problems * perProblem) / config.generate.shardSamples)));
      const evalPerProblem = (config.evaluate.greedy ? 1 : 0) + config.evaluate.samples;
      return {
        roundId: row.id,
        round,
        stages,
        trainShards: shardsFor(trainProblems, config.generate.samplesPerProblem),
        evalShards: shardsFor(testProblems, Math.max(1, evalPerProblem)),
        planned: adaptivePlanned ?? planned,
        maxShardsInFlight: config.generate.maxShardsInFlight,
        model,
        durability: config.durability,
        searchTrain: config.search.step.strategy !== 'none' && (config.search.step.train !== 'none' || config.adaptive.enabled),
        searchEval: config.search.step.strategy !== 'none' && config.search.step.eval,
        rationalize: config.rationalize.enabled,
      };
    },

    async beginStage({ roundId, stage }: { roundId: number; stage: Stage }) {
      await beginStage(db, roundId, stage);
    },

    async completeStage({ roundId, stage }: { roundId: number; stage: Stage }) {
      await completeStage(db, roundId, stage);
    },

    async recordAttention({ roundId, stage, failure }: { roundId: number; stage: Stage; failure: string | null }) {
      await setAttention(db, roundId, stage, failure);
      deps.log(failure ? `round ${roundId} needs attention at ${stage}: ${failure}` : `round ${roundId} resumed at ${stage}`);
    },

    async finishRound({ roundId }: { roundId: number }) {
      const { round } = await getRoundContext(db, roundId);
      await updateRound(db, roundId, { status: 'completed', stage: 'done' });
      const model = round.model ?? round.sampler ?? '';
      return { model, promoted: roundPromoted(round) };
    },

    async finishRun({ runId, state, error }: { runId: string; state: 'completed' | 'stopped' | 'failed'; error?: string }) {
      await setRunStatus(db, runId, state, error ?? null);
    },
  };
}

/**
 * Difficulty-adaptive budgets for a round (once; a re-run reads the stored plan): the uniform plan's total
 * (problems × samples, plus the search budget when step search is on) split by each problem's solve history.
 * Problems binned for search get a few samples and the rest of their calls as search budget.
 */
async function planAdaptiveBudgets(deps: ActivityDeps, roundId: number, runId: string, round: number, config: RunConfig): Promise<number> {
  const { db } = deps;
  let plan = await roundBudgets(db, roundId);
  if (plan.size === 0) {
    const run = await getRun(db, runId);
    const ids = await problemIds(db, run.taskSet, 'train');
    const history = await solveHistory(db, runId, round);
    const byProblem = new Map<number, Array<{ round: number; n: number; correct: number }>>();
    for (const h of history) {
      const list = byProblem.get(h.problemId) ?? [];
      list.push({ round: h.round, n: h.n, correct: h.c });
      byProblem.set(h.problemId, list);
    }
    const histories: ProblemHistory[] = ids.map((id) => ({
      problemId: id,
      rounds: (byProblem.get(id) ?? []).sort((a, b) => a.round - b.round).map(({ n, correct }) => ({ n, correct })),
    }));
    const step = config.search.step;
    const searching = step.strategy !== 'none';
    const total = ids.length * config.generate.samplesPerProblem;
    const allocations = allocateBudget(histories, {
      totalCalls: total,
      minCalls: config.adaptive.minSamples,
      maxCalls: config.adaptive.maxSamples + (searching ? (step.trainBudget ?? step.budget) : 0),
      ...(searching ? {} : { strategies: { 'solved-always': 'best-of-n', easy: 'best-of-n', medium: 'best-of-n', hard: 'best-of-n', unseen: 'best-of-n' } }),
    });
    const rows: NewProblemBudget[] = allocations.map((a) => {
      const sampling = a.strategy === 'best-of-n' || a.strategy === 'majority';
      const samples = sampling ? Math.min(a.calls, config.adaptive.maxSamples) : Math.min(a.calls, config.adaptive.minSamples);
      return {
        roundId,
        problemId: Number(a.problemId),
        bin: a.bin,
        solveRate: a.solveRate,
        samples: Math.max(1, samples),
        strategy: sampling ? 'none' : a.strategy,
        searchBudget: sampling ? 0 : Math.max(0, a.calls - samples),
      };
    });
    await insertBudgets(db, rows);
    plan = await roundBudgets(db, roundId);
  }
  const planned = [...plan.values()].reduce((sum, b) => sum + b.samples, 0);
  await setPlanned(db, roundId, planned);
  return planned;
}
