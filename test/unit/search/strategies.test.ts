import { describe, expect, it } from 'vitest';
import { beamSearch, keepBest } from '../../../lib/search/beam.js';
import { bestOfNSearch } from '../../../lib/search/best-of-n.js';
import { majoritySearch } from '../../../lib/search/majority.js';
import { mctsSearch } from '../../../lib/search/mcts.js';
import type { RewardModelClient } from '../../../lib/search/reward-model.js';
import { runStrategy } from '../../../lib/search/run.js';
import { samplerFromStepModel } from '../../../lib/search/samplers.js';
import type { CommonSearchOptions, SearchOutcome } from '../../../lib/search/types.js';
import { TRAP, answerVerifier, createFakeModel, type LineTree } from './fake-model.js';

const problem = { prompt: 'Find 42.', reference: '42' };
const verifying = { verifier: answerVerifier, verifyDuringSearch: true };

/** Every strategy with its defaults, on a fresh fake model. */
function strategies(tree: LineTree, alternatives = true) {
  return {
    'best-of-n': (budget: number) => {
      const model = createFakeModel(tree, { alternatives });
      return { model, run: (extra: Partial<CommonSearchOptions> = {}) => bestOfNSearch(problem, { ...verifying, sampler: samplerFromStepModel(model), scorer: 'verifier', budget, batch: 3, ...extra }) };
    },
    majority: (budget: number) => {
      const model = createFakeModel(tree, { alternatives });
      return { model, run: (extra: Partial<CommonSearchOptions> = {}) => majoritySearch(problem, { sampler: samplerFromStepModel(model), budget, batch: 3, ...extra }) };
    },
    beam: (budget: number) => {
      const model = createFakeModel(tree, { alternatives });
      return { model, run: (extra: Partial<CommonSearchOptions> = {}) => beamSearch(problem, { ...verifying, model, budget, width: 2, expandSamples: 2, ...extra }) };
    },
    mcts: (budget: number) => {
      const model = createFakeModel(tree, { alternatives });
      return { model, run: (extra: Partial<CommonSearchOptions> = {}) => mctsSearch(problem, { ...verifying, model, budget, stopWhenCorrect: false, ...extra }) };
    },
  };
}

/** A wide, deep tree where nothing is right: every strategy has to spend all it may. */
function hopeless(depth: number): LineTree {
  if (depth === 0) return { 'Answer: 0': { p: 0.5 }, 'Answer: 1': { p: 0.5 } };
  return Object.fromEntries(['x', 'y', 'z'].map((l, i) => [`${l}${depth}`, { p: [0.5, 0.3, 0.2][i]!, next: hopeless(depth - 1) }]));
}

describe('compute accounting', () => {
  for (const [name, make] of Object.entries(strategies(hopeless(4)))) {
    it(`${name} never spends more calls than its budget, and reports what it spent`, async () => {
      for (const budget of [1, 2, 3, 5, 8, 13, 40]) {
        const { model, run } = make(budget);
        const outcome = await run();
        expect(outcome.calls).toBeLessThanOrEqual(budget);
        expect(outcome.calls).toBe(model.generated);
        expect(outcome.budget).toBe(budget);
        expect(outcome.tokens > 0).toBe(outcome.calls > 0);
      }
    });
  }

  for (const [name, make] of Object.entries(strategies(hopeless(4), false))) {
    it(`${name} with a budget in generated tokens never generates more, and reports prompt tokens`, async () => {
      for (const budget of [1, 3, 7, 20, 60]) {
        const { run } = make(budget);
        const outcome = await run({ budgetUnit: 'tokens' });
        expect(outcome.budgetUnit).toBe('tokens');
        expect(outcome.tokens).toBeLessThanOrEqual(budget);
        expect(outcome.tokens).toBeGreaterThan(0);
        expect(outcome.promptTokens).toBeGreaterThan(0);
        expect(outcome.cachedPromptTokens).not.toBeNull();
        // A generous budget is mostly spent (the last share may be too short for a whole line).
        if (budget >= 20) expect(outcome.tokens).toBeGreaterThan(budget / 2);
      }
    });
  }

  it('a budget of 0 spends nothing and finds nothing', async () => {
    const model = createFakeModel(TRAP);
    const outcome = await mctsSearch(problem, { ...verifying, model, budget: 0 });
    expect(outcome).toMatchObject({ calls: 0, tokens: 0, text: null, verdict: null, correct: null });
    expect(model.generated).toBe(0);
  });
});

