/** Round bookkeeping activities against a real Postgres: planning, finishing, and configs read back. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities/index.js';
import { getRoundContext, mergeRoundStats, updateRound } from '../../../db/rounds.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { activityEnvironment, fakeDeps, storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase();
});
afterAll(async () => db?.drop());

/** A config as an older version stored it: without the sections added since (they have defaults now). */
const withoutLaterSections = (config: object) => {
  const { rationalize: _r, adaptive: _a, durability: _d, ...older } = config as Record<string, unknown>;
  return older;
};

describe('a run config read back from Postgres', () => {
  it('gets the defaults of sections added after it was stored', async () => {
    const { runId } = await storeRun(db.db, {}, withoutLaterSections);
    const round = await storeRounds(db.db, runId, 0);
    const { config } = await getRoundContext(db.db, round.id);
    expect(config.rationalize.enabled).toBe(false);
    expect(config.durability.heartbeatTimeoutSeconds).toBe(60);
  });

  it('plans a round of such a run', async () => {
    const { runId } = await storeRun(db.db, {}, withoutLaterSections);
    const activities = createActivities(fakeDeps(db.db));
    const plan = await activityEnvironment().run(activities.startRound, { runId, round: 0 });
    expect(plan).toMatchObject({ round: 0, stages: ['evaluate', 'generate', 'verify', 'search'], rationalize: false, model: 'countdown-mlp' });
    expect(plan.durability.activityAttempts).toBe(5);
  });

  it('names the run whose stored config no longer validates', async () => {
    const { runId } = await storeRun(db.db, {}, (c) => ({ ...c, generate: { samplesPerProblem: 'many' } }));
    const activities = createActivities(fakeDeps(db.db));
    await expect(activityEnvironment().run(activities.startRound, { runId, round: 0 })).rejects.toThrow(
      new RegExp(`run ${runId}: its stored config is not valid.*generate\\.samplesPerProblem`),
    );
  });
});

describe('finishRound', () => {
  it('says not promoted when fine-tuning was skipped and the promote stage kept the model', async () => {
    const { runId } = await storeRun(db.db);
    const round = await storeRounds(db.db, runId, 1);
    // What a skipped fine-tune and its promote stage leave: the round's model is its starting model, not promoted.
    await updateRound(db.db, round.id, { model: 'countdown-mlp', sampler: 'countdown-mlp' });
    await mergeRoundStats(db.db, round.id, { promote: { promoted: false, candidate: 'countdown-mlp', current: 'countdown-mlp' } });
    const activities = createActivities(fakeDeps(db.db));
    expect(await activityEnvironment().run(activities.finishRound, { roundId: round.id })).toEqual({ model: 'countdown-mlp', current: 'countdown-mlp', promoted: false });
  });

  it('says promoted when the promote stage promoted, and for round 0 (the base)', async () => {
    const { runId } = await storeRun(db.db);
    const zero = await storeRounds(db.db, runId, 0);
    const activities = createActivities(fakeDeps(db.db));
    expect(await activityEnvironment().run(activities.finishRound, { roundId: zero.id })).toEqual({ model: 'countdown-mlp', current: 'countdown-mlp', promoted: true });
    const one = await storeRounds(db.db, runId, 1);
    await updateRound(db.db, one.id, { model: 'ft:1', sampler: 'ft:1' });
    await mergeRoundStats(db.db, one.id, { promote: { promoted: true } });
    expect(await activityEnvironment().run(activities.finishRound, { roundId: one.id })).toEqual({ model: 'ft:1', current: 'ft:1', promoted: true });
  });

  it('goes on with the incumbent when the candidate was not promoted', async () => {
    const { runId } = await storeRun(db.db);
    const round = await storeRounds(db.db, runId, 1);
    await updateRound(db.db, round.id, { model: 'ft:2', sampler: 'countdown-mlp' });
    await mergeRoundStats(db.db, round.id, { promote: { promoted: false } });
    const activities = createActivities(fakeDeps(db.db));
    expect(await activityEnvironment().run(activities.finishRound, { roundId: round.id })).toEqual({ model: 'ft:2', current: 'countdown-mlp', promoted: false });
  });
});
