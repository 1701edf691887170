/** What `demo`, `status` and `report` print: per-round numbers read from the `flywheel.round_metrics` view. */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { roundCosts } from '../db/costs.js';
import { formatCost } from '../lib/cost/index.js';
import { pct, roundColumns } from '../lib/report/round-table.js';
import type { ReportRound } from '../lib/report/types.js';

/** A round as `status` and the demo show it: the report's round (lib/report/types.ts) and the operator's counts. */
export interface RoundReport extends ReportRound {
  sampler: string | null;
  errors: number;
  fineTuneJobs: number;
  searchProblemsSolved: number;
  rationalized: number;
  rationalizedCorrect: number;
  /** Inference tokens (prompt + completion) of the round's stages, from flywheel.round_costs. */
  tokens: number;
  /** What the round cost at the config's prices; null when nothing in it is priced. */
  cost: number | null;
}

export async function roundReports(db: Db, runId: string): Promise<RoundReport[]> {
  const res = await db.execute(sql`SELECT * FROM flywheel.round_metrics WHERE run_id = ${runId} ORDER BY round`);
  const costs = new Map((await roundCosts(db, runId)).map((c) => [c.round, c]));
  return (res.rows as Array<Record<string, unknown>>).map((r) => ({
    round: Number(r.round),
    model: (r.model as string) ?? null,
    sampler: (r.sampler as string) ?? null,
    stage: String(r.stage),
    status: String(r.status),
    planned: Number(r.planned),
    traces: Number(r.traces),
    verified: Number(r.verified),
    correct: Number(r.correct),
    errors: Number(r.errors),
    fineTuneJobs: Number(r.fine_tune_jobs),
    datasetItems: r.dataset_items === null ? null : Number(r.dataset_items),
    greedyPassAt1: r.greedy_pass_at_1 === null ? null : Number(r.greedy_pass_at_1),
    passAtK: (r.pass_at_k as Record<string, number>) ?? {},
    majAtK: (r.maj_at_k as Record<string, number>) ?? {},
    promoted: (r.promoted as boolean | null) ?? null,
    searchTraces: Number(r.search_traces),
    searchProblemsSolved: Number(r.search_problems_solved),
    search:
      r.search_strategy === null
        ? null
        : {
            strategy: String(r.search_strategy),
            budget: Number(r.search_budget),
            accuracy: Number(r.search_accuracy),
            meanCalls: r.search_mean_calls === null ? null : Number(r.search_mean_calls),
          },
    modelErrors: Number(r.model_errors),
    coverage: (r.coverage as RoundReport['coverage']) ?? null,
    rationalized: Number(r.rationalized),
    rationalizedCorrect: Number(r.rationalized_correct),
    tokens: costs.get(Number(r.round))?.tokens ?? 0,
    cost: costs.get(Number(r.round))?.cost ?? null,
  }));
}

/** A fixed-width table for terminals. */
export function formatTable(rounds: RoundReport[]): string {
  const columns = roundColumns(rounds);
  // Cost columns only for runs whose config prices something, so an unpriced run's table stays as it was.
  const priced = rounds.some((r) => r.cost !== null);
  const header = ['round', 'model', ...columns.head, ...(priced ? ['tokens', 'cost'] : [])];
  const rows = rounds.map((r) => [
    String(r.round),
    shortModel(r.model),
    ...columns.cells(r),
    ...(priced ? [String(r.tokens), r.cost === null ? '—' : formatCost(r.cost)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function shortModel(name: string | null): string {
  if (!name) return '—';
  return name.length > 40 ? `${name.slice(0, 37)}...` : name;
}

/** The JSON shape of `demo --json` (one entry per round; round 0 is the base model's). */
export function demoJson(runId: string, rounds: RoundReport[]) {
  return {
    runId,
    rounds: rounds.map((r) => ({
      round: r.round,
      model: r.model,
      traces: r.traces,
      correct: r.correct,
      greedyPassAt1: r.greedyPassAt1,
      passAtK: r.passAtK,
      majAtK: r.majAtK,
      ...(r.search ? { search: { strategy: r.search.strategy, budget: r.search.budget, accuracy: r.search.accuracy, meanCalls: r.search.meanCalls } } : {}),
      promoted: r.round === 0 ? true : r.promoted,
      trainingExamples: r.datasetItems,
      searchTraces: r.searchTraces,
    })),
  };
}

/** One line on the coverage curve of a round's model: measured points, the fit, and when sampling stops paying. */
export function formatCoverage(r: RoundReport): string | null {
  if (!r.coverage) return null;
  const points = r.coverage.points.map((p) => `c(${p.k})=${pct(p.coverage)}`).join(' ');
  const fit = r.coverage.fit
    ? ` · fit c(k)=exp(${r.coverage.fit.a.toFixed(3)}·k^${r.coverage.fit.b.toFixed(3)}), R²=${r.coverage.fit.r2.toFixed(2)}` +
      (r.coverage.stopsPayingAt ? ` · doubling k past ${r.coverage.stopsPayingAt} gains < 1 point` : '')
    : '';
  return `coverage of round ${r.round}'s model: ${points}${fit}`;
}
