/**
 * Workers: one per task queue this process serves (all four by default; `--queues` splits them across machines).
 * The workflow bundle is built once per process, in a child process, and shared.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { MAX_SHARDS_IN_FLIGHT } from '../config/schema.js';
import type { WorkerMetrics } from '../telemetry/metrics.js';
import { activityLogInterceptor } from '../telemetry/temporal.js';
import { TASK_QUEUES, type QueueRole } from '../workflows/shared.js';
import { announceTemporal, connectionOptions, connectTemporal, type TemporalTarget } from './connections.js';

/**
 * Generate-queue slots by default: as many as a round may keep in flight, so a worker's slots never cap
 * `generate.maxShardsInFlight` (a shard waiting on the endpoint's limiter costs a few promises, not a thread).
 */
export const DEFAULT_GENERATE_SLOTS = MAX_SHARDS_IN_FLIGHT;

/** Activity slots per queue when not given: training jobs are few; verification is CPU-bound. */
function defaultSlots(role: QueueRole): number {
  if (role === 'generate') return DEFAULT_GENERATE_SLOTS;
  return role === 'train' ? 4 : 16;
}

const WORKFLOWS = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
const BUNDLER = fileURLToPath(new URL('./bundle-workflows.ts', import.meta.url));
const execFileAsync = promisify(execFile);

let bundle: Promise<{ code: string }> | null = null;

/**
 * Bundles the workflow code once per process (webpack + swc; a few seconds), in a child process
 * (cli/bundle-workflows.ts): the bundler's heap is returned when it exits instead of staying in the worker's RSS.
 */
export function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleInChild().catch((err: unknown) => {
    bundle = null; // a later call tries again
    throw err;
  });
  return bundle;
}

async function bundleInChild(): Promise<{ code: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'flywheel-bundle-'));
  try {
    const out = path.join(dir, 'workflows.js');
    await execFileAsync(process.execPath, ['--import', import.meta.resolve('tsx'), BUNDLER, out, WORKFLOWS], {
      env: { ...process.env, NODE_OPTIONS: '' },
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`building the workflow bundle failed: ${(err.stderr || err.message).trim()}`);
    });
    return { code: await readFile(out, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Where Temporal is (address, namespace, and TLS, API key, headers when configured) and what to serve. */
export interface WorkersOptions extends TemporalTarget {
  deps: ActivityDeps;
  queues?: QueueRole[];
  /** Activities run at once per queue (default: generate {@link DEFAULT_GENERATE_SLOTS}, train 4, others 16). */
  concurrency?: Partial<Record<QueueRole, number>>;
  /** Prometheus metrics of these workers (model requests, traces, verdicts, durations, slots, trainer jobs). */
  /** Metrics to collect, and the log line writer for what the workers say about themselves (default: stderr). */
  telemetry?: { metrics?: WorkerMetrics; log?: (line: string) => void };
}

export interface RunningWorkers {
  queues: string[];
  /** Resolves when every worker has stopped (after shutdown(), or rejects on a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export async function startWorkers(options: WorkersOptions): Promise<RunningWorkers> {
  const roles = options.queues ?? (Object.keys(TASK_QUEUES) as QueueRole[]);
  announceTemporal(options, options.telemetry?.log);
  const connection = await connectTemporal(options.address, () => NativeConnection.connect(connectionOptions(options)), options);
  const metrics = options.telemetry?.metrics;
  const slots = (role: QueueRole) => options.concurrency?.[role] ?? defaultSlots(role);
  // The generate activities compare a run's maxShardsInFlight with what this worker holds, and say when it is less.
  const deps = roles.includes('generate') ? { ...options.deps, generateSlots: slots('generate') } : options.deps;
  const activities = createActivities(metrics ? metrics.instrument(deps) : deps);
  const interceptors = { activity: [activityLogInterceptor, ...(metrics ? [metrics.activityInterceptor] : [])] };
  const workers: Worker[] = [];
  try {
    for (const role of roles) {
      workers.push(
        await Worker.create({
          connection,
          namespace: options.namespace,
          taskQueue: TASK_QUEUES[role],
          activities,
          interceptors,
          ...(role === 'control' ? { workflowBundle: await workflowBundle() } : {}),
          maxConcurrentActivityTaskExecutions: slots(role),
        }),
      );
    }
  } catch (err) {
    await connection.close();
    throw err;
  }
  const done = Promise.all(workers.map((w) => w.run())).then(
    () => connection.close(),
    async (err) => {
      await Promise.allSettled(workers.map((w) => (w.getState() === 'RUNNING' ? w.shutdown() : undefined)));
      await connection.close().catch(() => {});
      throw err;
    },
  );
  let stopping: Promise<void> | null = null;
  return {
    queues: roles.map((r) => TASK_QUEUES[r]),
    done,
    shutdown() {
      stopping ??= (async () => {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await done.catch(() => {});
      })();
      return stopping;
    },
  };
}
