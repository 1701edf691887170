/**
 * The generate stage in batch mode (`generate.mode: batch`), as three short activities the workflow calls between
 * durable timers: submit the round's missing samples of a purpose as one batch attempt (files of at most 50,000
 * requests, `purpose: batch`, `completion_window: 24h`), poll the attempt's batches once, and ingest what finished
 * batches answered (output lines as traces, error lines as model_errors) under the same keys as online generation.
 * The keys and parsing are lib/generate/batch.ts and lib/llm/batch.ts; the records db/batches.ts.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type OpenAI from 'openai';
import { toFile } from 'openai';
import { markIngested, recordBatch, roundBatches, updateBatch, type BatchRow } from '../db/batches.js';
import { roundBudgets } from '../db/budgets.js';
import { problemsInShard } from '../db/problems.js';
import { getRoundContext } from '../db/rounds.js';
import { createTraceWriter, existingSamples } from '../db/traces.js';
import {
  FINAL_BATCH_STATUSES,
  batchErrorRecords,
  batchMetadata,
  batchRequests,
  describeBatchFailures,
  isBatchOf,
  plannedKeys,
  tracesFromResults,
  type BatchSlot,
} from '../lib/generate/batch.js';
import { planMissingSamples } from '../lib/generate/shard.js';
import { BATCH_ENDPOINT, batchInputLines, parseBatchResults, splitBatchFiles, type BatchFailure } from '../lib/llm/batch.js';
import { classifyError, createModelClient } from '../lib/llm/client.js';
import { hashSeed } from '../lib/rng.js';
import { samplingModel, splitOf } from '../lib/round/purpose.js';
import { sampleGroups } from '../lib/round/samples.js';
import type { BatchAttemptInput, BatchIngested, BatchPoll, BatchStageInput, BatchSubmitted } from '../workflows/shared.js';
import { resolveEndpoint, type ActivityDeps } from './deps.js';

export function batchActivities(deps: ActivityDeps) {
  const { db } = deps;

  /** The round, its config, the model client and every planned sample task of the purpose (with what is stored). */
  async function context(roundId: number, purpose: BatchStageInput['purpose']) {
    const { run, round, config } = await getRoundContext(db, roundId);
    const endpoint = resolveEndpoint(deps, config.model);
    const client = createModelClient(endpoint);
    const problems = await problemsInShard(db, run.taskSet, splitOf(purpose), 0, 1);
    const ids = problems.map((p) => p.id);
    const budgets = purpose === 'train' ? await roundBudgets(db, round.id, ids) : new Map<number, { samples: number }>();
    const samplesOf = (id: number) => budgets.get(id)?.samples;
    const groups = sampleGroups(config, purpose);
    const tasks = planMissingSamples(problems, groups, await existingSamples(db, round.id, purpose, ids), samplesOf);
    return { run, round, config, client, tasks, model: samplingModel(round, purpose) };
  }

  return {
    /**
     * Submits the purpose's missing samples as batch `attempt` (without one: continues the latest attempt while it is
     * not ingested, else starts the next). Each file's batch is recorded before anything waits on it; a retry finds
     * recorded slots (and a created but unrecorded batch by its metadata on the provider) and creates only the rest.
     */
    async submitBatches({ roundId, purpose, attempt }: BatchStageInput & { attempt?: number }): Promise<BatchSubmitted> {
      const recorded = await roundBatches(db, roundId, purpose);
      const latest = recorded.reduce((max, b) => Math.max(max, b.attempt), 0);
      const open = recorded.some((b) => b.attempt === latest && !b.ingestedAt);
      const at = attempt ?? (open ? latest : latest + 1);
      const { run, round, config, client, tasks, model } = await context(roundId, purpose);
      const requests = batchRequests(tasks, {
        purpose,
        model,
        systemPrompt: config.model.systemPrompt,
        maxTokens: config.generate.maxTokens,
        seedOf: (k) => hashSeed(run.id, round.index, k.problemId, purpose, k.strategy, k.sampleIndex),
      });
      // The missing samples do not change until this attempt is ingested, so a retry splits the same files.
      const files = splitBatchFiles(batchInputLines(requests));
      const mine = recorded.filter((b) => b.attempt === at);
      let created = 0;
      for (const [fileIndex, text] of files.entries()) {
        if (mine.some((b) => b.fileIndex === fileIndex)) continue;
        const slot: BatchSlot = { roundId, purpose, attempt: at, fileIndex };
        const requestCount = text.split('\n').length - 1;
        const batch = (await findCreated(client, slot)) ?? (await createBatch(client, slot, text));
        // Recorded as validating: the first poll records its real status together with its result files.
        await recordBatch(db, { ...slot, inputFileId: batch.input_file_id, batchId: batch.id, requests: requestCount });
        created++;
        deps.log(`round ${roundId} ${purpose}: batch ${batch.id} (attempt ${at}, file ${fileIndex + 1}/${files.length}, ${requestCount} requests)`);
      }
      const batches = await roundBatches(db, roundId, purpose);
      const ofAttempt = batches.filter((b) => b.attempt === at);
      return { attempt: at, batches: ofAttempt.length, requests: ofAttempt.reduce((s, b) => s + b.requests, 0), created };
    },

    /** One look at the attempt's unfinished batches: their status and counts recorded; `final` once all are done. */
    async pollBatches({ roundId, purpose, attempt }: BatchAttemptInput): Promise<BatchPoll> {
      const { config } = await getRoundContext(db, roundId);
      const client = createModelClient(resolveEndpoint(deps, config.model));
      const rows = (await roundBatches(db, roundId, purpose)).filter((b) => b.attempt === attempt);
      const poll: BatchPoll = { final: true, total: 0, completed: 0, failed: 0 };
      for (const row of rows) {
        let current: Pick<BatchRow, 'status' | 'completed' | 'failed'> = row;
        if (!FINAL_BATCH_STATUSES.has(row.status)) {
          const batch = await client.batches.retrieve(row.batchId).catch((err: unknown) => {
            throw providerFailure(err, `retrieving batch ${row.batchId}`);
          });
          const progress = {
            status: batch.status,
            completed: batch.request_counts?.completed ?? 0,
            failed: batch.request_counts?.failed ?? 0,
            outputFileId: batch.output_file_id ?? null,
            errorFileId: batch.error_file_id ?? null,
          };
          await updateBatch(db, row.batchId, progress);
          current = progress;
          if (batch.status === 'failed') {
            const errors = (batch.errors?.data ?? []).slice(0, 5).map((e) => `${e.line ? `line ${e.line}: ` : ''}${e.code ?? ''} ${e.message ?? ''}`.trim());
            throw ApplicationFailure.nonRetryable(
              `batch ${row.batchId} (attempt ${attempt}, file ${row.fileIndex + 1}) failed validation: ${errors.join('; ') || 'no reason given'}`,
              'BatchFailed',
            );
          }
        }
        poll.final &&= FINAL_BATCH_STATUSES.has(current.status);
        poll.total += row.requests;
        poll.completed += current.completed;
        poll.failed += current.failed;
      }
      return poll;
    },

    /**
     * Stores what the attempt's finished batches answered, by custom_id (a line already stored changes nothing), and
     * says how many samples are still missing. On the last attempt, or when a line failed in a way another attempt
     * will not fix (a 4xx), missing samples are a non-retryable failure: the round needs attention.
     */
    async ingestBatches({ roundId, purpose, attempt, last }: BatchAttemptInput & { last: boolean }): Promise<BatchIngested> {
      const { client, tasks, model } = await context(roundId, purpose);
      const asked = plannedKeys(tasks, purpose);
      const writer = createTraceWriter(db, { roundId, purpose, model });
      const rows = (await roundBatches(db, roundId, purpose)).filter((b) => b.attempt === attempt);
      const failures = new Map<string, BatchFailure>();
      for (const row of rows) {
        // A batch still running is not ingested (the workflow ingests only after a poll found all of them final).
        if (row.ingestedAt || !FINAL_BATCH_STATUSES.has(row.status)) continue;
        const files: Array<{ name: string; text: string }> = [];
        for (const id of [row.outputFileId, row.errorFileId]) {
          if (!id) continue;
          const text = await client.files
            .content(id)
            .then((r) => r.text())
            .catch((err: unknown) => {
              throw providerFailure(err, `downloading ${id} of batch ${row.batchId}`);
            });
          files.push({ name: `${row.batchId}:${id}`, text });
        }
        const results = parseBatchResults(files, asked);
        await writer.add(tracesFromResults(results, purpose).map((t) => ({ ...t, flags: { batch: row.batchId } })));
        for (const error of batchErrorRecords(results.failed.values(), attempt, last)) writer.addError(error);
        for (const f of results.failed.values()) failures.set(f.key, f);
        await writer.flush();
        await markIngested(db, row.batchId);
      }
      const { tasks: after } = await context(roundId, purpose);
      const missing = after.reduce((s, t) => s + t.missing.length, 0);
      const refused = [...failures.values()].filter((f) => !f.retryable);
      if (missing > 0 && (last || refused.length)) {
        const why = describeBatchFailures(refused.length ? refused : [...failures.values()]);
        throw ApplicationFailure.nonRetryable(
          `${missing} ${purpose} samples still missing after batch attempt ${attempt}${refused.length ? ' (lines the provider refused)' : ' (generate.batchAttempts reached)'}` +
            `${why ? `: ${why}` : ''}`,
          'BatchLinesFailed',
        );
      }
      return { written: writer.written, failed: failures.size, missing };
    },
  };
}

