import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCommandTrainer, type CommandTrainerOptions } from '../../../lib/train/command/trainer.js';
import { parseScontrolJob } from '../../../lib/train/command/slurm.js';
import { leadingDirectives, templateBody } from '../../../lib/train/command/slurm.js';
import type { TrainerJob } from '../../../lib/train/types.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'flywheel-command-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A trainer in a few lines of shell: progress lines on stdout and in the progress file, a checkpoint + manifest. */
const GOOD = [
  `echo '{"step": 1, "loss": 2.5, "epoch": 0.5, "lr": 0.001}'`,
  'echo "some ordinary log line"',
  `echo '{"step": 2, "loss": 1.25, "epoch": 1}' >> "$FLYWHEEL_PROGRESS_FILE"`,
  'echo weights > {outputDir}/adapter.bin',
  `printf '{"kind":"adapter","files":["adapter.bin"],"baseModel":"%s"}' {baseModel} > {outputDir}/manifest.json`,
].join('; ');

let n = 0;
function trainer(command: string, extra: Partial<CommandTrainerOptions> = {}) {
  const workdir = path.join(root, `w${++n}`);
  mkdirSync(workdir);
  return { workdir, trainer: createCommandTrainer({ workdir, command, launcher: { kind: 'local' }, ...extra }) };
}

const request = (runId: string, dataset: string, round = 1) => ({
  baseModel: 'base-model',
  trainingFile: dataset,
  hyperparameters: { nEpochs: 3 },
  suffix: 'fw',
  seed: 7,
  tag: { runId, round },
});

