import { describe, expect, it } from 'vitest';
import { reusableJob, submitOnce } from '../../../lib/train/submit.js';
import type { Trainer, TrainerJob } from '../../../lib/train/types.js';

const job = (id: string, status: TrainerJob['status'] = 'running'): TrainerJob => ({ id, status, model: null, error: null, progress: null });

function trainer(found: TrainerJob | null) {
  const calls: string[] = [];
  const t: Trainer = {
    backend: 'fake',
    upload: async (jsonl) => (calls.push(`upload ${jsonl}`), 'file-new'),
    find: async () => (calls.push('find'), found),
    submit: async (r) => (calls.push(`submit ${r.trainingFile}`), job('job-new')),
    get: async () => job('x'),
    cancel: async () => {},
  };
  return { t, calls };
}

const request = { tag: { runId: 'r', round: 1 }, filename: 'f.jsonl', jsonl: async () => 'lines', request: { baseModel: 'b', hyperparameters: {}, suffix: 's', seed: 1 } };

describe('submitting a trainer job once', () => {
  it('reuses a live job found by its tag, unless superseded or ended badly', () => {
    expect(reusableJob(job('a'), [])).toBe(true);
    expect(reusableJob(job('a'), ['a'])).toBe(false);
    expect(reusableJob(job('a', 'failed'), [])).toBe(false);
    expect(reusableJob(job('a', 'cancelled'), [])).toBe(false);
    expect(reusableJob(null, [])).toBe(false);
  });
  it('reattaches to the found job without uploading', async () => {
    const { t, calls } = trainer(job('job-old'));
    expect(await submitOnce(t, { ...request, supersededJobIds: [], trainingFile: null })).toEqual({ jobId: 'job-old', trainingFile: null });
    expect(calls).toEqual(['find']);
  });
  it('uploads once: a recorded training file is submitted again without a new upload', async () => {
    const fresh = trainer(job('job-old', 'failed'));
    expect(await submitOnce(fresh.t, { ...request, supersededJobIds: [], trainingFile: null })).toEqual({ jobId: 'job-new', trainingFile: 'file-new' });
    expect(fresh.calls).toEqual(['find', 'upload lines', 'submit file-new']);
    const again = trainer(job('job-old'));
    expect(await submitOnce(again.t, { ...request, supersededJobIds: ['job-old'], trainingFile: 'file-1' })).toEqual({ jobId: 'job-new', trainingFile: 'file-1' });
    expect(again.calls).toEqual(['find', 'submit file-1']);
  });
});
