/**
 * The deploy activity against a real Postgres and two embedded model servers with vLLM's runtime LoRA routes on:
 * what it keeps and unloads, what `models.served_at` says afterwards, and the rounds it has nothing to deploy in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities/index.js';
import { getRoundContext, updateRound } from '../../../db/rounds.js';
import { promoteModel, upsertModel } from '../../../db/runs.js';
import { models } from '../../../db/schema.js';
import { createDeployer } from '../../../lib/deploy/index.js';
import { writeCheckpoint } from '../../../localmodel/checkpoint.js';
import { createBasePolicy } from '../../../localmodel/policy.js';
import { startLocalModelServer, type LocalModelServer } from '../../../localmodel/server.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { activityEnvironment, fakeDeps, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
let a: LocalModelServer;
let b: LocalModelServer;
const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-deploy-activity-'));

beforeAll(async () => {
  [db, a, b] = await Promise.all([
    testDatabase(),
    startLocalModelServer({ dataDir: path.join(dir, 'a'), port: 0, runtimeLora: true }),
    startLocalModelServer({ dataDir: path.join(dir, 'b'), port: 0, runtimeLora: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const listed = async (url: string) => ((await (await fetch(`${url}/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
const servedAt = async (runId: string, name: string) =>
  (await db.db.select({ servedAt: models.servedAt }).from(models).where(and(eq(models.runId, runId), eq(models.name, name))))[0]?.servedAt;

/** A run whose rounds 1..3 each trained a checkpoint (round n's model `flywheel-<run>-r<n>`). */
async function trainedRun(keepAdapters: number) {
  const { runId } = await storeRun(db.db, { deploy: { kind: 'vllm-lora', keepAdapters, timeoutSeconds: 10 } });
  const last = await storeRounds(db.db, runId, 3);
  const names: string[] = [];
  for (const round of [1, 2, 3]) {
    const name = `flywheel-${runId}-r${round}`;
    const checkpointPath = path.join(dir, runId, `r${round}`);
    writeCheckpoint(checkpointPath, createBasePolicy());
    await upsertModel(db.db, { runId, round, name, baseUrl: a.url, parentName: 'countdown-mlp', datasetId: 0, fineTuneId: 0, kind: 'adapter', checkpointPath });
    names.push(name);
  }
  return { runId, names, roundId: last.id };
}

describe('deployModel', () => {
  it('loads each round\'s checkpoint on every replica, keeps the current model and keepAdapters more, unloads the rest', async () => {
    const { runId, names, roundId } = await trainedRun(0);
    const [r1, r2, r3] = names as [string, string, string];
    const deps = fakeDeps(db.db, { deployer: (config) => createDeployer({ kind: 'vllm-lora', replicas: [a.url, b.url], timeoutMs: config.deploy.timeoutSeconds * 1000 }) });
    const activities = createActivities(deps);
    const deployRound = async (round: number, id: number) => {
      await updateRound(db.db, id, { model: names[round - 1]! });
      return activityEnvironment().run(activities.deployModel, { roundId: id });
    };
    // Rounds 1 and 2 deployed while r1 is current; then round 3 with r2 current.
    const ids = [roundId - 2, roundId - 1, roundId];
    expect(await deployRound(1, ids[0]!)).toEqual({ model: r1, servedAs: [r1], replicas: [a.url, b.url], skipped: false });
    await promoteModel(db.db, runId, r1);
    await deployRound(2, ids[1]!);
    expect(await listed(a.url)).toEqual(expect.arrayContaining([r1, r2]));
    await promoteModel(db.db, runId, r2);
    await deployRound(3, ids[2]!);
    for (const url of [a.url, b.url]) {
      const ids = await listed(url);
      expect(ids).toEqual(expect.arrayContaining([r2, r3]));
      expect(ids).not.toContain(r1); // neither current nor candidate
    }
    expect(await servedAt(runId, r1)).toEqual([]);
    expect(await servedAt(runId, r2)).toEqual([a.url, b.url]);
    expect(await servedAt(runId, r3)).toEqual([a.url, b.url]);
    expect((await getRoundContext(db.db, ids[2]!)).round.stats).toMatchObject({
      deploy: { kind: 'vllm-lora', model: r3, replicas: [a.url, b.url], unloaded: [{ name: r1, replica: a.url }, { name: r1, replica: b.url }] },
    });
    // A retried attempt finds it loaded and changes nothing.
    expect(await deployRound(3, ids[2]!)).toMatchObject({ model: r3, skipped: false });
    expect(await servedAt(runId, r3)).toEqual([a.url, b.url]);
  });

  it('keepAdapters keeps this run\'s newest earlier adapters loaded', async () => {
    const { runId, names, roundId } = await trainedRun(1);
    const activities = createActivities(fakeDeps(db.db, { deployer: () => createDeployer({ kind: 'vllm-lora', replicas: [a.url], timeoutMs: 10_000 }) }));
    for (const [i, id] of [roundId - 2, roundId - 1, roundId].entries()) {
      await updateRound(db.db, id, { model: names[i]! });
      await activityEnvironment().run(activities.deployModel, { roundId: id });
    }
    // The current model is still the base: r3 the candidate, r2 kept (keepAdapters 1), r1 unloaded.
    const ids = await listed(a.url);
    expect(ids).toEqual(expect.arrayContaining([names[1], names[2]]));
    expect(ids).not.toContain(names[0]);
    expect(await servedAt(runId, names[0]!)).toEqual([]);
  });

  it('a round that trained nothing keeps its starting model: nothing to deploy', async () => {
    const { runId } = await storeRun(db.db, { deploy: { kind: 'vllm-lora' } });
    const round = await storeRounds(db.db, runId, 1);
    await updateRound(db.db, round.id, { model: 'countdown-mlp' });
    const activities = createActivities(fakeDeps(db.db, { deployer: () => createDeployer({ kind: 'vllm-lora', replicas: ['http://127.0.0.1:9/v1'] }) }));
    expect(await activityEnvironment().run(activities.deployModel, { roundId: round.id })).toEqual({ model: 'countdown-mlp', replicas: [], skipped: true });
    expect((await getRoundContext(db.db, round.id)).round.stats).toMatchObject({ deploy: { skipped: 'no new checkpoint in this round' } });
  });

  it('a refused adapter fails naming the replica and its answer, and says the current model is still served', async () => {
    const { runId } = await storeRun(db.db, { deploy: { kind: 'vllm-lora' } });
    const round = await storeRounds(db.db, runId, 1);
    const name = `flywheel-${runId}-r1`;
    await upsertModel(db.db, { runId, round: 1, name, baseUrl: a.url, parentName: 'countdown-mlp', datasetId: 0, fineTuneId: 0, kind: 'adapter', checkpointPath: path.join(dir, 'missing') });
    await updateRound(db.db, round.id, { model: name });
    const activities = createActivities(fakeDeps(db.db, { deployer: () => createDeployer({ kind: 'vllm-lora', replicas: [a.url], timeoutMs: 5_000 }) }));
    const failure = await activityEnvironment()
      .run(activities.deployModel, { roundId: round.id })
      .catch((err: unknown) => err);
    expect((failure as Error).message).toMatch(new RegExp(`${a.url}: it refused the adapter \\(404\\): .*No adapter found.*The current model countdown-mlp is still served`));
    expect(await servedAt(runId, name)).toEqual([]);
    expect(await listed(a.url)).toContain('countdown-mlp');
  });
});
