/**
 * A step model for search tests: a plain in-process function over a hand-written tree of lines, no HTTP. Each
 * state lists its next lines with probabilities; a line starting with "Answer:" ends the trace. With
 * `alternatives` it lists every next line (like the embedded server, whose tokens are whole steps); without, only
 * the sampled line is seen (like an LLM, whose top tokens are pieces of a line). A line is one token: `maxTokens`
 * cuts a sequence after that many lines.
 */
import { createRng, hashSeed } from '../../../lib/rng.js';
import type { Generation, GeneratedSequence, StepLine, StepModel, StepRequest } from '../../../lib/search/types.js';
import type { Verifier } from '../../../lib/verify/types.js';

export interface LineTree {
  [line: string]: { p: number; next?: LineTree };
}

export interface FakeModel extends StepModel {
  /** Sequences generated so far (model calls). */
  generated: number;
  requests: Array<{ kind: 'step' | 'rollout'; partial: string; n: number; temperature: number }>;
}

function stateOf(tree: LineTree, partial: string): LineTree | null {
  let node: LineTree | undefined = tree;
  for (const line of partial.split('\n').filter((l) => l !== '')) {
    node = node?.[line]?.next;
    if (!node) return null;
  }
  return node;
}

function choose(state: LineTree, temperature: number, rng: () => number): string {
  const entries = Object.entries(state);
  if (temperature <= 0) return entries.reduce((best, e) => (e[1].p > best[1].p ? e : best))[0];
  const weights = entries.map(([, v]) => v.p ** (1 / temperature));
  let u = rng() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < entries.length; i++) {
    u -= weights[i]!;
    if (u < 0) return entries[i]![0];
  }
  return entries[entries.length - 1]![0];
}

export function createFakeModel(tree: LineTree, options: { alternatives: boolean } = { alternatives: true }): FakeModel {
  const lineAt = (state: LineTree, text: string): StepLine => ({
    text,
    logprob: Math.log(state[text]!.p),
    alternatives: options.alternatives ? Object.entries(state).map(([t, v]) => ({ text: t, logprob: Math.log(v.p) })) : [],
    final: text.startsWith('Answer:'),
  });

  function generate(kind: 'step' | 'rollout', partial: string, request: StepRequest): Generation {
    model.generated += request.n;
    model.requests.push({ kind, partial, n: request.n, temperature: request.temperature });
    const sequences: GeneratedSequence[] = [];
    for (let i = 0; i < request.n; i++) {
      const rng = createRng(hashSeed(request.seed ?? 0, i));
      const lines: StepLine[] = [];
      let state = stateOf(tree, partial);
      while (state && Object.keys(state).length > 0 && lines.length < (request.maxTokens ?? Infinity)) {
        const text = choose(state, request.temperature, rng);
        lines.push(lineAt(state, text));
        if (kind === 'step' || text.startsWith('Answer:')) break;
        state = state[text]!.next ?? null;
      }
      // Nothing to write (the partial trace already ended) is the model ending it, as a server's empty 'stop' says.
      const finished = lines.length > 0 ? lines[lines.length - 1]!.final : true;
      sequences.push({ lines, finished, meanLogprob: lines.length ? lines.reduce((a, l) => a + l.logprob!, 0) / lines.length : null });
    }
    const promptTokens = 10 + partial.split('\n').length;
    return { sequences, completionTokens: sequences.reduce((a, s) => a + s.lines.length, 0), promptTokens, cachedPromptTokens: partial ? 10 : 0 };
  }

  const model: FakeModel = {
    generated: 0,
    requests: [],
    step: async (_prompt, partial, request) => generate('step', partial, request),
    rollout: async (_prompt, partial, request) => generate('rollout', partial, request),
  };
  return model;
}

/** Accepts a trace whose answer line says the reference; graded like the real verifiers (0.1 for a wrong answer). */
export const answerVerifier: Verifier = {
  name: 'fake-answer',
  version: '1',
  async verify({ reference, text }) {
    const m = /Answer:\s*(.*)$/m.exec(text);
    if (!m) return { score: 0, correct: false, answer: null, detail: 'no answer' };
    const answer = m[1]!.trim();
    const correct = answer === String(reference);
    return { score: correct ? 1 : 0.1, correct, answer, detail: correct ? 'matches' : 'differs' };
  },
};

/**
 * A task where the greedy path is wrong: "a" is the most likely first step (0.6) and every trace under it answers
 * 1; the right answer 42 lies under "b" (0.3), one more likely-looking wrong step deeper.
 */
export const TRAP: LineTree = {
  a: {
    p: 0.6,
    next: {
      a1: { p: 0.7, next: { 'Answer: 1': { p: 1 } } },
      a2: { p: 0.3, next: { 'Answer: 1': { p: 1 } } },
    },
  },
  b: {
    p: 0.3,
    next: {
      b1: { p: 0.6, next: { 'Answer: 7': { p: 1 } } },
      b2: { p: 0.4, next: { 'Answer: 42': { p: 1 } } },
    },
  },
  c: { p: 0.1, next: { c1: { p: 1, next: { 'Answer: 3': { p: 1 } } } } },
};