describe('MCTS', () => {
  it('finds the answer the greedy policy misses', async () => {
    const greedy = await createFakeModel(TRAP).rollout(problem.prompt, '', { n: 1, temperature: 0 });
    expect(greedy.sequences[0]!.lines.map((l) => l.text)).toEqual(['a', 'a1', 'Answer: 1']);

    const model = createFakeModel(TRAP);
    const outcome = await mctsSearch(problem, { ...verifying, model, budget: 8, seed: 1 });
    expect(outcome.correct).toBe(true);
    expect(outcome.text).toBe('b\nb2\nAnswer: 42');
    expect(outcome.calls).toBeLessThan(8); // stops at the first verified-correct trace
    expect(outcome.traces.map((t) => t.answer)).toContain('1');
  });

  it('is deterministic given its seed', async () => {
    const run = (seed: number) => mctsSearch(problem, { ...verifying, model: createFakeModel(TRAP, { alternatives: false }), budget: 12, seed, rolloutTemperature: 1 });
    const strip = (o: SearchOutcome) => ({ text: o.text, calls: o.calls, traces: o.traces.map((t) => t.text), detail: o.detail });
    expect(strip(await run(5))).toEqual(strip(await run(5)));
  });

  it('widens nodes whose children are known only from samples (an LLM without whole-line alternatives)', async () => {
    const model = createFakeModel(TRAP, { alternatives: false });
    const outcome = await mctsSearch(problem, { ...verifying, model, budget: 40, seed: 3 });
    expect(outcome.correct).toBe(true);
    expect(Number(outcome.detail.widened)).toBeGreaterThan(0);
    expect(model.requests.some((r) => r.temperature > 0)).toBe(true);
  });

  it('stops widening a node once its sampled children hold nearly all the probability', async () => {
    // Two lines at the root, 0.995 and 0.005: once the likely one is known, widening there stops paying.
    const tree: LineTree = { a: { p: 0.995, next: hopeless(1) }, b: { p: 0.005, next: hopeless(1) } };
    const run = (closeAtMass: number) => mctsSearch(problem, { ...verifying, model: createFakeModel(tree, { alternatives: false }), budget: 30, closeAtMass, seed: 1 });
    const closing = await run(0.99);
    const never = await run(2);
    expect(Number(closing.detail.widened)).toBeLessThan(Number(never.detail.widened));
  });

  it('stops when the tree is exhausted, with budget left', async () => {
    const model = createFakeModel(hopeless(1));
    const outcome = await mctsSearch(problem, { ...verifying, model, budget: 100 });
    expect(outcome.detail.exhausted).toBe(true);
    expect(outcome.calls).toBeLessThan(100);
    expect(outcome.correct).toBe(false);
    // Every distinct trace was judged once.
    expect(new Set(outcome.traces.map((t) => t.text)).size).toBe(outcome.traces.length);
  });

  it('without verifying during search, values come from agreement and the verifier only judges the choice', async () => {
    const model = createFakeModel(TRAP);
    const outcome = await mctsSearch(problem, { verifier: answerVerifier, model, budget: 20 });
    expect(outcome.detail.valueSource).toBe('self-consistency');
    expect(outcome.traces.every((t) => t.verdict === null)).toBe(true);
    // No early stop: all five leaves are rolled out, and the most frequent answer (two traces say 1) wins.
    expect(outcome.calls).toBe(5);
    expect(outcome.answer).toBe('1');
    expect(outcome.verdict).toMatchObject({ correct: false });
  });

  it('refuses verifyDuringSearch without a verifier', async () => {
    await expect(mctsSearch(problem, { model: createFakeModel(TRAP), budget: 4, verifyDuringSearch: true })).rejects.toThrow(/no verifier/);
  });
});

