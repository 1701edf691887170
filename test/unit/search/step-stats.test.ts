import { describe, expect, it } from 'vitest';
import { beamSearch } from '../../../lib/search/beam.js';
import { mctsSearch } from '../../../lib/search/mcts.js';
import { prefixLines, verifiedShare, type StepStat } from '../../../lib/search/step-stats.js';
import { TRAP, answerVerifier, createFakeModel, type LineTree } from './fake-model.js';

const problem = { prompt: 'Find 42.', reference: '42' };
const verifying = { verifier: answerVerifier, verifyDuringSearch: true };
const key = (s: StepStat) => `${s.prefix}${s.step}`;

describe('step statistics of MCTS', () => {
  it('reports every visited step with visits, verified rollouts, value and the verdict of a final step', async () => {
    const model = createFakeModel(TRAP);
    const outcome = await mctsSearch(problem, { ...verifying, model, budget: 8, seed: 1 });
    const steps = outcome.steps!;
    const by = new Map(steps.map((s) => [key(s), s]));
    expect(by.get('b')).toMatchObject({ prefix: '', depth: 1, verdict: null });
    expect(by.get('b\nb2')).toMatchObject({ prefix: 'b\n', depth: 2 });
    expect(by.get('b\nb2\nAnswer: 42')).toMatchObject({ prefix: 'b\nb2\n', depth: 3, verdict: true, verifiedRollouts: 1, value: 1 });
    expect(by.get('a\na1\nAnswer: 1')).toMatchObject({ verdict: false, verifiedRollouts: 0 });
    expect(by.get('b')!.verifiedRollouts).toBe(1);
    expect(by.get('a')!.verifiedRollouts).toBe(0);
    // Every simulation passes one first step: the first steps' visits add up to the simulations.
    const firsts = steps.filter((s) => s.depth === 1).reduce((a, s) => a + s.visits, 0);
    expect(firsts).toBe(outcome.detail.simulations);
    for (const s of steps) {
      expect(s.depth).toBe(prefixLines(s.prefix).length + 1);
      expect(s.rollouts).toBe(s.visits);
      expect(s.verifiedRollouts!).toBeLessThanOrEqual(s.rollouts);
      // A non-final step's visits and verified rollouts are at least its children's (cut rollouts end at it).
      const children = steps.filter((c) => c.prefix === `${s.prefix}${s.step}\n`);
      if (children.length) {
        expect(s.visits).toBeGreaterThanOrEqual(children.reduce((a, c) => a + c.visits, 0));
        expect(s.verifiedRollouts).toBe(children.reduce((a, c) => a + c.verifiedRollouts!, 0));
      }
    }
    expect(new Set(steps.map(key)).size).toBe(steps.length);
  });

  it('spends the same calls and finds the same traces whether or not anyone reads the steps (seeded)', async () => {
    const run = () => mctsSearch(problem, { ...verifying, model: createFakeModel(TRAP, { alternatives: false }), budget: 12, seed: 5, rolloutTemperature: 1 });
    const [x, y] = [await run(), await run()];
    expect(x.steps).toEqual(y.steps);
    expect(x.calls).toBe(y.calls);
  });

  it('has no verified counts when values do not come from the verifier', async () => {
    const outcome = await mctsSearch(problem, { verifier: answerVerifier, model: createFakeModel(TRAP), budget: 6, seed: 1 });
    expect(outcome.steps!.length).toBeGreaterThan(0);
    for (const s of outcome.steps!) {
      expect(s.verifiedRollouts).toBeNull();
      expect(s.verdict).toBeNull();
    }
  });
});

describe('step statistics of beam search', () => {
  it('reports rollout values and verified shares of valued children', async () => {
    const tree: LineTree = {
      a: { p: 0.6, next: { a1: { p: 1, next: { 'Answer: 1': { p: 1 } } } } },
      b: { p: 0.4, next: { b1: { p: 1, next: { 'Answer: 42': { p: 1 } } } } },
    };
    const outcome = await beamSearch(problem, { ...verifying, model: createFakeModel(tree), budget: 16, width: 1 });
    expect(outcome.correct).toBe(true);
    expect([...outcome.steps!].sort((x, y) => x.step.localeCompare(y.step))).toEqual([
      { prefix: '', step: 'a', depth: 1, visits: 0, rollouts: 1, verifiedRollouts: 0, value: 0.1, verdict: null },
      { prefix: '', step: 'b', depth: 1, visits: 0, rollouts: 1, verifiedRollouts: 1, value: 1, verdict: null },
    ]);
  });

  it('counts expansions of kept steps as visits, gives final steps their verdict, leaves unvalued children without a value', async () => {
    const tree: LineTree = {
      a: { p: 0.5, next: { a1: { p: 0.5, next: { 'Answer: 42': { p: 1 } } }, a2: { p: 0.5, next: { 'Answer: 1': { p: 1 } } } } },
      b: { p: 0.3, next: { b1: { p: 1, next: { 'Answer: 7': { p: 1 } } } } },
      c: { p: 0.2, next: { c1: { p: 1, next: { 'Answer: 8': { p: 1 } } } } },
    };
    const outcome = await beamSearch(problem, { ...verifying, model: createFakeModel(tree), budget: 64, width: 1, candidates: 2, stopWhenCorrect: false });
    const by = new Map(outcome.steps!.map((s) => [key(s), s]));
    expect(by.get('c')).toMatchObject({ rollouts: 0, value: null, visits: 0 });
    expect(by.get('a')).toMatchObject({ rollouts: 1, visits: 1 });
    expect(by.get('a\na1')).toMatchObject({ depth: 2, rollouts: 1, verifiedRollouts: 1, value: 1 });
    expect(verifiedShare(by.get('a\na2')!)).toBe(0);
    expect(by.get('a\na1\nAnswer: 42')).toMatchObject({ depth: 3, rollouts: 0, verdict: true, value: 1 });
    expect(verifiedShare(by.get('c')!)).toBeNull();
  });
});

describe('prefixLines', () => {
  it('splits a partial trace into its lines', () => {
    expect(prefixLines('')).toEqual([]);
    expect(prefixLines('x\ny\n')).toEqual(['x', 'y']);
  });
});
