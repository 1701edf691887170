/**
 * The `slurm` launcher against a real single-node Slurm cluster (infra/slurm.ts): the embedded trainer runs as a
 * batch job and leaves its status file and checkpoint; a worker-like process SIGKILLed mid-job is replaced by one
 * that reattaches (Slurm's own jobcomp records count exactly one job); a trainer that exits 1 fails with its log
 * tail; slurmctld restarted mid-job finds the job again; a crash between sbatch and recording the id is recovered
 * by job name and comment; and how a job ended outlives Slurm's memory of it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobCompRecords, slurmUnavailableReason, startSlurmCluster, type SlurmCluster } from '../../infra/slurm.js';
import { runCommand } from '../../lib/train/command/exec.js';
import { createCommandTrainer } from '../../lib/train/command/trainer.js';
import type { TrainerJob } from '../../lib/train/types.js';
import { createDeployer } from '../../lib/deploy/index.js';
import { adapterPrefix } from '../../lib/train/command/from-config.js';
import { formatPrompt, generateCountdown } from '../../lib/tasks/countdown.js';
import { verifyCountdown } from '../../lib/verify/countdown.js';
import { startLocalModelServer } from '../../localmodel/server.js';
import { startDriver } from '../helpers/driver-process.js';
import { waitFor } from '../helpers/processes.js';
import { writeCountdownJsonl } from '../helpers/train-data.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TRAIN = `${ROOT}/node_modules/.bin/tsx ${ROOT}/cli/main.ts train-policy --data {dataset} --output {outputDir} --epochs {epochs} --seed {seed} --init {fromCheckpoint}`;
const unavailable = slurmUnavailableReason();
if (unavailable) console.warn(`skipping the Slurm tests: ${unavailable}`);

describe.skipIf(unavailable !== null)('slurm launcher on a real cluster', () => {
  let cluster: SlurmCluster;
  let workdir: string;
  let dataset: string;
  const env = () => ({ ...process.env, ...cluster.env });
  const options = (command: string) => ({ workdir, command, launcher: { kind: 'slurm' as const, partition: 'debug', time: '00:10:00', sbatch: ['--cpus-per-task=1'] }, baseEnv: env() });
  const records = (runId: string) => jobCompRecords(cluster.jobCompFile, '').filter((r) => r.name.startsWith(`flywheel-${runId}-`));

  beforeAll(async () => {
    cluster = await startSlurmCluster();
    workdir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-slurm-work-'));
    dataset = writeCountdownJsonl(path.join(workdir, 'train.jsonl'), 200);
  });
  afterAll(async () => {
    await cluster?.stop();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  async function settle(trainer: ReturnType<typeof createCommandTrainer>, id: string): Promise<TrainerJob> {
    return waitFor(`job ${id} to end`, async () => {
      const job = await trainer.get(id);
      return job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled' ? job : undefined;
    }, { timeoutMs: 120_000, intervalMs: 250 });
  }

  it('runs the embedded trainer as a batch job: status file, manifest, progress, one COMPLETED record', async () => {
    const trainer = createCommandTrainer(options(TRAIN));
    const submitted = await trainer.submit({ baseModel: 'countdown-mlp', trainingFile: dataset, hyperparameters: { nEpochs: 3 }, suffix: 'fw', seed: 5, tag: { runId: 'ok', round: 1 } });
    expect(submitted.launcher).toBe('slurm');
    const job = await settle(trainer, submitted.id);
    expect(job.error).toBeNull();
    expect(job).toMatchObject({ status: 'succeeded', model: 'fw-ok-r1', exitCode: 0 });
    expect(job.checkpoint?.manifest).toMatchObject({ kind: 'adapter', baseModel: 'countdown-mlp' });
    expect(job.progressHistory?.map((p) => p.epoch)).toEqual([1, 2, 3]);
    const script = readFileSync(path.join(workdir, 'ok/round-1/job-1/job.sh'), 'utf8');
    expect(script).toMatch(/#SBATCH --job-name=flywheel-ok-r1-j1\n#SBATCH --comment=flywheel:ok\/round-1\/job-1/);
    expect(script).toContain('#SBATCH --partition=debug');
    expect(script).toContain('#SBATCH --cpus-per-task=1');
    await waitFor('the jobcomp record', () => records('ok').length === 1);
    expect(records('ok')).toEqual([expect.objectContaining({ state: 'COMPLETED' })]);
  });

  it('the checkpoint of that job is deployed to the embedded server with vllm-lora and serves better than the base', async () => {
    const server = await startLocalModelServer({ dataDir: path.join(workdir, 'localmodel'), runtimeLora: true });
    try {
      const job = await createCommandTrainer(options(TRAIN)).get('ok/round-1/job-1');
      const deployer = createDeployer({ kind: 'vllm-lora', replicas: [server.url], timeoutMs: 30_000 });
      const result = await deployer.deploy({ model: job.model!, checkpointPath: job.checkpoint!.path, keep: [], unloadPrefix: adapterPrefix('fw', 'ok') });
      expect(result.replicas).toEqual([expect.objectContaining({ replica: server.url, servedAs: 'fw-ok-r1', alreadyLoaded: false })]);
      const problems = generateCountdown({ seed: 3, train: 0, test: 40 });
      const passAt1 = async (model: string) => {
        let solved = 0;
        for (const p of problems) {
          const res = await fetch(`${server.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model, temperature: 0, messages: [{ role: 'user', content: formatPrompt(p) }] }) });
          const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
          if (verifyCountdown(p, body.choices[0]!.message.content).correct) solved++;
        }
        return solved / problems.length;
      };
      expect(await passAt1('fw-ok-r1')).toBeGreaterThan(await passAt1('countdown-mlp'));
    } finally {
      await server.close();
    }
  });

  it('a worker SIGKILLed while its job runs is replaced by one that reattaches: exactly one Slurm job', async () => {
    const driverOptions = { ...options(`sleep 4 && ${TRAIN}`), baseEnv: undefined, runId: 'kill', round: 1, dataset, epochs: 3 };
    const first = startDriver(driverOptions, cluster.env);
    await first.waitFor((e) => e.event === 'status' && e.status === 'running');
    await first.kill();
    const second = startDriver(driverOptions, cluster.env);
    const found = await second.waitFor((e) => e.event === 'found' || e.event === 'submitted');
    expect(found).toMatchObject({ event: 'found', id: 'kill/round-1/job-1' });
    const done = await second.waitFor((e) => e.event === 'done');
    expect(done.job).toMatchObject({ status: 'succeeded', model: 'fw-kill-r1' });
    await waitFor('the jobcomp record', () => records('kill').length >= 1);
    expect(records('kill')).toHaveLength(1);
  });

  it('a trainer that exits 1 fails with its exit code and log tail', async () => {
    const trainer = createCommandTrainer(options(`echo "loading weights"; echo "RuntimeError: CUDA error: out of memory" >&2; exit 1`));
    const submitted = await trainer.submit({ baseModel: 'countdown-mlp', trainingFile: dataset, hyperparameters: {}, suffix: 'fw', seed: 5, tag: { runId: 'bad', round: 1 } });
    const job = await settle(trainer, submitted.id);
    expect(job).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(job.error).toMatch(/the trainer exited with code 1\. Last lines of .*log\.txt:\nloading weights\nRuntimeError: CUDA error: out of memory/);
    await waitFor('the jobcomp record', () => records('bad').length === 1);
    expect(records('bad')[0]).toMatchObject({ state: 'FAILED', exitCode: '1:0' });
  });

  it('slurmctld restarted (SIGTERM, start again) while a job runs: the job is found again and completes', async () => {
    // The job waits for the test's go (a file) before training, so it is surely running across the restart.
    const trainer = createCommandTrainer(options(`until [ -f {jobDir}/go ]; do sleep 0.2; done; ${TRAIN}`));
    const submitted = await trainer.submit({ baseModel: 'countdown-mlp', trainingFile: dataset, hyperparameters: { nEpochs: 2 }, suffix: 'fw', seed: 5, tag: { runId: 'ctld', round: 1 } });
    await waitFor('the job running', async () => (await trainer.get(submitted.id)).status === 'running');
    await cluster.stopController();
    try {
      const during = await trainer.get(submitted.id);
      expect(during.status).toBe('running'); // the scheduler is away, the job is not lost
      expect(during.progress).toMatch(/Slurm did not answer/);
    } finally {
      await cluster.startController();
    }
    writeFileSync(path.join(workdir, 'ctld/round-1/job-1/go'), '');
    const job = await settle(createCommandTrainer(options(TRAIN)), submitted.id);
    expect(job.status).toBe('succeeded');
    await waitFor('the jobcomp record', () => records('ctld').length >= 1);
    expect(records('ctld')).toHaveLength(1);
  });

  it('a crash between sbatch and recording the job id: found again by job name and comment', async () => {
    // Held in the queue, so it has not started and only Slurm knows it (no started.json yet).
    const held = { ...options(TRAIN), launcher: { ...options(TRAIN).launcher, sbatch: ['--hold'] } };
    await createCommandTrainer(held).submit({ baseModel: 'countdown-mlp', trainingFile: dataset, hyperparameters: { nEpochs: 2 }, suffix: 'fw', seed: 5, tag: { runId: 'lost', round: 1 } });
    const recordFile = path.join(workdir, 'lost/round-1/job-1/job.json');
    const record = JSON.parse(readFileSync(recordFile, 'utf8'));
    const slurmId = record.scheduler.jobId;
    // What a worker that died right after sbatch leaves behind: the record still says `submitting`, no id.
    writeFileSync(recordFile, JSON.stringify({ ...record, state: 'submitting', scheduler: undefined }));
    const restarted = createCommandTrainer(options(TRAIN));
    const found = await restarted.find({ runId: 'lost', round: 1 });
    expect(found).toMatchObject({ id: 'lost/round-1/job-1', status: 'queued' });
    expect(JSON.parse(readFileSync(recordFile, 'utf8')).scheduler.jobId).toBe(slurmId);
    await expect(restarted.submit({ baseModel: 'countdown-mlp', trainingFile: dataset, hyperparameters: {}, suffix: 'fw', seed: 5, tag: { runId: 'lost', round: 1 } })).rejects.toThrow(/already has a live trainer job/);
    const release = await runCommand('scontrol', ['release', slurmId], { env: env() });
    expect(release.code, release.stderr).toBe(0);
    expect((await settle(restarted, found!.id)).status).toBe('succeeded');
    await waitFor('the jobcomp record', () => records('lost').length >= 1);
    expect(records('lost')).toHaveLength(1);
  });

  it('how a job ended outlives Slurm\'s memory of it (status file, no sacct)', async () => {
    const id = 'ok/round-1/job-1';
    const slurmId = JSON.parse(readFileSync(path.join(workdir, 'ok/round-1/job-1/job.json'), 'utf8')).scheduler.jobId;
    await waitFor('Slurm forgetting the job', async () => {
      const out = await runCommand('scontrol', ['show', 'job', slurmId], { env: env() });
      return /Invalid job id/.test(out.stderr + out.stdout);
    }, { timeoutMs: 150_000, intervalMs: 2_000 });
    const job = await createCommandTrainer(options(TRAIN)).get(id);
    expect(job).toMatchObject({ status: 'succeeded', model: 'fw-ok-r1' });
  });

  it('cancels a job with scancel', async () => {
    const trainer = createCommandTrainer(options('sleep 60'));
    const submitted = await trainer.submit({ baseModel: 'countdown-mlp', trainingFile: dataset, hyperparameters: {}, suffix: 'fw', seed: 5, tag: { runId: 'cancel', round: 1 } });
    await waitFor('the job running', async () => (await trainer.get(submitted.id)).status === 'running');
    await trainer.cancel(submitted.id);
    const job = await settle(trainer, submitted.id);
    expect(job.status).toBe('cancelled');
    await waitFor('the jobcomp record', () => records('cancel').length === 1);
    expect(records('cancel')[0]!.state).toBe('CANCELLED');
  });
});