describe('beam search', () => {
  it('expands with one sample where whole lines are listed, and with several where only samples show children', async () => {
    const listed = createFakeModel(TRAP);
    const a = await beamSearch(problem, { ...verifying, model: listed, budget: 40, width: 2 });
    expect(a.detail.expandSamples).toBe(1);
    expect(listed.requests.filter((r) => r.kind === 'step').every((r) => r.n === 1)).toBe(true);
    const sampled = createFakeModel(TRAP, { alternatives: false });
    const b = await beamSearch(problem, { ...verifying, model: sampled, budget: 40, width: 2 });
    expect(b.detail.expandSamples).toBe(4);
    const steps = sampled.requests.filter((r) => r.kind === 'step');
    // The first expansion tops its single sample up to 4; later ones ask 4 at once.
    expect(steps.slice(0, 2).map((r) => r.n)).toEqual([1, 3]);
    expect(steps.slice(2).some((r) => r.n === 4)).toBe(true);
  });

  it('keeps the best W candidates by score, then log-probability', () => {
    const c = (name: string, score: number, logprob: number) => ({ name, score, logprob });
    const kept = keepBest([c('a', 0.1, -1), c('b', 0.9, -5), c('c', 0.5, -2), c('d', 0.5, -1), c('e', -Infinity, 0)], 3);
    expect(kept.map((k) => k.name)).toEqual(['b', 'd', 'c']);
  });

  it('expands only the W best children of each depth (log-probability scorer)', async () => {
    const model = createFakeModel(TRAP);
    const outcome = await beamSearch(problem, { model, budget: 20, width: 2, processScorer: 'logprob' });
    const expanded = model.requests.filter((r) => r.kind === 'step').map((r) => r.partial);
    // Depth 2 by summed log-probability: a1 0.42, a2 0.18, b1 0.18 (a tie, the earlier wins), b2 0.12.
    expect(expanded).toEqual(['', 'a\n', 'b\n', 'a\na1\n', 'a\na2\n']);
    expect(outcome.calls).toBe(5);
    expect(outcome.traces.map((t) => t.text)).toEqual(['a\na1\nAnswer: 1', 'a\na2\nAnswer: 1']);
  });

  it('with a process reward model, keeps the children it scores best', async () => {
    const model = createFakeModel(TRAP);
    const prm: RewardModelClient = {
      async score(_prompt, partials) {
        return { scores: partials.map((p) => (p.includes('b2') ? 1 : p.startsWith('b') ? 0.5 : 0)), requests: 1 };
      },
    };
    const outcome = await beamSearch(problem, { ...verifying, model, budget: 10, width: 1, processScorer: 'prm', prm });
    expect(outcome.text).toBe('b\nb2\nAnswer: 42');
    expect(outcome.correct).toBe(true);
    expect(outcome.scorerCalls).toBe(2);
  });

  it('where the verifier does not steer, a PRM-scored beam lets the PRM pick the answer (agreement would pick the trap)', async () => {
    const graded = { verifier: answerVerifier, verifyDuringSearch: false, budget: 16, width: 4 } as const;
    const asked: string[] = [];
    const prm: RewardModelClient = {
      async score(_prompt, partials) {
        asked.push(...partials);
        return { scores: partials.map((p) => (p.startsWith('b\nb2') ? 0.9 : 0.1)), requests: 1 };
      },
    };
    const byLogprob = await beamSearch(problem, { ...graded, model: createFakeModel(TRAP), processScorer: 'logprob' });
    const byPrm = await beamSearch(problem, { ...graded, model: createFakeModel(TRAP), processScorer: 'prm', prm });
    // Width 4 keeps all of TRAP: the same four finished traces, two of which say 1.
    expect(byPrm.traces.map((t) => t.text).sort()).toEqual(byLogprob.traces.map((t) => t.text).sort());
    expect(byLogprob.answer).toBe('1');
    expect(byLogprob.detail).toMatchObject({ pickedBy: 'self-consistency' });
    expect(byPrm.answer).toBe('42');
    expect(byPrm.correct).toBe(true);
    expect(byPrm.detail).toMatchObject({ pickedBy: 'prm' });
    // Two requests for the children of depths 1 and 2, one for the four finished traces.
    expect(byPrm.scorerCalls).toBe(3);
    expect(asked.slice(-4).every((t) => /Answer:/.test(t))).toBe(true);
  });

  it('values children by verified rollouts and stops at a correct one', async () => {
    const tree: LineTree = {
      a: { p: 0.7, next: { a1: { p: 1, next: { 'Answer: 1': { p: 1 } } } } },
      b: { p: 0.3, next: { b1: { p: 1, next: { 'Answer: 42': { p: 1 } } } } },
    };
    const model = createFakeModel(tree);
    const outcome = await beamSearch(problem, { ...verifying, model, budget: 16, width: 1 });
    expect(outcome.correct).toBe(true);
    expect(outcome.detail.processScorer).toBe('rollouts');
    expect(model.requests.map((r) => [r.kind, r.partial])).toEqual([
      ['step', ''],
      ['rollout', 'a\n'],
      ['rollout', 'b\n'],
    ]);
  });
});

