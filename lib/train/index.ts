export { chatLine, toChatJsonl, type ChatExample } from './chat-jsonl.js';
export { createOpenAITrainer } from './openai.js';
export { createCommandTrainer, modelNameFor, type CommandTrainerOptions, type LauncherOptions } from './command/index.js';
export { DATASET_FILE, DATASET_NAME, exportChatDataset, llamaFactoryDatasetInfo, roundDir } from './dataset.js';
export { MANIFEST_FILE, checkpointManifestSchema, readManifest, type CheckpointManifest } from './manifest.js';
export { ProgressReader, describeProgress, parseProgressLine, thinHistory, type ProgressPoint } from './progress.js';
export type { ChatExampleLike, JobTag, SubmitRequest, Trainer, TrainerJob, TrainerStatus } from './types.js';
