/**
 * The round's second learner against a real Postgres and the embedded server: step labels in `search_steps`, the
 * filter stage's PRM dataset, a `method: prm` job, the model recorded as learner `prm` with its lineage, measured
 * on held-out step labels and promoted by its gate; a retried activity submits nothing twice.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDefaultDeps } from '../../../activities/deps.js';
import { createActivities } from '../../../activities/index.js';
import { getFineTune } from '../../../db/fine-tunes.js';
import { buildPrmDataset } from '../../../db/prm-dataset.js';
import { currentPrm } from '../../../db/runs.js';
import { insertSearchSteps } from '../../../db/search-steps.js';
import type { StepStat } from '../../../lib/search/step-stats.js';
import { parsePrompt } from '../../../lib/tasks/countdown.js';
import { startLocalModelServer, type LocalModelServer } from '../../../localmodel/server.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { randomLabelledTraces } from '../../helpers/step-labels.js';
import { activityEnvironment, failingOnceTrainer, fakeDeps, storeRounds, storeRun } from '../fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
let db: TestDatabase;
let server: LocalModelServer;
const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-ft-prm-'));

beforeAll(async () => {
  db = await testDatabase();
  server = await startLocalModelServer({ dataDir: path.join(dir, 'data'), runtimeLora: true });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A search's step labels for random traces of a problem, labelled exactly (can the target still be reached). */
function stepStats(prompt: string, traces: number, seed: number): StepStat[] {
  const problem = parsePrompt(prompt)!;
  return randomLabelledTraces([problem], traces, seed).flatMap((line) =>
    line.completions.map((step, i): StepStat => {
      const good = line.labels[i]!;
      return {
        prefix: line.completions.slice(0, i).map((l) => `${l}\n`).join(''),
        step,
        depth: i + 1,
        visits: 4,
        rollouts: 4,
        verifiedRollouts: good ? 4 : 0,
        value: good ? 1 : 0,
        verdict: null,
      };
    }),
  );
}

/** Round 0's search steps for every problem of the run (train and eval), as step-level search stores them. */
async function seedStepLabels(runId: string) {
  const round0 = (await db.db.execute(sql`SELECT id FROM flywheel.rounds WHERE run_id = ${runId} AND index = 0`)).rows[0] as { id: number };
  const problems = (await db.db.execute(sql`SELECT p.id, p.prompt, p.split FROM flywheel.problems p JOIN flywheel.runs r ON r.task_set = p.task_set WHERE r.id = ${runId}`))
    .rows as Array<{ id: number; prompt: string; split: string }>;
  for (const p of problems) {
    const purpose = p.split === 'train' ? 'train' : 'eval';
    const at = { roundId: Number(round0.id), problemId: Number(p.id), purpose, strategy: 'mcts', source: 'mcts' };
    await insertSearchSteps(db.db, at, stepStats(p.prompt, 3, Number(p.id)));
  }
}

