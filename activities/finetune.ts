/**
 * The fine-tune stage: export the round's dataset as chat JSONL, submit one trainer job, and wait for it with
 * heartbeats. The job id is recorded before anything waits on it, and a job is tagged with its run and round, so a
 * retried activity (a killed worker, a lost database connection) reattaches to the same job instead of submitting
 * another (`runTrainerJob`, shared with the PRM's fine-tune).
 */
import { getDataset, streamDatasetExamples } from '../db/datasets.js';
import { getRoundContext, mergeRoundStats, startingModel, updateRound } from '../db/rounds.js';
import { modelCheckpointPath } from '../db/runs.js';
import { hashSeed } from '../lib/rng.js';
import { chatLine } from '../lib/train/chat-jsonl.js';
import { resolveEndpoint, type ActivityDeps } from './deps.js';
import { startHeartbeats } from './heartbeat.js';
import { runTrainerJob } from './trainer-job.js';

export interface FineTuneResult {
  model: string;
  jobId: string | null;
  /** True when there was nothing to train on and the round keeps its starting model. */
  skipped: boolean;
}

export function fineTuneActivities(deps: ActivityDeps) {
  return {
    async fineTune({ roundId }: { roundId: number }): Promise<FineTuneResult> {
      // Heartbeats from the first line, not only while waiting for the job: an export, upload or submit slower than
      // the heartbeat timeout must not look like a dead worker, or Temporal starts a second attempt beside this one
      // and both upload and submit (found by the durability tests: four jobs for one round).
      const heartbeats = startHeartbeats();
      try {
        const { db } = deps;
        const { run, round, config } = await getRoundContext(db, roundId);
        const start = await startingModel(db, run.id, round.index);
        const dataset = await getDataset(db, run.id, round.index);
        if (!dataset || dataset.items === 0) {
          await updateRound(db, roundId, { model: start });
          await mergeRoundStats(db, roundId, { fineTune: { skipped: 'no verified traces to train on' } });
          return { model: start, jobId: null, skipped: true };
        }
        const endpoint = resolveEndpoint(deps, config.model);
        const trainer = deps.trainer(config, endpoint);
        const baseModel = config.finetune.from === 'base' ? run.baseModel : start;
        // Continuing from a model an earlier round trained: the command trainer needs its checkpoint directory.
        const continueFrom =
          baseModel !== run.baseModel ? { model: baseModel, checkpointPath: await modelCheckpointPath(db, run.id, baseModel) } : null;
        const tag = { runId: run.id, round: round.index };
        const { jobId, job } = await runTrainerJob(deps, heartbeats, {
          trainer,
          tag,
          dataset: {
            id: dataset.id,
            examples: () => chatExamples(db, dataset.id),
            // Only a backend without a streamed export builds the file in memory (none of ours).
            line: (e) => chatLine(e, config.model.systemPrompt),
            export: trainer.exportDataset ? (examples) => trainer.exportDataset!(tag, examples, config.model.systemPrompt) : undefined,
            filename: `flywheel-${run.id}-round-${round.index}.jsonl`,
          },
          baseModel,
          request: {
            hyperparameters: config.finetune.hyperparameters,
            suffix: config.finetune.suffix,
            seed: hashSeed(run.id, round.index) % 2 ** 31,
            continueFrom,
          },
          baseUrl: endpoint.baseUrl,
          pollIntervalMs: config.finetune.pollIntervalMs,
          timeoutMinutes: config.finetune.timeoutMinutes,
          name: 'trainer job',
        });
        await updateRound(db, roundId, { model: job.model });
        await mergeRoundStats(db, roundId, { fineTune: { jobId, model: job.model, from: config.finetune.from, baseModel } });
        return { model: job.model, jobId, skipped: false };
      } finally {
        heartbeats.stop();
      }
    },
  };
}

/** The dataset's examples as prompt and completion, streamed from Postgres. */
async function* chatExamples(db: ActivityDeps['db'], datasetId: number): AsyncIterable<{ prompt: string; completion: string }> {
  for await (const e of streamDatasetExamples(db, datasetId)) yield { prompt: e.prompt, completion: e.text };
}
