/**
 * The `flywheel.batches` records of batch-mode generation: a batch is recorded once per (round, purpose, attempt,
 * file index), a second record of the same slot (a retried activity that created again) keeps the first, and the
 * provider's progress and the ingestion mark are kept per batch id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../config/load.js';
import { markIngested, recordBatch, roundBatches, updateBatch } from '../../db/batches.js';
import { ensureRound } from '../../db/rounds.js';
import { insertRun } from '../../db/runs.js';
import { testDatabase, type TestDatabase } from '../helpers/services.js';

let db: TestDatabase;
let roundId: number;

beforeAll(async () => {
  db = await testDatabase();
  const config = parseRunConfig(['name: b', 'rounds: 1', 'task: {kind: countdown, train: 2, test: 1}', 'generate: {batchAttempts: 2}'].join('\n'), 'b.yaml', {});
  await insertRun(db.db, { id: 'batch-run', config, taskSet: 'b-set', baseUrl: 'http://model' });
  roundId = (await ensureRound(db.db, 'batch-run', 0, { planned: 4, sampler: null, model: 'm' })).id;
}, 60_000);
afterAll(async () => db?.drop());

describe('batch records', () => {
  it('records a slot once and keeps the first batch', async () => {
    const first = await recordBatch(db.db, { roundId, purpose: 'train', attempt: 1, fileIndex: 0, inputFileId: 'file-a', batchId: 'batch-a', requests: 3 });
    const again = await recordBatch(db.db, { roundId, purpose: 'train', attempt: 1, fileIndex: 0, inputFileId: 'file-b', batchId: 'batch-b', requests: 3 });
    expect(again.id).toBe(first.id);
    expect(again.batchId).toBe('batch-a');
    await recordBatch(db.db, { roundId, purpose: 'train', attempt: 2, fileIndex: 0, inputFileId: 'file-c', batchId: 'batch-c', requests: 1 });
    await recordBatch(db.db, { roundId, purpose: 'eval', attempt: 1, fileIndex: 0, inputFileId: 'file-d', batchId: 'batch-d', requests: 2 });
    expect((await roundBatches(db.db, roundId, 'train')).map((b) => [b.attempt, b.batchId, b.status])).toEqual([
      [1, 'batch-a', 'validating'],
      [2, 'batch-c', 'validating'],
    ]);
  });

  it('keeps the provider progress and the ingestion mark', async () => {
    await updateBatch(db.db, 'batch-a', { status: 'completed', completed: 2, failed: 1, outputFileId: 'file-out', errorFileId: 'file-err' });
    await markIngested(db.db, 'batch-a');
    const [a] = await roundBatches(db.db, roundId, 'train');
    expect(a).toMatchObject({ status: 'completed', completed: 2, failed: 1, outputFileId: 'file-out', errorFileId: 'file-err' });
    expect(a!.ingestedAt).toBeInstanceOf(Date);
    const [c] = (await roundBatches(db.db, roundId, 'train')).slice(1);
    expect(c!.ingestedAt).toBeNull();
  });
});
