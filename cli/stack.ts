/**
 * The embedded stack of `flywheel dev` and `flywheel demo`: Postgres (or DATABASE_URL), the Temporal dev server
 * (or TEMPORAL_ADDRESS), the local model server (or FLYWHEEL_MODEL_URL) and, unless told otherwise, a worker.
 * Whatever it started it stops, in reverse order.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { createDefaultDeps } from '../activities/deps.js';
import { connectDatabase, type Database } from '../db/client.js';
import { startPostgres } from '../infra/postgres.js';
import { startTemporalDevServer } from '../infra/temporal-server.js';
import { startLocalModelServer } from '../localmodel/server.js';
import { removeStackFile, resolveTemporal, writeStackFile, type Connections, type TemporalTarget } from './connections.js';
import { startWorkers, type RunningWorkers } from './worker.js';

export interface StackOptions {
  home: string;
  worker: boolean;
  /** Fixed ports for the dev server and its UI (a taken port falls back to a free one). */
  temporalPort?: number;
  uiPort?: number;
  log: (line: string) => void;
  /** Where the worker's activity log lines go (default: `log`); the demo keeps them out of its progress lines. */
  workerLog?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Record the stack in `<home>/stack.json` so that other commands find it. */
  advertise?: boolean;
}

export interface Stack extends Connections {
  /** How to dial Temporal: the dev server, or (TEMPORAL_ADDRESS set) the configured one with its TLS and key. */
  temporal: TemporalTarget;
  database: Database;
  workers: RunningWorkers | null;
  /** What is embedded (started here) rather than configured from the environment. */
  embedded: { postgres: boolean; temporal: boolean; model: boolean };
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const env = options.env ?? process.env;
  const { log } = options;
  mkdirSync(options.home, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => log(`while stopping: ${(err as Error).message}`));
    stops.length = 0;
  };
  try {
    const postgresStart = startPostgres({ dataDir: path.join(options.home, 'pg'), log, externalUrl: env.DATABASE_URL || null });
    const temporalStart = env.TEMPORAL_ADDRESS
      ? Promise.resolve(null)
      : startTemporalDevServer({
          dbFile: path.join(options.home, 'temporal.db'),
          port: options.temporalPort ?? 7233,
          uiPort: options.uiPort ?? 8233,
          log,
        });
    const modelStart = env.FLYWHEEL_MODEL_URL
      ? Promise.resolve(null)
      : startLocalModelServer({ dataDir: path.join(options.home, 'localmodel'), port: 0, log: () => {}, runtimeLora: /^(1|true)$/i.test(process.env.VLLM_ALLOW_RUNTIME_LORA_UPDATING ?? '') }).then((m) => ({
          url: m.url,
          stop: () => m.close(),
        }));
    const [postgres, temporal, model] = await settleAll([postgresStart, temporalStart, modelStart], stops);

    const database = await connectDatabase(postgres.url);
    stops.push(() => database.close());
    // TEMPORAL_ADDRESS set: no dev server, and the TLS / API key settings of the environment apply (never written to stack.json).
    const temporalTarget: TemporalTarget = temporal ? { address: temporal.address, namespace: temporal.namespace } : resolveTemporal(env, null)!;
    const connections: Connections = {
      databaseUrl: postgres.url,
      temporalAddress: temporalTarget.address,
      namespace: temporalTarget.namespace,
      modelUrl: model?.url ?? env.FLYWHEEL_MODEL_URL ?? null,
      uiUrl: temporal?.uiUrl ?? env.FLYWHEEL_UI_URL ?? null,
    };

    let workers: RunningWorkers | null = null;
    if (options.worker) {
      const deps = createDefaultDeps({
        db: database.db,
        embeddedModelUrl: connections.modelUrl ?? undefined,
        env,
        log: options.workerLog ?? log,
      });
      workers = await startWorkers({ ...temporalTarget, deps });
      const running = workers;
      stops.push(() => running.shutdown());
    }
    if (options.advertise) {
      writeStackFile(options.home, { ...connections, pid: process.pid, startedAt: new Date().toISOString(), worker: options.worker });
      stops.push(async () => removeStackFile(options.home));
    }
    return {
      ...connections,
      temporal: temporalTarget,
      database,
      workers,
      embedded: { postgres: postgres.embedded, temporal: temporal !== null, model: model !== null },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Awaits services started in parallel; registers the stop of each one that came up, even if another failed. */
async function settleAll<T extends readonly unknown[]>(
  starts: { [K in keyof T]: Promise<T[K]> },
  stops: Array<() => Promise<void>>,
): Promise<T> {
  const results = await Promise.allSettled(starts);
  for (const r of results) {
    const value = r.status === 'fulfilled' ? (r.value as { stop?: () => Promise<void> } | null) : null;
    if (value?.stop) stops.push(() => value.stop!());
  }
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
