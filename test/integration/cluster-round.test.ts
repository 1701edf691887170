/**
 * Whole rounds on a cluster, with real processes: a Temporal dev server, Postgres, a real single-node Slurm
 * cluster (infra/slurm.ts) running the embedded trainer (`flywheel train-policy`) as batch jobs from a train worker
 * in its own process, and the embedded model server with vLLM's runtime LoRA routes on, each new checkpoint
 * deployed into it with `vllm-lora` before it is evaluated.
 *
 * - a 2-round run: every trained round has exactly one Slurm job (Slurm's own jobcomp records), each adapter is
 *   loaded through /v1/load_lora_adapter before evaluate samples it, held-out pass@1 rises; round 2's deploy is
 *   refused by the server (a broken checkpoint, a 400: not retried), the round waits in NeedsAttention while the current model still
 *   serves, and resumeRound deploys it once the checkpoint is repaired;
 * - a trainer that exits 1: NeedsAttention with its exit code and log tail; resumeRound submits a new job, the
 *   train worker is SIGKILLed and slurmctld restarted (SIGTERM, started again) while that job runs, a new worker
 *   reattaches and the round completes: one more Slurm job, not two;
 * - both learners as Slurm jobs: the policy by `flywheel train-policy`, the PRM by `flywheel train-prm` (search.step.value:
 *   prm), one job of each per trained round in jobcomp, names told apart; each PRM recorded as learner prm, deployed
 *   with vllm-lora and asked at /v1/reward by the searches and gates after it; the train worker SIGKILLed while round
 *   1's PRM job runs, a new one reattaches: still one PRM job;
 * - the local launcher: the train worker SIGKILLed under its detached trainer; one job;
 * - two replicas, one of them down (a closed port): the round completes.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDefaultDeps } from '../../activities/deps.js';
import { roundReports } from '../../db/report.js';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import { startWorkers, type RunningWorkers } from '../../cli/worker.js';
import { parseRunConfig } from '../../config/load.js';
import { jobCompRecords, slurmUnavailableReason, startSlurmCluster, type SlurmCluster } from '../../infra/slurm.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import { startLocalModelServer } from '../../localmodel/server.js';
import type { RunResult } from '../../workflows/run.js';
import { resumeRoundUpdate, roundStatusQuery, workflowIds } from '../../workflows/shared.js';
import { expectPrmRequests, terminateRunning } from './durability-invariants.js';
import { installQuietRuntime } from '../../cli/runtime.js';
import { startWorkerProcess, waitFor, type FlywheelProcess } from '../helpers/processes.js';
import { tempDir, testDatabase, testTemporal, type TestDatabase } from '../helpers/services.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TRAIN = `${ROOT}/node_modules/.bin/tsx ${ROOT}/cli/main.ts train-policy --data {dataset} --output {outputDir} --init {fromCheckpoint} --epochs {epochs} --seed {seed}`;
const TRAIN_PRM = `${ROOT}/node_modules/.bin/tsx ${ROOT}/cli/main.ts train-prm --data {dataset} --output {outputDir} --init {fromCheckpoint} --epochs {epochs} --seed {seed}`;
const unavailable = slurmUnavailableReason();
if (unavailable) console.warn(`skipping the cluster round tests: ${unavailable}`);

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe.skipIf(unavailable !== null)('rounds on a Slurm cluster, deployed to vLLM-style replicas', () => {
  let db: TestDatabase;
  let temporal: TemporalDevServer;
  let cluster: SlurmCluster;
  let server: Awaited<ReturnType<typeof startLocalModelServer>>;
  let client: Client;
  let workers: RunningWorkers;
  let trainWorker: FlywheelProcess;
  let home: ReturnType<typeof tempDir>;
  let workdir: string;
  const serverLog: string[] = [];
  const runIds: string[] = [];
  const trainWorkers: FlywheelProcess[] = [];

  const startTrainWorker = async () => {
    trainWorker = await startWorkerProcess(
      { DATABASE_URL: db.url, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace, FLYWHEEL_MODEL_URL: server.url, FLYWHEEL_HOME: home.dir, ...cluster.env },
      'train',
    );
    trainWorkers.push(trainWorker);
  };

  beforeAll(async () => {
    home = tempDir('cluster-round');
    workdir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-cluster-work-'));
    [db, temporal, cluster, server] = await Promise.all([
      testDatabase(),
      testTemporal(),
      startSlurmCluster(),
      startLocalModelServer({ dataDir: path.join(workdir, 'localmodel'), port: 0, runtimeLora: true, log: (line) => void serverLog.push(line) }),
    ]);
    client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
    installQuietRuntime('ERROR');
    // Control, generate (where deploys run) and verify in this process; the train queue in its own, to be killed.
    const deps = createDefaultDeps({ db: db.db, embeddedModelUrl: server.url, env: {} });
    workers = await startWorkers({ address: temporal.address, namespace: temporal.namespace, deps, queues: ['control', 'generate', 'verify'] });
    await startTrainWorker();
  }, 180_000);

  afterAll(async () => {
    if (client) await terminateRunning(client, runIds).catch(() => {});
    await Promise.allSettled(trainWorkers.map((w) => w.stop()));
    await workers?.shutdown();
    await client?.connection.close();
    await Promise.allSettled([server?.close(), temporal?.stop(), cluster?.stop()]);
    await db?.drop();
    home?.remove();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  const configText = (name: string, rounds: number, command: string) => `
name: ${name}
rounds: ${rounds}
task: {kind: countdown, seed: 11, train: 60, test: 30}
model: {baseUrl: ${server.url}, timeoutMs: 30000, maxRetries: 2}
generate: {samplesPerProblem: 8, shardSamples: 160, concurrency: 4}
filter: {maxPerProblem: 4}
evaluate: {samples: 2, k: [1, 2]}
finetune:
  backend: command
  from: base
  hyperparameters: {nEpochs: 20}
  pollIntervalMs: 200
  workdir: ${workdir}
  command: '${command}'
  launcher: {kind: slurm, partition: debug, time: "00:10:00", cpusPerTask: 1}
deploy: {kind: vllm-lora, timeoutSeconds: 30}
durability: {activityAttempts: 2, retryInitialIntervalMs: 200, retryMaxIntervalMs: 500, heartbeatTimeoutSeconds: 5}
`;

  async function startRun(text: string, label: string): Promise<{ runId: string; result: Promise<RunResult> }> {
    const config = parseRunConfig(text);
    const runId = await createRun(db.db, { config, file: `${label}.yaml`, dir: process.cwd() }, server.url);
    runIds.push(runId);
    const result = (await startRunWorkflow(client, runId, `cluster test: ${label}`)).result() as Promise<RunResult>;
    result.catch(() => {});
    return { runId, result };
  }

  const rows = async <T,>(query: ReturnType<typeof sql>) => (await db.db.execute(query)).rows as T[];
  const slurmJobs = (runId: string) => jobCompRecords(cluster.jobCompFile, `flywheel-${runId}-`);
  const listed = async () => ((await (await fetch(`${server.url}/models`)).json()) as { data: Array<{ id: string; root?: string; parent?: string | null }> }).data;
  const attention = (runId: string, round: number, stage: string) =>
    waitFor(`round ${round} waiting for attention at ${stage}`, async () => {
      const status = await client.workflow.getHandle(workflowIds.round(runId, round)).query(roundStatusQuery).catch(() => null);
      return status?.needsAttention && status.stage === stage ? status : undefined;
    }, { timeoutMs: 240_000, intervalMs: 250 });
  const resume = (runId: string, round: number, note: string) =>
    client.workflow.getHandle(workflowIds.round(runId, round)).executeUpdate(resumeRoundUpdate, { args: [{ note }] });

  it('2 rounds through Slurm and vllm-lora: one job per round, each adapter loaded before it is evaluated, pass@1 rises; a refused deploy waits with the current model served', async () => {
    // Round 2's trainer leaves a broken checkpoint (its weights kept aside): the server refuses to load it.
    const breakRound2 = `if [ {round} = 2 ]; then cp {outputDir}/policy.json {outputDir}/../policy.good && echo broken > {outputDir}/policy.json; fi`;
    const { runId, result } = await startRun(configText('cluster', 2, `${TRAIN} && ${breakRound2}`), 'cluster');

    const waiting = await attention(runId, 2, 'deploy');
    expect(waiting.failure).toMatch(/deploying flywheel-.*-r2 failed on 1 replica: .*refused the adapter \(400\): Loading lora .*policy\.json/);
    expect(waiting.failure).toMatch(/is still served/);
    const { currentDetails } = (await client.workflow.getHandle(workflowIds.round(runId, 2)).query('__temporal_workflow_metadata')) as { currentDetails: string };
    expect(currentDetails).toMatch(/Stage \*\*deploy\*\* of run/);
    // The current model still serves: listed, and answering.
    const [{ current } = { current: '' }] = await rows<{ current: string }>(sql`SELECT current_model AS current FROM flywheel.runs WHERE id = ${runId}`);
    expect((await listed()).map((m) => m.id)).toContain(current);
    const answer = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: current, messages: [{ role: 'user', content: 'Using 1 2 3, make 6.' }], max_tokens: 8 }) });
    expect(answer.status).toBe(200);

    // The operator repairs the checkpoint and resumes: the deploy runs again, the round completes.
    const [job2] = await rows<{ checkpoint_path: string }>(sql`SELECT checkpoint_path FROM flywheel.fine_tunes WHERE run_id = ${runId} AND round = 2`);
    copyFileSync(path.join(job2!.checkpoint_path, '..', 'policy.good'), path.join(job2!.checkpoint_path, 'policy.json'));
    await resume(runId, 2, 'checkpoint repaired');
    expect((await result).state).toBe('completed');

    // Exactly one Slurm job per trained round, in Slurm's own records.
    await waitFor('the jobcomp records', () => slurmJobs(runId).length >= 2);
    expect(slurmJobs(runId).map((j) => [j.name, j.state]).sort()).toEqual([
      [`flywheel-${runId}-r1-j1`, 'COMPLETED'],
      [`flywheel-${runId}-r2-j1`, 'COMPLETED'],
    ]);
    const models = await rows<{ round: number; name: string; served_at: string[]; checkpoint_path: string }>(
      sql`SELECT round, name, served_at, checkpoint_path FROM flywheel.models WHERE run_id = ${runId} AND round > 0 ORDER BY round`,
    );
    expect(models.map((m) => m.name)).toEqual([`flywheel-${runId}-r1`, `flywheel-${runId}-r2`]);
    const r2 = models[1]!;
    expect(r2.served_at).toEqual([server.url]);
    // Loaded under its round's name from its checkpoint.
    const adapters = (await listed()).filter((m) => m.id.startsWith(`flywheel-${runId}-`));
    expect(adapters.find((m) => m.id === r2.name)).toMatchObject({ root: r2.checkpoint_path });
    // Round 2's deploy kept the model current then (round 1's, or the base) and the candidate, nothing else.
    for (const a of adapters) expect([models[0]!.name, r2.name]).toContain(a.id);
    // Loaded through vLLM's route: two loads that succeeded and the refused one, not retried (a 400 for good).
    expect(serverLog.filter((l) => /^POST \/v1\/load_lora_adapter 200 /.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(serverLog.filter((l) => /^POST \/v1\/load_lora_adapter 400 /.test(l))).toHaveLength(1);
    // Deployed before evaluate began, and evaluate sampled the deployed name.
    const stages = await rows<{ index: number; stage: string; started: Date; finished: Date }>(sql`
      SELECT r.index, s.stage, s.started_at AS started, s.finished_at AS finished FROM flywheel.round_stages s
      JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND s.stage IN ('deploy', 'evaluate') ORDER BY r.index, s.started_at`);
    for (const index of [1, 2]) {
      const deploy = stages.find((s) => s.index === index && s.stage === 'deploy');
      const evaluate = stages.find((s) => s.index === index && s.stage === 'evaluate');
      expect(new Date(deploy!.finished).getTime()).toBeLessThanOrEqual(new Date(evaluate!.started).getTime());
    }
    const evalModels = await rows<{ index: number; model: string }>(sql`
      SELECT DISTINCT r.index, t.model FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id
      WHERE r.run_id = ${runId} AND t.purpose = 'eval' ORDER BY r.index`);
    expect(evalModels).toEqual([
      { index: 0, model: 'countdown-mlp' },
      { index: 1, model: `flywheel-${runId}-r1` },
      { index: 2, model: `flywheel-${runId}-r2` },
    ]);
    const report = await roundReports(db.db, runId);
    expect(Math.max(report[1]!.greedyPassAt1!, report[2]!.greedyPassAt1!)).toBeGreaterThan(report[0]!.greedyPassAt1!);
  }, 480_000);

  it('both learners as Slurm jobs: a PRM trained by `flywheel train-prm` each round, deployed, asked by the next search; a train worker SIGKILLed under the PRM job reattaches, one PRM job', async () => {
    // Round 1's PRM job waits for a go (a file) before training, so it surely runs across the SIGKILL.
    const prmCommand = `if [ {round} = 1 ]; then until [ -f {jobDir}/go ]; do sleep 0.2; done; fi; ${TRAIN_PRM}`;
    const text = `
name: cluster-prm
rounds: 2
task: {kind: countdown, seed: 13, train: 30, test: 12}
model: {baseUrl: ${server.url}, timeoutMs: 30000, maxRetries: 2}
generate: {samplesPerProblem: 4, shardSamples: 64, concurrency: 4}
search:
  step: {strategy: mcts, budget: 8, trainBudget: 8, train: all, eval: true, value: prm, concurrency: 2}
filter: {maxPerProblem: 4}
evaluate: {samples: 2, k: [1, 2]}
finetune:
  backend: command
  from: base
  hyperparameters: {nEpochs: 8}
  pollIntervalMs: 200
  workdir: ${workdir}
  command: '${TRAIN}'
  launcher: {kind: slurm, partition: debug, time: "00:10:00", cpusPerTask: 1}
  prm: {enabled: true, backend: command, command: '${prmCommand}', hyperparameters: {nEpochs: 6}}
deploy: {kind: vllm-lora, timeoutSeconds: 30}
durability: {activityAttempts: 2, retryInitialIntervalMs: 200, retryMaxIntervalMs: 500, heartbeatTimeoutSeconds: 5}
`;
    const rewardLines = () => serverLog.filter((l) => /^POST \/v1\/reward 200 /.test(l)).length;
    const rewardBefore = rewardLines();
    const { runId, result } = await startRun(text, 'cluster-prm');

    // Round 1's PRM job runs on the cluster (Slurm says RUNNING); the train worker dies under it, another takes over.
    const prmJob = `flywheel-${runId}-r1-prm-j1`;
    const squeueState = () => {
      const out = spawnSync('squeue', ['-h', '--states=all', `--name=${prmJob}`, '-o', '%T'], { env: { ...process.env, ...cluster.env }, encoding: 'utf8' });
      return out.stdout.trim();
    };
    await waitFor('the PRM job running in Slurm', () => squeueState() === 'RUNNING', { timeoutMs: 240_000, intervalMs: 250 });
    expect((await trainWorker.kill()).signal).toBe('SIGKILL');
    await startTrainWorker();
    writeFileSync(path.join(workdir, runId, 'round-1', 'prm', 'job-1', 'go'), '');
    expect((await result).state).toBe('completed');

    // Slurm's own records: one policy job and one PRM job per trained round, told apart by name, all completed.
    await waitFor('the jobcomp records', () => slurmJobs(runId).length >= 4);
    expect(slurmJobs(runId).map((j) => [j.name, j.state]).sort()).toEqual([
      [`flywheel-${runId}-r1-j1`, 'COMPLETED'],
      [`flywheel-${runId}-r1-prm-j1`, 'COMPLETED'],
      [`flywheel-${runId}-r2-j1`, 'COMPLETED'],
      [`flywheel-${runId}-r2-prm-j1`, 'COMPLETED'],
    ]);
    // The reattached PRM job: one directory, recorded once, nothing superseded.
    expect(readdirSync(path.join(workdir, runId, 'round-1', 'prm')).filter((f) => f.startsWith('job-'))).toEqual(['job-1']);
    const jobs = await rows<{ round: number; learner: string; status: string; launcher: string; external_job_id: string; superseded_job_ids: string[] }>(sql`
      SELECT round, learner, status, launcher, external_job_id, superseded_job_ids FROM flywheel.fine_tunes WHERE run_id = ${runId} ORDER BY round, learner`);
    expect(jobs).toEqual([
      { round: 1, learner: 'policy', status: 'succeeded', launcher: 'slurm', external_job_id: `${runId}/round-1/job-1`, superseded_job_ids: [] },
      { round: 1, learner: 'prm', status: 'succeeded', launcher: 'slurm', external_job_id: `${runId}/round-1/prm/job-1`, superseded_job_ids: [] },
      { round: 2, learner: 'policy', status: 'succeeded', launcher: 'slurm', external_job_id: `${runId}/round-2/job-1`, superseded_job_ids: [] },
      { round: 2, learner: 'prm', status: 'succeeded', launcher: 'slurm', external_job_id: `${runId}/round-2/prm/job-1`, superseded_job_ids: [] },
    ]);

    // Each PRM recorded as learner prm with its checkpoint, and loaded into the server from it.
    const prms = await rows<{ round: number; name: string; checkpoint_path: string; kind: string }>(sql`
      SELECT round, name, checkpoint_path, kind FROM flywheel.models WHERE run_id = ${runId} AND learner = 'prm' ORDER BY round`);
    expect(prms.map((m) => [m.round, m.name, m.kind])).toEqual([
      [1, `prm-${runId}-r1`, 'adapter'],
      [2, `prm-${runId}-r2`, 'adapter'],
    ]);
    for (const m of prms) expect(JSON.parse(readFileSync(path.join(m.checkpoint_path, 'manifest.json'), 'utf8'))).toMatchObject({ format: 'countdown-state-value' });
    const loaded = (await listed()).filter((m) => m.id.startsWith(`prm-${runId}-`));
    expect(loaded.find((m) => m.id === prms[1]!.name)).toMatchObject({ root: prms[1]!.checkpoint_path });
    // model_lineage shows both learners of each trained round, each PRM trained on a PRM dataset.
    const lineage = await rows<{ model: string; learner: string; dataset_round: number | null }>(sql`
      SELECT model, learner, dataset_round FROM flywheel.model_lineage WHERE run_id = ${runId} AND depth = 0 AND model <> 'countdown-mlp' ORDER BY model`);
    expect(lineage.map((l) => [l.model, l.learner, l.dataset_round])).toEqual([
      [`flywheel-${runId}-r1`, 'policy', 1],
      [`flywheel-${runId}-r2`, 'policy', 2],
      [`prm-${runId}-r1`, 'prm', 1],
      [`prm-${runId}-r2`, 'prm', 2],
    ]);

    // Round 0 searched by rollouts (no PRM yet); rounds 1 and 2 asked the run's current PRM at the reward route,
    // and every request the server answered was a search's scorer call or a gate's measurement.
    const requests = await expectPrmRequests(db.db, runId);
    // Round 1's PRM (the run's first) was promoted; round 2 asked it again, as the incumbent its gate measured.
    const gate = await rows<{ index: number; prm: { promoted: boolean; incumbent: { model: string } | null } }>(sql`
      SELECT index, stats->'prm' AS prm FROM flywheel.rounds WHERE run_id = ${runId} AND index > 0 ORDER BY index`);
    expect(gate[0]!.prm).toMatchObject({ promoted: true, incumbent: null });
    expect(gate[1]!.prm.incumbent?.model).toBe(`prm-${runId}-r1`);
    expect(rewardLines() - rewardBefore).toBe(requests);
  }, 480_000);

  it('a trainer that exits 1 waits with its exit code and log tail; resumed, its new job survives a SIGKILLed train worker and a restarted slurmctld: one more Slurm job', async () => {
    const allow = path.join(workdir, 'allow-training');
    const command = `test -f ${allow} || { echo "loading weights"; echo "RuntimeError: CUDA error: out of memory" >&2; exit 1; }; until [ -f {jobDir}/go ]; do sleep 0.2; done; ${TRAIN}`;
    const { runId, result } = await startRun(configText('cluster-fail', 1, command), 'cluster-fail');

    const waiting = await attention(runId, 1, 'fine-tune');
    expect(waiting.failure).toMatch(/trainer job .*job-1 failed \(exit code 1\)/);
    expect(waiting.failure).toMatch(/RuntimeError: CUDA error: out of memory/);
    // What the Temporal UI shows on the round: the exit code and the end of the job's log.
    const { currentDetails } = (await client.workflow.getHandle(workflowIds.round(runId, 1)).query('__temporal_workflow_metadata')) as { currentDetails: string };
    expect(currentDetails).toMatch(/## Round 1 needs attention/);
    expect(currentDetails).toMatch(/exit code 1/);
    expect(currentDetails).toMatch(/RuntimeError: CUDA error: out of memory/);
    writeFileSync(allow, '');
    await resume(runId, 1, 'more GPU memory');

    // The new job runs on the cluster; the train worker dies under it and another takes over.
    await waitFor('the resumed job running', async () => {
      const [row] = await rows<{ status: string; external_job_id: string | null }>(sql`SELECT status, external_job_id FROM flywheel.fine_tunes WHERE run_id = ${runId} AND round = 1`);
      return row?.status === 'running' && row.external_job_id?.endsWith('job-2');
    }, { timeoutMs: 120_000, intervalMs: 100 });
    // slurmctld goes away too (SIGTERM by its pid file) while the job runs, and comes back on its saved state.
    await cluster.stopController();
    try {
      expect((await trainWorker.kill()).signal).toBe('SIGKILL');
      await startTrainWorker();
    } finally {
      await cluster.startController();
    }
    // The job waited for this go (a file) before training, so it surely ran across the restart.
    writeFileSync(path.join(workdir, runId, 'round-1', 'job-2', 'go'), '');
    expect((await result).state).toBe('completed');

    await waitFor('the jobcomp records', () => slurmJobs(runId).length >= 2);
    expect(slurmJobs(runId).map((j) => [j.name, j.state]).sort()).toEqual([
      [`flywheel-${runId}-r1-j1`, 'FAILED'],
      [`flywheel-${runId}-r1-j2`, 'COMPLETED'],
    ]);
    const [row] = await rows<{ status: string; superseded_job_ids: string[]; result_model: string }>(
      sql`SELECT status, superseded_job_ids, result_model FROM flywheel.fine_tunes WHERE run_id = ${runId} AND round = 1`,
    );
    expect(row).toMatchObject({ status: 'succeeded', superseded_job_ids: [`${runId}/round-1/job-1`], result_model: `flywheel-${runId}-r1-j2` });
    const [model] = await rows<{ served_at: string[] }>(sql`SELECT served_at FROM flywheel.models WHERE run_id = ${runId} AND name = ${`flywheel-${runId}-r1-j2`}`);
    expect(model?.served_at).toEqual([server.url]);
  }, 360_000);

  it('the local launcher: a train worker SIGKILLed while its detached trainer runs; the new worker reattaches, one job', async () => {
    const text = configText('cluster-local', 1, `sleep 3 && ${TRAIN}`).replace(/launcher: \{kind: slurm[^}]*\}/, 'launcher: {kind: local}');
    const { runId, result } = await startRun(text, 'cluster-local');
    await waitFor('the trainer running', async () => {
      const [row] = await rows<{ status: string }>(sql`SELECT status FROM flywheel.fine_tunes WHERE run_id = ${runId} AND round = 1`);
      return row?.status === 'running';
    }, { timeoutMs: 120_000, intervalMs: 100 });
    expect((await trainWorker.kill()).signal).toBe('SIGKILL');
    await startTrainWorker();
    expect((await result).state).toBe('completed');
    // One job directory, one job recorded, none superseded: the new worker found the running process again.
    expect(readdirSync(path.join(workdir, runId, 'round-1')).filter((f) => f.startsWith('job-'))).toEqual(['job-1']);
    const [row] = await rows<{ status: string; launcher: string; external_job_id: string; superseded_job_ids: string[] }>(
      sql`SELECT status, launcher, external_job_id, superseded_job_ids FROM flywheel.fine_tunes WHERE run_id = ${runId} AND round = 1`,
    );
    expect(row).toEqual({ status: 'succeeded', launcher: 'local', external_job_id: `${runId}/round-1/job-1`, superseded_job_ids: [] });
    expect(slurmJobs(runId)).toEqual([]);
  }, 240_000);

  it('two replicas, the first of them down: generation goes to the one that is up and the round completes', async () => {
    const down = `http://127.0.0.1:${await closedPort()}/v1`;
    // Round 0 (evaluate, generate, verify, search) addresses only the replicas; every request is first offered to
    // the down one in turn, and must be passed on to the one that is up.
    const text = `
name: cluster-replicas
rounds: 0
task: {kind: countdown, seed: 5, train: 20, test: 10}
model: {baseUrls: [${down}, ${server.url}], timeoutMs: 30000, maxRetries: 0}
generate: {samplesPerProblem: 4, shardSamples: 40, concurrency: 4}
evaluate: {samples: 1, k: [1]}
durability: {activityAttempts: 1, retryInitialIntervalMs: 200, retryMaxIntervalMs: 500, heartbeatTimeoutSeconds: 5}
`;
    const { runId, result } = await startRun(text, 'cluster-replicas');
    expect((await result).state).toBe('completed');
    const [counts] = await rows<{ traces: number; errors: number }>(sql`
      SELECT count(*)::int AS traces, count(*) FILTER (WHERE t.error IS NOT NULL)::int AS errors
      FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId}`);
    expect(counts).toEqual({ traces: 20 * 4 + 10 * 2, errors: 0 });
  }, 240_000);
});
