import type { CompletionChoice } from 'openai/resources/completions';
import { describe, expect, it } from 'vitest';
import { childrenOf, priorsOf } from '../../../lib/search/children.js';
import { fillTemplate, parseChoice } from '../../../lib/search/completions-model.js';
import { BudgetExceededError, CallMeter } from '../../../lib/search/meter.js';
import type { Generation } from '../../../lib/search/types.js';

const opt = (text: string, logprob: number | null, sampled = false) => ({ text, logprob, sampled, final: false });

describe('priors', () => {
  it('renormalises the children’s log-probabilities to sum to 1', () => {
    const children = priorsOf([opt('a', Math.log(0.3), true), opt('b', Math.log(0.1)), opt('c', Math.log(0.1))]);
    expect(children.map((c) => c.text)).toEqual(['a', 'b', 'c']);
    expect(children.reduce((s, c) => s + c.prior, 0)).toBeCloseTo(1, 12);
    expect(children[0]!.prior).toBeCloseTo(0.6, 12);
    expect(children[1]!.prior).toBeCloseTo(0.2, 12);
  });

  it('merges a sampled line with the same alternative and counts samples', () => {
    const children = priorsOf([opt('a', -1, true), opt('a', -1), opt('b', -2), opt('a', -1, true)]);
    expect(children).toHaveLength(2);
    expect(children[0]).toMatchObject({ text: 'a', count: 2 });
    expect(children[1]).toMatchObject({ text: 'b', count: 0 });
  });

  it('falls back to sample counts when a child has no log-probability', () => {
    const children = priorsOf([opt('a', null, true), opt('a', null, true), opt('a', null, true), opt('b', null, true)]);
    expect(children.map((c) => c.prior)).toEqual([0.75, 0.25]);
  });

  it('takes every sequence’s first line and its whole-line alternatives as children', () => {
    const generation: Generation = {
      completionTokens: 2,
      sequences: [
        { lines: [{ text: 'x', logprob: Math.log(0.5), alternatives: [{ text: 'y', logprob: Math.log(0.25) }], final: false }], finished: false, meanLogprob: null },
        { lines: [{ text: 'z', logprob: Math.log(0.25), alternatives: [], final: false }], finished: false, meanLogprob: null },
      ],
    };
    const children = childrenOf(generation);
    expect(children.map((c) => [c.text, c.prior])).toEqual([
      ['x', 0.5],
      ['y', 0.25],
      ['z', 0.25],
    ]);
  });
});

function choice(text: string, finish: 'stop' | 'length', tokens?: Array<[string, number, Record<string, number>]>, extra: object = {}): CompletionChoice {
  return {
    index: 0,
    text,
    finish_reason: finish,
    logprobs: tokens
      ? { tokens: tokens.map((t) => t[0]), token_logprobs: tokens.map((t) => t[1]), top_logprobs: tokens.map((t) => t[2]), text_offset: [] }
      : null,
    ...extra,
  };
}

