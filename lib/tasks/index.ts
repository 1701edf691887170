/**
 * Task sets: the problems a run samples (train split) and evaluates on (test split), from the built-in
 * generator or from the user's JSONL files.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { formatPrompt, generateCountdown } from './countdown.js';
import { readJsonlTasks, TaskFileError } from './jsonl.js';

export interface TaskProblem {
  externalId: string;
  split: 'train' | 'test';
  prompt: string;
  reference: unknown;
  metadata?: Record<string, unknown>;
}

export interface TaskSet {
  /** Problems are stored under this name and shared by runs that build the same set. */
  name: string;
  problems: TaskProblem[];
}

/** What a run config's `task` section says (config/schema.ts validates it; lib/ does not depend on config/). */
export type TaskSpec =
  | { kind: 'countdown'; seed: number; train: number; test: number }
  | { kind: 'jsonl'; name: string; train: string; test: string };

/** Builds a run's task set; relative JSONL paths are resolved from `configDir`. */
export function buildTaskSet(task: TaskSpec, configDir: string): TaskSet {
  if (task.kind === 'countdown') {
    const problems = generateCountdown({ seed: task.seed, train: task.train, test: task.test }).map((p) => ({
      externalId: p.externalId,
      split: p.split,
      prompt: formatPrompt(p),
      reference: { numbers: p.numbers, target: p.target, solution: p.solution },
    }));
    return { name: `countdown-seed${task.seed}-train${task.train}-test${task.test}`, problems };
  }
  const train = readJsonlTasks(path.resolve(configDir, task.train));
  const test = readJsonlTasks(path.resolve(configDir, task.test));
  const trainIds = new Set(train.map((p) => p.externalId));
  const clash = test.filter((p) => trainIds.has(p.externalId)).map((p) => p.externalId);
  if (clash.length) {
    throw new TaskFileError(task.test, [`ids also in the train file (${task.train}): ${clash.slice(0, 10).join(', ')}`]);
  }
  const problems = [
    ...train.map((p) => ({ ...p, split: 'train' as const })),
    ...test.map((p) => ({ ...p, split: 'test' as const })),
  ];
  // The content hash in the name: an edited file is a new task set, never a silent mix with the old one.
  const digest = createHash('sha256').update(JSON.stringify(problems)).digest('hex').slice(0, 10);
  return { name: `${task.name}-${digest}`, problems };
}

export { TaskFileError } from './jsonl.js';
