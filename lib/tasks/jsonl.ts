/**
 * User task sets: JSONL files of `{id, prompt, answer | tests, metadata}`, one problem per line. Everything except
 * id, prompt and metadata is the problem's reference, handed to the verifier as it is.
 */
import { readFileSync } from 'node:fs';

export interface JsonlProblem {
  externalId: string;
  prompt: string;
  reference: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

export class TaskFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the task file\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'TaskFileError';
  }
}

/** Parses a task file; every bad line is reported (by line number), and nothing is returned unless all are good. */
export function readJsonlTasks(file: string): JsonlProblem[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TaskFileError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? err}`]);
  }
  return parseJsonlTasks(text, file);
}

export function parseJsonlTasks(text: string, file = '<tasks>'): JsonlProblem[] {
  const out: JsonlProblem[] = [];
  const errors: string[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    const at = `${file}:${i + 1}`;
    if (!line.trim()) return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (err) {
      errors.push(`${at}: not valid JSON (${(err as Error).message})`);
      return;
    }
    if (!record || typeof record !== 'object' || Array.isArray(record)) {
      errors.push(`${at}: expected an object like {"id": ..., "prompt": ..., "answer": ...}`);
      return;
    }
    const { id, prompt, metadata, ...reference } = record as Record<string, unknown>;
    if (typeof id !== 'string' && typeof id !== 'number') errors.push(`${at}: "id" must be a string or a number`);
    if (typeof prompt !== 'string' || !prompt.trim()) errors.push(`${at}: "prompt" must be a non-empty string`);
    if (!('answer' in reference) && !('tests' in reference) && !('rubric' in reference)) {
      errors.push(`${at}: needs "answer" or "tests" (or "rubric" for a judge) to be verifiable`);
    }
    if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))) {
      errors.push(`${at}: "metadata" must be an object`);
    }
    const key = String(id);
    if (seen.has(key)) errors.push(`${at}: id "${key}" repeats line ${seen.get(key)}`);
    seen.set(key, i + 1);
    out.push({ externalId: key, prompt: String(prompt), reference, metadata: (metadata as Record<string, unknown>) ?? {} });
  });
  if (errors.length) throw new TaskFileError(file, errors.slice(0, 50).concat(errors.length > 50 ? [`... and ${errors.length - 50} more`] : []));
  if (out.length === 0) throw new TaskFileError(file, ['the file has no problems']);
  return out;
}
