/**
 * The fine-tune stage: export the round's dataset as chat JSONL, submit one trainer job, and wait for it with
 * heartbeats. The job id is recorded before anything waits on it, and a job is tagged with its run and round, so a
 * retried activity (a killed worker, a lost database connection) reattaches to the same job instead of submitting
 * another.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { getDataset, streamDatasetExamples } from '../db/datasets.js';
import { claimTrainerSubmission, ensureFineTune, supersedeFineTune, updateFineTune } from '../db/fine-tunes.js';
import { getRoundContext, mergeRoundStats, startingModel, updateRound } from '../db/rounds.js';
import { modelCheckpointPath, upsertModel } from '../db/runs.js';
import { hashSeed } from '../lib/rng.js';
import { chatLine } from '../lib/train/chat-jsonl.js';
import { submitOnce } from '../lib/train/submit.js';
import type { TrainerJob } from '../lib/train/types.js';
import { resolveEndpoint, type ActivityDeps } from './deps.js';
import { startHeartbeats } from './heartbeat.js';

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
        let row = await ensureFineTune(db, {
          runId: run.id,
          round: round.index,
          backend: trainer.backend,
          baseModel,
          datasetId: dataset.id,
          hyperparameters: config.finetune.hyperparameters,
        });
        // A job that failed earlier is replaced only because an operator resumed the round (the failure was
        // reported as non-retryable), so this is the retry they asked for.
        if (row.externalJobId && (row.status === 'failed' || row.status === 'cancelled')) {
          await supersedeFineTune(db, row);
          row = { ...row, externalJobId: null, status: 'preparing' };
        }

        const jobId =
          row.externalJobId ??
          (await claimTrainerSubmission(db, row.id, async (locked) => {
            const submitted = await submitOnce(trainer, {
              tag,
              supersededJobIds: (locked.supersededJobIds as string[] | null) ?? [],
              trainingFile: locked.trainingFile,
              // Only a backend without a streamed export builds the file in memory (none of ours).
              jsonl: async () => {
                let jsonl = '';
                for await (const e of chatExamples(db, dataset.id)) jsonl += chatLine(e, config.model.systemPrompt);
                return jsonl;
              },
              filename: `flywheel-${run.id}-round-${round.index}.jsonl`,
              stage: trainer.exportDataset
                ? () => trainer.exportDataset!(tag, chatExamples(db, dataset.id), config.model.systemPrompt)
                : undefined,
              request: {
                baseModel,
                hyperparameters: config.finetune.hyperparameters,
                suffix: config.finetune.suffix,
                seed: hashSeed(run.id, round.index) % 2 ** 31,
                continueFrom,
              },
            });
            return { externalJobId: submitted.jobId, trainingFile: submitted.trainingFile, baseModel };
          }));

        const job = await waitForJob(deps, heartbeats, trainer.get.bind(trainer), jobId, config.finetune.pollIntervalMs, config.finetune.timeoutMinutes, async (j) => {
          await updateFineTune(db, row.id, { status: j.status, error: j.error, ...jobDetails(j) });
        }, () => trainer.cancel(jobId));

        if (job.status !== 'succeeded' || !job.model) {
          await updateFineTune(db, row.id, { status: job.status, error: job.error, ...jobDetails(job) });
          const exit = job.exitCode === undefined || job.exitCode === null ? '' : ` (exit code ${job.exitCode})`;
          const tail = job.logTail ? `\nLast lines of its log:\n${job.logTail}` : '';
          throw ApplicationFailure.nonRetryable(
            `trainer job ${jobId} ${job.status}${exit}: ${job.error ?? 'no model was produced'}. ` +
              `Fix the cause, then resume the round: a new job is submitted for it.${tail}`,
            'TrainerJobFailed',
          );
        }
        await updateFineTune(db, row.id, { status: 'succeeded', resultModel: job.model, ...jobDetails(job) });
        await upsertModel(db, {
          runId: run.id,
          round: round.index,
          name: job.model,
          baseUrl: endpoint.baseUrl,
          parentName: baseModel,
          datasetId: dataset.id,
          fineTuneId: row.id,
          kind: job.checkpoint ? job.checkpoint.manifest.kind : 'api',
          checkpointPath: job.checkpoint?.path ?? null,
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

/** What a backend with launchers reports about a job, as fine_tunes columns (only the fields it reported). */
function jobDetails(job: TrainerJob) {
  return {
    ...(job.launcher !== undefined ? { launcher: job.launcher } : {}),
    ...(job.progressHistory !== undefined ? { progress: job.progressHistory } : {}),
    ...(job.exitCode !== undefined ? { exitCode: job.exitCode } : {}),
    ...(job.logTail !== undefined ? { logTail: job.logTail } : {}),
    ...(job.checkpoint ? { checkpointPath: job.checkpoint.path } : {}),
  };
}

/** The dataset's examples as prompt and completion, streamed from Postgres. */
async function* chatExamples(db: ActivityDeps['db'], datasetId: number): AsyncIterable<{ prompt: string; completion: string }> {
  for await (const e of streamDatasetExamples(db, datasetId)) yield { prompt: e.prompt, completion: e.text };
}

/** Polls a trainer job until it ends, heartbeating its progress; cancels it if the workflow cancels the activity. */
async function waitForJob(
  deps: ActivityDeps,
  heartbeats: ReturnType<typeof startHeartbeats>,
  get: (id: string) => Promise<TrainerJob>,
  jobId: string,
  pollMs: number,
  timeoutMinutes: number,
  onChange: (job: TrainerJob) => Promise<void>,
  cancel: () => Promise<void>,
): Promise<TrainerJob> {
  const context = Context.current();
  const deadline = Date.now() + timeoutMinutes * 60_000;
  let last = '';
  return poll();
  async function poll(): Promise<TrainerJob> {
    for (;;) {
      const job = await get(jobId);
      if (job.status !== last) {
        last = job.status;
        await onChange(job);
        deps.log(`trainer job ${jobId}: ${job.status}`);
      }
      heartbeats.beat({ jobId, status: job.status, progress: job.progress });
      if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled') return job;
      if (Date.now() > deadline) {
        throw ApplicationFailure.nonRetryable(
          `trainer job ${jobId} is still ${job.status} after ${timeoutMinutes} minutes (it was not cancelled): ` +
            'check it, then resume the round to keep waiting',
          'TrainerJobTimeout',
        );
      }
      try {
        await context.sleep(pollMs);
      } catch (err) {
        // Only a cancellation the workflow asked for ends the job. A worker shutting down (SIGTERM), a heartbeat
        // timeout or a superseded attempt cancel this activity too, but then the job must live on for the next
        // attempt to reattach to (found by the durability tests: a graceful worker restart cancelled the job).
        if (err instanceof CancelledFailure && context.cancellationDetails?.cancelRequested) await cancel().catch(() => {});
        throw err;
      }
    }
  }
}
