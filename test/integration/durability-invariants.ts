/**
 * "Nothing lost, nothing twice", as checks on what a finished run left in Postgres, on the model server and in
 * Temporal. Shared by the durability test files (this file holds no tests itself).
 */
import type { Client } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { Db } from '../../db/client.js';
import { workflowIds } from '../../workflows/shared.js';

export interface RunShape {
  /** Training rounds after round 0. */
  rounds: number;
  train: number;
  test: number;
  samplesPerProblem: number;
  evalSamples: number;
  greedy: boolean;
  /** Whether samples may be stored as errors (the model server answered garbage after every retry). */
  errorsAllowed?: boolean;
}

export const rowsOf = async <T = Record<string, unknown>>(db: Db, query: ReturnType<typeof sql>) =>
  (await db.execute(query)).rows as T[];

/** Count of the run's train traces in round `round` (0 when the round does not exist yet). */
export async function trainTraces(db: Db, runId: string, round: number): Promise<number> {
  const [row] = await rowsOf<{ n: number }>(
    db,
    sql`SELECT count(t.id)::int AS n FROM flywheel.rounds r JOIN flywheel.traces t ON t.round_id = r.id
        WHERE r.run_id = ${runId} AND r.index = ${round} AND t.purpose = 'train'`,
  );
  return row?.n ?? 0;
}

/** Verdicts on the run's train traces of round `round`. */
export async function trainVerdicts(db: Db, runId: string, round: number): Promise<number> {
  const [row] = await rowsOf<{ n: number }>(
    db,
    sql`SELECT count(v.id)::int AS n FROM flywheel.rounds r JOIN flywheel.traces t ON t.round_id = r.id
        JOIN flywheel.verdicts v ON v.trace_id = t.id
        WHERE r.run_id = ${runId} AND r.index = ${round} AND t.purpose = 'train'`,
  );
  return row?.n ?? 0;
}

export async function roundStage(db: Db, runId: string, round: number): Promise<string | null> {
  const [row] = await rowsOf<{ stage: string }>(db, sql`SELECT stage FROM flywheel.rounds WHERE run_id = ${runId} AND index = ${round}`);
  return row?.stage ?? null;
}

export interface ServedJob {
  id: string;
  status: string;
  fine_tuned_model: string | null;
  metadata: Record<string, string> | null;
}

/** Fine-tuning jobs the model server holds for a run (listed through its API, filtered by metadata). */
export async function servedJobs(modelUrl: string, runId: string, apiKey?: string): Promise<ServedJob[]> {
  const url = `${modelUrl}/fine_tuning/jobs?limit=100&metadata[flywheel_run]=${encodeURIComponent(runId)}`;
  const res = await fetch(url, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {} });
  expect(res.status, `GET ${url}`).toBe(200);
  const body = (await res.json()) as { data: ServedJob[]; has_more: boolean };
  expect(body.has_more).toBe(false);
  return body.data;
}

/**
 * Every round of a completed run holds exactly its planned traces (no duplicate key, none missing), every trace has
 * exactly one verdict per verifier version, and every training round ran exactly one trainer job, in
 * `flywheel.fine_tunes` and on the model server alike.
 */
