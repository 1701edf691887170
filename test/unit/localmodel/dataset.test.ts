import { describe, expect, test } from 'vitest';
import { formatPrompt, formatTrace, solve } from '../../../lib/tasks/countdown.js';
import { TrainingFileError, parseTrainingJsonl } from '../../../localmodel/dataset.js';

const problem = { numbers: [75, 3, 8, 5], target: 24 };
const line = (user: unknown, assistant: unknown, system?: string) =>
  JSON.stringify({
    messages: [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: user }, { role: 'assistant', content: assistant }],
  });
const good = line(formatPrompt(problem), formatTrace(problem, solve(problem)!), 'You are good at arithmetic.');

describe('parseTrainingJsonl', () => {
  test('reads chat lines into step decisions (system message and blank lines allowed)', () => {
    const set = parseTrainingJsonl(`${good}\n\n${good}\n`);
    expect(set.traces).toBe(2);
    expect(set.examples).toHaveLength(6);
  });

  test('accepts content given as text parts', () => {
    const set = parseTrainingJsonl(line([{ type: 'text', text: formatPrompt(problem) }], formatTrace(problem, solve(problem)!)));
    expect(set.traces).toBe(1);
  });

  test('skips lines that are chat but not countdown', () => {
    const set = parseTrainingJsonl(`${line('What is 2+2?', '4')}\n${good}`);
    expect(set.skipped).toEqual([{ line: 1, reason: 'the user message is not a countdown prompt' }]);
  });

  test('names the line that is not valid JSON', () => {
    expect(() => parseTrainingJsonl(`${good}\n{"messages": [`)).toThrow(/line 2 is not valid JSON/);
    try {
      parseTrainingJsonl(`${good}\n{"messages": [`);
    } catch (err) {
      expect(err).toBeInstanceOf(TrainingFileError);
      expect((err as TrainingFileError).line).toBe(2);
    }
  });

  test('names the line that is not chat', () => {
    expect(() => parseTrainingJsonl(`${good}\n${good}\n{"prompt": "x", "completion": "y"}`)).toThrow(/line 3 is not valid chat JSON.*messages/);
    expect(() => parseTrainingJsonl(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }))).toThrow(/line 1 .*assistant/);
  });

  test('refuses a file with nothing to learn from', () => {
    expect(() => parseTrainingJsonl('')).toThrow(/empty/);
    expect(() => parseTrainingJsonl(line('hello', 'world'))).toThrow(/no usable countdown examples in 1 lines \(line 1/);
  });
});
