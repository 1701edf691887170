import { describe, expect, it } from 'vitest';
import { pct, roundColumns } from '../../../lib/report/round-table.js';
import type { ReportRound } from '../../../lib/report/types.js';

const round = (r: number, over: Partial<ReportRound> = {}): ReportRound => ({
  round: r, model: 'm', stage: 'done', status: 'completed', planned: 10, traces: 10, verified: 10, correct: 3,
  datasetItems: r === 0 ? null : 3, greedyPassAt1: 0.5, passAtK: { '1': 0.4 }, majAtK: { '1': 0.4 }, promoted: null,
  searchTraces: 0, search: null, modelErrors: 0, coverage: null, ...over,
});

describe('the round table columns', () => {
  it('lists every k any round measured, in numeric order, and a search column only when a round searched', () => {
    const rounds = [round(0), round(1, { passAtK: { '16': 0.9, '8': 0.7 }, search: { strategy: 'mcts', budget: 64, accuracy: 0.55, meanCalls: 40 } })];
    const { head, cells } = roundColumns(rounds);
    expect(head).toEqual(['traces', 'correct', 'train set', 'greedy pass@1', 'pass@1', 'pass@8', 'pass@16', 'maj@1', 'maj@8', 'maj@16', 'mcts@64', 'promoted']);
    expect(cells(rounds[0]!)).toEqual(['10', '3', '—', '50.0%', '40.0%', '—', '—', '40.0%', '—', '—', '—', 'base']);
    expect(cells(rounds[1]!)).toEqual(['10', '3', '3', '50.0%', '—', '70.0%', '90.0%', '40.0%', '—', '—', '55.0%', '—']);
    expect(roundColumns([round(0)]).head).not.toContain('mcts@64');
  });

  it('says whether a later round promoted its model', () => {
    const { cells } = roundColumns([]);
    expect(cells(round(1, { promoted: true })).at(-1)).toBe('yes');
    expect(cells(round(1, { promoted: false })).at(-1)).toBe('no');
    expect(cells(round(0, { promoted: true })).at(-1)).toBe('base');
    expect(pct(0.1234)).toBe('12.3%');
    expect(pct(undefined)).toBe('—');
  });
});
