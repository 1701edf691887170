import { describe, expect, it } from 'vitest';
import {
  accuracyByCalls,
  adaptiveBins,
  coverageCurves,
  coverageFit,
  difficulty,
  errorKind,
  errorsChart,
  funnel,
  kGrid,
  learningCurve,
  lossPoints,
  trainerChart,
} from '../../../lib/report/charts.js';
import type { ReportRound } from '../../../lib/report/types.js';

const round = (over: Partial<ReportRound>): ReportRound => ({
  round: 0,
  model: 'm',
  stage: 'done',
  status: 'completed',
  planned: 100,
  traces: 100,
  verified: 100,
  correct: 10,
  datasetItems: null,
  greedyPassAt1: 0.1,
  passAtK: { '1': 0.1, '4': 0.3 },
  majAtK: { '1': 0.1, '4': 0.15 },
  promoted: null,
  searchTraces: 0,
  search: null,
  modelErrors: 0,
  coverage: null,
  ...over,
});

describe('learning curve', () => {
  it('has a series per metric and k, the search accuracy, and stars promoted rounds', () => {
    const chart = learningCurve([
      round({ round: 0, search: { strategy: 'mcts', budget: 16, accuracy: 0.4, meanCalls: 9 } }),
      round({ round: 1, promoted: true, greedyPassAt1: 0.5, search: { strategy: 'mcts', budget: 16, accuracy: 0.9, meanCalls: 5 } }),
      round({ round: 2, promoted: false, greedyPassAt1: 0.45 }),
    ]);
    if (!('config' in chart)) throw new Error('expected a chart');
    expect(chart.config.data.labels).toEqual(['round 0 (base)', 'round 1 ★ promoted', 'round 2']);
    const labels = chart.config.data.datasets.map((d) => d.label);
    expect(labels).toEqual(['greedy pass@1', 'pass@1', 'pass@4', 'maj@1', 'maj@4', 'with search: mcts@16 calls']);
    expect(chart.config.data.datasets[0]!.data).toEqual([0.1, 0.5, 0.45]);
    expect(chart.config.data.datasets[0]!.pointRadius).toEqual([4, 9, 4]);
    expect(chart.config.data.datasets[5]!.data).toEqual([0.4, 0.9, null]);
  });

  it('says why there is none before any evaluation', () => {
    expect(learningCurve([round({ greedyPassAt1: null, passAtK: {} })])).toEqual({ id: 'learning', title: expect.any(String), none: 'no round has been evaluated yet' });
  });
});

describe('coverage', () => {
  it('evaluates the fit c(k) = exp(a·k^b) and marks where doubling stops paying', () => {
    expect(coverageFit({ a: -1, b: -0.5 }, 4)).toBeCloseTo(Math.exp(-0.5));
    expect(kGrid(4)).toEqual([1, 1.414, 2, 2.828, 4]);
    const chart = coverageCurves([
      round({ round: 1, coverage: { points: [{ k: 1, coverage: 0.5 }, { k: 4, coverage: 0.7 }], fit: { a: -0.7, b: -0.4, r2: 0.98 }, stopsPayingAt: 64 } }),
    ]);
    if (!('config' in chart)) throw new Error('expected a chart');
    const [measured, fit, stop] = chart.config.data.datasets;
    expect(measured!.data).toEqual([{ x: 1, y: 0.5 }, { x: 4, y: 0.7 }]);
    expect(fit!.label).toBe('round 1 fit exp(-0.70·k^-0.40), R²=0.98, doubling k past 64 gains < 1 point');
    expect((fit!.data as Array<{ x: number }>).at(-1)!.x).toBeCloseTo(64, 0);
    expect(stop!.data).toEqual([{ x: 64, y: 0 }, { x: 64, y: 1 }]);
  });
});

describe('funnel', () => {
  it('puts each round\'s traces beside how many a training set took from it', () => {
    const chart = funnel([round({ round: 0, searchTraces: 7 }), round({ round: 1 })], { '0': 12 });
    if (!('config' in chart)) throw new Error('expected a chart');
    expect(chart.config.data.datasets.map((d) => [d.label, d.data])).toEqual([
      ['planned', [100, 100]],
      ['traces', [100, 100]],
      ['verified', [100, 100]],
      ['verified correct', [10, 10]],
      ['in the next training set', [12, 0]],
      ['search traces (train)', [7, 0]],
    ]);
  });
});

