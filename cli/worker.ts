/**
 * Workers: one per task queue this process serves (all four by default; `--queues` splits them across machines).
 * The workflow bundle is built once per process and shared.
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
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

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;

/** Bundles the workflow code once (webpack + swc; a few seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn(message: string) {
    process.stderr.write(`workflow bundler: ${message}\n`);
  },
  error(message: string) {
    process.stderr.write(`workflow bundler: ${message}\n`);
  },
};

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
