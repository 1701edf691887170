import { describe, expect, test } from 'vitest';
import { rocAuc } from '../../../lib/metrics/step-labels.js';
import { formatPrompt, generateCountdown } from '../../../lib/tasks/countdown.js';
import { VALUE_FEATURE_COUNT, VALUE_FEATURE_NAMES, valueFeatures } from '../../../localmodel/value-features.js';
import { parseStepwiseJsonl } from '../../../localmodel/stepwise.js';
import { TrainingFileError } from '../../../localmodel/dataset.js';
import {
  DEFAULT_VALUE_TRAIN,
  createBaseValue,
  prefixState,
  prefixValue,
  scoreCompletion,
  trainValue,
  valueFromJson,
  valueToJson,
} from '../../../localmodel/value.js';
import { randomLabelledTraces, stepwiseJsonl } from '../../helpers/step-labels.js';

const set = generateCountdown({ seed: 33, train: 120, test: 60 });
const train = set.filter((p) => p.split === 'train');
const heldOut = set.filter((p) => p.split === 'test');

/** Scores every labelled step of held-out lines with the head, as the PRM gate does. */
function heldOutAuc(value: ReturnType<typeof createBaseValue>): number {
  const rows = randomLabelledTraces(heldOut, 3, 99).flatMap((line) =>
    line.completions.map((_, i) => ({ score: scoreCompletion(value, line.prompt, line.completions.slice(0, i + 1).join('\n')), label: line.labels[i]! })),
  );
  return rocAuc(rows);
}

