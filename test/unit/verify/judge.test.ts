import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJudgeVerifier, parseJudgeReply } from '../../../lib/verify/index.js';

/** A tiny local server that answers chat completions with whatever `reply` holds, and records the requests. */
let server: Server;
let reply: { status: number; content: string } = { status: 200, content: '' };
const requests: Array<{ model: string; messages: Array<{ role: string; content: string }>; temperature: number }> = [];
let client: OpenAI;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req));
    requests.push(body);
    if (reply.status !== 200) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'judge is down', type: 'server_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'chatcmpl-test',
        object: 'chat.completion',
        created: 0,
        model: body.model,
        choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: reply.content } }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'test-key', maxRetries: 0 });
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const input = { prompt: 'Name the capital of France.', reference: { answer: 'Paris' }, text: 'It is Paris.\nAnswer: Paris' };

describe('judge verifier', () => {
  it('sends problem, reference, rubric and response, and reads VERDICT and SCORE', async () => {
    reply = { status: 200, content: 'The response names Paris.\nVERDICT: PASS\nSCORE: 0.9' };
    const judge = createJudgeVerifier(client, { model: 'judge-1', rubric: 'Must name the city.' });
    const verdict = await judge.verify(input);
    expect(verdict).toMatchObject({ score: 0.9, correct: true, answer: 'Paris' });
    expect(verdict.detail).toContain('PASS');
    const sent = requests[requests.length - 1]!;
    expect(sent.model).toBe('judge-1');
    expect(sent.temperature).toBe(0);
    const user = sent.messages.find((m) => m.role === 'user')!.content;
    for (const part of ['Name the capital of France.', 'Paris', 'Must name the city.', 'It is Paris.']) expect(user).toContain(part);
  });

  it('fails on FAIL, and passes on a SCORE alone at the threshold', async () => {
    const judge = createJudgeVerifier(client, { model: 'judge-1', rubric: 'r', passThreshold: 0.7 });
    reply = { status: 200, content: 'Wrong city.\n**Verdict:** fail' };
    expect(await judge.verify(input)).toMatchObject({ score: 0, correct: false });
    reply = { status: 200, content: 'Mostly right. Score: 7/10' };
    expect(await judge.verify(input)).toMatchObject({ score: 0.7, correct: true });
    reply = { status: 200, content: 'Weak. SCORE: 0.4' };
    expect(await judge.verify(input)).toMatchObject({ score: 0.4, correct: false });
  });

  it('turns an unparsable reply into a verdict, not an exception', async () => {
    reply = { status: 200, content: 'I think it is fine, probably.' };
    const verdict = await createJudgeVerifier(client, { model: 'judge-1', rubric: 'r' }).verify(input);
    expect(verdict).toMatchObject({ score: 0, correct: false });
    expect(verdict.detail).toMatch(/no VERDICT or SCORE line: "I think it is fine, probably."/);
  });

  it('throws when the judge cannot be reached, so the activity retries', async () => {
    reply = { status: 500, content: '' };
    await expect(createJudgeVerifier(client, { model: 'judge-1', rubric: 'r' }).verify(input)).rejects.toThrow();
  });

  it('versions model and rubric', () => {
    const a = createJudgeVerifier(client, { model: 'm', rubric: 'r1' }).version;
    expect(createJudgeVerifier(client, { model: 'm', rubric: 'r1' }).version).toBe(a);
    expect(createJudgeVerifier(client, { model: 'm', rubric: 'r2' }).version).not.toBe(a);
    expect(createJudgeVerifier(client, { model: 'm2', rubric: 'r1' }).version).not.toBe(a);
  });
});

describe('parseJudgeReply', () => {
  it.each([
    ['VERDICT: PASS', { verdict: 'PASS', score: null }],
    ['verdict = failed', { verdict: 'FAIL', score: null }],
    ['**VERDICT:** `PASS`\n**SCORE:** 1', { verdict: 'PASS', score: 1 }],
    ['VERDICT: PASS\n(changed my mind)\nVERDICT: FAIL\nSCORE: 0.2', { verdict: 'FAIL', score: 0.2 }],
    ['SCORE: 85%', { verdict: null, score: 0.85 }],
    ['SCORE: 3', { verdict: null, score: 1 }],
    ['Verdict: correct', { verdict: 'PASS', score: null }],
    ['Verdict: incorrect', { verdict: 'FAIL', score: null }],
    ['no idea', { verdict: null, score: null }],
  ])('%j', (text, expected) => {
    expect(parseJudgeReply(text)).toEqual(expected);
  });
});
