/** The run report's data, read from Postgres, and the page made from it (lib/report draws, this file reads). */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Db } from '../db/client.js';
import { budgetBins, lineage, modelErrorCounts, prmRounds, problemPrompts, problemRounds, roundReports, searchOutcomes, trainedFromRound, trainerJobs } from '../db/report.js';
import { getRun } from '../db/runs.js';
import { difficulty, renderReport, type ReportInput } from '../lib/report/index.js';

const require = createRequire(import.meta.url);
let chartJs: string | null = null;

/** Chart.js's UMD build from node_modules, read once: it is inlined into every page. */
export function chartJsSource(): string {
  // The UMD file is not among the package's exports: found next to its main entry.
  chartJs ??= readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
  return chartJs;
}

export async function loadReportInput(db: Db, runId: string): Promise<ReportInput> {
  const run = await getRun(db, runId);
  const [rounds, trained, outcomes, bins, problems, trainer, chain, errors, prm] = await Promise.all([
    roundReports(db, runId),
    trainedFromRound(db, runId),
    searchOutcomes(db, runId),
    budgetBins(db, runId),
    problemRounds(db, runId),
    trainerJobs(db, runId),
    lineage(db, runId, run.currentModel),
    modelErrorCounts(db, runId),
    prmRounds(db, runId),
  ]);
  const hardest = difficulty(problems).hardest.map((h) => h.problemId);
  const prompts = await problemPrompts(db, hardest);
  return {
    runId,
    name: run.name,
    state: run.status,
    createdAt: run.createdAt.toISOString(),
    baseModel: run.baseModel,
    currentModel: run.currentModel,
    config: run.config,
    rounds,
    trainedFromRound: Object.fromEntries(trained),
    searchOutcomes: outcomes,
    budgetBins: bins,
    problemRounds: problems,
    prompts: Object.fromEntries([...prompts].map(([id, p]) => [String(id), p])),
    trainer,
    lineage: chain,
    modelErrors: errors,
    prm,
    generatedAt: new Date().toISOString(),
  };
}

const LIVE = new Set(['created', 'running', 'needs_attention', 'paused', 'stopping']);

export const isLive = (state: string) => LIVE.has(state);

/** The report page of a run; `served` pages of live runs refresh themselves. */
export async function reportHtml(db: Db, runId: string, options: { served?: boolean; refreshSeconds?: number } = {}): Promise<string> {
  const input = await loadReportInput(db, runId);
  return renderReport(input, {
    chartJs: chartJsSource(),
    refreshSeconds: options.served && isLive(input.state) ? (options.refreshSeconds ?? 5) : undefined,
    indexHref: options.served ? '/' : undefined,
  });
}
