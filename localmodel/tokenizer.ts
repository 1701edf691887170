/**
 * What the client sees as tokens. `steps`: the policy's own vocabulary, one token per step line (with its newline)
 * and one for the answer line, the regime where one request with logprobs shows a whole next-step distribution.
 * `subword`: text cut the way an LLM's tokenizer cuts it (numbers in chunks of up to three digits as Llama 3 and
 * GPT-4 do, words, each symbol, runs of spaces, each newline), so a step is about ten tokens and top_logprobs
 * see only the next one.
 */
export type TokenMode = 'steps' | 'subword';

export const TOKEN_MODES: readonly TokenMode[] = ['steps', 'subword'];

const SUBWORD = /\d{1,3}|\p{L}+|\n|[^\S\n]+|[^\s\p{L}\d]/gu;

/**
 * Splits text into subword tokens; their concatenation is the text.
 *
 * @example subwordTokens('75 - 3 = 72\n') // ['75', ' ', '-', ' ', '3', ' ', '=', ' ', '72', '\n']
 */
export function subwordTokens(text: string): string[] {
  return text.match(SUBWORD) ?? [];
}

/** The rough prompt tokens of the steps vocabulary: numbers, words and single symbols (spaces are free). */
export function stepPromptTokens(text: string): string[] {
  return text.match(/\d+|[A-Za-z]+|[^\s\dA-Za-z]/g) ?? [];
}

/** A prompt's tokens in a mode (for usage and prefix caching). */
export function promptTokens(text: string, mode: TokenMode): string[] {
  return mode === 'subword' ? subwordTokens(text) : stepPromptTokens(text);
}

/**
 * What a server reports as the log-probability of a token the model cannot emit (probability 0), as OpenAI and
 * vLLM do for -inf: top_logprobs always list as many tokens as asked, the impossible ones last with this value.
 */
export const IMPOSSIBLE_LOGPROB = -9999;

/** The subword vocabulary the model writes with, in a fixed order: symbols and words first, then numbers. */
const SUBWORD_VOCABULARY: readonly string[] = [
  '\n',
  ' ',
  '+',
  '-',
  '*',
  '/',
  '=',
  '(',
  ')',
  ':',
  ',',
  'Answer',
  ...Array.from({ length: 1000 }, (_, i) => String(i)),
];

/**
 * `count` tokens of the vocabulary that are not in `taken`, in a fixed order: the zero-probability tokens that pad
 * top_logprobs. In steps mode the vocabulary is every step line, so the padding is step lines of small numbers.
 */
export function impossibleTokens(mode: TokenMode, taken: ReadonlySet<string>, count: number): string[] {
  const out: string[] = [];
  if (count <= 0) return out;
  if (mode === 'subword') {
    for (const t of SUBWORD_VOCABULARY) {
      if (out.length >= count) break;
      if (!taken.has(t)) out.push(t);
    }
    return out;
  }
  for (let a = 1; out.length < count; a++) {
    for (let b = 1; b <= a && out.length < count; b++) {
      const line = `${a} + ${b} = ${a + b}\n`;
      if (!taken.has(line)) out.push(line);
    }
  }
  return out;
}

/** A token's best alternatives padded to exactly `k` with impossible tokens, as OpenAI and vLLM list them. */
export function padAlternatives(
  top: Array<{ text: string; logprob: number }>,
  k: number,
  mode: TokenMode,
): Array<{ text: string; logprob: number }> {
  if (top.length >= k) return top.slice(0, Math.max(0, k));
  const taken = new Set(top.map((t) => t.text));
  return [...top, ...impossibleTokens(mode, taken, k - top.length).map((text) => ({ text, logprob: IMPOSSIBLE_LOGPROB }))];
}
