/** Chat JSONL training data for the embedded policy: solved countdown problems, as a round's dataset would hold. */
import { writeFileSync } from 'node:fs';
import { formatPrompt, formatTrace, generateCountdown, solve } from '../../lib/tasks/countdown.js';
import type { ChatExample } from '../../lib/train/chat-jsonl.js';
import { toChatJsonl } from '../../lib/train/chat-jsonl.js';

export function countdownExamples(count: number, seed = 7): ChatExample[] {
  return generateCountdown({ seed, train: count, test: 1 })
    .filter((p) => p.split === 'train')
    .map((p) => ({ prompt: formatPrompt(p), completion: formatTrace(p, solve(p)!) }));
}

export function writeCountdownJsonl(file: string, count: number, seed = 7): string {
  writeFileSync(file, toChatJsonl(countdownExamples(count, seed)));
  return file;
}
