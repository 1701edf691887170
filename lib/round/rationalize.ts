/** STaR rationalization's prompt: the problem again, with its reference answer as a hint. */

/** The answer a hint reveals: `reference.answer`, else countdown's known `solution`; null when there is none. */
export function hintAnswer(reference: unknown): string | null {
  if (!reference || typeof reference !== 'object') return typeof reference === 'string' ? reference : null;
  const r = reference as { answer?: unknown; solution?: unknown };
  const value = r.answer ?? r.solution;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
}

/** The prompt after a blank line, then the hint with `{answer}` replaced. */
export function hintedPrompt(prompt: string, hint: string, answer: string): string {
  return `${prompt}\n\n${hint.split('{answer}').join(answer)}`;
}
