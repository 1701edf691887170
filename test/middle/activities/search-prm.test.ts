/**
 * Step search valued by a learned PRM: the embedded server serves a value head trained on solver-labelled steps,
 * and a search shard with `search.step.value: prm` (MCTS) or beam asks it, counting every request in
 * `search_results.scorer_calls`, exactly as many as the server answered; best-of-N ranks held-out traces with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDefaultDeps } from '../../../activities/deps.js';
import { createActivities } from '../../../activities/index.js';
import { createRewardModelClient } from '../../../lib/search/reward-model.js';
import { generateCountdown } from '../../../lib/tasks/countdown.js';
import { writeValueCheckpoint } from '../../../localmodel/checkpoint.js';
import { startLocalModelServer, type LocalModelServer } from '../../../localmodel/server.js';
import { parseStepwiseJsonl } from '../../../localmodel/stepwise.js';
import { DEFAULT_VALUE_TRAIN, trainValue } from '../../../localmodel/value.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { randomLabelledTraces, stepwiseJsonl } from '../../helpers/step-labels.js';
import { activityEnvironment, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
let server: LocalModelServer;
const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-search-prm-'));
const log: string[] = [];

beforeAll(async () => {
  db = await testDatabase();
  server = await startLocalModelServer({ dataDir: path.join(dir, 'data'), runtimeLora: true, log: (l) => log.push(l) });
  const problems = generateCountdown({ seed: 5, train: 80, test: 0 });
  const { value } = trainValue(parseStepwiseJsonl(stepwiseJsonl(randomLabelledTraces(problems, 4, 2))).examples, { ...DEFAULT_VALUE_TRAIN, seed: 1 });
  writeValueCheckpoint(path.join(dir, 'prm'), value, null);
  const res = await fetch(`${server.url}/load_lora_adapter`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ lora_name: 'prm-r1', lora_path: path.join(dir, 'prm') }),
  });
  expect(res.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await server?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const rewardLines = () => log.filter((l) => /^POST \/v1\/reward 200/.test(l)).length;

describe('searchShard with search.step.value: prm', () => {
  for (const strategy of ['mcts', 'beam'] as const) {
    it(`${strategy}: asks the served PRM and records every request as a scorer call`, async () => {
      const { runId } = await storeRun(db.db, {
        search: { step: { strategy, budget: 12, eval: true, value: 'prm', prm: { url: `${server.url}/reward`, model: 'prm-r1' } } },
      });
      const round = await storeRounds(db.db, runId, 0);
      const before = rewardLines();
      const deps = createDefaultDeps({ db: db.db, embeddedModelUrl: server.url, env: {} });
      const result = await activityEnvironment().run(createActivities(deps).searchShard, { roundId: round.id, purpose: 'eval', shard: 0, shards: 1 });
      expect(result.written).toBe(4);
      const rows = (await db.db.execute(sql`SELECT calls, scorer_calls FROM flywheel.search_results WHERE round_id = ${round.id}`)).rows as Array<{ calls: number; scorer_calls: number }>;
      expect(rows).toHaveLength(4);
      const scorerCalls = rows.reduce((n, r) => n + Number(r.scorer_calls), 0);
      expect(scorerCalls).toBeGreaterThan(0);
      expect(rows.every((r) => Number(r.calls) <= 12)).toBe(true);
      // The server logs a request once answered: all are in by the time the activity returned.
      expect(rewardLines() - before).toBe(scorerCalls);
    });
  }

  it('best-of-n: ranks held-out traces by the PRM’s scores (not self-consistency) and counts every PRM request', async () => {
    const { runId } = await storeRun(db.db, {
      search: { step: { strategy: 'best-of-n', budget: 8, eval: true, verifyAtEval: false, value: 'prm', prm: { url: `${server.url}/reward`, model: 'prm-r1' } } },
    });
    const round = await storeRounds(db.db, runId, 0);
    const before = rewardLines();
    const deps = createDefaultDeps({ db: db.db, embeddedModelUrl: server.url, env: {} });
    const result = await activityEnvironment().run(createActivities(deps).searchShard, { roundId: round.id, purpose: 'eval', shard: 0, shards: 1 });
    expect(result.written).toBe(4);
    const rows = (await db.db.execute(sql`SELECT calls, scorer_calls FROM flywheel.search_results WHERE round_id = ${round.id}`)).rows as Array<{ calls: number; scorer_calls: number }>;
    expect(rows).toHaveLength(4);
    const scorerCalls = rows.reduce((n, r) => n + Number(r.scorer_calls), 0);
    expect(rows.every((r) => Number(r.scorer_calls) > 0)).toBe(true);
    expect(rewardLines() - before).toBe(scorerCalls);
    // Each chosen trace carries the PRM's score of its text, and says it was ranked by the reward model.
    const chosen = (
      await db.db.execute(sql`SELECT p.prompt, t.text, t.score, t.flags FROM flywheel.traces t JOIN flywheel.problems p ON p.id = t.problem_id
        WHERE t.round_id = ${round.id} AND t.strategy = 'best-of-n' ORDER BY t.problem_id`)
    ).rows as Array<{ prompt: string; text: string; score: number; flags: { search?: { chosen?: boolean; scorer?: string } } }>;
    expect(chosen).toHaveLength(4);
    const prm = createRewardModelClient({ url: `${server.url}/reward`, model: 'prm-r1', format: 'flywheel' });
    for (const c of chosen) {
      expect(c.flags.search).toMatchObject({ chosen: true, scorer: 'reward-model' });
      const { scores } = await prm.score(c.prompt, [c.text]);
      expect(Number(c.score)).toBeCloseTo(scores[0]!, 4);
    }
  });
});
