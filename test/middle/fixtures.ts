/**
 * Fixtures of the middle tier: a run stored the way `flywheel run` stores it (countdown problems, the validated
 * config), plain fake dependencies for activities, and an activity environment with the info a worker would give.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Info } from '@temporalio/activity';
import { runConfigSchema, type RunConfigInput } from '../../config/schema.js';
import type { Db } from '../../db/client.js';
import { upsertProblems } from '../../db/problems.js';
import { ensureRound, mergeRoundStats, updateRound } from '../../db/rounds.js';
import { insertRun } from '../../db/runs.js';
import { WorkerConfigError, type ActivityDeps } from '../../activities/deps.js';
import { buildTaskSet } from '../../lib/tasks/index.js';
import { createVerifier } from '../../lib/verify/index.js';
import type { SubmitRequest, Trainer, TrainerJob } from '../../lib/train/types.js';

let runs = 0;

/** Stores a run of countdown problems (`train` + `test`); returns its id and the parsed config. */
export async function storeRun(db: Db, input: Partial<RunConfigInput> = {}, stored?: (config: object) => object) {
  const config = runConfigSchema.parse({ name: 'middle', rounds: 2, task: { kind: 'countdown', seed: 3, train: 6, test: 4 }, ...input });
  const taskSet = buildTaskSet(config.task, process.cwd());
  const id = `middle-${process.pid}-${++runs}-${Math.random().toString(36).slice(2, 6)}`;
  await upsertProblems(db, taskSet.name, taskSet.problems);
  await insertRun(db, { id, config: (stored ? stored(config) : config) as typeof config, taskSet: taskSet.name, baseUrl: 'http://model.invalid/v1' });
  return { runId: id, config, taskSet: taskSet.name };
}

/** Round `index` of a run as the rounds before it would leave it: every earlier round completed. */
export async function storeRounds(db: Db, runId: string, upTo: number, base = 'countdown-mlp') {
  let last = null as Awaited<ReturnType<typeof ensureRound>> | null;
  for (let i = 0; i <= upTo; i++) {
    last = await ensureRound(db, runId, i, { planned: 0, sampler: i === 0 ? base : null, model: i === 0 ? base : null });
    if (i < upTo) {
      await updateRound(db, last.id, { status: 'completed', stage: 'done', sampler: base, model: base });
      if (i > 0) await mergeRoundStats(db, last.id, { promote: { promoted: false } });
    }
  }
  return last!;
}

/** A trainer that records what it is asked and never trains. */
export function fakeTrainer(): Trainer & { calls: string[] } {
  const calls: string[] = [];
  return {
    backend: 'fake',
    calls,
    async upload() {
      calls.push('upload');
      return 'file-1';
    },
    async find() {
      calls.push('find');
      return null;
    },
    async submit() {
      calls.push('submit');
      return { id: 'job-1', status: 'succeeded', model: 'ft:fake', error: null, progress: null };
    },
    async get() {
      calls.push('get');
      return { id: 'job-1', status: 'succeeded', model: 'ft:fake', error: null, progress: null };
    },
    async cancel() {
      calls.push('cancel');
    },
  };
}

/**
 * A command-style trainer (it stages its own datasets, both chat and stepwise) whose first job fails with exit code
 * 1 and a log tail, and whose every later job succeeds with `model` and a checkpoint at `checkpointPath`.
 */
export function failingOnceTrainer(job: { model: string; checkpointPath: string; launcher: string; logTail: string }) {
  const calls: string[] = [];
  const submits: SubmitRequest[] = [];
  const jobs = new Map<string, TrainerJob>();
  const trainer: Trainer = {
    backend: 'command',
    upload: async () => (calls.push('upload'), 'uploaded'),
    exportDataset: async (tag) => (calls.push('export'), `/shared/${tag.runId}/round-${tag.round}.jsonl`),
    async exportStepwise(tag, examples) {
      let n = 0;
      for await (const _ of examples) n++;
      calls.push(`export-stepwise ${n}`);
      return `/shared/${tag.runId}/round-${tag.round}/prm/train.jsonl`;
    },
    find: async () => null,
    async submit(request) {
      submits.push(request);
      const id = `job-${submits.length}`;
      const first = submits.length === 1;
      jobs.set(id, {
        id,
        status: first ? 'failed' : 'succeeded',
        model: first ? null : job.model,
        error: first ? 'the trainer exited with code 1' : null,
        progress: null,
        launcher: job.launcher,
        progressHistory: [{ step: 1, loss: 0.5 }],
        exitCode: first ? 1 : 0,
        logTail: first ? job.logTail : null,
        checkpoint: first ? null : { path: job.checkpointPath, manifest: { kind: 'adapter' } as never },
      });
      return jobs.get(id)!;
    },
    get: async (id) => jobs.get(id)!,
    cancel: async () => {},
  };
  return { trainer, calls, submits };
}

/** Deps with plain fakes: an endpoint nobody listens on, the run's real verifier, a fake trainer. */
export function fakeDeps(db: Db, over: Partial<ActivityDeps> = {}): ActivityDeps & { lines: string[] } {
  const lines: string[] = [];
  return {
    db,
    modelEndpoint: () => ({ baseUrl: 'http://127.0.0.1:9/v1', apiKey: undefined, timeoutMs: 1000, maxRetries: 0 }),
    verifier: (spec) => createVerifier(spec, {}),
    trainer: () => fakeTrainer(),
    deployer: () => null,
    rewardModel: () => ({ score: async (_p, completions) => ({ scores: completions.map(() => 0.5), requests: 1 }) }),
    log: (line) => void lines.push(line),
    lines,
    ...over,
  };
}

export const missingKey = (name: string) => () => {
  throw new WorkerConfigError(`model.apiKeyEnv names ${name}, which is not set in this worker's environment`);
};

/** An activity environment with the info a worker gives (a heartbeat timeout, mostly), typed by the activity. */
export function activityEnvironment(info: Partial<Info> = {}) {
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000, startToCloseTimeoutMs: 60_000, ...info });
  const run = env.run.bind(env) as (fn: unknown, ...args: unknown[]) => Promise<unknown>;
  return {
    env,
    on: (event: 'heartbeat', listener: (details: unknown) => void) => env.on(event, listener),
    run: <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) => run(fn, ...args) as Promise<R>,
  };
}
