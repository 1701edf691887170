/**
 * Secrets stay where they were put: a model key lives only in the worker's environment (`model.apiKeyEnv`). A run
 * against a model server that requires it completes, and then the key is searched for everywhere flywheel writes:
 * every event of every workflow of the runs (payloads decoded), every row of every table in the `flywheel` schema,
 * the workers' output (structured JSON logs, whose logger also redacts by itself), a worker's Prometheus metrics and
 * the Temporal dev server's log. A worker without the variable gets a round that needs attention and names the
 * variable, and resumes once a worker has it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import { parseRunConfig } from '../../config/load.js';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal-server.js';
import type { RunResult } from '../../workflows/run.js';
import { statusQuery, workflowIds } from '../../workflows/shared.js';
import { createLogger } from '../../telemetry/logger.js';
import { runFlywheel, spawnFlywheel, startWorkerProcess, waitFor, type FlywheelProcess } from '../helpers/processes.js';
import { tempDir, testDatabase, testModelServer, type TestDatabase } from '../helpers/services.js';
import { expectExactRun, resultWithin, rowsOf, terminateRunning, type RunShape } from './durability-invariants.js';

const KEY_VAR = 'FLYWHEEL_TEST_KEY';
const KEY = `fwk-${randomBytes(24).toString('hex')}`;
/** The key as it would look if it were stored base64-encoded (payload bytes, headers) rather than as text. */
const KEY_FORMS = [...new Set([KEY, Buffer.from(KEY).toString('base64'), Buffer.from(KEY).toString('base64url')])];

const SHAPE: RunShape = { rounds: 1, train: 16, test: 6, samplesPerProblem: 4, evalSamples: 2, greedy: true };
const MISSING: RunShape = { rounds: 0, train: 8, test: 4, samplesPerProblem: 2, evalSamples: 2, greedy: true };

const configText = (name: string, shape: RunShape) => `
name: ${name}
rounds: ${shape.rounds}
task: {kind: countdown, seed: 9, train: ${shape.train}, test: ${shape.test}}
model: {apiKeyEnv: ${KEY_VAR}}
generate: {samplesPerProblem: ${shape.samplesPerProblem}, shardSamples: 32, concurrency: 4}
evaluate: {samples: ${shape.evalSamples}, k: [1, 2]}
filter: {correctOnly: false, minScore: 0}
finetune: {hyperparameters: {nEpochs: 5}, pollIntervalMs: 200}
durability: {activityAttempts: 3, retryInitialIntervalMs: 200, retryMaxIntervalMs: 500, heartbeatTimeoutSeconds: 10}
`;

let home: ReturnType<typeof tempDir>;
let db: TestDatabase;
let temporal: TemporalDevServer;
let model: Awaited<ReturnType<typeof testModelServer>>;
let client: Client;
const workers: FlywheelProcess[] = [];
const runIds: string[] = [];

const baseEnv = () => ({
  DATABASE_URL: db.url,
  TEMPORAL_ADDRESS: temporal.address,
  TEMPORAL_NAMESPACE: temporal.namespace,
  FLYWHEEL_MODEL_URL: model.url,
  FLYWHEEL_HOME: home.dir,
});

async function newWorker(withKey: boolean): Promise<FlywheelProcess> {
  const w = await startWorkerProcess({ ...baseEnv(), ...(withKey ? { [KEY_VAR]: KEY } : {}) });
  workers.push(w);
  return w;
}

/** A keyed worker that also serves Prometheus metrics; resolves with it and its /metrics URL (from its log). */
async function metricsWorker(): Promise<{ worker: FlywheelProcess; url: string }> {
  const worker = spawnFlywheel(['worker', '--metrics-port', '0', '--metrics-host', '127.0.0.1'], { ...baseEnv(), [KEY_VAR]: KEY });
  workers.push(worker);
  const [, url] = await worker.waitForOutput(/"metricsUrl":"([^"]+)"/, 120_000);
  await worker.waitForOutput(/worker serving flywheel/, 120_000);
  return { worker, url: url! };
}

const metricsSeen: string[] = [];

async function startRun(name: string, shape: RunShape) {
  const config = parseRunConfig(configText(name, shape));
  const runId = await createRun(db.db, { config, file: `${name}.yaml`, dir: process.cwd() }, model.url);
  const handle = await startRunWorkflow(client, runId, `secrets test: ${name}`);
  runIds.push(runId);
  const result = handle.result() as Promise<RunResult>;
  result.catch(() => {});
  return { runId, result };
}

