/**
 * The records of each export format, one training example or trace at a time: OpenAI/TRL chat `messages`,
 * ShareGPT as LLaMA-Factory reads it (with its `dataset_info.json`), TRL's stepwise PRM records, and the raw trace
 * record for analysis.
 */
import type { TraceRow, TrainingRow } from '../../db/export.js';
import type { PrmExample } from '../../db/prm-dataset.js';

export const FORMATS = ['chat', 'sharegpt', 'parquet', 'prm', 'prm-parquet'] as const;
export type ExportFormat = (typeof FORMATS)[number];

/** `{"prompt", "completions", "labels"}`: the stepwise format of TRL's PRMTrainer (one label per step). */
export function prmRecord(example: Pick<PrmExample, 'prompt' | 'completions' | 'labels'>) {
  return { prompt: example.prompt, completions: example.completions, labels: example.labels };
}

/** `{"messages": [system?, user, assistant]}`: OpenAI fine-tuning, TRL SFTTrainer, axolotl's chat_template. */
export function chatRecord(row: Pick<TrainingRow, 'prompt' | 'completion'>, system?: string) {
  return {
    messages: [
      ...(system ? [{ role: 'system', content: system }] : []),
      { role: 'user', content: row.prompt },
      { role: 'assistant', content: row.completion },
    ],
  };
}

/** `{"conversations": [{from: human}, {from: gpt}], "system"?}`: the ShareGPT layout of LLaMA-Factory. */
export function sharegptRecord(row: Pick<TrainingRow, 'prompt' | 'completion'>, system?: string) {
  return {
    conversations: [
      { from: 'human', value: row.prompt },
      { from: 'gpt', value: row.completion },
    ],
    ...(system ? { system } : {}),
  };
}

/** LLaMA-Factory's `dataset_info.json` entry for a ShareGPT file (`dataset: <name>` in its training config). */
export function datasetInfo(name: string, fileName: string) {
  return {
    [name]: {
      file_name: fileName,
      formatting: 'sharegpt',
      columns: { messages: 'conversations', system: 'system' },
      tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt' },
    },
  };
}

/** A raw trace with its verdict and search metadata, as one JSON object. */
export function traceRecord(row: TraceRow) {
  return { ...row, trace_id: Number(row.trace_id) };
}
