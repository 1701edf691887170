/** What `demo`, `status` and `report` print of the per-round numbers db/report.ts reads (`roundReports`). */
import type { RoundReport } from '../db/report.js';
import { formatCost } from '../lib/cost/index.js';
import { pct, roundColumns } from '../lib/report/round-table.js';

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
