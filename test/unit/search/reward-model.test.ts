import { describe, expect, it } from 'vitest';
import { createRewardModelClient, RewardModelError } from '../../../lib/search/reward-model.js';

/** A fetch that answers from a list of (status, body) and records what it was sent. */
function fakeFetch(replies: Array<[number, unknown]>) {
  const sent: Array<{ url: string; body: unknown; auth: string | null }> = [];
  const fn = (async (url: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    sent.push({ url: String(url), body: JSON.parse(String(init?.body)), auth: headers.get('authorization') });
    const [status, body] = replies.shift() ?? [500, 'no more replies'];
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  }) as typeof fetch;
  return { fn, sent };
}

describe('reward model client', () => {
  it('flywheel format: one POST of { model, prompt, completion } per trace, answered by { score }', async () => {
    const { fn, sent } = fakeFetch([
      [200, { score: 0.25 }],
      [200, { score: 0.75 }],
    ]);
    const rm = createRewardModelClient({ url: 'http://rm/score', model: 'orm-1', apiKey: 'k', fetch: fn });
    expect(await rm.score('P', ['a', 'b'])).toEqual({ scores: [0.25, 0.75], requests: 2 });
    expect(sent.map((s) => s.body)).toEqual([
      { model: 'orm-1', prompt: 'P', completion: 'a' },
      { model: 'orm-1', prompt: 'P', completion: 'b' },
    ]);
    expect(sent[0]!.auth).toBe('Bearer k');
  });

  it('vllm-score format: one request with text_1 and the list text_2, scores placed by index', async () => {
    const { fn, sent } = fakeFetch([[200, { data: [{ index: 1, object: 'score', score: 0.9 }, { index: 0, object: 'score', score: 0.1 }] }]]);
    const rm = createRewardModelClient({ url: 'http://vllm/score', format: 'vllm-score', model: 'rm', fetch: fn });
    expect(await rm.score('P', ['a', 'b'])).toEqual({ scores: [0.1, 0.9], requests: 1 });
    expect(sent[0]!.body).toEqual({ model: 'rm', text_1: 'P', text_2: ['a', 'b'] });
  });

  it('retries 5xx and invalid JSON, not 4xx, and says what came back', async () => {
    const flaky = fakeFetch([
      [503, 'busy'],
      [200, 'not json'],
      [200, { score: 1 }],
    ]);
    const rm = createRewardModelClient({ url: 'http://rm', fetch: flaky.fn, maxRetries: 3 });
    expect((await rm.score('P', ['a'])).scores).toEqual([1]);
    expect(flaky.sent).toHaveLength(3);

    const bad = fakeFetch([[400, 'bad model']]);
    await expect(createRewardModelClient({ url: 'http://rm', fetch: bad.fn }).score('P', ['a'])).rejects.toThrow(/answered 400: bad model/);
    const shapeless = fakeFetch([[200, { value: 3 }]]);
    await expect(createRewardModelClient({ url: 'http://rm', fetch: shapeless.fn }).score('P', ['a'])).rejects.toBeInstanceOf(RewardModelError);
  });
});
