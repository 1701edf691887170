import { describe, expect, it } from 'vitest';
import { mctsSearch } from '../../../lib/search/mcts.js';
import type { RewardModelClient } from '../../../lib/search/reward-model.js';
import type { SearchOutcome } from '../../../lib/search/types.js';
import { TRAP, answerVerifier, createFakeModel } from './fake-model.js';

const problem = { prompt: 'Find 42.', reference: '42' };

/** A PRM that likes partial traces starting with `good`, and counts what it was asked. */
function prefers(good: string): RewardModelClient & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async score(_prompt, partials) {
      asked.push(...partials);
      return { scores: partials.map((p) => (p.startsWith(good) ? 0.9 : 0.1)), requests: partials.length };
    },
  };
}

const visitsOf = (o: SearchOutcome, step: string) => o.steps?.find((s) => s.depth === 1 && s.step === step)?.visits ?? 0;

describe('MCTS leaf values', () => {
  // Verdicts still land on traces, but do not steer: every value comes from the PRM (or a mix).
  const common = { verifier: answerVerifier, verifyDuringSearch: true, stopWhenCorrect: false, budget: 16, seed: 1 } as const;

  it('value: prm sends the visits where the PRM points, and counts its requests as scorer calls', async () => {
    // A budget below the tree's size (it is exhausted after 5 calls): where the visits go is the values' doing.
    const toB = prefers('b');
    const withB = await mctsSearch(problem, { ...common, budget: 4, model: createFakeModel(TRAP), value: 'prm', prm: toB });
    const withA = await mctsSearch(problem, { ...common, budget: 4, model: createFakeModel(TRAP), value: 'prm', prm: prefers('a') });
    expect(visitsOf(withB, 'b')).toBeGreaterThan(visitsOf(withB, 'a'));
    expect(visitsOf(withA, 'a')).toBeGreaterThan(visitsOf(withA, 'b'));
    expect(withB.scorerCalls).toBe(toB.asked.length);
    expect(new Set(toB.asked).size).toBe(toB.asked.length); // each leaf asked once
    expect(withB.scorerCalls).toBeGreaterThan(0);
    expect(withB.detail).toMatchObject({ leafValue: 'prm' });
  });

  it('value: mix with λ = 0 is the rollout search, call for call; with λ = 1 it is the PRM one', async () => {
    const strip = (o: SearchOutcome) => ({ text: o.text, calls: o.calls, traces: o.traces.map((t) => t.text), steps: o.steps });
    const rollout = await mctsSearch(problem, { ...common, model: createFakeModel(TRAP) });
    const mix0 = await mctsSearch(problem, { ...common, model: createFakeModel(TRAP), value: 'mix', valueMix: 0, prm: prefers('a') });
    expect(strip(mix0)).toEqual(strip(rollout));
    expect(rollout.scorerCalls).toBe(0);
    const prm = await mctsSearch(problem, { ...common, model: createFakeModel(TRAP), value: 'prm', prm: prefers('a') });
    const mix1 = await mctsSearch(problem, { ...common, model: createFakeModel(TRAP), value: 'mix', valueMix: 1, prm: prefers('a') });
    expect(strip(mix1)).toEqual(strip(prm));
  });

  it('where the verifier does not steer, the PRM picks the answer (agreement would pick the trap), its request counted', async () => {
    const graded = { verifier: answerVerifier, verifyDuringSearch: false, budget: 16, seed: 1 } as const;
    const likesB2 = prefers('b\nb2');
    const byAgreement = await mctsSearch(problem, { ...graded, model: createFakeModel(TRAP) });
    const byPrm = await mctsSearch(problem, { ...graded, model: createFakeModel(TRAP), value: 'prm', prm: likesB2 });
    expect(byAgreement.answer).toBe('1'); // two of the finished traces say 1
    expect(byAgreement.detail).toMatchObject({ pickedBy: 'self-consistency' });
    expect(byPrm.traces.map((t) => t.answer)).toContain('1');
    expect(byPrm.answer).toBe('42');
    expect(byPrm.correct).toBe(true);
    expect(byPrm.detail).toMatchObject({ pickedBy: 'prm' });
    expect(byPrm.scorerCalls).toBe(likesB2.asked.length);
    // The last request scored every finished trace once.
    expect(likesB2.asked.slice(-new Set(byPrm.traces.map((t) => t.text)).size).every((t) => /Answer:/.test(t))).toBe(true);
    // λ = 0 leaves the PRM out of the values and of the pick.
    const mix0 = await mctsSearch(problem, { ...graded, model: createFakeModel(TRAP), value: 'mix', valueMix: 0, prm: prefers('b\nb2') });
    expect(mix0.answer).toBe('1');
    expect(mix0.detail).toMatchObject({ pickedBy: 'self-consistency' });
  });

  it('refuses a PRM value without a PRM', async () => {
    await expect(mctsSearch(problem, { ...common, model: createFakeModel(TRAP), value: 'prm' })).rejects.toThrow(/needs `prm`/);
  });
});
