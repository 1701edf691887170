/**
 * Reads a stepwise PRM training file, the JSONL TRL's PRMTrainer reads: one `{"prompt", "completions", "labels"}`
 * per line, `completions` the steps of one trace and `labels[i]` whether the prefix up to step i is good. An
 * optional `soft_labels` (numbers in [0, 1], e.g. the share of verified rollouts through the step) is the
 * training target when present; otherwise the hard label is (0 or 1).
 */
import { parsePrompt } from '../lib/tasks/countdown.js';
import { TrainingFileError } from './dataset.js';
import type { ValueExample } from './value.js';
import { prefixState } from './value.js';

export interface StepwiseSet {
  examples: ValueExample[];
  /** Lines that gave at least one labelled step. */
  traces: number;
  positives: number;
  skipped: Array<{ line: number; reason: string }>;
}

function labelValue(v: unknown): number | null {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1) return v;
  return null;
}

/**
 * @example parseStepwiseJsonl('{"prompt":"Using the numbers [4, 6, 1, 1], make 24. ...","completions":["6 * 4 = 24"],"labels":[true]}')
 */
export function parseStepwiseJsonl(text: string): StepwiseSet {
  const examples: ValueExample[] = [];
  const skipped: StepwiseSet['skipped'] = [];
  let traces = 0;
  let positives = 0;
  let lines = 0;
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (!raw.trim()) return;
    lines++;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(raw) as Record<string, unknown>;
    } catch (err) {
      throw new TrainingFileError(`line ${line} is not valid JSON: ${(err as Error).message}`, line);
    }
    const { prompt, completions, labels } = row ?? {};
    const soft = row?.soft_labels ?? row?.softLabels;
    if (typeof prompt !== 'string') throw new TrainingFileError(`line ${line}: "prompt" must be a string`, line);
    if (!Array.isArray(completions) || !completions.every((c) => typeof c === 'string')) {
      throw new TrainingFileError(`line ${line}: "completions" must be an array of step strings`, line);
    }
    if (!Array.isArray(labels) || labels.length !== completions.length) {
      throw new TrainingFileError(`line ${line}: "labels" must be an array with one label per completion (${completions.length})`, line);
    }
    if (soft !== undefined && (!Array.isArray(soft) || soft.length !== completions.length)) {
      throw new TrainingFileError(`line ${line}: "soft_labels" must be an array with one number per completion (${completions.length})`, line);
    }
    const problem = parsePrompt(prompt);
    if (!problem) {
      skipped.push({ line, reason: 'the prompt is not a countdown prompt' });
      return;
    }
    let used = 0;
    for (let i = 0; i < completions.length; i++) {
      const hard = labelValue(labels[i]);
      if (hard === null) throw new TrainingFileError(`line ${line}: labels[${i}] must be true/false (or a number in [0, 1])`, line);
      const target = soft === undefined ? hard : labelValue((soft as unknown[])[i]);
      if (target === null) throw new TrainingFileError(`line ${line}: soft_labels[${i}] must be a number in [0, 1]`, line);
      const state = prefixState(problem, (completions as string[]).slice(0, i + 1));
      if (state.illegal || !state.features) break; // nothing the head can read past an illegal step
      examples.push({ features: state.features, target });
      if (hard >= 0.5) positives++;
      used++;
    }
    if (used === 0) skipped.push({ line, reason: 'no legal step line' });
    else traces++;
  });
  if (lines === 0) throw new TrainingFileError('the PRM training file is empty');
  if (examples.length === 0) {
    const first = skipped[0];
    throw new TrainingFileError(`no usable labelled steps in ${lines} lines` + (first ? ` (line ${first.line}: ${first.reason})` : ''), first?.line ?? null);
  }
  return { examples, traces, positives, skipped };
}
