import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { createModelClient } from '../../../lib/llm/client.js';
import { planMissingSamples, sampleMissing, SamplingFailed, type ModelErrorRecord } from '../../../lib/generate/shard.js';

const problems = [
  { id: 1, prompt: 'p1' },
  { id: 2, prompt: 'p2' },
];
const sample = { strategy: 'sample' as const, n: 3, temperature: 1 };
const greedy = { strategy: 'greedy' as const, n: 1, temperature: 0 };

/** A chat client answering with `reply(n)` (or throwing it). */
function client(reply: (n: number) => unknown) {
  const create = async (body: { n: number }) => {
    const r = reply(body.n);
    if (r instanceof Error) throw r;
    return r;
  };
  return { chat: { completions: { create } } } as unknown as OpenAI;
}
const choices = (n: number) => ({
  choices: Array.from({ length: n }, (_, i) => ({ message: { content: `answer ${i}` }, finish_reason: 'stop' })),
  usage: { prompt_tokens: 5, completion_tokens: 4 * n },
});

const options = (errors: ModelErrorRecord[]) => ({ model: 'm', maxTokens: 16, seed: 1, maxRetries: 0, baseUrl: 'http://model:8000/v1', onError: (e: ModelErrorRecord) => void errors.push(e) });

describe('planning a shard', () => {
  it('asks only for the sample indices not stored yet, per problem and group', () => {
    const existing = new Map([[1, new Map([['sample', new Set([0, 2])]])]]);
    const tasks = planMissingSamples(problems, [greedy, sample], existing);
    expect(tasks.map((t) => [t.problem.id, t.group.strategy, t.missing, t.skipped])).toEqual([
      [1, 'greedy', [0], 0],
      [1, 'sample', [1], 2],
      [2, 'greedy', [0], 0],
      [2, 'sample', [0, 1, 2], 0],
    ]);
  });
  it('gives a problem its own number of samples under adaptive budgets', () => {
    const tasks = planMissingSamples(problems, [sample], new Map(), (id) => (id === 2 ? 5 : undefined));
    expect(tasks.map((t) => t.missing.length)).toEqual([3, 5]);
  });
});

describe('sampling a task', () => {
  const task = { problem: problems[0]!, group: sample, missing: [1, 2], skipped: 1 };

  it('turns a response into trace rows at the missing indices', async () => {
    const errors: ModelErrorRecord[] = [];
    const { traces, errors: bad } = await sampleMissing(client(choices), task, options(errors));
    expect(bad).toBe(0);
    expect(traces.map((t) => [t.sampleIndex, t.text, t.completionTokens])).toEqual([
      [1, 'answer 0', 4],
      [2, 'answer 1', 4],
    ]);
    expect(errors).toEqual([]);
  });

  it('records a malformed response against the samples, as error rows and a final model error', async () => {
    const errors: ModelErrorRecord[] = [];
    const { traces, errors: bad } = await sampleMissing(client(() => ({ choices: [] })), task, options(errors));
    expect(bad).toBe(2);
    expect(traces).toEqual([
      { problemId: 1, strategy: 'sample', sampleIndex: 1, text: '', error: 'malformed response: asked for 2 choices, the response has 0' },
      { problemId: 1, strategy: 'sample', sampleIndex: 2, text: '', error: 'malformed response: asked for 2 choices, the response has 0' },
    ]);
    expect(errors).toEqual([{ problemId: 1, strategy: 'sample', attempt: 1, error: expect.stringMatching(/malformed/), final: true }]);
  });

  it('a server that cannot be reached is named, with the attempts: another attempt may succeed', async () => {
    const errors: ModelErrorRecord[] = [];
    const unreachable = createModelClient({ baseUrl: 'http://127.0.0.1:9/v1', timeoutMs: 2000, maxRetries: 0 });
    const failure = await sampleMissing(unreachable, task, { ...options(errors), baseUrl: 'http://127.0.0.1:9/v1' }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/^model server http:\/\/127\.0\.0\.1:9\/v1: could not connect .*\(1 attempt\)$/) });
    expect(errors).toHaveLength(1);
  });

  it('a refusal (401) is not worth retrying; an abort is a cancellation, not a fault', async () => {
    const refusal = new OpenAI.AuthenticationError(401, { message: 'bad key' }, 'bad key', new Headers());
    expect(await sampleMissing(client(() => refusal), task, options([])).catch((e: unknown) => e)).toMatchObject({ kind: 'refused' });
    const aborted = new AbortController();
    aborted.abort();
    const cancelled = await sampleMissing(client(() => new Error('aborted')), task, { ...options([]), signal: aborted.signal }).catch((e: unknown) => e);
    expect(cancelled).toBeInstanceOf(SamplingFailed);
    expect(cancelled).toMatchObject({ kind: 'cancelled' });
  });
});
