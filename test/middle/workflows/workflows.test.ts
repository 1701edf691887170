/**
 * The workflows alone, on a Temporal dev server with stub activities: the whole round loop, pause, stop,
 * NeedsAttention then resume with one failed shard retried alone, a forced continue-as-new, and the not-promoted
 * path, in seconds. The workflow code is bundled once for the file (cli/worker.ts caches the bundle).
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installQuietRuntime } from '../../../cli/runtime.js';
import { workflowBundle } from '../../../cli/worker.js';
import type { TemporalDevServer } from '../../../infra/temporal-server.js';
import { STAGES } from '../../../lib/round/stages.js';
import type { flywheelRun, RunResult } from '../../../workflows/run.js';
import {
  pauseSignal,
  raiseBudgetUpdate,
  resumeRoundUpdate,
  resumeSignal,
  roundStatusQuery,
  statusQuery,
  stopSignal,
  TASK_QUEUES,
  workflowIds,
  type RunInput,
} from '../../../workflows/shared.js';
import { testTemporal } from '../../helpers/services.js';
import { StubRun, stubActivities, type StubRunOptions } from './stubs.js';

let temporal: TemporalDevServer;
let env: TestWorkflowEnvironment;
let workers: Worker[] = [];
let running: Promise<unknown>;
const runs = new Map<string, StubRun>();

beforeAll(async () => {
  installQuietRuntime('ERROR');
  temporal = await testTemporal();
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: temporal.address, namespace: temporal.namespace });
  const activities = stubActivities(runs);
  const bundle = await workflowBundle();
  workers = await Promise.all(
    Object.values(TASK_QUEUES).map((taskQueue) =>
      Worker.create({
        connection: env.nativeConnection,
        namespace: temporal.namespace,
        taskQueue,
        activities,
        // A test that fails with a stub shard held must not hold the workers' shutdown.
        shutdownGraceTime: '1s',
        ...(taskQueue === TASK_QUEUES.control ? { workflowBundle: bundle } : {}),
      }),
    ),
  );
  running = Promise.all(workers.map((w) => w.run()));
});

afterAll(async () => {
  for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  await running?.catch(() => {});
  await env?.teardown();
  await temporal?.stop();
});

/** Starts a run of stub activities; its round ids are unique to it. */
async function startRun(options: StubRunOptions, input: Partial<RunInput> = {}) {
  const runId = `stub-${runs.size + 1}-${Math.random().toString(36).slice(2, 6)}`;
  const run = new StubRun(runId, (runs.size + 1) * 1000, options);
  runs.set(runId, run);
  const handle = await env.client.workflow.start<typeof flywheelRun>('flywheelRun', {
    workflowId: workflowIds.run(runId),
    taskQueue: TASK_QUEUES.control,
    args: [{ runId, ...input }],
  });
  return { run, handle, round: (n: number) => env.client.workflow.getHandle(workflowIds.round(runId, n)) };
}

/** Polls `check` until it holds (queries answer in milliseconds; the server needs a moment to start a child). */
async function until<T>(check: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A gate a stub shard awaits: `open()` lets it (and every later one) through. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open: () => open() };
}

const result = (handle: WorkflowHandle<typeof flywheelRun>) => handle.result() as Promise<RunResult>;

