/**
 * generateShard and verifyShard against a real Postgres and a fake OpenAI-compatible server (a few lines of HTTP):
 * a retried shard requests only the missing samples, a malformed response is recorded against its samples, and the
 * verify stage gives every trace one verdict.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities/index.js';
import { modelErrors, traces, verdicts } from '../../../db/schema.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { activityEnvironment, fakeDeps, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
let server: Server;
let baseUrl: string;
/** How the fake server answers: `ok` n choices, `malformed` too few, `refuse` 401. */
let mode: 'ok' | 'malformed' | 'refuse' = 'ok';
const requested: number[] = [];

beforeAll(async () => {
  db = await testDatabase();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const { n } = JSON.parse(body) as { n: number };
      requested.push(n);
      res.setHeader('content-type', 'application/json');
      if (mode === 'refuse') {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: { message: 'bad key' } }));
        return;
      }
      const count = mode === 'malformed' ? n - 1 : n;
      const choices = Array.from({ length: count }, (_, i) => ({ index: i, message: { role: 'assistant', content: `no idea ${i}` }, finish_reason: 'stop' }));
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'm', choices, usage: { prompt_tokens: 3, completion_tokens: 2 * count, total_tokens: 3 + 2 * count } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  server?.close();
  await db?.drop();
});

const deps = () => fakeDeps(db.db, { modelEndpoint: () => ({ baseUrl, apiKey: undefined, timeoutMs: 5000, maxRetries: 0 }) });
const shard = (roundId: number) => ({ roundId, purpose: 'train' as const, shard: 0, shards: 1 });

describe('generateShard', () => {
  it('samples every train problem, and a retried shard requests only what is missing', async () => {
    mode = 'ok';
    const { runId } = await storeRun(db.db, { task: { kind: 'countdown', seed: 4, train: 3, test: 2 }, generate: { samplesPerProblem: 4 } });
    const round = await storeRounds(db.db, runId, 0);
    const activities = createActivities(deps());
    requested.length = 0;
    expect(await activityEnvironment().run(activities.generateShard, shard(round.id))).toEqual({ written: 12, skipped: 0, errors: 0 });
    expect(requested).toEqual([4, 4, 4]);
    // As if an attempt died after storing some samples: two of one problem's samples are gone.
    const stored = await db.db.select().from(traces).where(eq(traces.roundId, round.id));
    const lost = stored.filter((t) => t.problemId === stored[0]?.problemId && t.sampleIndex >= 2).map((t) => t.id);
    for (const id of lost) await db.db.delete(traces).where(eq(traces.id, id));
    requested.length = 0;
    expect(await activityEnvironment().run(activities.generateShard, shard(round.id))).toEqual({ written: 2, skipped: 10, errors: 0 });
    expect(requested).toEqual([2]);
  });

  it('records a malformed response against its samples and as a final model error', async () => {
    mode = 'malformed';
    const { runId } = await storeRun(db.db, { task: { kind: 'countdown', seed: 5, train: 1, test: 1 }, generate: { samplesPerProblem: 3 } });
    const round = await storeRounds(db.db, runId, 0);
    expect(await activityEnvironment().run(createActivities(deps()).generateShard, shard(round.id))).toEqual({ written: 3, skipped: 0, errors: 3 });
    const rows = await db.db.select().from(traces).where(eq(traces.roundId, round.id));
    expect(rows.map((r) => r.error)).toEqual(Array(3).fill('malformed response: asked for 3 choices, the response has 2'));
    expect(await db.db.select().from(modelErrors).where(eq(modelErrors.roundId, round.id))).toMatchObject([{ final: true, attempt: 1 }]);
  });

  it('a refusal (401) is not retried: the round waits for a person', async () => {
    mode = 'refuse';
    const { runId } = await storeRun(db.db, { task: { kind: 'countdown', seed: 6, train: 1, test: 1 } });
    const round = await storeRounds(db.db, runId, 0);
    const failure = await activityEnvironment().run(createActivities(deps()).generateShard, shard(round.id)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ nonRetryable: true, type: 'ModelRequestRefused' });
  });
});

describe('verifyShard', () => {
  it('gives each trace one verdict, an error trace a failing one, and none twice', async () => {
    mode = 'malformed';
    const { runId } = await storeRun(db.db, { task: { kind: 'countdown', seed: 7, train: 2, test: 1 }, generate: { samplesPerProblem: 2 } });
    const round = await storeRounds(db.db, runId, 0);
    const activities = createActivities(deps());
    await activityEnvironment().run(activities.generateShard, shard(round.id));
    expect(await activityEnvironment().run(activities.verifyShard, shard(round.id))).toEqual({ written: 4, skipped: 0, errors: 4 });
    const rows = await db.db.select({ correct: verdicts.correct, detail: verdicts.detail }).from(verdicts).innerJoin(traces, eq(traces.id, verdicts.traceId)).where(eq(traces.roundId, round.id));
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => !r.correct && r.detail.startsWith('no answer: malformed response'))).toBe(true);
    expect(await activityEnvironment().run(activities.verifyShard, shard(round.id))).toEqual({ written: 0, skipped: 0, errors: 0 });
  });
});
