/**
 * Finding the final answer in a model's LaTeX-flavoured output: the last `\boxed{...}` or `\fbox{...}` (braces
 * nest), else the last "answer is X" or "Answer: X".
 */

/** The content of the braces opening at `open` (which must be `{`), or null when they never close. */
export function braceGroup(text: string, open: number): { content: string; end: number } | null {
  if (text[open] !== '{') return null;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') {
      i++; // an escaped character, e.g. \{ or \}, never opens or closes a group
      continue;
    }
    if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return { content: text.slice(open + 1, i), end: i + 1 };
  }
  return null;
}

/**
 * The content of the last `\boxed{...}` / `\fbox{...}` (also `\boxed 5`), or null.
 *
 * @example
 * lastBoxed('so \\boxed{\\frac{1}{2}}.') === '\\frac{1}{2}'
 */
export function lastBoxed(text: string): string | null {
  const starts = [...text.matchAll(/\\(?:boxed|fbox)(?![a-zA-Z])/g)];
  for (let k = starts.length - 1; k >= 0; k--) {
    let i = starts[k].index + starts[k][0].length;
    while (text[i] === ' ') i++;
    if (text[i] === '{') {
      const group = braceGroup(text, i);
      if (group) return group.content;
    } else {
      const bare = text.slice(i).match(/^[^\s$]+/);
      if (bare) return bare[0];
    }
  }
  return null;
}

/** The math in an "answer is ..." phrase: the first `$...$` in it, else the text up to the end of the sentence. */
function phraseAnswer(rest: string): string | null {
  const math = rest.match(/^\s*[^$\n]{0,20}?\$\$?([^$]+)\$/);
  if (math) return math[1].trim();
  const plain = rest.match(/^\s*(.*?)(?:\.\s|\.?$)/m);
  const found = plain?.[1].trim().replace(/\*+/g, '').trim();
  return found ? found : null;
}

/** The final answer of a solution, as written (not normalised), or null when it has none. */
export function extractMathAnswer(text: string): string | null {
  const boxed = lastBoxed(text);
  if (boxed !== null) return boxed.trim();
  const phrases = [...text.matchAll(/(?:answer\s+is|answer\s*\**\s*:)\s*\**\s*:?/gi)];
  for (let k = phrases.length - 1; k >= 0; k--) {
    const found = phraseAnswer(text.slice(phrases[k].index + phrases[k][0].length));
    if (found) return found;
  }
  return null;
}
