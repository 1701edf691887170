/**
 * Batch-mode rounds (`generate.mode: batch`) end to end: real worker processes (`tsx cli/main.ts worker`), real
 * Postgres, a real Temporal dev server and the embedded model server's `/v1/batches`. Every run is round 0 (evaluate,
 * generate, verify, search), with both its train and its held-out samples generated as provider batches, waited on
 * with workflow timers. The server's test hooks decide which lines fail and when a batch's window closes; they also
 * count every line the server runs, so "nothing that succeeded was sent again" is counted where the work happens.
 */
import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from 'openai/resources/batches';
import type { BatchOptions } from '../../localmodel/batches.js';
import { resumeRoundUpdate, roundStatusQuery, statusQuery, workflowIds } from '../../workflows/shared.js';
import { waitFor } from '../helpers/processes.js';
import { useWorkerHarness, type HarnessServices } from '../helpers/worker-harness.js';
import { expectExactRun, rowsOf, type RunShape } from './durability-invariants.js';

const SHAPE: RunShape = { rounds: 0, train: 6, test: 3, samplesPerProblem: 3, evalSamples: 2, greedy: true };
const TRAIN = SHAPE.train * SHAPE.samplesPerProblem;
const EVAL = SHAPE.test * (SHAPE.evalSamples + 1);

const configText = (name: string) => `
name: ${name}
rounds: 0
task: {kind: countdown, seed: 11, train: ${SHAPE.train}, test: ${SHAPE.test}}
generate: {mode: batch, batchPollSeconds: 1, batchAttempts: ${name.startsWith('limit') ? 2 : 3}, samplesPerProblem: ${SHAPE.samplesPerProblem}, maxTokens: 64}
evaluate: {samples: ${SHAPE.evalSamples}, k: [1, 2]}
durability: {activityAttempts: 10, retryInitialIntervalMs: 200, retryMaxIntervalMs: 1000, heartbeatTimeoutSeconds: 3}
`;

/** Times the server ran each line, by `<round id>:<custom_id>` (sample keys repeat across runs, round ids do not). */
const lineRuns = new Map<string, number>();
/** What the current test makes fail or expire (tests run one after another). */
let failLine: (key: string, runs: number) => boolean = () => false;
let expireAfter: (batch: Readonly<Batch>) => number | null = () => null;
const hooks: BatchOptions = {
  failRequest: (customId, batch) => {
    const key = `${batch.metadata?.flywheel_round_id}:${customId}`;
    const runs = (lineRuns.get(key) ?? 0) + 1;
    lineRuns.set(key, runs);
    return failLine(customId, runs);
  },
  expireAfter: (batch) => expireAfter(batch),
  requestDelayMs: 20,
};

let db: HarnessServices['db'];
let model: HarnessServices['model'];
let client: HarnessServices['client'];
const { startRun, killWorker, replaceWorker } = useWorkerHarness('batch', configText, (s) => ({ db, model, client } = s), { batches: hooks });
let provider: OpenAI;
beforeAll(() => {
  provider = new OpenAI({ baseURL: model.url, apiKey: 'unused', maxRetries: 0 });
});

async function roundIdOf(runId: string): Promise<number> {
  const [row] = await rowsOf<{ id: number }>(db.db, sql`SELECT id FROM flywheel.rounds WHERE run_id = ${runId} AND index = 0`);
  return row!.id;
}

/** What flywheel.batches recorded for the round: purpose, attempt, requests, final status, ingested. */
async function recorded(roundId: number) {
  return rowsOf<{ purpose: string; attempt: number; requests: number; status: string; completed: number; failed: number; ingested: boolean }>(
    db.db,
    sql`SELECT purpose, attempt, requests, status, completed, failed, ingested_at IS NOT NULL AS ingested
        FROM flywheel.batches WHERE round_id = ${roundId} ORDER BY purpose, attempt, file_index`,
  );
}

/** The batches the provider holds for the round (found by the slot metadata flywheel creates them with). */
async function onServer(roundId: number): Promise<Batch[]> {
  const all = (await provider.batches.list({ limit: 100 })).data;
  return all.filter((b) => b.metadata?.flywheel_round_id === String(roundId));
}

