/** The round table's cells, shared by the HTML report (html.ts) and the terminal table of `status` and `demo`. */
import type { ReportRound } from './types.js';

/** A rate as a percentage with one decimal; '—' where there is none. */
export const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

export interface RoundColumns {
  head: string[];
  cells: (round: ReportRound) => string[];
}

/**
 * The metric columns of the round table, traces through promoted: pass@k and maj@k for every k any round measured,
 * and the search column when a round ran one. Callers put their own columns around them.
 *
 * @example const { head, cells } = roundColumns(rounds); const rows = rounds.map((r) => [String(r.round), ...cells(r)])
 */
export function roundColumns(rounds: readonly ReportRound[]): RoundColumns {
  const ks = [...new Set(rounds.flatMap((r) => Object.keys(r.passAtK)))].sort((a, b) => Number(a) - Number(b));
  const search = rounds.find((r) => r.search)?.search;
  return {
    head: ['traces', 'correct', 'train set', 'greedy pass@1', ...ks.map((k) => `pass@${k}`), ...ks.map((k) => `maj@${k}`), ...(search ? [`${search.strategy}@${search.budget}`] : []), 'promoted'],
    cells: (r) => [
      String(r.traces),
      String(r.correct),
      r.datasetItems === null ? '—' : String(r.datasetItems),
      pct(r.greedyPassAt1),
      ...ks.map((k) => pct(r.passAtK[k])),
      ...ks.map((k) => pct(r.majAtK[k])),
      ...(search ? [pct(r.search?.accuracy)] : []),
      r.round === 0 ? 'base' : r.promoted === null ? '—' : r.promoted ? 'yes' : 'no',
    ],
  };
}
