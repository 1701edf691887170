/**
 * The report's PRM rows against a real Postgres: what db/report.ts reads of the rounds that trained a PRM, and that a
 * database migrated before the second learner existed reads as a run without PRMs (and its report still renders).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportHtml } from '../../../cli/report-page.js';
import { problemIds } from '../../../db/problems.js';
import { prmRounds, trainerJobs } from '../../../db/report.js';
import { storePrmRound } from '../../helpers/prm-rows.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await testDatabase();
});
afterAll(async () => db?.drop());

const gate = {
  baseModel: 'base',
  heldOut: { accuracy: 0.75, balancedAccuracy: 0.625, auc: 0.7, steps: 16, positives: 4 },
  incumbent: null,
  scorerCalls: 16,
  promoted: true,
  reason: 'the run has no measured PRM yet',
};

describe('the PRM rows of the report', () => {
  it('one row per round that trained a PRM: labels by searched round, examples, job, gate and the searches\' PRM requests', async () => {
    const { runId, taskSet } = await storeRun(db.db);
    await storeRounds(db.db, runId, 2);
    const [problem] = await problemIds(db.db, taskSet, 'train');
    // Two search results in round 1, none in round 2.
    await db.db.execute(sql`
      INSERT INTO flywheel.search_results (round_id, problem_id, purpose, strategy)
      SELECT r.id, ${problem}, p.purpose, 'mcts' FROM flywheel.rounds r, (VALUES ('train'), ('eval')) p(purpose)
      WHERE r.run_id = ${runId} AND r.index = 1`);
    await db.db.execute(sql`
      INSERT INTO flywheel.fine_tunes (run_id, round, backend, external_job_id, status, base_model, hyperparameters)
      VALUES (${runId}, 1, 'openai', 'ftjob-policy-1', 'succeeded', 'base', '{}'::jsonb)`);
    await storePrmRound(db.db, { runId, round: 1, problemId: problem!, labels: { 0: 6 }, examples: 4, job: { id: 'ftjob-prm-1', status: 'succeeded' }, model: { name: 'prm-1', parent: 'base' }, gate, scorerCallsPerResult: 7 });
    await storePrmRound(db.db, { runId, round: 2, problemId: problem!, labels: { 0: 3, 1: 5 }, examples: 6, job: { id: 'ftjob-prm-2', status: 'running' } });

    expect(await prmRounds(db.db, runId)).toEqual([
      {
        round: 1,
        model: 'prm-1',
        jobStatus: 'succeeded',
        externalJobId: 'ftjob-prm-1',
        stepLabelsByRound: { '0': 6 },
        examples: 4,
        gate: { heldOut: gate.heldOut, incumbent: null, promoted: true, reason: gate.reason, scorerCalls: 16 },
        searchScorerCalls: 14,
      },
      // The job still runs: no model yet (so no lineage), no gate, and the round searched nothing.
      { round: 2, model: null, jobStatus: 'running', externalJobId: 'ftjob-prm-2', stepLabelsByRound: null, examples: 6, gate: null, searchScorerCalls: 0 },
    ]);
    // The PRM's jobs are not the round's (policy) trainer jobs.
    expect((await trainerJobs(db.db, runId)).map((j) => j.externalJobId)).toEqual(['ftjob-policy-1']);

    const html = await reportHtml(db.db, runId);
    expect(html).toContain('Process reward model');
    expect(html).toContain('<td>6 (round 0: 6)</td>');
  });

  it('a run that trained no PRM has no rows and no section', async () => {
    const { runId } = await storeRun(db.db);
    await storeRounds(db.db, runId, 1);
    expect(await prmRounds(db.db, runId)).toEqual([]);
    expect(await reportHtml(db.db, runId)).not.toContain('Process reward model');
  });

  for (const migratedUpTo of ['0005_batches', '0006_search-steps']) {
    it(`reads a database migrated up to ${migratedUpTo} (before fine_tunes.learner) as a run without PRMs`, async () => {
      const old = await testDatabase({ migratedUpTo });
      try {
        // Stored as the older code stored it: models and fine_tunes without a learner column.
        const runId = `old-${migratedUpTo}`;
        await old.db.execute(sql`
          INSERT INTO flywheel.runs (id, name, config, task_set, base_model, current_model, rounds)
          VALUES (${runId}, 'old', '{"name": "old"}'::jsonb, 'countdown', 'base', 'ft-1', 2)`);
        await old.db.execute(sql`
          INSERT INTO flywheel.models (run_id, round, name, provider, base_url, promoted)
          VALUES (${runId}, 0, 'base', 'openai', 'http://model.invalid/v1', true), (${runId}, 1, 'ft-1', 'openai', 'http://model.invalid/v1', true)`);
        await storeRounds(old.db, runId, 1);
        await old.db.execute(sql`
          INSERT INTO flywheel.fine_tunes (run_id, round, backend, external_job_id, status, base_model, hyperparameters)
          VALUES (${runId}, 1, 'openai', 'ftjob-old', 'succeeded', 'base', '{}'::jsonb)`);
        expect(await prmRounds(old.db, runId)).toEqual([]);
        expect((await trainerJobs(old.db, runId)).map((j) => j.externalJobId)).toEqual(['ftjob-old']);
        const html = await reportHtml(old.db, runId);
        expect(html).toContain(`flywheel run ${runId}`);
        expect(html).not.toContain('Process reward model');
      } finally {
        await old.drop();
      }
    });
  }
});
