/**
 * The generate stage in batch mode (`generate.mode: batch`), the pure half: a round's missing samples as keyed
 * batch requests (one request per sample, `custom_id` = the sample's idempotent key), and a batch's results back
 * as trace rows under the same keys. The uploading, polling and storing belong to activities.
 */
import type { BatchFailure, BatchResults, KeyedSampleRequest } from '../llm/batch.js';
import type { SampleGroup } from '../round/samples.js';
import type { GeneratedTrace, ModelErrorRecord, SampleTask } from './shard.js';

/** What identifies one sample of a round: the key of its trace row (round aside: a batch belongs to one round). */
export interface SampleKey {
  purpose: string;
  problemId: number;
  strategy: SampleGroup['strategy'];
  sampleIndex: number;
}

const KEY_PATTERN = /^(train|eval)\/p(\d+)\/(sample|greedy)\/s(\d+)$/;

/**
 * A sample's key as a batch `custom_id`.
 *
 * @example
 * sampleKey({ purpose: 'train', problemId: 17, strategy: 'sample', sampleIndex: 3 }) // 'train/p17/sample/s3'
 */
export function sampleKey(key: SampleKey): string {
  return `${key.purpose}/p${key.problemId}/${key.strategy}/s${key.sampleIndex}`;
}

/** The sample a `custom_id` names; anything else is an error naming the id (a file flywheel did not write). */
export function parseSampleKey(customId: string): SampleKey {
  const m = KEY_PATTERN.exec(customId);
  if (!m) throw new Error(`batch custom_id '${customId}' is not a flywheel sample key (purpose/p<problem>/<strategy>/s<index>)`);
  return { purpose: m[1]!, problemId: Number(m[2]), strategy: m[3] as SampleKey['strategy'], sampleIndex: Number(m[4]) };
}

export interface BatchRequestOptions {
  purpose: string;
  model: string;
  systemPrompt?: string;
  maxTokens: number;
  /** The seed of one sample (stable across attempts, so a resubmitted request asks the same thing). */
  seedOf(key: SampleKey): number;
}

/** One request per missing sample of the tasks, keyed by the sample. */
export function batchRequests(tasks: readonly SampleTask[], options: BatchRequestOptions): KeyedSampleRequest[] {
  return tasks.flatMap((task) =>
    task.missing.map((sampleIndex) => {
      const at: SampleKey = { purpose: options.purpose, problemId: task.problem.id, strategy: task.group.strategy, sampleIndex };
      return {
        key: sampleKey(at),
        request: {
          model: options.model,
          prompt: task.problem.prompt,
          systemPrompt: options.systemPrompt,
          n: 1,
          temperature: task.group.temperature,
          maxTokens: options.maxTokens,
          seed: options.seedOf(at),
          logprobs: true,
        },
      };
    }),
  );
}

/** The succeeded lines of a batch as trace rows, in key order; a key of another purpose is an error. */
export function tracesFromResults(results: Pick<BatchResults, 'succeeded'>, purpose: string): GeneratedTrace[] {
  const rows: GeneratedTrace[] = [];
  for (const [customId, response] of results.succeeded) {
    const key = parseSampleKey(customId);
    if (key.purpose !== purpose) throw new Error(`batch custom_id '${customId}' is a ${key.purpose} sample, not ${purpose}`);
    const sample = response.samples[0];
    if (!sample) throw new Error(`batch line '${customId}' answered no sample`);
    rows.push({
      problemId: key.problemId,
      strategy: key.strategy,
      sampleIndex: key.sampleIndex,
      text: sample.text,
      logprob: sample.logprob,
      promptTokens: response.promptTokens,
      completionTokens: sample.completionTokens,
      finishReason: sample.finishReason,
      flags: { batch: true },
    });
  }
  return rows.sort((a, b) => a.problemId - b.problemId || a.strategy.localeCompare(b.strategy) || a.sampleIndex - b.sampleIndex);
}

/** Where one batch file of a round belongs: its (round, purpose, attempt, file index) slot. */
export interface BatchSlot {
  roundId: number;
  purpose: string;
  attempt: number;
  fileIndex: number;
}

/**
 * The metadata a batch is created with: its slot, so a batch created by an activity that died before recording it
 * is found again on the provider (and adopted) instead of being created a second time.
 */
export function batchMetadata(slot: BatchSlot): Record<string, string> {
  return {
    flywheel_round_id: String(slot.roundId),
    flywheel_purpose: slot.purpose,
    flywheel_attempt: String(slot.attempt),
    flywheel_file: String(slot.fileIndex),
  };
}

/** Whether a provider's batch was created for `slot` (by {@link batchMetadata}). */
export function isBatchOf(metadata: Readonly<Record<string, string>> | null | undefined, slot: BatchSlot): boolean {
  if (!metadata) return false;
  const want = batchMetadata(slot);
  return Object.entries(want).every(([k, v]) => metadata[k] === v);
}

/** Every sample a round plans for the tasks (stored or not), as keys with `n` = 1: what its batch lines may answer. */
export function plannedKeys(tasks: readonly SampleTask[], purpose: string): Map<string, number> {
  const keys = new Map<string, number>();
  for (const task of tasks) {
    for (let sampleIndex = 0; sampleIndex < task.group.n; sampleIndex++) {
      keys.set(sampleKey({ purpose, problemId: task.problem.id, strategy: task.group.strategy, sampleIndex }), 1);
    }
  }
  return keys;
}

/** Batch statuses after which nothing changes. */
export const FINAL_BATCH_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'expired', 'cancelled']);

/**
 * A finished batch's failed lines as model_errors rows (attempt = the batch attempt): `final` when the line will not
 * be sent again (not retryable, or this was the last attempt).
 */
export function batchErrorRecords(failures: Iterable<BatchFailure>, attempt: number, lastAttempt: boolean): ModelErrorRecord[] {
  return [...failures].map((f) => {
    const key = parseSampleKey(f.key);
    const status = f.statusCode === null ? (f.code ?? 'failed') : `${f.statusCode}${f.code ? ` ${f.code}` : ''}`;
    return {
      problemId: key.problemId,
      strategy: key.strategy,
      attempt,
      error: `batch line ${f.key}: ${status}: ${f.message}`.slice(0, 500),
      final: !f.retryable || lastAttempt,
    };
  });
}

/** What an operator reads when a batch stage gives up: counts by cause, and a few keys of each. */
export function describeBatchFailures(failures: readonly BatchFailure[], limit = 3): string {
  const byCause = new Map<string, string[]>();
  for (const f of failures) {
    const cause = f.statusCode === null ? (f.code ?? 'failed') : `${f.statusCode}${f.code ? ` ${f.code}` : ''}: ${f.message}`;
    byCause.set(cause, [...(byCause.get(cause) ?? []), f.key]);
  }
  return [...byCause]
    .map(([cause, keys]) => `${keys.length} × ${cause} (${keys.slice(0, limit).join(', ')}${keys.length > limit ? ', …' : ''})`)
    .join('; ');
}
