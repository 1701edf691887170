/**
 * People who inspect with SQL cannot break a run: the migrations' read-only login can read every flywheel table and
 * view and can insert, update, delete, truncate, create and drop nothing; `flywheel sql` uses it unless `--write`.
 * And `flywheel.round_costs` prices each round and stage exactly as lib/cost does, from a run's rows.
 */
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readerUrl, READER_LOGIN } from '../../cli/sql.js';
import { parseRunConfig } from '../../config/load.js';
import { roundCosts, runSpend, stageCosts, usageSoFar } from '../../db/costs.js';
import { getRun, insertRun, runConfig } from '../../db/runs.js';
import { roundActivities } from '../../activities/round.js';
import type { ActivityDeps } from '../../activities/deps.js';
import { estimateStage } from '../../lib/cost/index.js';
import { priceFor, priceTraining, priceUsage } from '../../lib/cost/index.js';
import { runFlywheel } from '../helpers/processes.js';
import { tempDir, testDatabase, type TestDatabase } from '../helpers/services.js';

const RUN = 'costs-run';
const config = parseRunConfig(
  [
    'name: costs',
    'rounds: 1',
    'task: {kind: countdown, train: 2, test: 1}',
    'model: {name: m-base}',
    'costs:',
    '  models:',
    '    m-base: {inputPerMTok: 1.5, outputPerMTok: 6}',
    "    'ft:m-base:*': {inputPerMTok: 3, outputPerMTok: 12}",
    "    'ft:*': {inputPerMTok: 100, outputPerMTok: 100}",
    '  trainer: {perMTrainedTokens: 25}',
    'finetune: {hyperparameters: {nEpochs: 3}}',
    'budget: {maxCost: 100}',
  ].join('\n'),
  'costs.yaml',
  {},
);
const FT = 'ft:m-base:flywheel:abc';

let db: TestDatabase;
let reader: pg.Client;
let home: ReturnType<typeof tempDir>;

const exec = async (query: ReturnType<typeof sql>) => (await db.db.execute(query)).rows as Array<Record<string, unknown>>;

/** Round 0 sampled with the base, round 1 trained on 2 of its traces and sampled with the fine-tune. */
async function seed(): Promise<void> {
  await insertRun(db.db, { id: RUN, config, taskSet: 'costs-set', baseUrl: 'http://model' });
  const [p1, p2, p3] = await exec(sql`
    INSERT INTO flywheel.problems (task_set, external_id, split, position, prompt, reference) VALUES
      ('costs-set', 'a', 'train', 0, 'A', '{}'), ('costs-set', 'b', 'train', 1, 'B', '{}'), ('costs-set', 'c', 'test', 0, 'C', '{}')
    RETURNING id`);
  const [r0, r1] = await exec(sql`
    INSERT INTO flywheel.rounds (run_id, index, model, sampler) VALUES (${RUN}, 0, 'm-base', 'm-base'), (${RUN}, 1, ${FT}, ${FT}) RETURNING id`);
  const trace = (round: unknown, problem: unknown, purpose: string, strategy: string, i: number, model: string, pt: number, ct: number) =>
    sql`(${round}, ${problem}, ${purpose}, ${strategy}, ${i}, ${model}, 'text', ${pt}, ${ct})`;
  const rows = [
    trace(r0!.id, p1!.id, 'train', 'sample', 0, 'm-base', 100, 400),
    trace(r0!.id, p1!.id, 'train', 'sample', 1, 'm-base', 100, 350),
    trace(r0!.id, p2!.id, 'train', 'sample', 0, 'm-base', 120, 500),
    trace(r0!.id, p2!.id, 'train', 'rationalize', 0, 'm-base', 180, 90),
    trace(r0!.id, p3!.id, 'eval', 'greedy', 0, 'm-base', 110, 300),
    trace(r0!.id, p3!.id, 'eval', 'sample', 0, 'm-base', 110, 310),
    trace(r0!.id, p1!.id, 'train', 'mcts', 0, 'm-base', 100, 999), // counted through search_results, not here
    trace(r1!.id, p1!.id, 'train', 'sample', 0, FT, 100, 200),
    trace(r1!.id, p3!.id, 'eval', 'greedy', 0, FT, 110, 150),
  ];
  const traces = await exec(sql`
    INSERT INTO flywheel.traces (round_id, problem_id, purpose, strategy, sample_index, model, text, prompt_tokens, completion_tokens)
    VALUES ${sql.join(rows, sql`, `)} RETURNING id`);
  await exec(sql`
    INSERT INTO flywheel.search_results (round_id, problem_id, purpose, strategy, calls, tokens) VALUES
      (${r0!.id}, ${p1!.id}, 'train', 'mcts', 40, 6000), (${r0!.id}, ${p3!.id}, 'eval', 'mcts', 30, 4000),
      (${r0!.id}, ${p1!.id}, 'train', 'best-of-n', 2, 750)`);
  const [dataset] = await exec(sql`INSERT INTO flywheel.datasets (run_id, round, filter, items, problems) VALUES (${RUN}, 1, '{}', 2, 2) RETURNING id`);
  await exec(sql`INSERT INTO flywheel.dataset_items (dataset_id, trace_id) VALUES (${dataset!.id}, ${traces[0]!.id}), (${dataset!.id}, ${traces[2]!.id})`);
  await exec(sql`
    INSERT INTO flywheel.fine_tunes (run_id, round, backend, status, base_model, result_model, dataset_id, hyperparameters, created_at, updated_at)
    VALUES (${RUN}, 1, 'openai', 'succeeded', 'm-base', ${FT}, ${dataset!.id}, ${JSON.stringify(config.finetune.hyperparameters)}::jsonb,
            now() - interval '90 minutes', now())`);
}