/** A batch the provider already has for `slot` (an earlier try created it and died before recording it). */
async function findCreated(client: OpenAI, slot: BatchSlot): Promise<OpenAI.Batches.Batch | null> {
  try {
    // Newest first; a batch created by a try that died moments ago is on the first page.
    const page = await client.batches.list({ limit: 100 });
    return page.data.find((b) => isBatchOf(b.metadata as Record<string, string> | null, slot) && b.status !== 'failed' && b.status !== 'cancelled') ?? null;
  } catch (err) {
    throw providerFailure(err, 'listing batches');
  }
}

async function createBatch(client: OpenAI, slot: BatchSlot, text: string): Promise<OpenAI.Batches.Batch> {
  const name = `flywheel-round${slot.roundId}-${slot.purpose}-a${slot.attempt}-f${slot.fileIndex}.jsonl`;
  try {
    const file = await client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'batch' });
    return await client.batches.create({
      input_file_id: file.id,
      endpoint: BATCH_ENDPOINT,
      completion_window: '24h',
      metadata: batchMetadata(slot),
    });
  } catch (err) {
    throw providerFailure(err, `creating batch ${name}`);
  }
}

/** A provider error: retried when another try may help (429, 5xx, connection), else for an operator. */
function providerFailure(err: unknown, doing: string): Error {
  const message = `${doing}: ${err instanceof Error ? err.message : String(err)}`;
  return classifyError(err).retry ? new Error(message, { cause: err }) : ApplicationFailure.nonRetryable(message, 'BatchRequestRefused');
}
