/** What the fine-tune stage needs from a trainer backend. */
export type TrainerStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TrainerJob {
  id: string;
  status: TrainerStatus;
  /** The trained model's servable name, once it succeeded. */
  model: string | null;
  error: string | null;
  /** A line of progress for heartbeats and the CLI (e.g. the last trainer event). */
  progress: string | null;
}

/** Identifies the job of one round so a retried activity finds it instead of submitting another. */
export interface JobTag {
  runId: string;
  round: number;
}

export interface SubmitRequest {
  baseModel: string;
  trainingFile: string;
  hyperparameters: { nEpochs?: number; learningRateMultiplier?: number; batchSize?: number };
  suffix: string;
  seed: number;
  tag: JobTag;
}

export interface Trainer {
  readonly backend: string;
  /** Uploads (or stages) the chat JSONL; returns the reference the job reads. */
  upload(jsonl: string, filename: string): Promise<string>;
  /** A job already submitted for this round, if any (the crash-between-submit-and-record case). */
  find(tag: JobTag): Promise<TrainerJob | null>;
  submit(request: SubmitRequest): Promise<TrainerJob>;
  get(jobId: string): Promise<TrainerJob>;
  cancel(jobId: string): Promise<void>;
}
