/** Bookkeeping activities of runs and rounds: planning, stage markers, attention, completion. */
import type { RunConfig } from '../config/schema.js';
import { getRun, setRunStatus } from '../db/runs.js';
import { countProblems } from '../db/problems.js';
import {
  beginStage,
  completeStage,
  doneStages,
  ensureRound,
  getRoundByIndex,
  getRoundContext,
  setAttention,
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
      const config = run.config as RunConfig;
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
        planned,
        maxShardsInFlight: config.generate.maxShardsInFlight,
        model,
        durability: config.durability,
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
      return { model, promoted: round.sampler === round.model };
    },

    async finishRun({ runId, state, error }: { runId: string; state: 'completed' | 'stopped' | 'failed'; error?: string }) {
      await setRunStatus(db, runId, state, error ?? null);
    },
  };
}
