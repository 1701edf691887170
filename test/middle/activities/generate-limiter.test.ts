/**
 * generateShard under the endpoint limiter (model.maxConcurrency): shards running at once on one worker share the
 * endpoint's slots, so the server sees at most maxConcurrency requests in all, and a shard fills whatever slots the
 * others leave (its requests interleave with theirs). Real Postgres, a slow fake OpenAI-compatible server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities/index.js';
import { modelLimits } from '../../../config/schema.js';
import { problemsInShard } from '../../../db/problems.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { activityEnvironment, fakeDeps, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
let server: Server;
let baseUrl: string;
let inFlight = 0;
let peak = 0;
/** Prompts in flight whenever a request arrives, to see whether two shards' requests overlapped. */
const overlaps: string[][] = [];
const open = new Set<string>();

beforeAll(async () => {
  db = await testDatabase();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const { n, messages } = JSON.parse(body) as { n: number; messages: Array<{ content: string }> };
      const prompt = messages.at(-1)?.content ?? '';
      peak = Math.max(peak, ++inFlight);
      open.add(prompt);
      overlaps.push([...open]);
      setTimeout(() => {
        inFlight--;
        open.delete(prompt);
        const choices = Array.from({ length: n }, (_, i) => ({ index: i, message: { role: 'assistant', content: `guess ${i}` }, finish_reason: 'stop' }));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'm', choices, usage: { prompt_tokens: 3, completion_tokens: n, total_tokens: 3 + n } }));
      }, 40);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  server?.close();
  await db?.drop();
});

describe('generateShard with model.maxConcurrency', () => {
  it('two shards at once share the endpoint: at most maxConcurrency in flight in all, their requests interleaved', async () => {
    const { runId, config, taskSet } = await storeRun(db.db, {
      task: { kind: 'countdown', seed: 8, train: 16, test: 2 },
      generate: { samplesPerProblem: 2 },
      model: { maxConcurrency: 3 },
    });
    const round = await storeRounds(db.db, runId, 0);
    const deps = fakeDeps(db.db, {
      modelEndpoint: (model) => ({ baseUrl, timeoutMs: 5000, maxRetries: 0, limits: modelLimits(model) }),
    });
    const activities = createActivities(deps);
    const shard = (n: number) => activityEnvironment().run(activities.generateShard, { roundId: round.id, purpose: 'train', shard: n, shards: 2 });
    const results = await Promise.all([shard(0), shard(1)]);
    expect(results.reduce((sum, r) => sum + r.written, 0)).toBe(32);
    expect(config.model.maxConcurrency).toBe(3);
    // Each shard alone would put all 8 of its problems in flight (no generate.concurrency): the limiter holds both
    // shards to 3 together.
    expect(peak).toBe(3);
    // Problems of both shards in flight at the same time: as one shard's last requests run, the other's fill the
    // slots it frees (no tail where a shard waits alone on its last request).
    const prompts = async (n: number) => new Set((await problemsInShard(db.db, taskSet, 'train', n, 2)).map((p) => p.prompt));
    const [first, second] = [await prompts(0), await prompts(1)];
    expect(first.size + second.size).toBe(16);
    expect(overlaps.some((o) => o.some((p) => first.has(p)) && o.some((p) => second.has(p)))).toBe(true);
  });
});
