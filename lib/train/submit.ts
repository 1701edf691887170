/** Submitting a round's trainer job exactly once, across attempts that may have died half-way. */
import type { JobTag, SubmitRequest, Trainer, TrainerJob } from './types.js';

/**
 * Whether a job the trainer already has for this round's tag is the round's job: one an attempt submitted and
 * died before recording. A job an operator superseded (it failed, they resumed the round) or one that ended badly
 * is not reused: a new one is submitted.
 */
export function reusableJob(found: TrainerJob | null, supersededJobIds: readonly string[]): found is TrainerJob {
  return !!found && !supersededJobIds.includes(found.id) && found.status !== 'failed' && found.status !== 'cancelled';
}

export interface SubmitOnce {
  tag: JobTag;
  supersededJobIds: readonly string[];
  /** The file a previous attempt uploaded, if any (it is not uploaded again). */
  trainingFile: string | null;
  /** The chat JSONL to upload, built only when an upload is needed. */
  jsonl: () => Promise<string>;
  filename: string;
  /** Stages the dataset itself (a trainer's exportDataset, streamed); preferred over `jsonl` + upload when given. */
  stage?: () => Promise<string>;
  request: Omit<SubmitRequest, 'trainingFile' | 'tag'>;
}

/** Finds the round's job, else uploads (once) and submits one. Returns the job id and the training file. */
export async function submitOnce(trainer: Trainer, job: SubmitOnce): Promise<{ jobId: string; trainingFile: string | null }> {
  const found = await trainer.find(job.tag);
  if (reusableJob(found, job.supersededJobIds)) return { jobId: found.id, trainingFile: job.trainingFile };
  const trainingFile = job.trainingFile ?? (job.stage ? await job.stage() : await trainer.upload(await job.jsonl(), job.filename));
  const submitted = await trainer.submit({ ...job.request, trainingFile, tag: job.tag });
  return { jobId: submitted.id, trainingFile };
}
