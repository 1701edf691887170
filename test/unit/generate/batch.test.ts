import { describe, expect, it } from 'vitest';
import {
  batchErrorRecords,
  batchMetadata,
  batchRequests,
  describeBatchFailures,
  isBatchOf,
  parseSampleKey,
  plannedKeys,
  sampleKey,
  tracesFromResults,
} from '../../../lib/generate/batch.js';
import { planMissingSamples } from '../../../lib/generate/shard.js';
import { batchInputLines, parseBatchResults, resubmission } from '../../../lib/llm/batch.js';

const completion = (text: string) => ({
  id: 'c',
  object: 'chat.completion',
  model: 'm',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: text }, logprobs: null }],
  usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
});

describe('batch generation keys', () => {
  it('round-trips a sample key and rejects foreign ids', () => {
    const key = { purpose: 'train', problemId: 17, strategy: 'sample' as const, sampleIndex: 3 };
    expect(sampleKey(key)).toBe('train/p17/sample/s3');
    expect(parseSampleKey('train/p17/sample/s3')).toEqual(key);
    expect(() => parseSampleKey('req-1')).toThrow(/'req-1' is not a flywheel sample key/);
    expect(() => parseSampleKey('train/p17/sample/s')).toThrow(/not a flywheel sample key/);
  });

  it('asks one request per missing sample, with a stable seed per sample', () => {
    const problems = [
      { id: 1, prompt: 'one' },
      { id: 2, prompt: 'two' },
    ];
    const existing = new Map([[1, new Map([['sample', new Set([0, 2])]])]]);
    const tasks = planMissingSamples(problems, [{ strategy: 'sample', n: 3, temperature: 0.7 }], existing);
    const requests = batchRequests(tasks, { purpose: 'train', model: 'm', maxTokens: 64, seedOf: (k) => k.problemId * 100 + k.sampleIndex });
    expect(requests.map((r) => r.key)).toEqual(['train/p1/sample/s1', 'train/p2/sample/s0', 'train/p2/sample/s1', 'train/p2/sample/s2']);
    expect(requests[0]!.request).toMatchObject({ model: 'm', prompt: 'one', n: 1, temperature: 0.7, maxTokens: 64, seed: 101, logprobs: true });
    expect(requests[3]!.request.seed).toBe(202);
  });

  it('turns output lines into traces by key and resubmits only the failed ones', () => {
    const problems = [{ id: 5, prompt: 'five' }];
    const tasks = planMissingSamples(problems, [{ strategy: 'sample', n: 3, temperature: 1 }], new Map());
    const requests = batchRequests(tasks, { purpose: 'train', model: 'm', maxTokens: 8, seedOf: () => 1 });
    const lines = batchInputLines(requests);
    const ok = (id: string, text: string) => JSON.stringify({ id: `r-${id}`, custom_id: id, response: { status_code: 200, request_id: 'x', body: completion(text) }, error: null });
    const output = [ok('train/p5/sample/s2', 'two'), ok('train/p5/sample/s0', 'zero')].join('\n');
    const errors = JSON.stringify({ id: 'r-e', custom_id: 'train/p5/sample/s1', response: { status_code: 500, request_id: 'y', body: { error: { message: 'boom' } } }, error: null });
    const results = parseBatchResults(
      [
        { name: 'out', text: output },
        { name: 'err', text: errors },
      ],
      new Map(lines.map((l) => [l.custom_id, 1])),
    );
    const traces = tracesFromResults(results, 'train');
    expect(traces.map((t) => [t.sampleIndex, t.text, t.promptTokens, t.completionTokens])).toEqual([
      [0, 'zero', 7, 3],
      [2, 'two', 7, 3],
    ]);
    expect(resubmission(results, new Map(), 2).resubmit).toEqual(['train/p5/sample/s1']);
    expect(() => tracesFromResults(results, 'eval')).toThrow(/is a train sample, not eval/);
  });
});

describe('generate.mode', () => {
  it('is online by default; batch mode puts its poll interval and attempts in the round plan', async () => {
    const { parseRunConfig } = await import('../../../config/load.js');
    const { planRound } = await import('../../../lib/round/plan.js');
    const base = ['name: b', 'rounds: 1', 'task: {kind: countdown, train: 2, test: 1}'];
    const config = parseRunConfig(base.join('\n'), 'b.yaml', {});
    expect(config.generate).toMatchObject({ mode: 'online', batchPollSeconds: 60, batchAttempts: 3 });
    expect(planRound(config, 0, { train: 2, test: 1 }, new Set())).not.toHaveProperty('batch');
    const batch = parseRunConfig([...base, 'generate: {mode: batch, batchPollSeconds: 5, batchAttempts: 2}'].join('\n'), 'b.yaml', {});
    expect(planRound(batch, 0, { train: 2, test: 1 }, new Set()).batch).toEqual({ pollSeconds: 5, attempts: 2 });
    expect(() => parseRunConfig([...base, 'generate: {batchAttempts: 0}'].join('\n'), 'b.yaml', {})).toThrow(/batchAttempts/);
  });
});

describe('batch bookkeeping', () => {
  it('tags a batch with its slot and recognises only that slot', () => {
    const slot = { roundId: 4, purpose: 'train', attempt: 2, fileIndex: 1 };
    const metadata = batchMetadata(slot);
    expect(metadata).toEqual({ flywheel_round_id: '4', flywheel_purpose: 'train', flywheel_attempt: '2', flywheel_file: '1' });
    expect(isBatchOf({ ...metadata, other: 'x' }, slot)).toBe(true);
    expect(isBatchOf(metadata, { ...slot, attempt: 3 })).toBe(false);
    expect(isBatchOf(metadata, { ...slot, purpose: 'eval' })).toBe(false);
    expect(isBatchOf(null, slot)).toBe(false);
  });

  it('knows every planned key, stored or not', () => {
    const tasks = planMissingSamples([{ id: 3, prompt: 'p' }], [{ strategy: 'greedy', n: 1, temperature: 0 }, { strategy: 'sample', n: 2, temperature: 1 }], new Map([[3, new Map([['sample', new Set([0])]])]]));
    expect([...plannedKeys(tasks, 'eval').keys()]).toEqual(['eval/p3/greedy/s0', 'eval/p3/sample/s0', 'eval/p3/sample/s1']);
  });

  it('records failed lines as model errors, final when they will not be sent again, and sums them up for an operator', () => {
    const failures = [
      { key: 'train/p1/sample/s0', statusCode: null, code: 'batch_expired', message: 'window closed', retryable: true },
      { key: 'train/p1/sample/s1', statusCode: 500, code: 'server_error', message: 'boom', retryable: true },
      { key: 'train/p2/sample/s0', statusCode: 400, code: null, message: 'bad n', retryable: false },
    ];
    const records = batchErrorRecords(failures, 2, false);
    expect(records.map((r) => [r.problemId, r.strategy, r.attempt, r.final])).toEqual([
      [1, 'sample', 2, false],
      [1, 'sample', 2, false],
      [2, 'sample', 2, true],
    ]);
    expect(records[1]!.error).toBe('batch line train/p1/sample/s1: 500 server_error: boom');
    expect(batchErrorRecords(failures, 3, true).every((r) => r.final)).toBe(true);
    expect(describeBatchFailures([...failures, { ...failures[0]!, key: 'train/p9/sample/s0' }], 1)).toBe(
      '2 × batch_expired (train/p1/sample/s0, …); 1 × 500 server_error: boom (train/p1/sample/s1); 1 × 400: bad n (train/p2/sample/s0)',
    );
  });
});
