/**
 * STaR rationalization against the embedded model over HTTP, as the flywheel drives it: the reference answer as a
 * `Hint:` line after the prompt steers the base model to it, mostly; without the hint it solves few.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { formatPrompt, generateCountdown, parseTrace } from '../../lib/tasks/countdown.js';
import { verifyCountdown } from '../../lib/verify/countdown.js';
import type { LocalModelServer } from '../../localmodel/server.js';
import { startLocalModelServer } from '../../localmodel/server.js';

const API_KEY = 'test-key-not-secret';
const BASE = 'countdown-mlp';
const problems = generateCountdown({ seed: 5, train: 40, test: 0 });
const hinted = (p: (typeof problems)[number]) => `${formatPrompt(p)}\n\nHint: one solution is ${p.solution}. Write the steps that reach it.`;

let dataDir: string;
let server: LocalModelServer;
let client: OpenAI;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'localmodel-hint-'));
  server = await startLocalModelServer({ port: 0, dataDir, apiKey: API_KEY, log: () => {} });
  client = new OpenAI({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('chat: hinted samples of the base model mostly solve; plain ones rarely', async () => {
  let hintedSolved = 0;
  let plainSolved = 0;
  for (const [k, p] of problems.entries()) {
    const ask = async (content: string) =>
      (await client.chat.completions.create({ model: BASE, messages: [{ role: 'user', content }], n: 4, temperature: 1, seed: k })).choices.map(
        (c) => c.message.content ?? '',
      );
    hintedSolved += (await ask(hinted(p))).filter((text) => verifyCountdown(p, text).correct).length;
    plainSolved += (await ask(formatPrompt(p))).filter((text) => verifyCountdown(p, text).correct).length;
  }
  // Measured: 131 and 3 of 160.
  expect(hintedSolved / (problems.length * 4)).toBeGreaterThan(0.6);
  expect(hintedSolved).toBeLessThan(problems.length * 4);
  expect(plainSolved / (problems.length * 4)).toBeLessThan(0.15);
});

test('completions: step by step with stop "\\n", the hint stays in the prompt and is followed greedily', async () => {
  const p = problems[0]!;
  let text = `${hinted(p!)}\n`;
  for (let i = 0; i < p.numbers.length - 1; i++) {
    const res = await client.completions.create({ model: BASE, prompt: text, stop: ['\n'], temperature: 0, logprobs: 2 });
    text += `${res.choices[0]!.text}\n`;
  }
  expect(parseTrace(p!, text)).toMatchObject({ illegal: false, answer: null });
  const answer = await client.completions.create({ model: BASE, prompt: text, stop: ['\n'], temperature: 0 });
  expect(verifyCountdown(p!, answer.choices[0]!.text).correct).toBe(true);
});
