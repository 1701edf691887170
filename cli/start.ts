/**
 * Starting a run: validate the config and the task set, write the run and its problems in one transaction
 * (nothing half-written on bad input), then start the `flywheelRun` workflow.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection, WorkflowIdReusePolicy } from '@temporalio/client';
import type { LoadedConfig } from '../config/load.js';
import { announceTemporal, connectionOptions, connectTemporal, type TemporalTarget } from './connections.js';
import type { Db } from '../db/client.js';
import { upsertProblems } from '../db/problems.js';
import { insertRun } from '../db/runs.js';
import { buildTaskSet, type TaskSet } from '../lib/tasks/index.js';
import { withAbsoluteFinetunePaths } from '../lib/train/command/from-config.js';
import type { flywheelRun } from '../workflows/run.js';
import { FLYWHEEL_STATUS, SEARCH_ATTRIBUTES, TASK_QUEUES, workflowIds } from '../workflows/shared.js';

/** `<name>-<yyyymmdd-hhmmss>-<4 hex>`: sortable, readable in the UI, unique. */
export function newRunId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
  return `${slug}-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The run's problems, read and checked before anything connects or writes (bad task files exit 2). */
export function loadTaskSet(loaded: LoadedConfig): TaskSet {
  return buildTaskSet(loaded.config.task, loaded.dir);
}

export async function createRun(db: Db, loaded: LoadedConfig, baseUrl: string, taskSet = loadTaskSet(loaded)): Promise<string> {
  const runId = newRunId(loaded.config.name);
  await db.transaction(async (tx) => {
    await upsertProblems(tx as unknown as Db, taskSet.name, taskSet.problems);
    // Paths in the config are relative to its folder; workers read the stored config from elsewhere.
    const config = withAbsoluteFinetunePaths(loaded.config, loaded.dir);
    await insertRun(tx as unknown as Db, { id: runId, config, taskSet: taskSet.name, baseUrl });
  });
  return runId;
}

/** A client for `target` (TLS, mTLS and API keys as configured); prints which Temporal it uses once. */
export async function connectClient(target: TemporalTarget): Promise<Client> {
  announceTemporal(target);
  const connection = await connectTemporal(
    target.address,
    () => Connection.connect({ ...connectionOptions(target), connectTimeout: '10s' }),
    target,
  );
  return new Client({ connection, namespace: target.namespace });
}

export async function startRunWorkflow(client: Client, runId: string, summary: string) {
  return client.workflow.start<typeof flywheelRun>('flywheelRun', {
    workflowId: workflowIds.run(runId),
    taskQueue: TASK_QUEUES.control,
    args: [{ runId }],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    staticSummary: summary,
    staticDetails: [
      `Flywheel run \`${runId}\`.`,
      '',
      'Each child workflow is one round. Inspect traces with SQL: `SELECT * FROM flywheel.round_metrics WHERE run_id = ' +
        `'${runId}';\``,
    ].join('\n'),
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.runId, value: runId },
      { key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.running },
    ],
  });
}