/** Lines of the round the server ran, by how many times each ran. */
function runsOf(roundId: number): Map<string, number> {
  const prefix = `${roundId}:`;
  return new Map([...lineRuns].filter(([k]) => k.startsWith(prefix)).map(([k, n]) => [k.slice(prefix.length), n]));
}

async function modelErrors(roundId: number) {
  return rowsOf<{ purpose: string; attempt: number; final: boolean; error: string }>(
    db.db,
    sql`SELECT purpose, attempt, final, error FROM flywheel.model_errors WHERE round_id = ${roundId} ORDER BY id`,
  );
}

async function timersStarted(runId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowIds.round(runId, 0)).fetchHistory();
  return (history.events ?? []).filter((e) => e.timerStartedEventAttributes).length;
}

describe('a batch-mode round', () => {
  it('completes with exact counts: one batch per purpose, every line run once, waited on with timers', async () => {
    failLine = () => false;
    expireAfter = () => null;
    const { runId, result } = await startRun('plain');
    expect((await result).state).toBe('completed');
    await expectExactRun(db.db, runId, SHAPE, model.url);
    const roundId = await roundIdOf(runId);
    expect(await recorded(roundId)).toEqual([
      { purpose: 'eval', attempt: 1, requests: EVAL, status: 'completed', completed: EVAL, failed: 0, ingested: true },
      { purpose: 'train', attempt: 1, requests: TRAIN, status: 'completed', completed: TRAIN, failed: 0, ingested: true },
    ]);
    expect((await onServer(roundId)).map((b) => b.status)).toEqual(['completed', 'completed']);
    const runs = runsOf(roundId);
    expect(runs.size).toBe(TRAIN + EVAL);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(await modelErrors(roundId)).toEqual([]);
    // Traces are flagged with the batch they came from.
    const [flagged] = await rowsOf<{ n: number }>(db.db, sql`SELECT count(*)::int AS n FROM flywheel.traces WHERE round_id = ${roundId} AND flags ? 'batch'`);
    expect(flagged!.n).toBe(TRAIN + EVAL);
    expect(await timersStarted(runId)).toBeGreaterThan(0);
  });

  it('resubmits only the lines that failed, and completes with exact counts', async () => {
    // Sample 1 of every train problem answers 500 the first time it runs.
    failLine = (key, runs) => key.startsWith('train/') && key.endsWith('/s1') && runs === 1;
    expireAfter = () => null;
    const { runId, result } = await startRun('flaky');
    expect((await result).state).toBe('completed');
    await expectExactRun(db.db, runId, SHAPE, model.url);
    const roundId = await roundIdOf(runId);
    expect((await recorded(roundId)).filter((b) => b.purpose === 'train')).toEqual([
      { purpose: 'train', attempt: 1, requests: TRAIN, status: 'completed', completed: TRAIN - SHAPE.train, failed: SHAPE.train, ingested: true },
      { purpose: 'train', attempt: 2, requests: SHAPE.train, status: 'completed', completed: SHAPE.train, failed: 0, ingested: true },
    ]);
    const runs = runsOf(roundId);
    for (const [key, n] of runs) expect(n, key).toBe(key.startsWith('train/') && key.endsWith('/s1') ? 2 : 1);
    const errors = await modelErrors(roundId);
    expect(errors).toHaveLength(SHAPE.train);
    expect(errors.every((e) => e.purpose === 'train' && e.attempt === 1 && !e.final && /\/s1: 500 server_error/.test(e.error))).toBe(true);
  });

  it('survives a worker SIGKILLed while its batch is in progress: nothing that succeeded is sent again', async () => {
    failLine = () => false;
    expireAfter = () => null;
    hooks.requestDelayMs = 250; // the train batch takes ~4.5 s: long enough to kill the worker in its middle
    try {
      const { runId, result } = await startRun('kill');
      const roundId = await waitFor('round 0 exists', async () => (await rowsOf<{ id: number }>(db.db, sql`SELECT id FROM flywheel.rounds WHERE run_id = ${runId}`))[0]?.id);
      await waitFor(
        'the train batch in progress, seen by a poll',
        async () => {
          const train = (await recorded(roundId)).find((b) => b.purpose === 'train');
          return train?.status === 'in_progress' && train.completed > 0 ? true : undefined;
        },
        { intervalMs: 50, timeoutMs: 60_000 },
      );
      await killWorker();
      const [batch] = (await onServer(roundId)).filter((b) => b.metadata?.flywheel_purpose === 'train');
      expect(batch!.request_counts!.completed).toBeLessThan(TRAIN);
      await replaceWorker();
      expect((await result).state).toBe('completed');
      await expectExactRun(db.db, runId, SHAPE, model.url);
      // One batch per purpose, on the server and in Postgres; every line ran exactly once.
      expect((await onServer(roundId)).map((b) => [b.metadata?.flywheel_purpose, b.status]).sort()).toEqual([
        ['eval', 'completed'],
        ['train', 'completed'],
      ]);
      expect((await recorded(roundId)).map((b) => [b.purpose, b.attempt])).toEqual([
        ['eval', 1],
        ['train', 1],
      ]);
      const runs = runsOf(roundId);
      expect(runs.size).toBe(TRAIN + EVAL);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
    } finally {
      hooks.requestDelayMs = 20;
    }
  });

  it('resubmits what an expired batch left unfinished, and completes', async () => {
    failLine = () => false;
    // The first train batch closes its window after 4 lines.
    expireAfter = (b) => (b.metadata?.flywheel_purpose === 'train' && b.metadata.flywheel_attempt === '1' ? 4 : null);
    const { runId, result } = await startRun('expire');
    expect((await result).state).toBe('completed');
    await expectExactRun(db.db, runId, SHAPE, model.url);
    const roundId = await roundIdOf(runId);
    expect((await recorded(roundId)).filter((b) => b.purpose === 'train')).toEqual([
      { purpose: 'train', attempt: 1, requests: TRAIN, status: 'expired', completed: 4, failed: TRAIN - 4, ingested: true },
      { purpose: 'train', attempt: 2, requests: TRAIN - 4, status: 'completed', completed: TRAIN - 4, failed: 0, ingested: true },
    ]);
    expect([...runsOf(roundId).values()].every((n) => n === 1)).toBe(true);
    const errors = await modelErrors(roundId);
    expect(errors).toHaveLength(TRAIN - 4);
    expect(errors.every((e) => /batch_expired/.test(e.error) && !e.final)).toBe(true);
  });

  it('past generate.batchAttempts needs attention with the cause, and completes once resumed', async () => {
    failLine = () => false;
    // Every train batch expires after one line: two attempts (batchAttempts 2) leave TRAIN - 2 samples missing.
    expireAfter = (b) => (b.metadata?.flywheel_purpose === 'train' ? 1 : null);
    const { runId, result } = await startRun('limit');
    const round = client.workflow.getHandle(workflowIds.round(runId, 0));
    const status = await waitFor(
      'round 0 needs attention',
      async () => {
        const s = await round.query(roundStatusQuery).catch(() => null);
        return s?.needsAttention ? s : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(status.stage).toBe('generate');
    expect(status.failure).toMatch(new RegExp(`${TRAIN - 2} train samples still missing after batch attempt 2 \\(generate.batchAttempts reached\\): ${TRAIN - 2} × batch_expired`));
    const roundId = await roundIdOf(runId);
    expect((await recorded(roundId)).filter((b) => b.purpose === 'train').map((b) => [b.attempt, b.status, b.completed])).toEqual([
      [1, 'expired', 1],
      [2, 'expired', 1],
    ]);
    expect((await modelErrors(roundId)).filter((e) => e.attempt === 2).every((e) => e.final)).toBe(true);

    expireAfter = () => null;
    const run = client.workflow.getHandle(workflowIds.run(runId));
    await waitFor('the run shows it', async () => ((await run.query(statusQuery)).state === 'needs_attention' ? true : undefined));
    await run.executeUpdate(resumeRoundUpdate, { args: [{ note: 'window long enough now' }] });
    expect((await result).state).toBe('completed');
    await expectExactRun(db.db, runId, SHAPE, model.url);
    expect((await recorded(roundId)).filter((b) => b.purpose === 'train').map((b) => [b.attempt, b.requests, b.status])).toEqual([
      [1, TRAIN, 'expired'],
      [2, TRAIN - 1, 'expired'],
      [3, TRAIN - 2, 'completed'],
    ]);
    expect([...runsOf(roundId).values()].every((n) => n === 1)).toBe(true);
  });
});
