import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { parseRunConfig } from '../../../config/load.js';
import { createGate } from '../../../lib/concurrency.js';
import { withRetries } from '../../../lib/llm/client.js';
import { endpointLimiter, requestTokens } from '../../../lib/llm/limiter.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let urls = 0;
/** A base URL no other test in this file shares (limiters are process-wide by URL). */
const freshUrl = () => `http://limiter-test-${++urls}.invalid/v1`;

/** Runs `count` requests of `ms` each through `run`, returning the most that were in flight at once. */
async function peakInFlight(count: number, ms: number, run: (request: () => Promise<void>) => Promise<void>): Promise<number> {
  let inFlight = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: count }, () =>
      run(async () => {
        peak = Math.max(peak, ++inFlight);
        await sleep(ms);
        inFlight--;
      }),
    ),
  );
  return peak;
}

describe('createGate', () => {
  it('lets at most `size` in, in arrival order, and resizes', async () => {
    const gate = createGate(2);
    const order: number[] = [];
    const peak = await peakInFlight(6, 10, (request) => gate(request));
    expect(peak).toBe(2);
    await Promise.all([1, 2, 3, 4].map((i) => gate(async () => void order.push(i))));
    expect(order).toEqual([1, 2, 3, 4]);
    gate.resize(5);
    expect(await peakInFlight(10, 10, (request) => gate(request))).toBe(5);
  });

  it('a waiting caller whose signal aborts leaves the queue, and the place goes to the next', async () => {
    const gate = createGate(1);
    const controller = new AbortController();
    const first = gate(() => sleep(30));
    const aborted = gate(async () => 'ran', controller.signal);
    const third = gate(async () => 'third');
    expect(gate.waiting).toBe(2);
    controller.abort(new Error('cancelled'));
    await expect(aborted).rejects.toThrow('cancelled');
    expect(gate.waiting).toBe(1);
    await first;
    expect(await third).toBe('third');
    expect(gate.inside).toBe(0);
  });
});

describe('endpointLimiter', () => {
  it('is one limiter per base URL in the process, shared by every caller', async () => {
    const url = freshUrl();
    const a = endpointLimiter(url, { maxConcurrency: 3 });
    expect(endpointLimiter(`${url}/`, { maxConcurrency: 3 })).toBe(a);
    expect(endpointLimiter(freshUrl(), { maxConcurrency: 3 })).not.toBe(a);
    // Two "shards" of 8 requests each, sharing the endpoint: 3 in flight in all, not 3 each.
    let inFlight = 0;
    let peak = 0;
    const shard = () =>
      Promise.all(
        Array.from({ length: 8 }, () =>
          endpointLimiter(url, { maxConcurrency: 3 }).run(async () => {
            peak = Math.max(peak, ++inFlight);
            await sleep(5);
            inFlight--;
          }),
        ),
      );
    await Promise.all([shard(), shard()]);
    expect(peak).toBe(3);
  });

  it('new limits for the same URL apply to everyone at once', async () => {
    const url = freshUrl();
    const limiter = endpointLimiter(url, { maxConcurrency: 2 });
    endpointLimiter(url, { maxConcurrency: 6 });
    expect(await peakInFlight(12, 10, (request) => limiter.run(request))).toBe(6);
    expect(limiter.limits.maxConcurrency).toBe(6);
  });

  it('paces requests per minute: one second of budget at once, the rest at the rate', async () => {
    const limiter = endpointLimiter(freshUrl(), { maxConcurrency: 100, rpm: 600 }); // 10 per second
    const started: number[] = [];
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 15 }, () => limiter.run(async () => void started.push(Date.now() - t0))));
    expect(started.filter((t) => t < 50)).toHaveLength(10);
    // The five more need 100 ms each.
    expect(Math.max(...started)).toBeGreaterThanOrEqual(450);
    expect(Math.max(...started)).toBeLessThan(1_500);
  });

  it('paces tokens per minute by what each request may cost', async () => {
    const limiter = endpointLimiter(freshUrl(), { maxConcurrency: 100, tpm: 60_000 }); // 1,000 tokens per second
    const tokens = requestTokens(400, 200, 2); // 100 + 400
    expect(tokens).toBe(500);
    const t0 = Date.now();
    const started: number[] = [];
    await Promise.all(Array.from({ length: 4 }, () => limiter.run(async () => void started.push(Date.now() - t0), { tokens })));
    expect(started.filter((t) => t < 50)).toHaveLength(2);
    expect(Math.max(...started)).toBeGreaterThanOrEqual(900);
  });

  it("a 429's Retry-After pauses every request to the endpoint, and the request is retried", async () => {
    const limiter = endpointLimiter(freshUrl(), { maxConcurrency: 10 });
    let calls = 0;
    const t0 = Date.now();
    const limited = withRetries(
      async () => {
        if (calls++ === 0) throw new OpenAI.APIError(429, { message: 'slow down' }, 'slow down', new Headers({ 'retry-after-ms': '300' }));
        return 'answered';
      },
      { maxRetries: 2, limiter },
    );
    await sleep(20);
    // Another request to the same endpoint, started while the first waits out its Retry-After, waits too.
    let otherAt = 0;
    await limiter.run(async () => void (otherAt = Date.now() - t0));
    expect(otherAt).toBeGreaterThanOrEqual(280);
    expect(await limited).toBe('answered');
    expect(calls).toBe(2);
  });

  it('a request waiting for a slot leaves when its signal aborts', async () => {
    const limiter = endpointLimiter(freshUrl(), { maxConcurrency: 1 });
    const busy = limiter.run(() => sleep(50));
    const controller = new AbortController();
    const waiting = limiter.run(async () => 'ran', { signal: controller.signal });
    controller.abort(new Error('activity cancelled'));
    await expect(waiting).rejects.toThrow('activity cancelled');
    await busy;
    expect(limiter.waiting).toBe(0);
  });
});

describe('model.maxConcurrency in the config', () => {
  it('is optional (a default applies), with optional per-minute limits', () => {
    const config = parseRunConfig('task: {kind: countdown}\nmodel: {maxConcurrency: 512, rateLimit: {rpm: 3000, tpm: 1000000}}\n');
    expect(config.model.maxConcurrency).toBe(512);
    expect(config.model.rateLimit).toEqual({ rpm: 3000, tpm: 1_000_000 });
    expect(parseRunConfig('task: {kind: countdown}\n').generate.concurrency).toBeUndefined();
  });

  it('refuses an endpoint budget the shards can never fill, naming the knobs', () => {
    expect(() =>
      parseRunConfig('task: {kind: countdown}\nmodel: {maxConcurrency: 512}\ngenerate: {concurrency: 8, maxShardsInFlight: 16}\n', 'run.yaml'),
    ).toThrow(/generate\.concurrency.*model\.maxConcurrency 512 can never be reached: generate\.maxShardsInFlight 16 × generate\.concurrency 8 = 128/s);
    // The deprecated per-shard cap alone still works.
    expect(parseRunConfig('task: {kind: countdown}\ngenerate: {concurrency: 2, maxShardsInFlight: 2}\n').generate.concurrency).toBe(2);
  });
});
