/** What the fine-tune stage needs from a trainer backend. */
import type { CheckpointManifest } from './manifest.js';
import type { StepwiseExampleLike } from './dataset.js';
import type { ProgressPoint } from './progress.js';

export type TrainerStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TrainerJob {
  id: string;
  status: TrainerStatus;
  /** The trained model's servable name, once it succeeded. */
  model: string | null;
  error: string | null;
  /** A line of progress for heartbeats and the CLI (e.g. the last trainer event). */
  progress: string | null;
  /** Where and how the job runs, e.g. `local`, `slurm` (backends that have launchers). */
  launcher?: string;
  /** Every progress point the trainer reported so far, oldest first (thinned when very long). */
  progressHistory?: ProgressPoint[];
  /** The trainer's exit code, once it ended (command backend). */
  exitCode?: number | null;
  /** The last lines of the job's log, for a failure report. */
  logTail?: string | null;
  /** The checkpoint a successful job wrote: its directory and manifest. */
  checkpoint?: { path: string; manifest: CheckpointManifest } | null;
}

/** Identifies the job of one round so a retried activity finds it instead of submitting another. */
export interface JobTag {
  runId: string;
  round: number;
  /** Which of the round's learners the job trains; absent: the policy. */
  learner?: 'policy' | 'prm';
}

export interface SubmitRequest {
  baseModel: string;
  trainingFile: string;
  hyperparameters: { nEpochs?: number; learningRateMultiplier?: number; batchSize?: number };
  suffix: string;
  seed: number;
  tag: JobTag;
  /**
   * What the job optimises: `sft` (default, the policy on chat JSONL) or `prm`, a process reward model on stepwise
   * JSONL (`{prompt, completions, labels}`); the openai backend sends `method: {type: 'prm'}` for it.
   */
  objective?: 'sft' | 'prm';
  /**
   * The model to continue from (`finetune.from: previous`) when it is not the base: its served name and, for a model
   * a command trainer produced, its checkpoint directory.
   */
  continueFrom?: { model: string; checkpointPath: string | null } | null;
}

export interface Trainer {
  readonly backend: string;
  /** Uploads (or stages) the chat JSONL; returns the reference the job reads. */
  upload(jsonl: string, filename: string): Promise<string>;
  /**
   * Streams a round's examples into the training file without holding them all in memory (where the backend can),
   * returning the reference the job reads. Backends without it take `upload`.
   */
  exportDataset?(tag: JobTag, examples: AsyncIterable<ChatExampleLike>, systemPrompt?: string): Promise<string>;
  /** The same for a PRM's stepwise JSONL (`{prompt, completions, labels, soft_labels}` per line, TRL's format). */
  exportStepwise?(tag: JobTag, examples: AsyncIterable<StepwiseExampleLike>): Promise<string>;
  /** A job already submitted for this round, if any (the crash-between-submit-and-record case). */
  find(tag: JobTag): Promise<TrainerJob | null>;
  submit(request: SubmitRequest): Promise<TrainerJob>;
  get(jobId: string): Promise<TrainerJob>;
  cancel(jobId: string): Promise<void>;
}

/** A prompt and the completion to train on (see chat-jsonl.ts). */
export interface ChatExampleLike {
  prompt: string;
  completion: string;
}
