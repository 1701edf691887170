/** Bookkeeping activities of runs and rounds: planning, stage markers, attention, completion. */
import type { RunConfig } from '../config/schema.js';
import { insertBudgets, roundBudgets, solveHistory } from '../db/budgets.js';
import { countProblems, problemIds } from '../db/problems.js';
import {
  beginStage,
  completeStage,
  doneStages,
  ensureRound,
  getRoundContext,
  setAttention,
  setPlanned,
  startingModel,
  updateRound,
} from '../db/rounds.js';
import { getRun, runConfig, setRunStatus } from '../db/runs.js';
import { planAdaptiveBudgets } from '../lib/round/adaptive.js';
import { planRound } from '../lib/round/plan.js';
import { roundPromoted } from '../lib/round/promotion.js';
import type { Stage } from '../lib/round/stages.js';
import type { RoundInput, RoundPlan } from '../workflows/shared.js';
import type { ActivityDeps } from './deps.js';

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
      const [train, test] = await Promise.all([countProblems(db, run.taskSet, 'train'), countProblems(db, run.taskSet, 'test')]);
      const model = await startingModel(db, runId, round);
      const row = await ensureRound(db, runId, round, {
        planned: train * config.generate.samplesPerProblem,
        sampler: round === 0 ? model : null,
        model: round === 0 ? model : null,
      });
      const shape = planRound(config, round, { train, test }, await doneStages(db, row.id));
      const adaptivePlanned = config.adaptive.enabled && round > 0 ? await adaptiveBudgets(deps, row.id, run.taskSet, runId, round, config) : null;
      return { roundId: row.id, round, model, ...shape, planned: adaptivePlanned ?? shape.planned };
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
      // What the promote stage recorded, not a comparison of names: a skipped fine-tune keeps the name unpromoted.
      // `current` is the model the run goes on with: the promoted candidate, or the model that kept its place.
      return { model, current: round.sampler ?? model, promoted: roundPromoted(round) };
    },

    async finishRun({ runId, state, error }: { runId: string; state: 'completed' | 'stopped' | 'failed'; error?: string }) {
      await setRunStatus(db, runId, state, error ?? null);
    },
  };
}

/**
 * Difficulty-adaptive budgets for a round (once; a re-run reads the stored plan), from each train problem's solve
 * history. Returns the samples the plan draws.
 */
async function adaptiveBudgets(deps: ActivityDeps, roundId: number, taskSet: string, runId: string, round: number, config: RunConfig): Promise<number> {
  const { db } = deps;
  let plan = await roundBudgets(db, roundId);
  if (plan.size === 0) {
    const budgets = planAdaptiveBudgets(config, await problemIds(db, taskSet, 'train'), await solveHistory(db, runId, round));
    await insertBudgets(db, budgets.map((b) => ({ roundId, ...b })));
    plan = await roundBudgets(db, roundId);
  }
  const planned = [...plan.values()].reduce((sum, b) => sum + b.samples, 0);
  await setPlanned(db, roundId, planned);
  return planned;
}