beforeAll(async () => {
  home = tempDir('readonly');
  db = await testDatabase();
  await seed();
  reader = new pg.Client({ connectionString: readerUrl(db.url, {}) });
  await reader.connect();
});

afterAll(async () => {
  await reader?.end();
  await db?.drop();
  home?.remove();
});

const denied = (query: string) => expect(reader.query(query), query).rejects.toMatchObject({ code: '42501' });

describe('the read-only login', () => {
  it('is who the reader connection is, not the owner', async () => {
    const { rows } = await reader.query('SELECT current_user AS who, pg_has_role(current_user, $1, $2) AS reader', ['flywheel_reader', 'MEMBER']);
    expect(rows).toEqual([{ who: READER_LOGIN, reader: true }]);
  });

  it('can query every flywheel view and table', async () => {
    const { rows } = await reader.query(`SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'flywheel' ORDER BY 1`);
    const views = rows.filter((r) => r.table_type === 'VIEW').map((r) => r.table_name);
    expect(views).toEqual(['model_lineage', 'problem_difficulty', 'round_costs', 'round_metrics', 'step_labels', 'training_examples']);
    expect(rows.length).toBeGreaterThan(10);
    for (const r of rows) {
      const res = await reader.query(`SELECT * FROM flywheel.${r.table_name} LIMIT 5`);
      expect(res.fields.length, r.table_name).toBeGreaterThan(0);
    }
    expect((await reader.query(`SELECT count(*)::int AS n FROM flywheel.round_metrics WHERE run_id = '${RUN}'`)).rows).toEqual([{ n: 2 }]);
  });

  it('cannot insert, update, delete, truncate, drop or create, even with read-only transactions switched off', async () => {
    await reader.query('SET default_transaction_read_only = off');
    await denied(`INSERT INTO flywheel.runs (id, name, config, task_set, base_model, current_model, rounds) VALUES ('x', 'x', '{}', 'x', 'x', 'x', 0)`);
    await denied(`UPDATE flywheel.rounds SET status = 'failed'`);
    await denied(`DELETE FROM flywheel.rounds WHERE run_id = '${RUN}'`);
    await denied('DELETE FROM flywheel.traces');
    await denied('TRUNCATE flywheel.verdicts');
    await denied('DROP TABLE flywheel.traces');
    await denied('DROP VIEW flywheel.round_metrics');
    await denied('ALTER TABLE flywheel.runs ADD COLUMN note text');
    await denied('CREATE TABLE flywheel.scratch (id int)');
    await denied('CREATE VIEW flywheel.mine AS SELECT 1');
    const [counts] = await exec(sql`SELECT (SELECT count(*) FROM flywheel.traces)::int AS traces, (SELECT count(*) FROM flywheel.rounds)::int AS rounds`);
    expect(counts).toEqual({ traces: 9, rounds: 2 });
  });

  it('starts in read-only transactions as a second guard', async () => {
    const fresh = new pg.Client({ connectionString: readerUrl(db.url, {}) });
    await fresh.connect();
    try {
      expect((await fresh.query('SHOW default_transaction_read_only')).rows).toEqual([{ default_transaction_read_only: 'on' }]);
    } finally {
      await fresh.end();
    }
  });

  it('reads tables that later migrations add (default privileges), and the role migration runs again unharmed', async () => {
    await exec(sql`CREATE TABLE flywheel.later_table (id int)`);
    await exec(sql`INSERT INTO flywheel.later_table VALUES (1)`);
    expect((await reader.query('SELECT id FROM flywheel.later_table')).rows).toEqual([{ id: 1 }]);
    await denied('INSERT INTO flywheel.later_table VALUES (2)');
    await exec(sql`DROP TABLE flywheel.later_table`);
    const migration = readFileSync(new URL('../../migrations/0003_round_costs_and_reader.sql', import.meta.url), 'utf8');
    for (const statement of migration.split('--> statement-breakpoint')) await db.pool.query(statement);
  });
});

