/** The dataset format every trainer reads: one chat conversation per line (OpenAI fine-tuning, TRL, axolotl...). */
export interface ChatExample {
  prompt: string;
  completion: string;
}

/** One example as a chat JSONL line, newline included. */
export function chatLine(e: ChatExample, systemPrompt?: string): string {
  const messages = [
    ...(systemPrompt ? [{ role: 'system', content: systemPrompt }] : []),
    { role: 'user', content: e.prompt },
    { role: 'assistant', content: e.completion },
  ];
  return `${JSON.stringify({ messages })}\n`;
}

export function toChatJsonl(examples: ChatExample[], systemPrompt?: string): string {
  return examples.map((e) => chatLine(e, systemPrompt)).join('');
}
