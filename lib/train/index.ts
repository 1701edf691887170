export { toChatJsonl, type ChatExample } from './chat-jsonl.js';
export { createOpenAITrainer } from './openai.js';
export type { JobTag, SubmitRequest, Trainer, TrainerJob, TrainerStatus } from './types.js';