describe('flywheel sql', () => {
  const env = () => ({ FLYWHEEL_HOME: home.dir, DATABASE_URL: db.url, TEMPORAL_ADDRESS: '127.0.0.1:1' });

  it('queries as the read-only login by default, and as the owner with --write', async () => {
    const read = await runFlywheel(['sql', 'SELECT current_user AS who', '--json'], env());
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toEqual([{ who: READER_LOGIN }]);
    const write = await runFlywheel(['sql', 'SELECT current_user AS who', '--json', '--write'], env());
    expect(JSON.parse(write.stdout)).toEqual([{ who: new URL(db.url).username }]);
  }, 60_000);

  it('refuses a DELETE by default, and hands out the read-only connection string', async () => {
    const del = await runFlywheel(['sql', `DELETE FROM flywheel.rounds WHERE run_id = '${RUN}'`], env());
    expect(del.code).not.toBe(0);
    expect(del.stderr).toMatch(/permission denied|read-only transaction/);
    expect((await exec(sql`SELECT count(*)::int AS n FROM flywheel.rounds`))[0]).toEqual({ n: 2 });
    const hint = await runFlywheel(['sql'], env());
    expect(hint.stdout).toContain(`psql "${readerUrl(db.url, {})}"`);
    expect(hint.stdout).toContain(`${READER_LOGIN}@`);
    expect(hint.stdout).toContain('options=-c%20default_transaction_read_only%3Don');
  }, 60_000);
});

describe('flywheel.round_costs', () => {
  const price = (model: string) => priceFor(config.costs.models, model)!;

  it('prices each round and stage as tokens × the config prices', async () => {
    const stages = await stageCosts(db.db, RUN);
    const at = (round: number, stage: string) => stages.find((s) => s.round === round && s.stage === stage);
    expect(stages.map((s) => `${s.round}:${s.stage}`)).toEqual(['0:evaluate', '0:generate', '0:rationalize', '0:search', '1:evaluate', '1:fine-tune', '1:generate']);

    expect(at(0, 'generate')).toMatchObject({ model: 'm-base', samples: 3, inputTokens: 320, outputTokens: 1250, tokens: 1570 });
    expect(at(0, 'generate')!.cost).toBeCloseTo(priceUsage(price('m-base'), { inputTokens: 320, outputTokens: 1250 }), 12);
    expect(at(0, 'rationalize')).toMatchObject({ samples: 1, inputTokens: 180, outputTokens: 90 });
    expect(at(0, 'evaluate')).toMatchObject({ samples: 2, inputTokens: 220, outputTokens: 610 });
    // Step-level search: every call's completion tokens; best-of-n ranks traces already counted.
    expect(at(0, 'search')).toMatchObject({ model: 'm-base', samples: 70, inputTokens: 0, outputTokens: 10_000 });
    expect(at(0, 'search')!.cost).toBeCloseTo(priceUsage(price('m-base'), { inputTokens: 0, outputTokens: 10_000 }), 12);
    // The fine-tune's tokens are priced by its `ft:m-base:*` key, the longest prefix (not `ft:*`).
    expect(at(1, 'generate')).toMatchObject({ model: FT, inputTokens: 100, outputTokens: 200 });
    expect(at(1, 'generate')!.cost).toBeCloseTo(priceUsage(price(FT), { inputTokens: 100, outputTokens: 200 }), 12);
    expect(price(FT)).toEqual({ inputPerMTok: 3, outputPerMTok: 12 });
    // Trained tokens: the training set's tokens (500 + 620) × 3 epochs.
    expect(at(1, 'fine-tune')).toMatchObject({ trainedTokens: 3360, tokens: 0 });
    expect(at(1, 'fine-tune')!.hours).toBeCloseTo(1.5, 3);
    expect(at(1, 'fine-tune')!.cost).toBeCloseTo(priceTraining(config.costs.trainer, { trainedTokens: 3360, hours: 1.5 })!, 12);
  });

  it('sums per round and per run, and gives the means an estimate starts from', async () => {
    const stages = await stageCosts(db.db, RUN);
    const rounds = await roundCosts(db.db, RUN);
    for (const r of rounds) {
      const mine = stages.filter((s) => s.round === r.round);
      expect(r.tokens).toBe(mine.reduce((sum, s) => sum + s.tokens, 0));
      expect(r.cost).toBeCloseTo(mine.reduce((sum, s) => sum + s.cost!, 0), 12);
      expect(r.unpriced).toEqual([]);
    }
    const spend = await runSpend(db.db, RUN);
    expect(spend.tokens).toBe(1570 + 270 + 830 + 10_000 + 300 + 260);
    expect(spend.cost).toBeCloseTo(rounds.reduce((sum, r) => sum + r.cost!, 0), 12);
    expect(await usageSoFar(db.db, RUN, 'generate')).toEqual({ samples: 4, inputTokens: 420, outputTokens: 1450 });
  });

  it('leaves a model without a price unpriced (cost NULL), not free', async () => {
    await exec(sql`UPDATE flywheel.runs SET config = jsonb_set(config, '{costs,models}', '{"m-base": {"inputPerMTok": 1, "outputPerMTok": 1}}') WHERE id = ${RUN}`);
    try {
      const rounds = await roundCosts(db.db, RUN);
      expect(rounds.find((r) => r.round === 1)!.unpriced).toEqual(['evaluate', 'generate']);
      expect((await stageCosts(db.db, RUN)).find((s) => s.round === 1 && s.stage === 'generate')!.cost).toBeNull();
    } finally {
      await exec(sql`UPDATE flywheel.runs SET config = ${JSON.stringify(config)}::jsonb WHERE id = ${RUN}`);
    }
  });
});

