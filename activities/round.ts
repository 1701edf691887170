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
import { runSpend, stageCosts, usageSoFar } from '../db/costs.js';
import { getRun, raiseRunBudget, runConfig, setRunStatus } from '../db/runs.js';
import { checkBudget, estimateStage, priceFor, type BudgetVerdict, type StageEstimate } from '../lib/cost/index.js';
import { planAdaptiveBudgets } from '../lib/round/adaptive.js';
import { planRound } from '../lib/round/plan.js';
import { roundPromoted } from '../lib/round/promotion.js';
import type { Stage } from '../lib/round/stages.js';
import type { BudgetCheck, RaiseBudgetArgs, RoundInput, RoundPlan } from '../workflows/shared.js';
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
      const budgeted = config.budget.maxCost !== undefined || config.budget.maxTokens !== undefined;
      return { roundId: row.id, round, model, ...shape, planned: adaptivePlanned ?? shape.planned, ...(budgeted ? { budgeted } : {}) };
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

    /**
     * Whether `stage` of round `round` may start under the run's budget (as stored now, raises included): the spend
     * so far (flywheel.round_costs) plus the stage's estimate. Inference stages are estimated: generate from the
     * round's planned samples, evaluate and search from their mean samples per earlier round; the others use no tokens.
     */
    async checkStageBudget({ runId, round, stage, planned }: { runId: string; round: number; stage: Stage; planned: number }): Promise<BudgetCheck> {
      const config = runConfig(await getRun(db, runId));
      const price = priceFor(config.costs.models, config.model.name);
      const spent = await runSpend(db, runId);
      const estimate = await estimateFor(deps, runId, round, stage, planned, config, price);
      const verdict: BudgetVerdict = checkBudget(config.budget, spent, estimate, `stage ${stage} of round ${round}`);
      return { ...verdict, budget: config.budget, spend: spent, stageEstimate: { tokens: estimate.tokens, cost: estimate.cost, basis: estimate.basis } };
    },

    /** Stores a raised budget on the run (its stored config), so this round's next check and later rounds see it. */
    async raiseBudget({ runId, maxCost, maxTokens }: { runId: string } & RaiseBudgetArgs) {
      const budget = await raiseRunBudget(db, runId, { ...(maxCost !== undefined ? { maxCost } : {}), ...(maxTokens !== undefined ? { maxTokens } : {}) });
      deps.log(`run ${runId}: budget raised to ${JSON.stringify(budget)}`);
      return budget;
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

const INFERENCE_STAGES = new Set<Stage>(['generate', 'evaluate', 'search']);

async function estimateFor(
  deps: ActivityDeps,
  runId: string,
  round: number,
  stage: Stage,
  planned: number,
  config: RunConfig,
  price: ReturnType<typeof priceFor>,
): Promise<StageEstimate> {
  const maxCompletionTokens = config.generate.maxTokens;
  if (!INFERENCE_STAGES.has(stage)) return estimateStage({ plannedSamples: 0, soFar: null, maxCompletionTokens, price });
  const soFar = await usageSoFar(deps.db, runId, stage);
  if (stage === 'generate') return estimateStage({ plannedSamples: planned, soFar, maxCompletionTokens, price });
  // evaluate and search: as many samples as they drew per earlier round (none known before their first run).
  const rounds = new Set((await stageCosts(deps.db, runId)).filter((c) => c.stage === stage && c.round < round).map((c) => c.round)).size;
  const perRound = rounds > 0 ? Math.ceil(soFar.samples / rounds) : 0;
  return estimateStage({ plannedSamples: perRound, soFar, maxCompletionTokens, price });
}
