/**
 * The `openai` trainer backend: files + fine_tuning.jobs, against OpenAI itself or any server that implements that
 * API (the embedded model does). Jobs carry the run and round in their metadata, so a job is found again by them.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toFile, toStreamingFile, type OpenAI } from 'openai';
import { withRetries, type RetryOptions } from '../llm/client.js';
import { writeChatJsonl } from './dataset.js';
import type { ChatExampleLike, JobTag, SubmitRequest, Trainer, TrainerJob, TrainerStatus } from './types.js';

const STATUS: Record<string, TrainerStatus> = {
  validating_files: 'queued',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

function toJob(job: OpenAI.FineTuning.FineTuningJob, progress: string | null = null): TrainerJob {
  return {
    id: job.id,
    status: STATUS[job.status] ?? 'running',
    model: job.fine_tuned_model ?? null,
    error: job.error ? `${job.error.code ?? 'error'}: ${job.error.message}` : null,
    progress,
  };
}

/** The job's metadata: run and round, and the learner when it is not the policy (so old policy jobs still match). */
const tagMetadata = (tag: JobTag): Record<string, string> => ({
  flywheel_run: tag.runId,
  flywheel_round: String(tag.round),
  ...(tag.learner && tag.learner !== 'policy' ? { flywheel_learner: tag.learner } : {}),
});

/**
 * The job's `method`: OpenAI's supervised one, or for a PRM the embedded server's `{type: 'prm', prm:
 * {hyperparameters}}` (OpenAI's own API has no such method and refuses it, naming `method.type`).
 */
function methodOf(request: SubmitRequest): OpenAI.FineTuning.JobCreateParams['method'] {
  const hyperparameters = {
    n_epochs: request.hyperparameters.nEpochs ?? 'auto',
    learning_rate_multiplier: request.hyperparameters.learningRateMultiplier ?? 'auto',
    batch_size: request.hyperparameters.batchSize ?? 'auto',
  } as const;
  if (request.objective === 'prm') return { type: 'prm', prm: { hyperparameters } } as unknown as OpenAI.FineTuning.JobCreateParams['method'];
  return { type: 'supervised', supervised: { hyperparameters } };
}

export function createOpenAITrainer(client: OpenAI, retry: RetryOptions): Trainer {
  const call = <T>(fn: () => Promise<T>) => withRetries(fn, retry);
  async function find(tag: JobTag): Promise<TrainerJob | null> {
    const wanted = tagMetadata(tag);
    const page = await call(() => client.fineTuning.jobs.list({ limit: 100, metadata: wanted }));
    const learner = tag.learner ?? 'policy';
    const match = page.data.find(
      (j) =>
        j.metadata?.flywheel_run === wanted.flywheel_run &&
        j.metadata?.flywheel_round === wanted.flywheel_round &&
        (j.metadata?.flywheel_learner ?? 'policy') === learner,
    );
    return match ? toJob(match) : null;
  }

  return {
    backend: 'openai',
    async upload(jsonl, filename) {
      const file = await call(async () =>
        client.files.create({ file: await toFile(Buffer.from(jsonl), filename), purpose: 'fine-tune' }),
      );
      return file.id;
    },
    /**
     * Streams the examples into a local file, then uploads it as a streamed multipart body (each retry reads the
     * file again): neither the examples nor the JSONL are ever in memory whole.
     */
    async exportDataset(tag: JobTag, examples: AsyncIterable<ChatExampleLike>, systemPrompt?: string) {
      const dir = await mkdtemp(path.join(tmpdir(), 'flywheel-upload-'));
      try {
        const filename = `flywheel-${tag.runId}-round-${tag.round}.jsonl`;
        const { path: file } = await writeChatJsonl(path.join(dir, filename), tag, examples, systemPrompt);
        const uploaded = await call(() =>
          client.files.create({ file: toStreamingFile(createReadStream(file), filename, { type: 'application/jsonl' }), purpose: 'fine-tune' }),
        );
        return uploaded.id;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    find,
    async submit(request: SubmitRequest) {
      // A retry after a lost reply must not create a second job: before each retry, look for the job by its tag.
      let attempt = 0;
      const job = await call(async () => {
        if (attempt++ > 0) {
          const found = await find(request.tag);
          if (found) return found;
        }
        return client.fineTuning.jobs.create({
          model: request.baseModel,
          training_file: request.trainingFile,
          suffix: request.suffix,
          seed: request.seed,
          metadata: tagMetadata(request.tag),
          method: methodOf(request),
        });
      });
      return 'object' in job ? toJob(job) : job;
    },
    async get(jobId) {
      const job = await call(() => client.fineTuning.jobs.retrieve(jobId));
      let progress: string | null = null;
      if (job.status === 'running') {
        const events = await call(() => client.fineTuning.jobs.listEvents(jobId, { limit: 1 })).catch(() => null);
        progress = events?.data[0]?.message ?? null;
      }
      return toJob(job, progress);
    },
    async cancel(jobId) {
      await call(() => client.fineTuning.jobs.cancel(jobId));
    },
  };
}
