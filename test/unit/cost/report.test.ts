import { describe, expect, it } from 'vitest';
import { formatTable } from '../../../cli/report.js';
import type { RoundReport } from '../../../db/report.js';

const round = (r: number, cost: number | null, tokens: number): RoundReport => ({
  round: r, model: 'm', sampler: 'm', stage: 'done', status: 'completed', planned: 10, traces: 10, verified: 10, correct: 3, errors: 0,
  fineTuneJobs: r === 0 ? 0 : 1, datasetItems: r === 0 ? null : 3, greedyPassAt1: 0.5, passAtK: { '1': 0.4 }, majAtK: { '1': 0.4 },
  promoted: r === 0 ? null : true, searchTraces: 0, searchProblemsSolved: 0, search: null, modelErrors: 0, coverage: null,
  rationalized: 0, rationalizedCorrect: 0, tokens, cost,
});

describe('the per-round table', () => {
  it('shows tokens and cost per round when the run prices something', () => {
    const [header, , first, second] = formatTable([round(0, 0.01234, 1570), round(1, 2.5, 900)]).split('\n');
    expect(header).toMatch(/promoted  tokens +cost$/);
    expect(first).toMatch(/1570 +\$0\.012$/);
    expect(second).toMatch(/900 +\$2\.50$/);
  });

  it('leaves an unpriced run’s table as it was, and marks an unpriced round in a priced run', () => {
    expect(formatTable([round(0, null, 1570)]).split('\n')[0]).toMatch(/promoted$/);
    expect(formatTable([round(0, 1, 10), round(1, null, 20)]).split('\n')[3]).toMatch(/ 20 +—$/);
  });
});
