/**
 * The batch-mode activities against a real Postgres and the embedded model server's Batch API: a submit that died
 * after the provider created its batch (before recording it) is retried without creating a second one, a repeated
 * submit creates nothing, and ingesting an attempt again writes nothing twice.
 */
import { toFile } from 'openai';
import OpenAI from 'openai';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities/index.js';
import { recordBatch } from '../../../db/batches.js';
import { batchMetadata } from '../../../lib/generate/batch.js';
import { testDatabase, testModelServer, type TestDatabase } from '../../helpers/services.js';
import { activityEnvironment, fakeDeps, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
let model: Awaited<ReturnType<typeof testModelServer>>;
let provider: OpenAI;

beforeAll(async () => {
  [db, model] = await Promise.all([testDatabase(), testModelServer()]);
  provider = new OpenAI({ baseURL: model.url, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await model?.close();
  await db?.drop();
});

const deps = () => fakeDeps(db.db, { modelEndpoint: () => ({ baseUrl: model.url, apiKey: undefined, timeoutMs: 5000, maxRetries: 0 }) });

async function onServer(roundId: number) {
  return (await provider.batches.list({ limit: 100 })).data.filter((b) => b.metadata?.flywheel_round_id === String(roundId));
}

describe('batch activities', () => {
  it('adopt a batch a dead try created, create nothing on a repeat, and ingest an attempt once', async () => {
    const { runId, taskSet } = await storeRun(db.db, { task: { kind: 'countdown', seed: 4, train: 3, test: 2 }, generate: { mode: 'batch', samplesPerProblem: 2 } });
    const round = await storeRounds(db.db, runId, 0);
    const acts = createActivities(deps());
    const env = activityEnvironment();

    // A try that died between creating the batch on the provider and recording it: the batch exists, no row does.
    // (Its file holds one line, not the six a real try would write, so that the adopted batch shows in the counts.)
    const slot = { roundId: round.id, purpose: 'train', attempt: 1, fileIndex: 0 };
    const [first] = (await db.db.execute(sql`SELECT id FROM flywheel.problems WHERE task_set = ${taskSet} AND split = 'train' ORDER BY position LIMIT 1`)).rows as Array<{ id: number }>;
    const line = JSON.stringify({ custom_id: `train/p${first!.id}/sample/s0`, method: 'POST', url: '/v1/chat/completions', body: { model: 'countdown-mlp', messages: [{ role: 'user', content: 'x' }] } });
    const file = await provider.files.create({ file: await toFile(Buffer.from(`${line}\n`), 'died.jsonl'), purpose: 'batch' });
    const orphan = await provider.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: batchMetadata(slot) });

    const submitted = await env.run(acts.submitBatches, { roundId: round.id, purpose: 'train' });
    expect(submitted).toEqual({ attempt: 1, batches: 1, requests: 6, created: 1 });
    expect((await onServer(round.id)).map((b) => b.id)).toEqual([orphan.id]);
    const [row] = (await db.db.execute(sql`SELECT batch_id FROM flywheel.batches WHERE round_id = ${round.id}`)).rows as Array<{ batch_id: string }>;
    expect(row!.batch_id).toBe(orphan.id);

    // The workflow's retry of the same call, and its first call on a new execution of the round: nothing new.
    expect(await env.run(acts.submitBatches, { roundId: round.id, purpose: 'train', attempt: 1 })).toMatchObject({ attempt: 1, created: 0 });
    expect(await env.run(acts.submitBatches, { roundId: round.id, purpose: 'train' })).toMatchObject({ attempt: 1, created: 0 });
    expect(await onServer(round.id)).toHaveLength(1);

    for (;;) {
      const poll = await env.run(acts.pollBatches, { roundId: round.id, purpose: 'train', attempt: 1 });
      if (poll.final) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The adopted batch held one line of the dead try's file: one trace, the other samples still missing.
    expect(await env.run(acts.ingestBatches, { roundId: round.id, purpose: 'train', attempt: 1, last: false })).toEqual({ written: 1, failed: 0, missing: 5 });
    expect(await env.run(acts.ingestBatches, { roundId: round.id, purpose: 'train', attempt: 1, last: false })).toEqual({ written: 0, failed: 0, missing: 5 });
    await expect(env.run(acts.ingestBatches, { roundId: round.id, purpose: 'train', attempt: 1, last: true })).rejects.toThrow(/5 train samples still missing after batch attempt 1 \(generate.batchAttempts reached\)/);
    // The next attempt asks only for the missing five.
    expect(await env.run(acts.submitBatches, { roundId: round.id, purpose: 'train' })).toEqual({ attempt: 2, batches: 1, requests: 5, created: 1 });
  });

  it('send lines the provider refused, and a batch that failed validation, to an operator instead of resubmitting', async () => {
    const { runId, taskSet } = await storeRun(db.db, { task: { kind: 'countdown', seed: 5, train: 2, test: 1 }, generate: { mode: 'batch', samplesPerProblem: 1 } });
    const round = await storeRounds(db.db, runId, 0);
    const acts = createActivities(deps());
    const env = activityEnvironment();
    const ids = (await db.db.execute(sql`SELECT id, split FROM flywheel.problems WHERE task_set = ${taskSet} ORDER BY split, position`)).rows as Array<{ id: string; split: string }>;
    const train = ids.filter((p) => p.split === 'train').map((p) => p.id);
    const test = ids.filter((p) => p.split === 'test').map((p) => p.id);
    const orphan = async (purpose: string, lines: object[]) => {
      const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
      const file = await provider.files.create({ file: await toFile(Buffer.from(text), 'died.jsonl'), purpose: 'batch' });
      return provider.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: batchMetadata({ roundId: round.id, purpose, attempt: 1, fileIndex: 0 }) });
    };
    const line = (customId: string, body: object) => ({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: { model: 'countdown-mlp', messages: [{ role: 'user', content: 'x' }], ...body } });
    const finish = async (purpose: 'train' | 'eval') => {
      for (;;) {
        const poll = await env.run(acts.pollBatches, { roundId: round.id, purpose, attempt: 1 });
        if (poll.final) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    // One line the server refuses (n: 0 is a 400), one it answers.
    await orphan('train', [line(`train/p${train[0]}/sample/s0`, { n: 0 }), line(`train/p${train[1]}/sample/s0`, {})]);
    await env.run(acts.submitBatches, { roundId: round.id, purpose: 'train' });
    await finish('train');
    await expect(env.run(acts.ingestBatches, { roundId: round.id, purpose: 'train', attempt: 1, last: false })).rejects.toMatchObject({
      nonRetryable: true,
      message: expect.stringMatching(new RegExp(`1 train samples still missing after batch attempt 1 \\(lines the provider refused\\): 1 × 400.*train/p${train[0]}/sample/s0`)),
    });
    const errors = (await db.db.execute(sql`SELECT final, error FROM flywheel.model_errors WHERE round_id = ${round.id}`)).rows as Array<{ final: boolean; error: string }>;
    expect(errors).toEqual([{ final: true, error: expect.stringMatching(/^batch line train\/p\d+\/sample\/s0: 400/) }]);

    // A recorded batch whose file the provider rejected as a whole (a failed batch is never adopted, so it is recorded
    // here as a submit would have recorded it).
    const failed = await orphan('eval', [{ ...line(`eval/p${test[0]}/greedy/s0`, {}), method: 'GET' }]);
    await recordBatch(db.db, { roundId: round.id, purpose: 'eval', attempt: 1, fileIndex: 0, inputFileId: failed.input_file_id, batchId: failed.id, requests: 1 });
    await expect(finish('eval')).rejects.toMatchObject({ nonRetryable: true, message: expect.stringMatching(/failed validation: line 1: invalid_method/) });
  });
});
