import { describe, expect, it } from 'vitest';
import { runConfigSchema, type RunConfigInput } from '../../../config/schema.js';
import { summarizeEval } from '../../../lib/metrics/eval-summary.js';
import { planSearchJobs, searchTracesToStore } from '../../../lib/round/search-jobs.js';
import { rankSamples } from '../../../lib/search/rank-samples.js';
import type { SearchOutcome } from '../../../lib/search/types.js';

const config = (extra: Partial<RunConfigInput> = {}) => runConfigSchema.parse({ task: { kind: 'countdown' }, ...extra });
const problems = [{ id: 1 }, { id: 2 }, { id: 3 }];

describe('search jobs', () => {
  const step = { strategy: 'mcts' as const, budget: 16, trainBudget: 4 };
  it('searches held-out problems at the eval budget, train problems nothing solved at the train budget', () => {
    expect(planSearchJobs(config({ search: { step } }), 'eval', problems, new Map(), new Set()).map((j) => j.budget)).toEqual([16, 16, 16]);
    const train = planSearchJobs(config({ search: { step } }), 'train', problems, new Map(), new Set([2]));
    expect(train.map((j) => [j.problem.id, j.strategy, j.budget])).toEqual([[1, 'mcts', 4], [3, 'mcts', 4]]);
    expect(planSearchJobs(config({ search: { step: { ...step, train: 'all' } } }), 'train', problems, new Map(), new Set([2]))).toHaveLength(3);
    expect(planSearchJobs(config(), 'eval', problems, new Map(), new Set())).toEqual([]);
  });
  it('follows the adaptive plan where the round has one', () => {
    const budgets = new Map([[1, { searchBudget: 0, strategy: 'none' }], [3, { searchBudget: 12, strategy: 'beam' }]]);
    expect(planSearchJobs(config({ search: { step } }), 'train', problems, budgets, new Set()).map((j) => [j.problem.id, j.strategy, j.budget])).toEqual([[3, 'beam', 12]]);
  });

  const verdict = (correct: boolean) => ({ score: correct ? 1 : 0, correct, answer: correct ? '7' : '6', detail: '' });
  const outcome: SearchOutcome = {
    strategy: 'mcts', text: 'b', answer: '7', score: 0.9, verdict: verdict(true), correct: true, budget: 8, budgetUnit: 'calls', calls: 5, tokens: 50, promptTokens: 120, cachedPromptTokens: 96, scorerCalls: 0,
    traces: [{ text: 'a', answer: '6', score: 0.1, verdict: null }, { text: 'b', answer: '7', score: 0.9, verdict: null }],
    detail: { votes: 2 },
  };
  it('stores every trace on train problems, only the chosen one held-out, each with a verdict', async () => {
    const verified: string[] = [];
    const train = await searchTracesToStore(outcome, 'train', async (text) => (verified.push(text), verdict(false)));
    expect(train.chosen).toBe(1);
    expect(train.traces.map((t) => [t.text, t.verdict.correct, t.flags])).toEqual([['a', false, {}], ['b', true, { search: { chosen: true, votes: 2 } }]]);
    expect(verified).toEqual(['a']);
    const held = await searchTracesToStore(outcome, 'eval', async () => verdict(false));
    expect(held).toMatchObject({ chosen: 0, traces: [{ text: 'b' }] });
  });
});

describe('ranking samples', () => {
  const s = (traceId: number, sampleIndex: number, answer: string, correct: boolean) => ({ traceId, problemId: 1, sampleIndex, logprob: null, completionTokens: 3, answer, score: correct ? 1 : 0, correct });
  it('votes and picks per problem, scoring every sample', () => {
    const { picks, scores, solved } = rankSamples(new Map([[1, [s(10, 0, '4', false), s(11, 1, '5', true), s(12, 2, '5', true)]]]), ['best-of-n', 'majority'], 'self-consistency');
    expect(picks).toEqual([
      { problemId: 1, strategy: 'best-of-n', traceId: 11, answer: '5', votes: 0, calls: 3, tokens: 9 },
      { problemId: 1, strategy: 'majority', traceId: 11, answer: '5', votes: 2, calls: 3, tokens: 9 },
    ]);
    expect(scores.map((x) => x.traceId)).toEqual([10, 11, 12]);
    expect(solved).toEqual({ 'best-of-n': 1, majority: 1 });
  });
});

describe('the eval summary', () => {
  const e = (strategy: string, sampleIndex: number, correct: boolean, answer = correct ? 'y' : 'n') => ({ strategy, sampleIndex, correct, answer });
  it('scores greedy pass@1, pass@k and maj@k, with one metric row each', () => {
    const c = config({ evaluate: { greedy: true, samples: 2, k: [1, 2] } });
    const problems = new Map([
      [1, [e('greedy', 0, true), e('sample', 0, true), e('sample', 1, false)]],
      [2, [e('greedy', 0, false), e('sample', 0, false), e('sample', 1, false)]],
    ]);
    const { summary, metrics } = summarizeEval(c, 'm', problems, null);
    expect(summary).toMatchObject({ model: 'm', problems: 2, greedyPassAt1: 0.5, passAtK: { '1': 0.25, '2': 0.5 }, search: null });
    expect(metrics.filter((m) => m.metric !== 'coverage').map((m) => `${m.metric}@${m.k}=${m.value}`)).toEqual(['greedy_pass@1@1=0.5', 'pass@k@1=0.25', 'maj@k@1=0.5', 'pass@k@2=0.5', 'maj@k@2=0.5']);
  });
  it('adds search accuracy and calls when step search ran held-out', () => {
    const c = config({ search: { step: { strategy: 'beam', budget: 8 } } });
    const { summary, metrics } = summarizeEval(c, 'm', new Map([[1, []], [2, []]]), { outcomes: [{ calls: 4, correct: true }, { calls: 8, correct: false }], verifiedDuringSearch: true });
    expect(summary.search).toEqual({ strategy: 'beam', budget: 8, accuracy: 0.5, meanCalls: 6, verifiedDuringSearch: true });
    expect(metrics.filter((m) => m.strategy === 'beam').map((m) => m.metric)).toEqual(['search_accuracy', 'search_calls']);
  });
});
