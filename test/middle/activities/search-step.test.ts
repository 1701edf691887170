/** Step-level search's secrets: the reward model's key comes from the worker's injected environment. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDefaultDeps } from '../../../activities/deps.js';
import { createActivities } from '../../../activities/index.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { activityEnvironment, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase();
});
afterAll(async () => db?.drop());

const rewardModel = (url: string) => ({ url, apiKeyEnv: 'RM_KEY' });

describe('searchShard with a reward model', () => {
  it('fails clearly, without retries, when the reward model key is not in the worker environment', async () => {
    const { runId } = await storeRun(db.db, {
      verifier: { name: 'math' },
      search: { step: { strategy: 'beam', budget: 4, eval: true, rewardModel: rewardModel('http://127.0.0.1:9/score') } },
    });
    const round = await storeRounds(db.db, runId, 0);
    process.env.RM_KEY = 'from-the-process-not-the-worker';
    try {
      const deps = createDefaultDeps({ db: db.db, embeddedModelUrl: 'http://127.0.0.1:9/v1', env: {} });
      const failure = await activityEnvironment()
        .run(createActivities(deps).searchShard, { roundId: round.id, purpose: 'eval', shard: 0, shards: 1 })
        .catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ nonRetryable: true, type: 'WorkerConfigError' });
      expect((failure as Error).message).toMatch(/search\.step\.rewardModel\.apiKeyEnv names RM_KEY, which is not set/);
    } finally {
      delete process.env.RM_KEY;
    }
  });

  it('sends the key from the injected environment', async () => {
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume();
      req.on('end', () => res.end(JSON.stringify({ score: 0.25 })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/score`;
      const deps = createDefaultDeps({ db: db.db, env: { RM_KEY: 'rm-secret' } });
      const client = deps.rewardModel({ ...rewardModel(url), model: 'rm', format: 'flywheel' });
      expect((await client.score('prompt', ['a completion'])).scores).toEqual([0.25]);
      expect(seen).toEqual(['Bearer rm-secret']);
    } finally {
      server.close();
    }
  });
});