describe('best-of-N and majority vote', () => {
  const votes: LineTree = { 'Answer: 42': { p: 0.3 }, 'Answer: 7': { p: 0.45 }, 'Answer: 9': { p: 0.25 } };

  it('best-of-N with the verifier stops at the first batch with a correct sample', async () => {
    const model = createFakeModel(votes);
    const outcome = await bestOfNSearch(problem, { ...verifying, sampler: samplerFromStepModel(model), scorer: 'verifier', budget: 64, batch: 4, seed: 2 });
    expect(outcome.correct).toBe(true);
    expect(outcome.calls % 4).toBe(0);
    expect(outcome.calls).toBeLessThan(64);
  });

  it('best-of-N ranks by an outcome reward model', async () => {
    const model = createFakeModel(votes);
    const orm: RewardModelClient = { async score(_p, texts) { return { scores: texts.map((t) => (t.includes('9') ? 2 : 0)), requests: 1 }; } };
    const outcome = await bestOfNSearch(problem, { verifier: answerVerifier, sampler: samplerFromStepModel(model), scorer: 'reward-model', rewardModel: orm, budget: 12 });
    expect(outcome.answer).toBe('9');
    expect(outcome.correct).toBe(false); // judged after the choice, not during
    expect(outcome.scorerCalls).toBe(1);
  });

  it('majority vote labels a problem without a reference and reports agreement', async () => {
    const model = createFakeModel(votes);
    const outcome = await majoritySearch({ prompt: 'Find it.' }, { sampler: samplerFromStepModel(model), budget: 40, seed: 4 });
    expect(outcome.answer).toBe('7');
    expect(outcome.detail.pseudoLabel).toBe('7');
    expect(Number(outcome.detail.agreement)).toBeCloseTo(Number(outcome.detail.votes) / Number(outcome.detail.samples), 12);
    expect(outcome.verdict).toBeNull();
  });

  it('majority vote stops once no remaining sample could change the winner', async () => {
    const model = createFakeModel({ 'Answer: 7': { p: 1 } });
    const outcome = await majoritySearch(problem, { sampler: samplerFromStepModel(model), budget: 20, batch: 4 });
    expect(outcome.calls).toBe(12); // 12 votes for 7 against 8 samples left
    expect(outcome.detail.pseudoLabel).toBeNull();
  });
});

describe('running a strategy by name', () => {
  it('dispatches, shares the options, and picks best-of-N’s scorer from what is given', async () => {
    for (const strategy of ['best-of-n', 'majority', 'beam', 'mcts'] as const) {
      const model = createFakeModel(TRAP);
      const outcome = await runStrategy(strategy, problem, 6, { model, ...verifying, seed: 1 });
      expect(outcome.strategy).toBe(strategy);
      expect(outcome.calls).toBe(model.generated);
      expect(outcome.calls).toBeLessThanOrEqual(6);
    }
    const viaVerifier = await runStrategy('best-of-n', problem, 4, { model: createFakeModel(TRAP), ...verifying });
    expect(viaVerifier.detail.scorer).toBe('verifier');
    const viaVotes = await runStrategy('best-of-n', problem, 4, { model: createFakeModel(TRAP) });
    expect(viaVotes.detail.scorer).toBe('self-consistency');
  });
});
