/**
 * Reads a chat-format fine-tuning file (JSONL, one `{"messages": [...]}` per line, as OpenAI's fine-tuning API
 * takes) into step decisions for the policy.
 */
import { parsePrompt } from '../lib/tasks/countdown.js';
import type { StepExample } from './train.js';
import { examplesFromTrace } from './train.js';

/** A training file the trainer cannot use; `line` is 1-based when one line is to blame. */
export class TrainingFileError extends Error {
  constructor(
    message: string,
    readonly line: number | null = null,
  ) {
    super(message);
    this.name = 'TrainingFileError';
  }
}

export interface TrainingSet {
  examples: StepExample[];
  /** Lines that gave at least one decision. */
  traces: number;
  /** Lines that were well-formed chat but not usable (not a countdown prompt, no legal step). */
  skipped: Array<{ line: number; reason: string }>;
}

/** Chat message content: a string, or an array of parts of which the text parts count. */
export type ChatContent = string | Array<{ type?: string; text?: string }> | null | undefined;

/** Message content as text: a string, or the text parts of a content array. */
export function contentText(content: ChatContent): string | null {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join('');
  return null;
}

/**
 * Parses a chat JSONL training file. Throws {@link TrainingFileError} naming the line when a line is not valid chat
 * JSON, or when no line gives a usable countdown decision.
 *
 * @example parseTrainingJsonl('{"messages":[{"role":"user","content":"Using the numbers [...]"},{"role":"assistant","content":"..."}]}')
 */
export function parseTrainingJsonl(text: string): TrainingSet {
  const examples: StepExample[] = [];
  const skipped: TrainingSet['skipped'] = [];
  let traces = 0;
  let lines = 0;
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (!raw.trim()) return;
    lines++;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch (err) {
      throw new TrainingFileError(`line ${line} is not valid JSON: ${(err as Error).message}`, line);
    }
    const messages = (row as { messages?: unknown })?.messages;
    if (!Array.isArray(messages)) throw new TrainingFileError(`line ${line} is not valid chat JSON: it has no "messages" array`, line);
    const roles = messages.map((m) => (m as { role?: unknown })?.role);
    const userAt = roles.lastIndexOf('user');
    const assistantAt = roles.lastIndexOf('assistant');
    if (userAt < 0 || assistantAt < userAt) {
      throw new TrainingFileError(`line ${line} is not valid chat JSON: it needs a "user" message followed by an "assistant" message`, line);
    }
    const prompt = contentText(messages[userAt].content);
    const completion = contentText(messages[assistantAt].content);
    if (prompt === null || completion === null) {
      throw new TrainingFileError(`line ${line} is not valid chat JSON: message content must be a string or text parts`, line);
    }
    const problem = parsePrompt(prompt);
    if (!problem) {
      skipped.push({ line, reason: 'the user message is not a countdown prompt' });
      return;
    }
    const decisions = examplesFromTrace(problem, completion);
    if (decisions.length === 0) {
      skipped.push({ line, reason: 'the assistant message has no legal step line' });
      return;
    }
    traces++;
    examples.push(...decisions);
  });
  if (lines === 0) throw new TrainingFileError('the training file is empty');
  if (examples.length === 0) {
    const first = skipped[0];
    throw new TrainingFileError(
      `no usable countdown examples in ${lines} lines` + (first ? ` (line ${first.line}: ${first.reason})` : ''),
      first?.line ?? null,
    );
  }
  return { examples, traces, skipped };
}
