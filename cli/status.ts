/**
 * `flywheel status [run]`: the state of a run (from its workflow while it runs, from Postgres after) and its rounds;
 * `--follow` draws progress per stage until the run ends (bars on a terminal), then the table.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import type { Db } from '../db/client.js';
import { listFineTunes } from '../db/fine-tunes.js';
import { roundReports, type RoundReport } from '../db/report.js';
import { getRun, listRuns } from '../db/runs.js';
import { formatCost } from '../lib/cost/index.js';
import { statusQuery, workflowIds, type RunStatus } from '../workflows/shared.js';
import { openDatabase, resolveConnections } from './connections.js';
import { formatCoverage, formatTable } from './report.js';
import { progressView } from './progress.js';
import { connectClient } from './start.js';

export type RunState = RunStatus['state'] | 'created';

export interface StatusReport {
  runId: string;
  state: RunState;
  currentModel: string;
  rounds: Array<
    Pick<
      RoundReport,
      'round' | 'stage' | 'planned' | 'traces' | 'verified' | 'correct' | 'fineTuneJobs' | 'model' | 'greedyPassAt1' | 'passAtK' | 'majAtK' | 'search' | 'coverage' | 'modelErrors' | 'tokens' | 'cost'
    > & {
      /** The round's trainer job: where it ran (`backend`, and `launcher` for the command backend), and jobs it replaced. */
      trainerJob: TrainerJobReport | null;
    }
  >;
}

export interface TrainerJobReport {
  jobId: string | null;
  backend: string;
  launcher: string | null;
  status: string;
  exitCode: number | null;
  checkpointPath: string | null;
  supersededJobIds: string[];
}

const TERMINAL = new Set<RunState>(['completed', 'failed', 'stopped']);
const QUERY_TIMEOUT_MS = 5_000;

export async function statusReport(db: Db, client: Client | null, runId: string): Promise<StatusReport> {
  const run = await getRun(db, runId);
  let state = run.status as RunState;
  if (client && !TERMINAL.has(state)) {
    try {
      // Only a worker answers a query; with none, the server gives up after ~30 s. Postgres knows enough sooner.
      const handle = client.workflow.getHandle(workflowIds.run(runId));
      const live = await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(statusQuery));
      state = live.state;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) {
        // No worker to answer the query: Postgres still knows the rest.
      }
    }
  }
  // Started, but no worker has picked it up yet: it runs as soon as one does. (`created` is not a state of the
  // `status --json` contract; without a worker the CLI printed it after a 30 s wait, found by the CLI test.)
  if (state === 'created') state = 'running';
  // Stopping: the current stage finishes first; the contract's states say it is still running until it has stopped.
  if (state === 'stopping') state = 'running';
  const jobs = new Map((await listFineTunes(db, runId)).map((f) => [f.round, f]));
  const rounds = (await roundReports(db, runId)).map((r) => ({
    round: r.round,
    stage: r.stage,
    planned: r.planned,
    traces: r.traces,
    verified: r.verified,
    correct: r.correct,
    fineTuneJobs: r.fineTuneJobs,
    model: r.model,
    greedyPassAt1: r.greedyPassAt1,
    passAtK: r.passAtK,
    majAtK: r.majAtK,
    search: r.search,
    coverage: r.coverage,
    modelErrors: r.modelErrors,
    tokens: r.tokens,
    cost: r.cost,
    trainerJob: trainerJobReport(jobs.get(r.round)),
  }));
  return { runId, state, currentModel: run.currentModel, rounds };
}

function trainerJobReport(row: Awaited<ReturnType<typeof listFineTunes>>[number] | undefined): TrainerJobReport | null {
  if (!row) return null;
  return {
    jobId: row.externalJobId,
    backend: row.backend,
    launcher: row.launcher,
    status: row.status,
    exitCode: row.exitCode,
    checkpointPath: row.checkpointPath,
    supersededJobIds: (row.supersededJobIds as string[] | null) ?? [],
  };
}

function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}

export function formatStatus(report: StatusReport, full: RoundReport[]): string {
  const current = report.rounds[report.rounds.length - 1];
  const lines = [`run ${report.runId} · ${report.state} · current model ${report.currentModel}`];
  if (current) {
    lines.push(`round ${current.round} · stage ${current.stage}`);
    lines.push(`  generate   ${bar(current.traces, current.planned)}`);
    lines.push(`  verify     ${bar(current.verified, current.planned)}`);
    lines.push(`  fine-tune  ${current.round === 0 ? 'none in round 0' : `${current.fineTuneJobs} job(s)`}`);
  }
  lines.push('', formatTable(full));
  if (full.some((r) => r.cost !== null)) {
    const cost = full.reduce((sum, r) => sum + (r.cost ?? 0), 0);
    const tokens = full.reduce((sum, r) => sum + r.tokens, 0);
    lines.push('', `spent so far: ${formatCost(cost)} for ${tokens} tokens (per stage: SELECT * FROM flywheel.round_costs WHERE run_id = '${report.runId}')`);
  }
  const evaluated = [...full].reverse().find((r) => r.coverage);
  const coverage = evaluated && formatCoverage(evaluated);
  if (coverage) lines.push('', coverage);
  return lines.join('\n');
}

export async function statusCommand(runId: string | undefined, options: { json?: boolean; follow?: boolean }) {
  const c = resolveConnections();
  const database = await openDatabase(c.databaseUrl);
  const client = await connectClient(c.temporal).catch(() => null);
  try {
    if (!runId) {
      const runs = await listRuns(database.db);
      if (options.json) process.stdout.write(`${JSON.stringify({ runs: runs.map((r) => ({ runId: r.id, name: r.name, state: r.status, currentModel: r.currentModel, createdAt: r.createdAt })) })}\n`);
      else if (runs.length === 0) process.stdout.write('no runs yet: start one with `npx flywheel run config/examples/countdown.yaml`\n');
      else for (const r of runs) process.stdout.write(`${r.id}  ${r.status.padEnd(15)}  ${r.currentModel}\n`);
      return;
    }
    if (options.follow && !options.json) {
      // Progress while it runs (bars on a terminal, a line per stage otherwise), then the table.
      const view = progressView(process.stdout);
      let report = await statusReport(database.db, client, runId);
      try {
        while (!TERMINAL.has(report.state)) {
          view.update(await roundReports(database.db, runId));
          await new Promise((r) => setTimeout(r, 1000));
          report = await statusReport(database.db, client, runId);
        }
        view.update(await roundReports(database.db, runId));
      } finally {
        view.stop();
      }
      process.stdout.write(`${formatStatus(report, await roundReports(database.db, runId))}\n`);
      return;
    }
    let last = '';
    for (;;) {
      const report = await statusReport(database.db, client, runId);
      if (options.json) {
        const line = JSON.stringify(report);
        if (line !== last) process.stdout.write(`${line}\n`);
        last = line;
      } else {
        const text = formatStatus(report, await roundReports(database.db, runId));
        if (text !== last) process.stdout.write(`${text}\n`);
        last = text;
      }
      if (!options.follow || TERMINAL.has(report.state)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await client?.connection.close();
    await database.close();
  }
}
