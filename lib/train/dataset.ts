/**
 * A round's training set on a filesystem the trainer can read: chat JSONL (`{"messages": [...]}` per line, what
 * TRL, axolotl, torchtune and our own trainers read) streamed from an async iterable, written under a temporary
 * name and renamed, so a trainer never sees half a file; plus LLaMA-Factory's `dataset_info.json` beside it.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { chatLine, type ChatExample } from './chat-jsonl.js';
import type { JobTag } from './types.js';

export const DATASET_FILE = 'train.jsonl';
/** The dataset's name in dataset_info.json (LLaMA-Factory's `dataset:` option). */
export const DATASET_NAME = 'flywheel';

/** `<workdir>/<run>/round-<n>`: everything of one round's training lives under it. */
export function roundDir(workdir: string, tag: JobTag): string {
  return path.join(workdir, tag.runId, `round-${tag.round}`);
}

export interface ExportedDataset {
  path: string;
  examples: number;
  bytes: number;
}

/**
 * Writes `examples` to `<workdir>/<run>/round-<n>/train.jsonl` and dataset_info.json; returns the file's path.
 *
 * @example
 * const { path } = await exportChatDataset('/shared/flywheel', { runId, round: 2 }, examplesFromPostgres());
 */
export async function exportChatDataset(
  workdir: string,
  tag: JobTag,
  examples: AsyncIterable<ChatExample> | Iterable<ChatExample>,
  systemPrompt?: string,
): Promise<ExportedDataset> {
  const dir = roundDir(workdir, tag);
  await mkdir(dir, { recursive: true });
  const exported = await writeChatJsonl(path.join(dir, DATASET_FILE), tag, examples, systemPrompt);
  await writeFile(path.join(dir, 'dataset_info.json'), `${JSON.stringify(llamaFactoryDatasetInfo(), null, 2)}\n`);
  return exported;
}

/**
 * Streams `examples` as chat JSONL into `target` (written under a temporary name, then renamed), one line at a time
 * with backpressure: memory stays flat however large the round. An empty round is an error (nothing to train on).
 */
export async function writeChatJsonl(
  target: string,
  tag: JobTag,
  examples: AsyncIterable<ChatExample> | Iterable<ChatExample>,
  systemPrompt?: string,
): Promise<ExportedDataset> {
  return writeJsonlLines(target, tag, mapLines(examples, (e) => chatLine(e, systemPrompt)));
}

/** One line of TRL's stepwise PRM format: a prompt, its steps as `completions`, a label per step (soft ones optional). */
export interface StepwiseExampleLike {
  prompt: string;
  completions: string[];
  labels: boolean[];
  softLabels?: number[] | null;
}

export function stepwiseLine(e: StepwiseExampleLike): string {
  return `${JSON.stringify({ prompt: e.prompt, completions: e.completions, labels: e.labels, ...(e.softLabels ? { soft_labels: e.softLabels } : {}) })}\n`;
}

/** `<workdir>/<run>/round-<n>/prm/train.jsonl`: a round's PRM dataset as stepwise JSONL, streamed. */
export async function exportStepwiseDataset(workdir: string, tag: JobTag, examples: AsyncIterable<StepwiseExampleLike>): Promise<ExportedDataset> {
  const dir = path.join(roundDir(workdir, tag), 'prm');
  await mkdir(dir, { recursive: true });
  return writeJsonlLines(path.join(dir, DATASET_FILE), tag, mapLines(examples, stepwiseLine));
}

async function* mapLines<T>(items: AsyncIterable<T> | Iterable<T>, line: (item: T) => string): AsyncIterable<string> {
  for await (const item of items) yield line(item);
}

/** Streams lines into `target` under a temporary name, then renames it; an empty file is an error. */
async function writeJsonlLines(target: string, tag: JobTag, lines: AsyncIterable<string>): Promise<ExportedDataset> {
  const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
  const out = createWriteStream(tmp, { flags: 'wx' });
  let count = 0;
  let bytes = 0;
  try {
    for await (const line of lines) {
      bytes += Buffer.byteLength(line);
      count++;
      if (!out.write(line)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  if (count === 0) {
    await rm(tmp, { force: true });
    throw new Error(`no examples to export for run ${tag.runId} round ${tag.round}: a trainer cannot train on an empty file`);
  }
  await rename(tmp, target);
  return { path: target, examples: count, bytes };
}

/** LLaMA-Factory's description of our file: sharegpt-style `messages` with OpenAI role names. */
export function llamaFactoryDatasetInfo() {
  return {
    [DATASET_NAME]: {
      file_name: DATASET_FILE,
      formatting: 'sharegpt',
      columns: { messages: 'messages' },
      tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant', system_tag: 'system' },
    },
  };
}