describe('accuracy against model calls', () => {
  it('is the share of problems solved within x calls, one step per distinct spend', () => {
    const o = (calls: number, correct: boolean) => ({ round: 1, purpose: 'eval', strategy: 'mcts', calls, tokens: 0, correct });
    const curve = accuracyByCalls([o(4, true), o(4, true), o(8, false), o(16, true), { ...o(0, true), strategy: 'best-of-n' }])[0]!;
    expect(curve.label).toBe('mcts round 1 (held-out)');
    expect(curve.points).toEqual([
      { x: 4, y: 0.5 },
      { x: 8, y: 0.5 },
      { x: 16, y: 0.75 },
    ]);
  });
});

describe('difficulty', () => {
  it('classifies problems across rounds and lists the hardest first', () => {
    const rows = [
      { problemId: 1, problem: 'a', round: 0, n: 4, c: 4 },
      { problemId: 1, problem: 'a', round: 1, n: 4, c: 2 },
      { problemId: 2, problem: 'b', round: 0, n: 4, c: 0 },
      { problemId: 2, problem: 'b', round: 1, n: 4, c: 1 },
      { problemId: 3, problem: 'c', round: 0, n: 4, c: 0 },
      { problemId: 3, problem: 'c', round: 1, n: 8, c: 0 },
    ];
    const d = difficulty(rows, 2);
    expect([d.always, d.sometimes, d.never]).toEqual([1, 1, 1]);
    expect(d.perRound).toEqual([
      { round: 0, none: 2, some: 0, all: 1 },
      { round: 1, none: 1, some: 2, all: 0 },
    ]);
    expect(d.hardest.map((h) => [h.problem, h.c, h.n])).toEqual([
      ['c', 0, 12],
      ['b', 1, 8],
    ]);
  });
});

describe('trainer progress', () => {
  it('reads loss per step in the shapes trainers report, else says not reported', () => {
    expect(lossPoints([{ step: 1, loss: 2 }, { step: 2, train_loss: 1.5 }, { step: 3 }])).toEqual([{ x: 1, y: 2 }, { x: 2, y: 1.5 }]);
    expect(lossPoints({ loss: [3, 2] })).toEqual([{ x: 0, y: 3 }, { x: 1, y: 2 }]);
    expect(lossPoints({ steps: [{ global_step: 10, loss: 0.5 }] })).toEqual([{ x: 10, y: 0.5 }]);
    expect(lossPoints('epoch 3/10')).toBeNull();
    expect(lossPoints(null)).toBeNull();
    const job = { round: 1, backend: 'openai', status: 'succeeded', externalJobId: 'ftjob-1', resultModel: 'm', hyperparameters: {} };
    expect(trainerChart([{ ...job, progress: null }])).toMatchObject({ none: expect.stringMatching(/^not reported/) });
    expect(trainerChart([{ ...job, progress: [{ step: 1, loss: 1 }] }])).toMatchObject({ config: { data: { datasets: [{ label: 'round 1 (ftjob-1)' }] } } });
  });
});

describe('errors and bins', () => {
  it('classifies model errors by what an operator would fix', () => {
    expect(errorKind('429 Too Many Requests')).toBe('rate limited (429)');
    expect(errorKind('503 Service Unavailable')).toBe('server error (503)');
    expect(errorKind('request timed out')).toBe('timeout');
    expect(errorKind('malformed response: Unexpected end of JSON input')).toBe('malformed response');
    expect(errorKind('could not connect (ECONNREFUSED)')).toBe('connection');
    const chart = errorsChart(
      [
        { round: 0, error: '503 x', final: false, n: 3 },
        { round: 1, error: '503 y', final: true, n: 1 },
      ],
      [0, 1],
    );
    if (!('config' in chart)) throw new Error('expected a chart');
    expect(chart.config.data.datasets).toEqual([{ label: 'server error (503) (1 final)', data: [3, 1], backgroundColor: expect.any(String) }]);
    expect(errorsChart([], [0])).toMatchObject({ none: 'no failed model request in this run' });
  });

  it('orders adaptive bins from easy to unseen and stacks samples per round', () => {
    const chart = adaptiveBins([
      { round: 1, bin: 'hard', problems: 2, samples: 30, searchBudget: 0 },
      { round: 1, bin: 'solved-always', problems: 5, samples: 10, searchBudget: 0 },
      { round: 2, bin: 'hard', problems: 1, samples: 16, searchBudget: 8 },
    ]);
    if (!('config' in chart)) throw new Error('expected a chart');
    expect(chart.config.data.datasets.map((d) => [d.label, d.data])).toEqual([
      ['solved-always (5 problem-rounds)', [10, 0]],
      ['hard (3 problem-rounds)', [30, 16]],
    ]);
    expect(adaptiveBins([])).toMatchObject({ none: expect.stringContaining('adaptive.enabled: false') });
  });
});
