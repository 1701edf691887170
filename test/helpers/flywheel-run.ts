/**
 * A whole run for integration tests that check what a finished run left behind: a fresh database, a dev server, the
 * embedded model and workers, the run created from `config` and awaited to its end.
 */
import { Client, Connection } from '@temporalio/client';
import type { RunConfig } from '../../config/schema.js';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import type { RunningWorkers } from '../../cli/worker.js';
import type { TemporalDevServer } from '../../infra/temporal-server.js';
import { testDatabase, testModelServer, testTemporal, testWorkers, type TestDatabase } from './services.js';

export interface CompletedRun {
  db: TestDatabase;
  temporal: TemporalDevServer;
  model: Awaited<ReturnType<typeof testModelServer>>;
  workers: RunningWorkers;
  client: Client;
  runId: string;
  close(): Promise<void>;
}

/** `modelLog` sees the embedded server's log lines (one per request: `POST /v1/reward 200 1.2ms`). */
export async function completedRun(config: RunConfig, label: string, options: { modelLog?: (line: string) => void } = {}): Promise<CompletedRun> {
  const [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer({ log: options.modelLog })]);
  const workers = await testWorkers({ temporal, db, modelUrl: model.url });
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  const close = async () => {
    await client.connection.close();
    await workers.shutdown();
    await Promise.allSettled([model.close(), temporal.stop()]);
    await db.drop();
  };
  try {
    const runId = await createRun(db.db, { config, file: `${label}.yaml`, dir: process.cwd() }, model.url);
    await (await startRunWorkflow(client, runId, `${label} test run`)).result();
    return { db, temporal, model, workers, client, runId, close };
  } catch (err) {
    await close();
    throw err;
  }
}
