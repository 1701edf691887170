/**
 * The CLI contract operators script against, with real processes: `flywheel dev --no-worker` (its own Temporal dev
 * server and model server, Postgres from DATABASE_URL), `flywheel run --json`, `flywheel status --json`,
 * pause / unpause / stop, a separately started `flywheel worker` that completes the run, a bad config that exits 2
 * and writes nothing, and Ctrl-C (SIGINT) on `dev` stopping everything it started. Commands other than `dev` find
 * the stack through `$FLYWHEEL_HOME/stack.json` only: their environment names no service.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackFile } from '../../cli/connections.js';
import { workflowIds } from '../../workflows/shared.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { isRunning, runFlywheel, spawnFlywheel, startWorkerProcess, waitFor, type FlywheelProcess } from '../helpers/processes.js';
import { tempDir, testDatabase, type TestDatabase } from '../helpers/services.js';

const TRAIN = 20;
const TEST = 8;
const SAMPLES = 4;
const PLANNED = TRAIN * SAMPLES;

const GOOD = `
name: cli-contract
rounds: 1
task: {kind: countdown, seed: 3, train: ${TRAIN}, test: ${TEST}}
generate: {samplesPerProblem: ${SAMPLES}, shardSamples: 8, concurrency: 2, maxShardsInFlight: 2}
evaluate: {samples: 2, k: [1, 2]}
filter: {correctOnly: false, minScore: 0}
finetune: {hyperparameters: {nEpochs: 5}, pollIntervalMs: 200}
durability: {heartbeatTimeoutSeconds: 5, retryInitialIntervalMs: 200}
`;

// Line numbers matter: the test expects each problem at its own line.
const BAD = [
  'name: cli-bad', //                                       1
  'rounds: -1', //                                          2: below the minimum
  'task: {kind: countdown, seed: 3, train: 0, test: 5}', // 3: train must be positive
  'generate:', //                                           4
  '  samplesPerProblem: two', //                            5: not a number
  '  temprature: 0.5', //                                   6: unknown key (typo)
  'model:', //                                              7
  '  apiKey: sk-not-a-real-key', //                         8: a secret in the config
  '',
].join('\n');

let home: ReturnType<typeof tempDir>;
let db: TestDatabase;
let dev: FlywheelProcess;
let stack: StackFile;
let client: Client;
let proxy: FaultProxy;
let worker: FlywheelProcess | null = null;
const runs: string[] = [];

/** Commands find the stack through FLYWHEEL_HOME alone. */
const cli = (args: string[]) => runFlywheel(args, { FLYWHEEL_HOME: home.dir });

async function status(runId: string) {
  const res = await cli(['status', runId, '--json']);
  expect(res.code, res.stderr).toBe(0);
  const lines = res.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as {
    state: string;
    rounds: Array<{ round: number; stage: string; planned: number; traces: number; verified: number; fineTuneJobs: number }>;
  };
}

function portOpen(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port });
    socket.setTimeout(1_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

beforeAll(async () => {
  home = tempDir('cli');
  db = await testDatabase();
  writeFileSync(path.join(home.dir, 'good.yaml'), GOOD);
  writeFileSync(path.join(home.dir, 'bad.yaml'), BAD);
  dev = spawnFlywheel(['dev', '--no-worker'], { FLYWHEEL_HOME: home.dir, DATABASE_URL: db.url });
  await dev.waitForOutput(/flywheel dev is up/, 180_000);
  stack = JSON.parse(readFileSync(path.join(home.dir, 'stack.json'), 'utf8')) as StackFile;
  client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }), namespace: stack.namespace });
});

afterAll(async () => {
  await worker?.stop();
  await Promise.allSettled(runs.map((runId) => client?.workflow.getHandle(workflowIds.run(runId)).terminate('test finished')));
  await client?.connection.close();
  await proxy?.close();
  await dev?.stop();
  await db?.drop();
  home?.remove();
});