describe('the value head', () => {
  test('sees the state a prefix leaves, relative to the target, and no lookahead', () => {
    const at = (x: Float64Array, name: (typeof VALUE_FEATURE_NAMES)[number]) => x[VALUE_FEATURE_NAMES.indexOf(name)];
    const solved = valueFeatures([24], 24);
    expect([at(solved, 'one-left'), at(solved, 'solved'), at(solved, 'target-in-left'), at(solved, 'n0-ratio'), at(solved, 'n0-log-ratio')]).toEqual([1, 1, 1, 1, 0]);
    expect(at(solved, 'n1-present')).toBe(0);
    const two = valueFeatures([4, 6], 24); // 4 × 6 = 24, but the head is not told
    expect([at(two, 'two-left'), at(two, 'solved'), at(two, 'target-in-left'), at(two, 'n0-ratio'), at(two, 'n1-ratio')]).toEqual([1, 0, 0, 0.25, 1 / 6]);
    expect(at(two, 'n0-log-ratio')! + at(two, 'n1-log-ratio')! + at(two, 'log-target')!).toBeCloseTo(0, 12); // x·y = t is a plane in log space
    // The prefix's state: '6 * 4 = 24' leaves [24, 1, 1] for [4, 6, 1, 1] → 24.
    const state = prefixState({ numbers: [4, 6, 1, 1], target: 24 }, ['6 * 4 = 24']);
    expect(state.features).toEqual(valueFeatures([24, 1, 1], 24));
  });

  test('learns a linearly separable toy set (one feature decides)', () => {
    const examples = Array.from({ length: 200 }, (_, i) => {
      const features = new Float64Array(VALUE_FEATURE_COUNT);
      features[VALUE_FEATURE_NAMES.indexOf('solved')] = i % 2;
      features[VALUE_FEATURE_NAMES.indexOf('n0-ratio')] = (i % 7) / 7; // noise
      return { features, target: i % 2 };
    });
    const { value, losses } = trainValue(examples, { ...DEFAULT_VALUE_TRAIN, epochs: 30, seed: 1 });
    expect(losses.at(-1)!).toBeLessThan(0.1);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    const rows = examples.map((e) => ({ score: prefixValue(value, { features: e.features, illegal: false, steps: 1 }), label: e.target === 1 }));
    expect(rocAuc(rows)).toBe(1);
    expect(rows.every((r) => r.score >= 0.5 === r.label)).toBe(true);
  });

  test('the base head knows nothing: 0.5 for every legal prefix, 0 after an illegal step', () => {
    const base = createBaseValue();
    const prompt = formatPrompt({ numbers: [4, 6, 1, 1], target: 24 });
    expect(scoreCompletion(base, prompt, '6 * 4 = 24')).toBe(0.5);
    expect(scoreCompletion(base, prompt, '')).toBe(0.5);
    expect(scoreCompletion(base, prompt, '6 * 4 = 25')).toBe(0);
    expect(() => scoreCompletion(base, 'hello', '6 * 4 = 24')).toThrow(/not a countdown prompt/);
    expect(heldOutAuc(base)).toBe(0.5);
  });

  test('trained on solver-labelled steps it ranks held-out problems’ steps well (AUC > 0.85) and is deterministic', () => {
    const parsed = parseStepwiseJsonl(stepwiseJsonl(randomLabelledTraces(train, 4, 1)));
    expect(parsed.traces).toBe(train.length * 4);
    expect(parsed.positives).toBeGreaterThan(50);
    expect(parsed.examples.length - parsed.positives).toBeGreaterThan(50);
    const a = trainValue(parsed.examples, { ...DEFAULT_VALUE_TRAIN, seed: 5 });
    const b = trainValue(parsed.examples, { ...DEFAULT_VALUE_TRAIN, seed: 5 });
    expect(valueToJson(a.value)).toEqual(valueToJson(b.value));
    expect(a.losses.at(-1)!).toBeLessThan(a.losses[0]!);
    expect(heldOutAuc(a.value)).toBeGreaterThan(0.85);
    // A checkpoint round-trips through JSON to the same scores.
    const again = valueFromJson(JSON.parse(JSON.stringify(valueToJson(a.value))));
    const prompt = formatPrompt(heldOut[0]!);
    expect(scoreCompletion(again, prompt, '')).toBe(scoreCompletion(a.value, prompt, ''));
  });

  test('soft labels are the target when given; continuing from a head keeps the start weights', () => {
    const prompt = formatPrompt({ numbers: [4, 6, 1, 1], target: 24 });
    const parsed = parseStepwiseJsonl(JSON.stringify({ prompt, completions: ['6 * 4 = 24', '1 * 1 = 1'], labels: [true, true], soft_labels: [0.75, 0.5] }));
    expect(parsed.examples.map((e) => e.target)).toEqual([0.75, 0.5]);
    const first = trainValue(parsed.examples, { ...DEFAULT_VALUE_TRAIN, epochs: 2, seed: 1 });
    const before = valueToJson(first.value);
    trainValue(parsed.examples, { ...DEFAULT_VALUE_TRAIN, epochs: 2, seed: 1, init: first.value });
    expect(valueToJson(first.value)).toEqual(before);
    expect(prefixState({ numbers: [4, 6, 1, 1], target: 24 }, ['6 * 4 = 24']).steps).toBe(1);
  });
});

describe('parseStepwiseJsonl', () => {
  test('names the line and the field that is wrong', () => {
    const prompt = formatPrompt({ numbers: [4, 6, 1, 1], target: 24 });
    expect(() => parseStepwiseJsonl('{')).toThrow(/line 1 is not valid JSON/);
    expect(() => parseStepwiseJsonl(`\n${JSON.stringify({ prompt, completions: ['6 * 4 = 24'], labels: [] })}`)).toThrow(/line 2: "labels" must be an array with one label per completion/);
    expect(() => parseStepwiseJsonl(JSON.stringify({ prompt, completions: ['6 * 4 = 24'], labels: ['yes'] }))).toThrow(/labels\[0\] must be true\/false/);
    expect(() => parseStepwiseJsonl('')).toThrow(TrainingFileError);
    expect(() => parseStepwiseJsonl(JSON.stringify({ prompt: 'not countdown', completions: ['1 + 1 = 2'], labels: [true] }))).toThrow(/no usable labelled steps .*line 1: the prompt is not a countdown prompt/);
  });

  test('stops a line at its first illegal step', () => {
    const prompt = formatPrompt({ numbers: [4, 6, 1, 1], target: 24 });
    const parsed = parseStepwiseJsonl(JSON.stringify({ prompt, completions: ['6 * 4 = 24', '9 * 9 = 81', '1 * 1 = 1'], labels: [true, false, true] }));
    expect(parsed.examples).toHaveLength(1);
  });
});
