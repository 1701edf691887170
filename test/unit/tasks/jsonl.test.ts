import { describe, expect, it } from 'vitest';
import { parseJsonlTasks, TaskFileError } from '../../../lib/tasks/jsonl.js';

describe('JSONL task files', () => {
  it('reads problems, keeping everything but id/prompt/metadata as the reference', () => {
    const problems = parseJsonlTasks('{"id": 1, "prompt": "2+2?", "answer": "4", "metadata": {"level": 1}}\n\n{"id": "b", "prompt": "p", "tests": "assert f(1) == 2", "language": "python"}\n');
    expect(problems).toEqual([
      { externalId: '1', prompt: '2+2?', reference: { answer: '4' }, metadata: { level: 1 } },
      { externalId: 'b', prompt: 'p', reference: { tests: 'assert f(1) == 2', language: 'python' }, metadata: {} },
    ]);
  });

  it('reports every bad line by its number, and returns nothing', () => {
    const text = ['{"id": 1, "prompt": "ok", "answer": 1}', '{"id": 2, "prompt": ""}', 'not json', '{"id": 1, "prompt": "dup", "answer": 2}'].join('\n');
    try {
      parseJsonlTasks(text, 'tasks.jsonl');
      throw new Error('expected a TaskFileError');
    } catch (err) {
      expect(err).toBeInstanceOf(TaskFileError);
      const message = (err as Error).message;
      expect(message).toContain('tasks.jsonl:2: "prompt" must be a non-empty string');
      expect(message).toContain('tasks.jsonl:2: needs "answer" or "tests"');
      expect(message).toContain('tasks.jsonl:3: not valid JSON');
      expect(message).toContain('tasks.jsonl:4: id "1" repeats line 1');
    }
  });
});