describe('the flywheel CLI', () => {
  it('`dev --no-worker` starts Postgres (from DATABASE_URL), a Temporal dev server and a model server, no worker', async () => {
    expect(stack).toMatchObject({ databaseUrl: db.url, namespace: 'default', worker: false });
    expect(stack.pid).toBeGreaterThan(0);
    expect(await portOpen(stack.temporalAddress)).toBe(true);
    expect(stack.modelUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect((await fetch(`${stack.modelUrl}/models`)).status).toBe(200);
    expect(dev.stdout()).toContain('none (--no-worker)');
    // Nobody polls the task queues.
    const queue = await client.workflowService.describeTaskQueue({
      namespace: stack.namespace,
      taskQueue: { name: 'flywheel' },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    expect(queue.pollers ?? []).toHaveLength(0);
    // The migrations ran on the given database.
    const [tables] = (await db.db.execute(sql`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'flywheel'`)).rows as Array<{ n: number }>;
    expect(tables!.n).toBeGreaterThan(5);
  });

  it('a bad config exits 2, names each wrong field with its line, and writes nothing', async () => {
    const res = await cli(['run', path.join(home.dir, 'bad.yaml'), '--json']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    const file = path.join(home.dir, 'bad.yaml');
    for (const [field, line] of [
      ['rounds', 2],
      ['task.train', 3],
      ['generate.samplesPerProblem', 5],
      ['generate.temprature', 6],
      ['model.apiKey', 8],
    ] as const) {
      expect(res.stderr, field).toMatch(new RegExp(`^\\s+${field.replace('.', '\\.')}: .*\\[${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${line}(:\\d+)?\\]$`, 'm'));
    }
    expect(res.stderr).toMatch(/model\.apiKey: secrets do not belong in the config/);
    expect(res.stderr).toMatch(/5 problems in the run config/);
    const counts = (await db.db.execute(sql`
      SELECT (SELECT count(*) FROM flywheel.runs)::int AS runs, (SELECT count(*) FROM flywheel.problems)::int AS problems,
             (SELECT count(*) FROM flywheel.rounds)::int AS rounds`)).rows;
    expect(counts).toEqual([{ runs: 0, problems: 0, rounds: 0 }]);
  });

  it('`run --json` prints exactly {"runId": ...}; pause, a separate worker, unpause, completion, as `status --json` says', async () => {
    const started = await cli(['run', path.join(home.dir, 'good.yaml'), '--json']);
    expect(started.code, started.stderr).toBe(0);
    const lines = started.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const printed = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(printed)).toEqual(['runId']);
    const runId = printed.runId as string;
    expect(runId).toMatch(/^cli-contract-\d{8}-\d{6}-[0-9a-f]{4}$/);
    runs.push(runId);

    // No worker yet: status still answers, soon (from Postgres), in the contract's vocabulary.
    const asked = Date.now();
    expect(await status(runId)).toMatchObject({ state: 'running', rounds: [] });
    expect(Date.now() - asked).toBeLessThan(20_000);

    // Paused before any worker saw it: when one comes, the run waits before its first round.
    const paused = await cli(['pause', runId]);
    expect(paused.code, paused.stderr).toBe(0);

    // The worker: its own process, finding everything through stack.json, with a slow model in front of the stack's
    // so that the run is observably running for a while.
    proxy = await startFaultProxy({ target: stack.modelUrl!.replace(/\/v1$/, ''), latencyMs: 0 });
    proxy.setLatency(150, /chat\/completions/);
    worker = await startWorkerProcess({ FLYWHEEL_HOME: home.dir, FLYWHEEL_MODEL_URL: proxy.url });

    // The new worker answers the status query once it has taken the run's first workflow task (a few seconds on a
    // loaded machine); until then status falls back to Postgres, which cannot know about the pause.
    await waitFor('the worker to report the run paused', async () => (await status(runId)).state === 'paused', {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    const whilePaused = await status(runId);
    expect(whilePaused).toMatchObject({ state: 'paused', rounds: [] });

    const unpaused = await cli(['unpause', runId]);
    expect(unpaused.code, unpaused.stderr).toBe(0);
    const running = await status(runId);
    expect(running.state).toBe('running');

    await waitFor('the run to complete', async () => (await client.workflow.getHandle(workflowIds.run(runId)).describe()).status.name === 'COMPLETED', {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const done = await status(runId);
    expect(done.state).toBe('completed');
    expect(done.rounds).toEqual([
      expect.objectContaining({ round: 0, stage: 'done', planned: PLANNED, traces: PLANNED, verified: PLANNED, fineTuneJobs: 0 }),
      expect.objectContaining({ round: 1, stage: 'done', planned: PLANNED, traces: PLANNED, verified: PLANNED, fineTuneJobs: 1 }),
    ]);
  });

  it('`stop` ends a running run after its current stage: no further round starts', async () => {
    // A slow model keeps round 0 going for well over the few seconds a `flywheel stop` process takes to start on a
    // loaded machine; with a fast one, round 0 could finish before the stop arrives and the test would race.
    proxy.setLatency(2000, /chat\/completions/);
    const started = await cli(['run', path.join(home.dir, 'good.yaml'), '--json']);
    expect(started.code, started.stderr).toBe(0);
    const { runId } = JSON.parse(started.stdout) as { runId: string };
    runs.push(runId);
    await waitFor('round 0 under way', async () => {
      const rows = (await db.db.execute(sql`SELECT count(*)::int AS n FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId}`)).rows as Array<{ n: number }>;
      return rows[0]!.n > 0;
    });
    const stopped = await cli(['stop', runId]);
    expect(stopped.code, stopped.stderr).toBe(0);
    await waitFor('the run to end', async () => (await client.workflow.getHandle(workflowIds.run(runId)).describe()).status.name === 'COMPLETED', {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    const after = await status(runId);
    expect(after.state).toBe('stopped');
    expect(after.rounds.map((r) => r.round)).toEqual([0]);
    proxy.setLatency(150, /chat\/completions/);
  });

  it('Ctrl-C (SIGINT) on `dev` stops everything it started', async () => {
    await worker?.stop();
    worker = null;
    const temporalRecord = JSON.parse(readFileSync(path.join(home.dir, 'temporal.db.server.json'), 'utf8')) as { pid: number };
    expect(isRunning(temporalRecord.pid)).toBe(true);
    const members = dev.members();
    dev.signal('SIGINT');
    const exit = await Promise.race([dev.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000))]);
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor('every process of dev gone', () => members.every((pid) => !isRunning(pid)) && !isRunning(temporalRecord.pid), { timeoutMs: 20_000 });
    expect(await portOpen(stack.temporalAddress)).toBe(false);
    expect(await fetch(`${stack.modelUrl}/models`).then(() => 'answered', () => 'refused')).toBe('refused');
    expect(existsSync(path.join(home.dir, 'stack.json'))).toBe(false);
    expect(dev.stderr()).toContain('stopping...');
  });
});