export async function expectExactRun(db: Db, runId: string, shape: RunShape, modelUrl: string, apiKey?: string) {
  const indices = Array.from({ length: shape.rounds + 1 }, (_, i) => i);
  const planned = shape.train * shape.samplesPerProblem;

  const [run] = await rowsOf<{ status: string; task_set: string }>(db, sql`SELECT status, task_set FROM flywheel.runs WHERE id = ${runId}`);
  expect(run!.status).toBe('completed');
  const rounds = await rowsOf<{ index: number; status: string; stage: string; planned: number }>(
    db,
    sql`SELECT index, status, stage, planned FROM flywheel.rounds WHERE run_id = ${runId} ORDER BY index`,
  );
  expect(rounds).toEqual(indices.map((index) => ({ index, status: 'completed', stage: 'done', planned })));

  // Per round, purpose and strategy: rows, distinct keys, and keys missing from problems × sample indices.
  const counts = await rowsOf<{ index: number; purpose: string; strategy: string; n: number; keys: number; bad_index: number }>(
    db,
    sql`SELECT r.index, t.purpose, t.strategy, count(*)::int AS n,
               count(DISTINCT (t.problem_id, t.sample_index))::int AS keys,
               count(*) FILTER (WHERE t.sample_index < 0 OR t.sample_index >= CASE WHEN t.strategy = 'greedy' THEN 1
                 WHEN t.purpose = 'train' THEN ${shape.samplesPerProblem} ELSE ${shape.evalSamples} END)::int AS bad_index
        FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id
        WHERE r.run_id = ${runId} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  );
  const expected = indices.flatMap((index) => [
    ...(shape.greedy ? [{ index, purpose: 'eval', strategy: 'greedy', n: shape.test, keys: shape.test, bad_index: 0 }] : []),
    ...(shape.evalSamples > 0
      ? [{ index, purpose: 'eval', strategy: 'sample', n: shape.test * shape.evalSamples, keys: shape.test * shape.evalSamples, bad_index: 0 }]
      : []),
    { index, purpose: 'train', strategy: 'sample', n: planned, keys: planned, bad_index: 0 },
  ]);
  expect(counts).toEqual(expected);

  const [missing] = await rowsOf<{ n: number }>(
    db,
    sql`SELECT count(*)::int AS n
        FROM flywheel.rounds r
        CROSS JOIN flywheel.problems p
        CROSS JOIN generate_series(0, ${shape.samplesPerProblem - 1}) AS i(sample_index)
        LEFT JOIN flywheel.traces t ON t.round_id = r.id AND t.problem_id = p.id AND t.purpose = 'train'
          AND t.strategy = 'sample' AND t.sample_index = i.sample_index
        WHERE r.run_id = ${runId} AND p.task_set = ${run!.task_set} AND p.split = 'train' AND t.id IS NULL`,
  );
  expect(missing!.n, 'train samples missing').toBe(0);

  // Verdicts: one per trace and verifier version, and a single verifier version in the run.
  const [verdicts] = await rowsOf<{ traces: number; unverified: number; duplicates: number; versions: number; verdicts: number }>(
    db,
    sql`WITH t AS (SELECT t.id FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId}),
             v AS (SELECT v.* FROM flywheel.verdicts v JOIN t ON t.id = v.trace_id)
        SELECT (SELECT count(*) FROM t)::int AS traces,
               (SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM v WHERE v.trace_id = t.id))::int AS unverified,
               (SELECT count(*) FROM (SELECT 1 FROM v GROUP BY trace_id, verifier, verifier_version HAVING count(*) > 1) d)::int AS duplicates,
               (SELECT count(DISTINCT (verifier, verifier_version)) FROM v)::int AS versions,
               (SELECT count(*) FROM v)::int AS verdicts`,
  );
  expect(verdicts).toEqual({ traces: verdicts!.traces, unverified: 0, duplicates: 0, versions: 1, verdicts: verdicts!.traces });
  expect(verdicts!.traces).toBe((shape.rounds + 1) * (planned + shape.test * ((shape.greedy ? 1 : 0) + shape.evalSamples)));

  if (!shape.errorsAllowed) {
    const [errors] = await rowsOf<{ n: number }>(
      db,
      sql`SELECT count(*)::int AS n FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id
          WHERE r.run_id = ${runId} AND t.error IS NOT NULL`,
    );
    expect(errors!.n, 'traces stored with an error').toBe(0);
  }

  // One trainer job per training round: recorded once, never superseded, and the only one the server has.
  const jobs = await rowsOf<{ round: number; status: string; external_job_id: string; superseded: unknown[]; result_model: string }>(
    db,
    sql`SELECT round, status, external_job_id, superseded_job_ids AS superseded, result_model
        FROM flywheel.fine_tunes WHERE run_id = ${runId} ORDER BY round`,
  );
  expect(jobs.map((j) => ({ round: j.round, status: j.status, superseded: j.superseded }))).toEqual(
    indices.slice(1).map((round) => ({ round, status: 'succeeded', superseded: [] })),
  );
  const served = await servedJobs(modelUrl, runId, apiKey);
  expect(served.map((j) => j.metadata?.flywheel_round).sort()).toEqual(indices.slice(1).map(String).sort());
  for (const job of jobs) {
    const onServer = served.filter((s) => s.metadata?.flywheel_round === String(job.round));
    expect(onServer.map((s) => ({ id: s.id, status: s.status, model: s.fine_tuned_model }))).toEqual([
      { id: job.external_job_id, status: 'succeeded', model: job.result_model },
    ]);
  }

  // What operators read: the view agrees.
  const view = await rowsOf<{ round: number; traces: number; verified: number; fine_tune_jobs: number }>(
    db,
    sql`SELECT round, traces::int, verified::int, fine_tune_jobs::int FROM flywheel.round_metrics WHERE run_id = ${runId} ORDER BY round`,
  );
  expect(view).toEqual(indices.map((round) => ({ round, traces: planned, verified: planned, fine_tune_jobs: round === 0 ? 0 : 1 })));
}

export interface AttemptInfo {
  activityType: string;
  attempt: number;
  lastFailure: string | null;
  timeoutType: number | null;
}

/**
 * Activity attempts recorded in a workflow's history (an ActivityTaskStarted event is written when its attempt ends,
 * with the attempt number and the failure of the attempt before), for proof that an activity was interrupted and
 * retried rather than never hit.
 */
export async function activityAttempts(client: Client, workflowId: string): Promise<AttemptInfo[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  const out: AttemptInfo[] = [];
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), s.activityType?.name ?? '');
    const st = event.activityTaskStartedEventAttributes;
    if (st) {
      const failure = st.lastFailure ?? null;
      out.push({
        activityType: scheduled.get(String(st.scheduledEventId)) ?? '?',
        attempt: st.attempt ?? 1,
        lastFailure: failure?.message ?? null,
        timeoutType: failure?.timeoutFailureInfo?.timeoutType ?? null,
      });
    }
  }
  return out;
}

/** TIMEOUT_TYPE_HEARTBEAT in temporal.api.enums.v1.TimeoutType. */
export const HEARTBEAT_TIMEOUT = 4;

/** The round workflow's attempts of `activityType` that ran after an attempt whose worker stopped heartbeating. */
export async function retriedAfterHeartbeatTimeout(client: Client, runId: string, round: number, activityType: string) {
  const attempts = await activityAttempts(client, workflowIds.round(runId, round));
  return attempts.filter((a) => a.activityType === activityType && a.attempt > 1 && a.timeoutType === HEARTBEAT_TIMEOUT);
}

/**
 * The run's workflow result, or a failure that says where the run stands (a round waiting for attention, and why)
 * when it has not ended within `timeoutMs`: a hung test says nothing, this does.
 */
export async function resultWithin<T>(result: Promise<T>, db: Db, runId: string, timeoutMs = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(async () => {
      const rounds = await rowsOf(db, sql`SELECT index, stage, status, stats -> 'attention' AS attention FROM flywheel.rounds WHERE run_id = ${runId} ORDER BY index`).catch(
        (err: Error) => err.message,
      );
      reject(new Error(`run ${runId} did not end within ${timeoutMs} ms; its rounds: ${JSON.stringify(rounds, null, 2)}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([result, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Terminates the runs of a test file that are still running (a failed test leaves its run waiting), so that no
 * pending `result()` long-poll outlives the client connection the file closes.
 */
export async function terminateRunning(client: Client, runIds: string[]): Promise<void> {
  await Promise.allSettled(
    runIds.map(async (runId) => {
      const handle = client.workflow.getHandle(workflowIds.run(runId));
      if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('test file finished');
    }),
  );
}

/**
 * The PRM requests a run made, as Postgres counts them: round 0 searched by rollouts (no PRM yet), every later
 * round asked the run's current PRM; returns the searches' scorer calls plus the gates' measurements, which must
 * be every request the reward endpoint answered.
 */
export async function expectPrmRequests(db: Db, runId: string): Promise<number> {
  const calls = await rowsOf<{ index: number; scorer_calls: number }>(db, sql`
    SELECT r.index, sum(s.scorer_calls)::int AS scorer_calls FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id
    WHERE r.run_id = ${runId} GROUP BY r.index ORDER BY r.index`);
  expect(calls[0]).toEqual({ index: 0, scorer_calls: 0 });
  expect(calls.length).toBeGreaterThan(1);
  for (const c of calls.slice(1)) expect(c.scorer_calls, `round ${c.index}'s search asked the PRM`).toBeGreaterThan(0);
  const [gates] = await rowsOf<{ n: number }>(db, sql`
    SELECT coalesce(sum((stats->'prm'->>'scorerCalls')::int), 0)::int AS n FROM flywheel.rounds WHERE run_id = ${runId}`);
  return calls.reduce((n, c) => n + c.scorer_calls, 0) + gates!.n;
}