describe('parsing a completion into lines', () => {
  it('reads whole-step tokens (the embedded server): alternatives that end the line are children', () => {
    const seq = parseChoice(
      choice('9 + 3 = 12', 'stop', [['9 + 3 = 12\n', -0.2, { '9 + 3 = 12\n': -0.2, '9 - 3 = 6\n': -1.8, '9': -3 }]]),
      'step',
    );
    expect(seq.lines).toEqual([
      {
        text: '9 + 3 = 12',
        logprob: -0.2,
        alternatives: [
          { text: '9 + 3 = 12', logprob: -0.2 },
          { text: '9 - 3 = 6', logprob: -1.8 },
        ],
        final: false,
      },
    ]);
    expect(seq.finished).toBe(false);
  });

  it('reads a rollout line by line, summing sub-line tokens, and ends at the answer line', () => {
    const seq = parseChoice(
      choice('4 * 5 = 20\nAnswer: 4 * 5', 'stop', [
        ['4 *', -0.5, { '4 *': -0.5, '4 +': -1 }],
        [' 5 = 20\n', -0.25, {}],
        ['Answer: 4 * 5', -0.1, { 'Answer: 4 * 5': -0.1 }],
      ]),
      'rollout',
    );
    expect(seq.lines.map((l) => [l.text, l.logprob, l.final])).toEqual([
      ['4 * 5 = 20', -0.75, false],
      ['Answer: 4 * 5', -0.1, true],
    ]);
    // "4 +" is only a piece of a line: not a child. The answer written as one token lists whole answers.
    expect(seq.lines[0]!.alternatives).toEqual([]);
    expect(seq.lines[1]!.alternatives).toEqual([{ text: 'Answer: 4 * 5', logprob: -0.1 }]);
    expect(seq.finished).toBe(true);
    expect(seq.meanLogprob).toBeCloseTo(-0.85 / 3, 12);
  });

  it('drops a line cut by max_tokens, and treats vLLM’s end-of-sequence stop as the final line', () => {
    expect(parseChoice(choice('4 * 5 =', 'length'), 'step').lines).toEqual([]);
    const cut = parseChoice(choice('a\nb\nhalf a li', 'length'), 'rollout');
    expect(cut.lines.map((l) => l.text)).toEqual(['a', 'b']);
    expect(cut.finished).toBe(false);
    expect(parseChoice(choice('The end.', 'stop', undefined, { stop_reason: null }), 'step').lines[0]!.final).toBe(true);
    expect(parseChoice(choice('Next step', 'stop', undefined, { stop_reason: '\n' }), 'step').lines[0]!.final).toBe(false);
  });

  it('skips listed alternatives of probability 0 (OpenAI and vLLM report -9999 for -inf)', () => {
    const seq = parseChoice(choice('9 + 3 = 12', 'stop', [['9 + 3 = 12\n', 0, { '9 + 3 = 12\n': 0, '1 + 1 = 2\n': -9999 }]]), 'step');
    expect(seq.lines[0]!.alternatives).toEqual([{ text: '9 + 3 = 12', logprob: 0 }]);
  });

  it('an empty step that the model stopped is the end of the trace', () => {
    expect(parseChoice(choice('', 'stop'), 'step')).toEqual({ lines: [], finished: true, meanLogprob: null });
  });

  it('fills the prompt template without String.replace surprises', () => {
    expect(fillTemplate('{prompt}\n\n{partial}', 'Make $1 from [2]', 'a\n')).toBe('Make $1 from [2]\n\na\n');
    expect(fillTemplate('Q: {prompt}\nA: {partial}', 'p', '')).toBe('Q: p\nA: ');
  });
});

describe('call meter', () => {
  it('counts sequences and tokens, and refuses to go over the budget', async () => {
    const meter = new CallMeter(5);
    const gen: Generation = { sequences: [], completionTokens: 7 };
    await meter.spend(4, async () => gen);
    expect([meter.calls, meter.tokens, meter.remaining]).toEqual([4, 7, 1]);
    await expect(meter.spend(2, async () => gen)).rejects.toBeInstanceOf(BudgetExceededError);
    expect(meter.calls).toBe(4);
  });

  it('in tokens: charges completion tokens, shares what is left as max_tokens, and sums prompt and cached tokens', async () => {
    const meter = new CallMeter(100, 0, undefined, 'tokens');
    expect(meter.affordable(8)).toBe(1); // the first request measures how long a sequence is
    expect(meter.request(4, 1).maxTokens).toBe(25);
    await meter.spend(1, async () => ({ sequences: [], completionTokens: 20, promptTokens: 50, cachedPromptTokens: 32 }));
    expect([meter.remaining, meter.affordable(8), meter.request(2, 1).maxTokens]).toEqual([80, 4, 40]);
    await meter.spend(2, async () => ({ sequences: [], completionTokens: 30, promptTokens: 60 }));
    expect([meter.calls, meter.tokens, meter.promptTokens, meter.cachedPromptTokens]).toEqual([3, 50, 110, 32]);
    await meter.spend(1, async () => ({ sequences: [], completionTokens: 50 }));
    expect([meter.remaining, meter.affordable(1)]).toEqual([0, 0]);
    await expect(meter.spend(1, async () => ({ sequences: [], completionTokens: 1 }))).rejects.toBeInstanceOf(BudgetExceededError);
    expect(new CallMeter(3).cachedPromptTokens).toBeNull();
  });

  it('gives request i the same seed for the same search seed', () => {
    const a = new CallMeter(10, 3);
    const b = new CallMeter(10, 3);
    expect([a.request(1, 0).seed, a.request(1, 0).seed]).toEqual([b.request(1, 0).seed, b.request(1, 0).seed]);
    expect(new CallMeter(10, 4).request(1, 0).seed).not.toBe(new CallMeter(10, 3).request(1, 0).seed);
  });
});