describe.concurrent('flywheelRun and flywheelRound with stub activities', () => {
  it('runs every stage of every round in order, fanning out shards; a round not promoted says so and the run goes on', async () => {
    const { run, handle, round } = await startRun({ rounds: 1, trainShards: 3, evalShards: 2, search: true, promotes: () => false });
    expect(await result(handle)).toMatchObject({ runId: run.runId, state: 'completed', rounds: 1 });
    expect(run.stagesBegun()).toEqual([...['evaluate', 'generate', 'verify', 'search'].map((s) => `0:${s}`), ...STAGES.filter((s) => s !== 'deploy').map((s) => `1:${s}`)]);
    expect(run.shardRuns('generate', 'train', 1)).toEqual({ 0: 1, 1: 1, 2: 1 });
    expect(run.shardRuns('search', 'eval', 1)).toEqual({ 0: 1, 1: 1 });
    expect(run.shardRuns('rationalize', 'train', 0)).toEqual({ 0: 1, 1: 1, 2: 1 });
    expect(await round(0).result()).toMatchObject({ round: 0, promoted: true, stopped: false });
    expect(await round(1).result()).toMatchObject({ round: 1, promoted: false, stopped: false });
    expect(run.calls.at(-1)).toEqual({ name: 'finishRun', input: { runId: run.runId, state: 'completed' } });
  });

  it('pause holds the next shard until unpause; work in flight finishes', async () => {
    const first = gate();
    const { run, handle, round } = await startRun({
      rounds: 0,
      evalShards: 3,
      maxShardsInFlight: 1,
      onShard: async (kind, input) => {
        if (kind === 'generate' && input.purpose === 'eval' && input.shard === 0) await first.opened;
      },
    });
    await until(async () => run.names('generateShard').length === 1, 'the first shard runs');
    await handle.signal(pauseSignal);
    await until(async () => (await round(0).query(roundStatusQuery)).paused, 'the round is paused');
    expect((await handle.query(statusQuery)).state).toBe('paused');
    first.open();
    await until(async () => run.finished.includes('generate:eval:0'), 'the shard in flight finished');
    await new Promise((r) => setTimeout(r, 500));
    expect(run.names('generateShard')).toHaveLength(1);
    await handle.signal(resumeSignal);
    expect((await result(handle)).state).toBe('completed');
    expect(run.shardRuns('generate', 'eval')).toEqual({ 0: 1, 1: 1, 2: 1 });
  });

  it('stop ends the round before its next stage and the run before its next round', async () => {
    const held = gate();
    const { run, handle, round } = await startRun({
      rounds: 1,
      onShard: async (kind, input) => {
        if (kind === 'generate' && input.purpose === 'train') await held.opened;
      },
    });
    await until(async () => run.names('generateShard').length > 0 && run.stagesBegun().includes('0:generate'), 'round 0 generates');
    await handle.signal(stopSignal);
    await until(async () => (await handle.query(statusQuery)).state === 'stopping', 'the run is stopping');
    held.open();
    expect((await result(handle)).state).toBe('stopped');
    expect(await round(0).result()).toMatchObject({ round: 0, stopped: true });
    expect(run.stagesBegun()).toEqual(['0:evaluate', '0:generate']);
    expect(run.names('startRound')).toHaveLength(1);
    expect(run.calls.at(-1)).toEqual({ name: 'finishRun', input: { runId: run.runId, state: 'stopped' } });
  });

  it('a shard that fails after its retries sends the round to NeedsAttention; resumeRound retries that shard alone', async () => {
    const { run, handle, round } = await startRun({
      rounds: 0,
      trainShards: 3,
      onShard: (kind, input, attempt) => {
        if (kind === 'verify' && input.purpose === 'train' && input.shard === 1 && attempt === 1) {
          throw ApplicationFailure.nonRetryable('verifier exploded on trace 7', 'VerifierError');
        }
      },
    });
    const status = await until(async () => {
      const s = await round(0).query(roundStatusQuery);
      return s.needsAttention ? s : null;
    }, 'the round needs attention');
    expect(status).toMatchObject({ stage: 'verify', failure: expect.stringMatching(/verify shard 2 \(of 3\): verifyShard failed: verifier exploded on trace 7/) });
    await until(async () => (await handle.query(statusQuery)).state === 'needs_attention', 'the run shows the attention');
    expect(run.calls.find((c) => c.name === 'recordAttention')?.input).toMatchObject({ stage: 'verify', failure: expect.stringContaining('exploded') });

    expect(await handle.executeUpdate(resumeRoundUpdate, { args: [{ note: 'fixed the verifier' }] })).toEqual({ round: 0, stage: 'verify' });
    expect((await result(handle)).state).toBe('completed');
    expect(run.shardRuns('verify', 'train')).toEqual({ 0: 1, 1: 2, 2: 1 });
    expect(run.stagesBegun().filter((s) => s === '0:verify')).toHaveLength(2);
    expect(run.calls.filter((c) => c.name === 'recordAttention').map((c) => c.input.failure === null)).toEqual([false, true]);
  });

  it('resumeRound is refused while no round waits', async () => {
    const held = gate();
    const { run, handle } = await startRun({ rounds: 0, onShard: () => held.opened });
    try {
      await until(async () => run.names('generateShard').length > 0, 'the round runs');
      const refused = await handle.executeUpdate(resumeRoundUpdate, { args: [{}] }).catch((err: unknown) => err);
      expect(refused).toMatchObject({ cause: { message: expect.stringMatching(/no round of run .* is waiting for attention \(state: running\)/) } });
    } finally {
      held.open();
    }
    await result(handle);
  });

  it('continues-as-new between rounds when told to, carrying on from the next round', async () => {
    const { run, handle } = await startRun({ rounds: 1 }, { continueAsNewEvery: 1 });
    const firstRunId = handle.firstExecutionRunId;
    expect(await result(handle)).toMatchObject({ state: 'completed', rounds: 1 });
    const first = await env.client.workflow.getHandle(workflowIds.run(run.runId), firstRunId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
    const latest = await env.client.workflow.getHandle(workflowIds.run(run.runId)).describe();
    expect(latest.runId).not.toBe(firstRunId);
    // Each execution loaded the run; each round was planned once.
    expect(run.names('loadRun')).toHaveLength(2);
    expect(run.calls.filter((c) => c.name === 'startRound').map((c) => c.input.round)).toEqual([0, 1]);
  });

  it('a stage that would pass the budget does not start: NeedsAttention with the numbers; raiseBudget lets the run complete', async () => {
    // Round 0: evaluate, generate, verify, search; each stage uses 100 tokens: verify would reach 300 > 250.
    const { run, handle, round } = await startRun({ rounds: 0, budget: { maxTokens: 250, perStage: 100 } });
    const status = await until(async () => {
      const s = await round(0).query(roundStatusQuery);
      return s.needsAttention ? s : null;
    }, 'the round waits at its budget');
    expect(status).toMatchObject({ stage: 'verify', failure: expect.stringMatching(/about 100 tokens after 200 so far, past budget.maxTokens 250/) });
    expect(run.stagesBegun()).toEqual(['0:evaluate', '0:generate']);
    await until(async () => (await handle.query(statusQuery)).state === 'needs_attention', 'the run shows the attention');
    const { currentDetails } = (await round(0).query<{ currentDetails: string }>('__temporal_workflow_metadata')) as { currentDetails: string };
    expect(currentDetails).toContain('needs attention: budget');
    expect(currentDetails).toContain('Spent so far: $0.00, 200 tokens');
    expect(currentDetails).toContain('Estimate of **verify**: unpriced, 100 tokens');
    expect(currentDetails).toContain('Limit: budget.maxTokens 250');
    expect(currentDetails).toMatch(/raiseBudget.*\{"maxTokens": 300\}/s);
    // resumeRound is not what a budget wait takes; a raise with nothing in it is refused.
    expect(await handle.executeUpdate(resumeRoundUpdate, { args: [{}] }).catch((e: unknown) => e)).toMatchObject({
      cause: { message: expect.stringMatching(/waits for a raised budget: send raiseBudget/) },
    });
    expect(await handle.executeUpdate(raiseBudgetUpdate, { args: [{}] }).catch((e: unknown) => e)).toMatchObject({
      cause: { message: expect.stringMatching(/raiseBudget needs maxCost or maxTokens/) },
    });
    expect(run.stagesBegun()).toEqual(['0:evaluate', '0:generate']);

    expect(await handle.executeUpdate(raiseBudgetUpdate, { args: [{ maxTokens: 1000 }] })).toEqual({ round: 0, stage: 'verify', budget: { maxTokens: 1000 } });
    expect((await result(handle)).state).toBe('completed');
    expect(run.stagesBegun()).toEqual(['0:evaluate', '0:generate', '0:verify', '0:search']);
    expect(run.calls.filter((c) => c.name === 'checkStageBudget').map((c) => c.input.stage)).toEqual(['evaluate', 'generate', 'verify', 'verify', 'search']);
    expect(run.calls.filter((c) => c.name === 'recordAttention').map((c) => c.input.failure === null)).toEqual([false, true]);
  });

  it('stop while a round waits at its budget ends the run; no stage past the limit starts', async () => {
    const { run, handle, round } = await startRun({ rounds: 1, budget: { maxTokens: 150, perStage: 100 } });
    await until(async () => (await round(0).query(roundStatusQuery)).needsAttention, 'the round waits at its budget');
    await handle.signal(stopSignal);
    expect((await result(handle)).state).toBe('stopped');
    expect(run.stagesBegun()).toEqual(['0:evaluate']);
    expect(run.names('startRound')).toHaveLength(1);
  });

  it('a run without a budget checks none, and raiseBudget is refused while no round waits for one', async () => {
    const held = gate();
    const { run, handle } = await startRun({ rounds: 0, onShard: () => held.opened });
    try {
      await until(async () => run.names('generateShard').length > 0, 'the round runs');
      const refused = await handle.executeUpdate(raiseBudgetUpdate, { args: [{ maxCost: 5 }] }).catch((err: unknown) => err);
      expect(refused).toMatchObject({ cause: { message: expect.stringMatching(/no round of run .* is waiting for a budget/) } });
    } finally {
      held.open();
    }
    expect((await result(handle)).state).toBe('completed');
    expect(run.names('checkStageBudget')).toEqual([]);
  });
});