async function settle(t: ReturnType<typeof trainer>['trainer'], id: string): Promise<TrainerJob> {
  for (let i = 0; i < 200; i++) {
    const job = await t.get(id);
    if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not end`);
}

describe('command trainer, local launcher', () => {
  it('runs the command with template values and env vars, and reports progress, manifest and model name', async () => {
    const { trainer: t, workdir } = trainer(`${GOOD}; echo "seed=$FLYWHEEL_SEED epochs={epochs} data={dataset}" > {outputDir}/args.txt`);
    const data = await t.exportDataset!({ runId: 'run-a', round: 1 }, (async function* () {
      yield { prompt: 'p1', completion: 'c1' };
      yield { prompt: 'p2', completion: 'c2' };
    })(), 'sys');
    expect(data).toBe(path.join(workdir, 'run-a/round-1/train.jsonl'));
    expect(readFileSync(data, 'utf8').trim().split('\n').map((l) => JSON.parse(l).messages.map((m: { role: string }) => m.role))).toEqual([
      ['system', 'user', 'assistant'],
      ['system', 'user', 'assistant'],
    ]);
    expect(JSON.parse(readFileSync(path.join(workdir, 'run-a/round-1/dataset_info.json'), 'utf8')).flywheel.file_name).toBe('train.jsonl');

    const submitted = await t.submit(request('run-a', data));
    expect(submitted.id).toBe('run-a/round-1/job-1');
    expect(submitted.launcher).toBe('local');
    const job = await settle(t, submitted.id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    expect(job.model).toBe('fw-run-a-r1');
    expect(job.checkpoint?.manifest).toMatchObject({ kind: 'adapter', baseModel: 'base-model', files: ['adapter.bin'] });
    expect(job.progressHistory?.map((p) => [p.step, p.loss])).toEqual([
      [1, 2.5],
      [2, 1.25],
    ]);
    const args = readFileSync(path.join(job.checkpoint!.path, 'args.txt'), 'utf8');
    expect(args.trim()).toBe(`seed=7 epochs=3 data=${data}`);
    // found again by its tag, as a restarted worker would
    expect((await t.find({ runId: 'run-a', round: 1 }))?.status).toBe('succeeded');
    expect(await t.find({ runId: 'run-a', round: 2 })).toBeNull();
  });

  it('exit 0 without a manifest is a failure that says so', async () => {
    const { trainer: t } = trainer('echo trained but forgot the manifest');
    const job = await settle(t, (await t.submit(request('run-b', '/dev/null'))).id);
    expect(job.status).toBe('failed');
    expect(job.exitCode).toBe(0);
    expect(job.error).toMatch(/exited 0 but left no usable checkpoint: the trainer wrote no manifest\.json/);
    expect(job.error).toContain('trained but forgot the manifest');
  });

  it('a non-zero exit is a failure with the exit code and the log tail; the next submit is a new job', async () => {
    const { trainer: t } = trainer('echo "CUDA out of memory" >&2; exit 3');
    const job = await settle(t, (await t.submit(request('run-c', '/dev/null'))).id);
    expect(job).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(job.error).toMatch(/exited with code 3/);
    expect(job.logTail).toContain('CUDA out of memory');
    const again = await t.submit(request('run-c', '/dev/null'));
    expect(again.id).toBe('run-c/round-1/job-2');
    expect((await settle(t, again.id)).status).toBe('failed');
  });

  it('never starts a second job while one lives, and cancels it on request', async () => {
    const { trainer: t, workdir } = trainer('sleep 30');
    const first = await t.submit(request('run-d', '/dev/null'));
    await expect(t.submit(request('run-d', '/dev/null'))).rejects.toThrow(/already has a live trainer job \(run-d\/round-1\/job-1\)/);
    expect((await t.get(first.id)).status).toBe('running');
    // Once the script is up (started.json), a cancel reaches its trap and status.json records the signal.
    const started = path.join(workdir, 'run-d/round-1/job-1/started.json');
    for (let i = 0; i < 1000 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(started), 'the job script did not start within 20 s').toBe(true);
    await t.cancel(first.id);
    const job = await settle(t, first.id);
    expect(job.status).toBe('cancelled');
    expect(job.error).toMatch(/terminated \(SIGTERM, exit 143\)/);
  });

  it('keeps the round’s policy and PRM jobs apart: own directories, ids, names, and neither found by the other’s tag', async () => {
    const { trainer: t, workdir } = trainer(`${GOOD}; echo "$FLYWHEEL_JOB_NAME" > {outputDir}/name.txt`);
    const policyTag = { runId: 'run-p', round: 1 };
    const prmTag = { runId: 'run-p', round: 1, learner: 'prm' as const };
    const data = await t.exportStepwise!(prmTag, (async function* () {
      yield { prompt: 'p', completions: ['s1', 's2'], labels: [true, false], softLabels: [1, 0.25] };
    })());
    expect(data).toBe(path.join(workdir, 'run-p/round-1/prm/train.jsonl'));
    expect(JSON.parse(readFileSync(data, 'utf8'))).toEqual({ prompt: 'p', completions: ['s1', 's2'], labels: [true, false], soft_labels: [1, 0.25] });
    const prm = await t.submit({ ...request('run-p', data), tag: prmTag });
    expect(prm.id).toBe('run-p/round-1/prm/job-1');
    // The policy's tag sees no job while only the PRM has one, and its first job is job-1 of its own.
    expect(await t.find(policyTag)).toBeNull();
    const policy = await t.submit(request('run-p', '/dev/null'));
    expect(policy.id).toBe('run-p/round-1/job-1');
    const [a, b] = [await settle(t, prm.id), await settle(t, policy.id)];
    expect(readFileSync(path.join(a.checkpoint!.path, 'name.txt'), 'utf8').trim()).toBe('flywheel-run-p-r1-prm-j1');
    expect(readFileSync(path.join(b.checkpoint!.path, 'name.txt'), 'utf8').trim()).toBe('flywheel-run-p-r1-j1');
    expect((await t.find(prmTag))?.id).toBe(prm.id);
    expect((await t.find(policyTag))?.id).toBe(policy.id);
  });

  it('refuses an unknown placeholder', async () => {
    const { trainer: t } = trainer('train --data {datset}');
    await expect(t.submit(request('run-e', '/dev/null'))).rejects.toThrow(/unknown placeholder \{datset\}/);
  });

  it('keeps credentials out of the job environment unless passed on purpose', async () => {
    const { trainer: t } = trainer(`${GOOD}; env > {outputDir}/env.txt`, {
      baseEnv: { PATH: process.env.PATH, OPENAI_API_KEY: 'sk-secret', HF_TOKEN: 'hf-ok', DATABASE_URL: 'postgres://u:p@h/db', HOME: '/root' },
      passEnv: ['HF_TOKEN'],
    });
    const job = await settle(t, (await t.submit(request('run-f', '/dev/null'))).id);
    const env = readFileSync(path.join(job.checkpoint!.path, 'env.txt'), 'utf8');
    expect(env).toContain('HF_TOKEN=hf-ok');
    expect(env).not.toContain('sk-secret');
    expect(env).not.toContain('postgres://');
    expect(env).toContain('FLYWHEEL_OUTPUT_DIR=');
  });
});

describe('command trainer, templates launcher', () => {
  it('submits, tracks and reads the outcome through shell templates', async () => {
    const workdir = path.join(root, 'templates');
    mkdirSync(workdir);
    const sched = path.join(root, 'sched');
    mkdirSync(sched);
    const t = createCommandTrainer({
      workdir,
      command: GOOD,
      launcher: {
        kind: 'templates',
        // A toy scheduler: runs the script in the background and names the job after it.
        submit: `(setsid bash {script} >/dev/null 2>&1 &); echo "job.batch/{jobName} created"`,
        jobIdPattern: 'job\\.batch/(\\S+) created',
        status: `if [ -f {jobDir}/status.json ]; then echo Complete; else echo Active; fi`,
        states: { succeeded: '^Complete', failed: '^Failed' },
        cancel: `echo cancel {jobId} >> ${sched}/cancelled`,
      },
    });
    const job = await t.submit(request('run-t', '/dev/null'));
    const done = await settle(t, job.id);
    expect(done.status).toBe('succeeded');
    expect(done.launcher).toBe('templates');
    const record = JSON.parse(readFileSync(path.join(workdir, 'run-t/round-1/job-1/job.json'), 'utf8'));
    expect(record.scheduler.jobId).toBe('flywheel-run-t-r1-j1');
  });
});

describe('slurm parsing', () => {
  it('reads JobState and ExitCode from scontrol show job -o', () => {
    const line = 'JobId=12 JobName=x UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 ExitCode=3:0 RunTime=00:00:02';
    expect(parseScontrolJob(line)).toEqual({ state: 'FAILED', exitCode: 3, signal: 0, reason: 'NonZeroExitCode' });
    expect(parseScontrolJob('slurm_load_jobs error: Invalid job id specified')).toBeNull();
  });

  it('keeps a script template\'s #SBATCH lines in the header and runs its body around the command', () => {
    const template = '#!/bin/bash\n#SBATCH --nodes=2\n# a comment\nmodule load cuda\nsrun {command} --seed {seed}\n';
    expect(leadingDirectives(template)).toEqual(['#SBATCH --nodes=2']);
    expect(templateBody(template, { seed: '5' }, 'python train.py --out /o')).toBe('# a comment\nmodule load cuda\nsrun python train.py --out /o --seed 5\n');
    expect(() => templateBody('echo hi', {}, 'x')).toThrow(/never runs \{command\}/);
  });
});

it('upload writes the JSONL where the job can read it', async () => {
  const { trainer: t, workdir } = trainer(GOOD);
  const file = await t.upload('{"messages":[]}\n', 'flywheel-x-round-1.jsonl');
  expect(file).toBe(path.join(workdir, 'uploads/flywheel-x-round-1.jsonl'));
  writeFileSync(path.join(workdir, 'probe'), '');
});

describe('from the run config', () => {
  it('builds trainer options with the script template read relative to the config', async () => {
    const { commandTrainerOptions, modelReplicas, adapterPrefix } = await import('../../../lib/train/command/from-config.js');
    const { parseRunConfig } = await import('../../../config/load.js');
    const configDir = path.join(root, 'cfg');
    mkdirSync(configDir);
    writeFileSync(path.join(configDir, 'tpl.sh'), '#SBATCH --nodes=1\nsrun {command}\n');
    const config = parseRunConfig(
      'task: {kind: countdown}\nmodel: {baseUrls: ["http://a:1/v1", "http://b:1/v1"]}\nfinetune: {backend: command, workdir: work, command: "train {dataset}", launcher: {kind: slurm, scriptTemplate: tpl.sh}}\n',
    );
    const options = commandTrainerOptions(config.finetune, configDir, {});
    expect(options.workdir).toBe(path.join(configDir, 'work'));
    expect(options.launcher).toMatchObject({ kind: 'slurm', scriptTemplate: '#SBATCH --nodes=1\nsrun {command}\n' });
    expect(modelReplicas(config.model)).toEqual(['http://a:1/v1', 'http://b:1/v1']);
    expect(adapterPrefix('fw', 'run-1')).toBe('fw-run-1-r');
    const missing = parseRunConfig('task: {kind: countdown}\nfinetune: {backend: command, workdir: w, command: x, launcher: {kind: slurm, scriptTemplate: nope.sh}}\n');
    expect(() => commandTrainerOptions(missing.finetune, configDir)).toThrow(/scriptTemplate: cannot read .*nope\.sh: ENOENT/);
  });
});
