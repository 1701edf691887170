/**
 * Workers: one per task queue this process serves (all four by default; `--queues` splits them across machines).
 * The workflow bundle is built once per process and shared.
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import type { WorkerMetrics } from '../telemetry/metrics.js';
import { activityLogInterceptor } from '../telemetry/temporal.js';
import { TASK_QUEUES, type QueueRole } from '../workflows/shared.js';
import { announceTemporal, connectionOptions, connectTemporal, type TemporalTarget } from './connections.js';

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
  /** Shard activities run at once on the generate / verify queues. */
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
  const activities = createActivities(metrics ? metrics.instrument(options.deps) : options.deps);
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
          maxConcurrentActivityTaskExecutions: options.concurrency?.[role] ?? (role === 'train' ? 4 : 16),
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