describe('fineTunePrm', () => {
  it('trains, records, measures and promotes the round’s PRM; a retry reattaches to the same job', async () => {
    const { runId } = await storeRun(db.db, {
      task: { kind: 'countdown', seed: 3, train: 40, test: 12 },
      finetune: { pollIntervalMs: 100, prm: { enabled: true, hyperparameters: { nEpochs: 10 } } },
    });
    const round1 = await storeRounds(db.db, runId, 1);
    await seedStepLabels(runId);
    const built = await buildPrmDataset(db.db, round1.id);
    expect(built.positives).toBeGreaterThan(10);
    expect(built.negatives).toBeGreaterThan(10);

    const deps = createDefaultDeps({ db: db.db, embeddedModelUrl: server.url, env: {} });
    const activities = createActivities(deps);
    const result = await activityEnvironment().run(activities.fineTunePrm, { roundId: round1.id });
    expect(result).toMatchObject({ promoted: true, skipped: false });
    expect(result.model).toMatch(/^ft:countdown-mlp:prm:/);
    expect(await currentPrm(db.db, runId)).toEqual({ name: result.model, round: 1 });

    const model = (await db.db.execute(sql`SELECT learner, parent_name, dataset_id::int AS dataset_id, promoted FROM flywheel.models WHERE run_id = ${runId} AND name = ${result.model}`)).rows[0];
    expect(model).toEqual({ learner: 'prm', parent_name: 'countdown-mlp', dataset_id: built.datasetId, promoted: true });
    const jobs = (await db.db.execute(sql`SELECT learner, status, external_job_id FROM flywheel.fine_tunes WHERE run_id = ${runId}`)).rows;
    expect(jobs).toEqual([{ learner: 'prm', status: 'succeeded', external_job_id: result.jobId }]);
    const stats = ((await db.db.execute(sql`SELECT stats FROM flywheel.rounds WHERE id = ${round1.id}`)).rows[0] as { stats: { prm: Record<string, unknown> } }).stats.prm;
    expect(stats).toMatchObject({ model: result.model, promoted: true, incumbent: null, datasetId: built.datasetId });
    const heldOut = stats.heldOut as { auc: number; accuracy: number; steps: number };
    expect(heldOut.steps).toBeGreaterThan(10);
    expect(heldOut.auc).toBeGreaterThan(0.7);

    // The job is served as a PRM with method prm, and a retried activity finds it instead of submitting another.
    const openai = new OpenAI({ baseURL: server.url, apiKey: 'unused' });
    const again = await activityEnvironment().run(activities.fineTunePrm, { roundId: round1.id });
    expect(again.jobId).toBe(result.jobId);
    const listed = await openai.fineTuning.jobs.list({ limit: 100, metadata: { flywheel_run: runId } });
    expect(listed.data).toHaveLength(1);
    expect(listed.data[0]!.method?.type).toBe('prm');
    expect(listed.data[0]!.metadata).toMatchObject({ flywheel_learner: 'prm', flywheel_round: '1' });
  });

  it('backend command: runs `flywheel train-prm` on the stepwise JSONL as a local job under prm/, deploys and records its checkpoint; a retry reattaches', async () => {
    const workdir = path.join(dir, 'work');
    const command = `${ROOT}/node_modules/.bin/tsx ${ROOT}/cli/main.ts train-prm --data {dataset} --output {outputDir} --init {fromCheckpoint} --epochs {epochs} --seed {seed}`;
    const { runId } = await storeRun(db.db, {
      task: { kind: 'countdown', seed: 3, train: 40, test: 12 },
      finetune: { pollIntervalMs: 200, workdir, launcher: { kind: 'local' }, prm: { enabled: true, backend: 'command', command, hyperparameters: { nEpochs: 10 } } },
      deploy: { kind: 'vllm-lora', replicas: [server.url], timeoutSeconds: 30 },
    });
    const round1 = await storeRounds(db.db, runId, 1);
    await seedStepLabels(runId);
    const built = await buildPrmDataset(db.db, round1.id);
    expect(built.positives).toBeGreaterThan(10);

    const deps = createDefaultDeps({ db: db.db, embeddedModelUrl: server.url, env: {} });
    const activities = createActivities(deps);
    const result = await activityEnvironment().run(activities.fineTunePrm, { roundId: round1.id });
    expect(result.jobId).toBe(`${runId}/round-1/prm/job-1`);
    expect(result.model).toBe(`prm-${runId}-r1`);
    expect(result).toMatchObject({ promoted: true, skipped: false });
    // The job ran as a real process in the PRM's own directory, beside (never inside) the policy's job-<k> ones.
    const jobDir = path.join(workdir, runId, 'round-1', 'prm', 'job-1');
    expect(existsSync(path.join(jobDir, 'output', 'value.json'))).toBe(true);
    // It trained on the PRM dataset streamed as TRL's stepwise JSONL beside its jobs.
    const lines = readFileSync(path.join(workdir, runId, 'round-1', 'prm', 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBe(built.examples);
    expect(Object.keys(lines[0]!).sort()).toEqual(['completions', 'labels', 'prompt', 'soft_labels']);
    expect(readFileSync(path.join(jobDir, 'job.json'), 'utf8')).toContain(`"name": "flywheel-${runId}-r1-prm-j1"`);
    expect(readdirSync(path.join(workdir, runId, 'round-1')).filter((n) => n.startsWith('job-'))).toEqual([]);

    const model = (await db.db.execute(sql`SELECT learner, kind, checkpoint_path, dataset_id::int AS dataset_id, promoted FROM flywheel.models WHERE run_id = ${runId} AND name = ${result.model}`)).rows[0];
    expect(model).toEqual({ learner: 'prm', kind: expect.any(String), checkpoint_path: path.join(jobDir, 'output'), dataset_id: built.datasetId, promoted: true });
    const stats = ((await db.db.execute(sql`SELECT stats FROM flywheel.rounds WHERE id = ${round1.id}`)).rows[0] as { stats: { prm: { heldOut: { auc: number; steps: number } } } }).stats.prm;
    expect(stats.heldOut.steps).toBeGreaterThan(10);
    expect(stats.heldOut.auc).toBeGreaterThan(0.7);

    // A retried activity reattaches to the finished job: still one job directory and one fine_tunes row.
    const again = await activityEnvironment().run(activities.fineTunePrm, { roundId: round1.id });
    expect(again.jobId).toBe(result.jobId);
    expect(readdirSync(path.join(workdir, runId, 'round-1', 'prm')).filter((n) => n.startsWith('job-'))).toEqual(['job-1']);
    const jobs = (await db.db.execute(sql`SELECT learner, backend, status, external_job_id FROM flywheel.fine_tunes WHERE run_id = ${runId}`)).rows;
    expect(jobs).toEqual([{ learner: 'prm', backend: 'command', status: 'succeeded', external_job_id: result.jobId }]);
  }, 120_000);

  it('a failed PRM job (the policy\'s mechanism): exit code and log tail recorded and reported, a resumed round supersedes it', async () => {
    const { runId } = await storeRun(db.db, {
      task: { kind: 'countdown', seed: 3, train: 40, test: 12 },
      finetune: { pollIntervalMs: 50, prm: { enabled: true } },
    });
    const round1 = await storeRounds(db.db, runId, 1);
    await seedStepLabels(runId);
    const built = await buildPrmDataset(db.db, round1.id);
    const { trainer, calls, submits } = failingOnceTrainer({ model: `prm-${runId}-r1`, checkpointPath: '/shared/ckpt/prm-r1', launcher: 'local', logTail: 'ValueError: no labels' });
    const activities = createActivities(fakeDeps(db.db, { trainer: () => trainer }));
    const failure = await activityEnvironment()
      .run(activities.fineTunePrm, { roundId: round1.id })
      .catch((err: unknown) => err);
    expect(failure).toMatchObject({ nonRetryable: true, type: 'TrainerJobFailed' });
    expect((failure as Error).message).toMatch(/^PRM trainer job job-1 failed \(exit code 1\)[^]*ValueError: no labels/);
    expect(calls).toEqual([`export-stepwise ${built.examples}`]);
    expect(submits[0]).toMatchObject({ objective: 'prm', trainingFile: `/shared/${runId}/round-1/prm/train.jsonl`, tag: { runId, round: 1, learner: 'prm' } });
    expect(await getFineTune(db.db, runId, 1, 'prm')).toMatchObject({ status: 'failed', launcher: 'local', exitCode: 1, logTail: 'ValueError: no labels', progress: [{ step: 1, loss: 0.5 }] });

    const result = await activityEnvironment().run(activities.fineTunePrm, { roundId: round1.id });
    expect(result).toMatchObject({ model: `prm-${runId}-r1`, jobId: 'job-2', skipped: false });
    expect(await getFineTune(db.db, runId, 1, 'prm')).toMatchObject({ status: 'succeeded', resultModel: `prm-${runId}-r1`, checkpointPath: '/shared/ckpt/prm-r1', supersededJobIds: ['job-1'] });
    const model = (await db.db.execute(sql`SELECT learner, kind, checkpoint_path FROM flywheel.models WHERE run_id = ${runId} AND name = ${result.model}`)).rows[0];
    expect(model).toEqual({ learner: 'prm', kind: 'adapter', checkpoint_path: '/shared/ckpt/prm-r1' });
  });

  it('skips a run that trains no PRM', async () => {
    const { runId } = await storeRun(db.db);
    const round1 = await storeRounds(db.db, runId, 1);
    const deps = createDefaultDeps({ db: db.db, embeddedModelUrl: server.url, env: {} });
    expect(await activityEnvironment().run(createActivities(deps).fineTunePrm, { roundId: round1.id })).toEqual({ model: null, jobId: null, promoted: false, skipped: true });
  });
});