/** Where in `text` any form of the key occurs (with a little context), for a failure message that says where. */
function leaks(text: string): string[] {
  return KEY_FORMS.flatMap((form) => {
    const at = text.indexOf(form);
    return at < 0 ? [] : [text.slice(Math.max(0, at - 80), at + form.length + 20)];
  });
}

/** A history as text: payload bytes decoded as UTF-8 (JSON payloads are UTF-8 JSON), so a key inside would show. */
function historyText(history: unknown): string {
  return JSON.stringify(history, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (typeof value === 'bigint') return value.toString();
    return value;
  });
}

beforeAll(async () => {
  home = tempDir('secrets');
  [db, temporal, model] = await Promise.all([
    testDatabase(),
    // A dev server with a database file writes a log file of its own: searched below.
    startTemporalDevServer({ dbFile: path.join(home.dir, 'temporal.db'), uiPort: false, log: () => {} }),
    testModelServer({ apiKey: KEY }),
  ]);
  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
});

afterAll(async () => {
  if (client) await terminateRunning(client, runIds);
  await Promise.allSettled(workers.map((w) => w.stop()));
  await client?.connection.close();
  await Promise.allSettled([model?.close(), temporal?.stop()]);
  await db?.drop();
  home?.remove();
});

describe('a model key in the worker environment', () => {
  it('is required by the model server: without it, requests are refused', async () => {
    expect((await fetch(`${model.url}/models`)).status).toBe(401);
    expect((await fetch(`${model.url}/models`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${model.url}/models`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
  });

  it('drives a whole run (sampling, fine-tuning, evaluation) through the key-protected server', async () => {
    const { worker, url } = await metricsWorker();
    const { runId, result } = await startRun('secrets', SHAPE);
    expect((await resultWithin(result, db.db, runId, 120_000)).state).toBe('completed');
    await expectExactRun(db.db, runId, SHAPE, model.url, KEY);
    // The worker's metrics saw every keyed request (searched for the key below).
    const metrics = await fetch(url).then((r) => r.text());
    expect(metrics).toMatch(/flywheel_model_requests_total\{[^}]*status="200"\} [1-9]/);
    expect(metrics).toMatch(/flywheel_verdicts_total\{[^}]*\} [1-9]/);
    metricsSeen.push(metrics);
    await worker.stop();
  });

  it('the logger redacts by itself: key fields, the key inside messages and errors, in JSON and pretty output', () => {
    for (const format of ['json', 'pretty'] as const) {
      let out = '';
      const logger = createLogger({ format, env: { [KEY_VAR]: KEY }, destination: { write: (line: string) => (out += line) } });
      logger.info({ apiKey: KEY, endpoint: { baseUrl: 'http://model:8000/v1', apiKey: KEY }, headers: { authorization: `Bearer ${KEY}` } }, 'endpoint resolved');
      logger.warn(`request failed with key ${KEY} (base64 ${Buffer.from(KEY).toString('base64')})`);
      logger.error({ err: new Error(`401 for Bearer ${KEY}`) }, 'model request failed');
      logger.info({ databaseUrl: 'postgres://flywheel:hunter2-password@db:5432/flywheel' }, 'connected');
      expect(out.split('\n').filter(Boolean)).toHaveLength(4);
      expect(out).toContain('[redacted]');
      expect(out).toContain('postgres://flywheel:***@db:5432/flywheel');
      expect(out).not.toContain('hunter2-password');
      expect(leaks(out), format).toEqual([]);
    }
  });

  it('a worker without the variable: the round needs attention and names the variable; with it, resume completes', async () => {
    const keyless = await newWorker(false);
    const { runId, result } = await startRun('secrets-missing', MISSING);
    await waitFor('the run to need attention', async () => (await client.workflow.getHandle(workflowIds.run(runId)).query(statusQuery)).state === 'needs_attention');
    const [row] = await rowsOf<{ failure: string }>(
      db.db,
      sql`SELECT stats -> 'attention' ->> 'failure' AS failure FROM flywheel.rounds WHERE run_id = ${runId} AND index = 0`,
    );
    expect(row!.failure).toContain(`model.apiKeyEnv names ${KEY_VAR}, which is not set in this worker's environment`);
    const details = (
      (await client.workflow.getHandle(workflowIds.round(runId, 0)).query('__temporal_workflow_metadata')) as { currentDetails: string }
    ).currentDetails;
    expect(details).toContain(KEY_VAR);
    expect(details).toContain('are the credentials in the worker environment?');
    expect(leaks(details)).toEqual([]);

    await keyless.stop();
    await newWorker(true);
    const resumed = await runFlywheel(['resume', runId, '--note', `set ${KEY_VAR}`], baseEnv());
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await resultWithin(result, db.db, runId, 60_000)).state).toBe('completed');
    await expectExactRun(db.db, runId, MISSING, model.url, KEY);
  });

  it('appears in no workflow history, no row of the flywheel schema, no worker output and no server log', async () => {
    expect(runIds).toHaveLength(2);
    // The search itself finds the key in each form it looks for.
    for (const form of KEY_FORMS) expect(leaks(`...${form}...`).length).toBeGreaterThan(0);

    // Every workflow of the runs, by id (each run and its rounds) and by search attribute: the same five.
    const ids = new Set([
      workflowIds.run(runIds[0]!),
      workflowIds.round(runIds[0]!, 0),
      workflowIds.round(runIds[0]!, 1),
      workflowIds.run(runIds[1]!),
      workflowIds.round(runIds[1]!, 0),
    ]);
    await waitFor('visibility to list every workflow of the runs', async () => {
      const listed = new Set<string>();
      for (const runId of runIds) {
        for await (const wf of client.workflow.list({ query: `FlywheelRunId = '${runId}'` })) listed.add(wf.workflowId);
      }
      return [...listed].sort().join() === [...ids].sort().join();
    });
    for (const id of ids) {
      const text = historyText(await client.workflow.getHandle(id).fetchHistory());
      // The decoding works: the run id, which is in every input payload, is found as text.
      expect(runIds.some((runId) => text.includes(runId)), id).toBe(true);
      // ...and so are failure messages: the round that waited for the variable names it (the name, never the value).
      if (id === workflowIds.round(runIds[1]!, 0)) expect(text).toContain(`model.apiKeyEnv names ${KEY_VAR}`);
      expect(leaks(text), `history of ${id}`).toEqual([]);
    }

    // Every row of every table of the flywheel schema, as text.
    const tables = await rowsOf<{ name: string }>(
      db.db,
      sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'flywheel' AND table_type = 'BASE TABLE' ORDER BY 1`,
    );
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['runs', 'traces', 'verdicts', 'fine_tunes', 'model_errors', 'rounds']));
    let rowsSeen = 0;
    for (const { name } of tables) {
      const rows = await rowsOf<{ row: string }>(db.db, sql`SELECT t::text AS row FROM ${sql.identifier('flywheel')}.${sql.identifier(name)} t`);
      rowsSeen += rows.length;
      const text = rows.map((r) => r.row).join('\n');
      if (name === 'runs') expect(text).toContain(runIds[0]);
      expect(leaks(text), `table flywheel.${name}`).toEqual([]);
    }
    expect(rowsSeen).toBeGreaterThan(100);

    // The workers' output (the keyed ones had the key in their environment the whole time): JSON log lines (not a
    // terminal), activity lines with the run, round, stage, activity and attempt they belong to.
    expect(workers).toHaveLength(3);
    for (const w of workers) {
      expect(w.output()).toMatch(/worker serving flywheel/);
      expect(leaks(w.output()), `output of worker ${w.pid}`).toEqual([]);
      const records = w.stderr().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(records.every((r) => typeof r.level === 'string' && typeof r.time === 'string' && typeof r.msg === 'string')).toBe(true);
    }
    const activityLines = workers.flatMap((w) => w.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)).filter((r) => r.activity);
    expect(activityLines.length).toBeGreaterThan(0);
    expect(activityLines.find((r) => r.activity === 'fineTune')).toMatchObject({ runId: runIds[0], round: 1, stage: 'fine-tune', attempt: 1, workflowId: workflowIds.round(runIds[0]!, 1) });

    // The keyed worker's metrics.
    expect(metricsSeen).toHaveLength(1);
    expect(leaks(metricsSeen[0]!), 'metrics of the keyed worker').toEqual([]);

    // The Temporal dev server's log.
    expect(temporal.logFile).not.toBeNull();
    expect(existsSync(temporal.logFile!)).toBe(true);
    expect(leaks(readFileSync(temporal.logFile!, 'utf8'))).toEqual([]);
  });
});
