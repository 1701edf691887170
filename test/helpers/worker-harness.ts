/**
 * The setup the worker-process durability tests share: real services (fresh database, in-memory dev server, the
 * embedded model behind a fault proxy), a Temporal client, and a worker process that a test kills or stops and
 * replaces. Registers its own beforeAll/afterAll; everything it started is stopped, runs left running terminated.
 */
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect } from 'vitest';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import { parseRunConfig } from '../../config/load.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import type { BatchOptions } from '../../localmodel/batches.js';
import type { RunResult } from '../../workflows/run.js';
import { terminateRunning } from '../integration/durability-invariants.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { isRunning, sleep, startWorkerProcess, waitFor, type FlywheelProcess } from './processes.js';
import { tempDir, testDatabase, testModelServer, testTemporal, type TestDatabase } from './services.js';

export interface HarnessServices {
  db: TestDatabase;
  temporal: TemporalDevServer;
  model: Awaited<ReturnType<typeof testModelServer>>;
  proxy: FaultProxy;
  client: Client;
}

export interface WorkerHarness {
  /** Creates and starts a run of `configText(name)`; its result is awaited by the test. */
  startRun(name: string): Promise<{ runId: string; result: Promise<RunResult> }>;
  /** SIGKILLs the current worker and proves that no process of it is left. */
  killWorker(): Promise<void>;
  /** SIGTERMs the current worker and waits until it and its children have exited. */
  terminateWorker(): Promise<void>;
  /** Starts a new worker process; it becomes the current one. */
  replaceWorker(): Promise<void>;
}

export function useWorkerHarness(
  prefix: string,
  configText: (name: string) => string,
  onReady: (services: HarnessServices) => void,
  /** The model server's Batch API hooks (which lines fail, when a batch expires), read on every batch and line. */
  modelOptions: { batches?: BatchOptions } = {},
): WorkerHarness {
  let services: HarnessServices | null = null;
  let home: ReturnType<typeof tempDir> | null = null;
  let worker: FlywheelProcess | null = null;
  const workers: FlywheelProcess[] = [];
  const runIds: string[] = [];

  const replaceWorker = async () => {
    const s = services!;
    worker = await startWorkerProcess({
      DATABASE_URL: s.db.url,
      TEMPORAL_ADDRESS: s.temporal.address,
      TEMPORAL_NAMESPACE: s.temporal.namespace,
      FLYWHEEL_MODEL_URL: s.proxy.url,
      FLYWHEEL_HOME: home!.dir,
    });
    workers.push(worker);
  };

  beforeAll(async () => {
    home = tempDir(prefix);
    const [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer(modelOptions)]);
    const proxy = await startFaultProxy({ target: model.url.replace(/\/v1$/, '') });
    const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
    services = { db, temporal, model, proxy, client };
    onReady(services);
    await replaceWorker();
  });

  afterAll(async () => {
    const s = services;
    if (s) await terminateRunning(s.client, runIds);
    await Promise.allSettled(workers.map((w) => w.stop()));
    await s?.client.connection.close();
    await s?.proxy.close();
    await Promise.allSettled([s?.model.close(), s?.temporal.stop()]);
    await s?.db.drop();
    home?.remove();
  });

  return {
    async startRun(name) {
      const s = services!;
      const config = parseRunConfig(configText(name));
      const runId = await createRun(s.db.db, { config, file: `${name}.yaml`, dir: process.cwd() }, s.model.url);
      const handle = await startRunWorkflow(s.client, runId, `durability test: ${name}`);
      runIds.push(runId);
      const result = handle.result() as Promise<RunResult>;
      result.catch(() => {}); // awaited by the test; a failed test must not leave an unhandled rejection behind
      return { runId, result };
    },
    async killWorker() {
      const members = worker!.members();
      expect(members.length).toBeGreaterThan(0);
      expect((await worker!.kill()).signal).toBe('SIGKILL');
      for (const pid of members) expect(isRunning(pid), `worker process ${pid} after SIGKILL`).toBe(false);
    },
    async terminateWorker() {
      const members = worker!.members();
      worker!.signal('SIGTERM');
      const exit = await Promise.race([worker!.exited, sleep(30_000).then(() => null)]);
      expect(exit, 'the worker exits after SIGTERM').not.toBeNull();
      await waitFor('every worker process gone', () => members.every((pid) => !isRunning(pid)), { timeoutMs: 10_000 });
    },
    replaceWorker,
  };
}
