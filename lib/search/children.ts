/**
 * The children of a search node, read from one step request: the distinct sampled lines plus every listed
 * alternative that is itself a whole line. On a server whose tokens are whole steps (the embedded model) one n = 1
 * request with logprobs therefore gives the full next-step distribution; on an LLM the n samples give the children.
 */
import type { Generation, StepLine } from './types.js';

export interface Child {
  /** The line, without its newline. */
  text: string;
  /** Summed log-probability of the line, or null when the server gave none. */
  logprob: number | null;
  /** Prior in [0, 1]; the children's priors sum to 1. */
  prior: number;
  /** Times the line was sampled (0 when it came only from the alternatives). */
  count: number;
  final: boolean;
}

/** A line a position offers: written there (sampled) or listed as an alternative. */
export interface LineOption {
  text: string;
  logprob: number | null;
  sampled: boolean;
  final: boolean;
  /** Times sampled, when more than one sample is folded into this option; default 1 if sampled, else 0. */
  count?: number;
}

/** The lines a position offers: the line written there and the whole-line alternatives listed for it. */
export function lineOptions(line: StepLine): LineOption[] {
  return [
    { text: line.text, logprob: line.logprob, sampled: true, final: line.final },
    ...line.alternatives.map((alt) => ({ text: alt.text, logprob: alt.logprob, sampled: false, final: false })),
  ];
}

/**
 * Merges candidate lines into distinct children with renormalised priors: softmax of the log-probabilities when
 * every child has one, else the sample counts. A sampled line's own flags win over an alternative's.
 *
 * @example priorsOf([{ text: 'a', logprob: Math.log(0.3), sampled: true, final: false }, { text: 'b', logprob: Math.log(0.1), sampled: false, final: false }])
 *   // → a: 0.75, b: 0.25
 */
export function priorsOf(options: readonly LineOption[]): Child[] {
  const byText = new Map<string, Child>();
  for (const o of options) {
    const count = o.count ?? (o.sampled ? 1 : 0);
    const seen = byText.get(o.text);
    if (!seen) {
      byText.set(o.text, { text: o.text, logprob: o.logprob, prior: 0, count, final: o.final });
      continue;
    }
    if (o.sampled) {
      seen.count += count;
      seen.final ||= o.final;
    }
    if (seen.logprob === null && o.logprob !== null) seen.logprob = o.logprob;
  }
  const children = [...byText.values()];
  if (children.length === 0) return children;
  if (children.every((c) => c.logprob !== null)) {
    const max = Math.max(...children.map((c) => c.logprob!));
    const weights = children.map((c) => Math.exp(c.logprob! - max));
    const total = weights.reduce((a, b) => a + b, 0);
    children.forEach((c, i) => (c.prior = weights[i]! / total));
  } else {
    const total = children.reduce((a, c) => a + Math.max(c.count, 1), 0);
    for (const c of children) c.prior = Math.max(c.count, 1) / total;
  }
  return children;
}

/** The children one step request found: the first line of every sequence and its alternatives. */
export function childrenOf(generation: Generation): Child[] {
  return priorsOf(generation.sequences.flatMap((s) => (s.lines.length ? lineOptions(s.lines[0]!) : [])));
}

/** The text of a trace: the partial trace (lines ending with "\n") followed by more lines. */
export function extendTrace(partial: string, lines: readonly string[]): string {
  return partial + lines.join('\n');
}

/** The partial trace after one more (non-final) line. */
export function appendLine(partial: string, line: string): string {
  return `${partial}${line}\n`;
}