describe('the budget check before a stage (checkStageBudget, raiseBudget)', () => {
  const activities = () => roundActivities({ db: db.db, log: () => {} } as unknown as ActivityDeps);

  it('adds the stage estimate to the spend from the view, stops past maxTokens, and stores a raised limit on the run', async () => {
    const a = activities();
    const spend = await runSpend(db.db, RUN);
    // generate of round 2: 10 planned samples × the run's tokens per generate sample so far (4 samples, 420 in, 1450 out).
    const expected = estimateStage({ plannedSamples: 10, soFar: { samples: 4, inputTokens: 420, outputTokens: 1450 }, maxCompletionTokens: 512, price: priceFor(config.costs.models, 'm-base') });
    const fits = await a.checkStageBudget({ runId: RUN, round: 2, stage: 'generate', planned: 10 });
    expect(fits).toMatchObject({ fits: true, budget: { maxCost: 100 }, spend, stageEstimate: { tokens: expected.tokens, basis: 'history' } });
    expect(fits.stageEstimate.cost).toBeCloseTo(expected.cost!, 12);
    try {
      await a.raiseBudget({ runId: RUN, maxTokens: spend.tokens + expected.tokens - 1 });
      const over = await a.checkStageBudget({ runId: RUN, round: 2, stage: 'generate', planned: 10 });
      expect(over).toMatchObject({ fits: false, limit: 'maxTokens', max: spend.tokens + expected.tokens - 1, spent: spend.tokens, estimate: expected.tokens });
      // Stages that call no model add nothing.
      expect(await a.checkStageBudget({ runId: RUN, round: 2, stage: 'verify', planned: 10 })).toMatchObject({ fits: true, stageEstimate: { tokens: 0 } });

      expect(await a.raiseBudget({ runId: RUN, maxTokens: spend.tokens + expected.tokens })).toEqual({ maxCost: 100, maxTokens: spend.tokens + expected.tokens });
      expect(runConfig(await getRun(db.db, RUN)).budget).toEqual({ maxCost: 100, maxTokens: spend.tokens + expected.tokens });
      expect(await a.checkStageBudget({ runId: RUN, round: 2, stage: 'generate', planned: 10 })).toMatchObject({ fits: true });
      // The view prices from the same stored config: raising the budget changes no cost.
      expect(await runSpend(db.db, RUN)).toEqual(spend);
    } finally {
      await exec(sql`UPDATE flywheel.runs SET config = ${JSON.stringify(config)}::jsonb WHERE id = ${RUN}`);
    }
  });
});
