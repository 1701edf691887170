/** The dataset format every trainer reads: one chat conversation per line (OpenAI fine-tuning, TRL, axolotl...). */
export interface ChatExample {
  prompt: string;
  completion: string;
}

export function toChatJsonl(examples: ChatExample[], systemPrompt?: string): string {
  return examples
    .map((e) => {
      const messages = [
        ...(systemPrompt ? [{ role: 'system', content: systemPrompt }] : []),
        { role: 'user', content: e.prompt },
        { role: 'assistant', content: e.completion },
      ];
      return JSON.stringify({ messages });
    })
    .join('\n')
    .concat(examples.length ? '\n' : '');
}
