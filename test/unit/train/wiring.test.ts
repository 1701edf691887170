/**
 * The command backend as workers build it: the stored config's finetune paths are absolute (resolved against the
 * config's folder at `flywheel run`), the deps pick the command trainer for `finetune.backend: command`, and a
 * trainer that stages its own dataset is preferred over an upload.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDefaultDeps, WorkerConfigError } from '../../../activities/deps.js';
import { runConfigSchema, type RunConfigInput } from '../../../config/schema.js';
import type { Db } from '../../../db/client.js';
import { withAbsoluteFinetunePaths } from '../../../lib/train/command/from-config.js';
import { submitOnce } from '../../../lib/train/submit.js';
import type { Trainer, TrainerJob } from '../../../lib/train/types.js';

const base: RunConfigInput = {
  name: 'wiring',
  task: { kind: 'countdown', train: 10, test: 5 },
  model: { baseUrl: 'http://127.0.0.1:1/v1', name: 'base' },
};

const command = (finetune: Record<string, unknown>) =>
  runConfigSchema.parse({ ...base, finetune: { backend: 'command', command: 'train --data {dataset} --output {outputDir}', ...finetune } });

describe('finetune paths stored with the run', () => {
  it('makes workdir and a Slurm script template absolute against the config folder, absolute ones unchanged', () => {
    const config = command({ workdir: 'work', launcher: { kind: 'slurm', scriptTemplate: 'job.sh.tmpl' } });
    const stored = withAbsoluteFinetunePaths(config, '/etc/flywheel/cfg');
    expect(stored.finetune.workdir).toBe(path.resolve('/etc/flywheel/cfg', 'work'));
    expect(stored.finetune.launcher).toMatchObject({ kind: 'slurm', scriptTemplate: '/etc/flywheel/cfg/job.sh.tmpl' });
    expect(config.finetune.workdir).toBe('work'); // the loaded config is not changed in place

    const absolute = command({ workdir: '/shared/fw', launcher: { kind: 'local' } });
    expect(withAbsoluteFinetunePaths(absolute, '/elsewhere').finetune.workdir).toBe('/shared/fw');
    const openai = runConfigSchema.parse(base);
    expect(withAbsoluteFinetunePaths(openai, '/elsewhere')).toBe(openai);
  });
});

describe('the trainer a worker builds', () => {
  const deps = createDefaultDeps({ db: {} as Db, env: {} });
  const endpoint = { baseUrl: 'http://127.0.0.1:1/v1', timeoutMs: 1000, maxRetries: 0 };

  it('is the command trainer with its launcher for finetune.backend: command, the API trainer otherwise', () => {
    const trainer = deps.trainer(command({ workdir: '/tmp/fw-wiring', launcher: { kind: 'local' } }), endpoint);
    expect(trainer.backend).toBe('command');
    expect((trainer as Trainer & { launcher?: string }).launcher).toBe('local');
    expect(typeof trainer.exportDataset).toBe('function');
    expect(deps.trainer(runConfigSchema.parse(base), endpoint).backend).toBe('openai');
  });

  it('reports a script template it cannot read as a configuration problem of this worker, naming the file', () => {
    const config = command({ workdir: '/tmp/fw-wiring', launcher: { kind: 'slurm', scriptTemplate: '/nonexistent/job.sh.tmpl' } });
    expect(() => deps.trainer(config, endpoint)).toThrow(WorkerConfigError);
    expect(() => deps.trainer(config, endpoint)).toThrow(/scriptTemplate: cannot read \/nonexistent\/job\.sh\.tmpl: ENOENT/);
  });
});

describe('staging the dataset', () => {
  it('uses the trainer’s own staging instead of building JSONL and uploading it, and not when a file is recorded', async () => {
    const calls: string[] = [];
    const job = (id: string): TrainerJob => ({ id, status: 'queued', model: null, error: null, progress: null });
    const trainer: Trainer = {
      backend: 'fake',
      upload: async () => (calls.push('upload'), 'uploaded'),
      find: async () => null,
      submit: async (r) => (calls.push(`submit ${r.trainingFile}`), job('j1')),
      get: async () => job('j1'),
      cancel: async () => {},
    };
    const request = { baseModel: 'b', hyperparameters: {}, suffix: 's', seed: 1 };
    const jsonl = async () => (calls.push('jsonl'), 'lines');
    const stage = async () => (calls.push('stage'), '/work/dataset.jsonl');
    const tag = { runId: 'r', round: 1 };
    expect(await submitOnce(trainer, { tag, supersededJobIds: [], trainingFile: null, jsonl, stage, filename: 'f', request })).toEqual({ jobId: 'j1', trainingFile: '/work/dataset.jsonl' });
    expect(calls).toEqual(['stage', 'submit /work/dataset.jsonl']);
    calls.length = 0;
    await submitOnce(trainer, { tag, supersededJobIds: [], trainingFile: '/work/earlier.jsonl', jsonl, stage, filename: 'f', request });
    expect(calls).toEqual(['submit /work/earlier.jsonl']);
  });
});
