import { describe, expect, it } from 'vitest';
import {
  BATCH_ENDPOINT,
  batchInputLines,
  MAX_REQUESTS_PER_FILE,
  parseBatchResults,
  resubmission,
  splitBatchFiles,
  type KeyedSampleRequest,
} from '../../../lib/llm/batch.js';
import { chatRequestBody } from '../../../lib/llm/sample.js';

const request = (i: number): KeyedSampleRequest => ({
  key: `r1/p${i}/sample/0`,
  request: { model: 'm', prompt: `problem ${i}`, systemPrompt: 'Solve it.', n: 2, temperature: 1, maxTokens: 64, seed: i },
});

const completion = (texts: string[], usage = { prompt_tokens: 10, completion_tokens: 8 }) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: texts.map((content, index) => ({ index, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null })),
  usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
});
const ok = (key: string, body: unknown) => JSON.stringify({ id: `batch_req_${key}`, custom_id: key, response: { status_code: 200, request_id: 'req_1', body }, error: null });

describe('batchInputLines', () => {
  it('one line per request, custom_id = its key, the body the live request would send', () => {
    const lines = batchInputLines([request(1), request(2)]);
    expect(lines).toEqual([
      { custom_id: 'r1/p1/sample/0', method: 'POST', url: BATCH_ENDPOINT, body: chatRequestBody(request(1).request) },
      { custom_id: 'r1/p2/sample/0', method: 'POST', url: BATCH_ENDPOINT, body: chatRequestBody(request(2).request) },
    ]);
    expect(lines[0]!.body).toMatchObject({ model: 'm', n: 2, max_tokens: 64, seed: 1, messages: [{ role: 'system', content: 'Solve it.' }, { role: 'user', content: 'problem 1' }] });
  });

  it('refuses duplicate and empty keys', () => {
    expect(() => batchInputLines([request(1), request(1)])).toThrow(/batch request 1 repeats the key 'r1\/p1\/sample\/0'/);
    expect(() => batchInputLines([{ ...request(1), key: '' }])).toThrow(/empty key/);
  });
});

describe('splitBatchFiles', () => {
  it('keeps at most 50,000 requests per file, in order', () => {
    const lines = batchInputLines(Array.from({ length: MAX_REQUESTS_PER_FILE + 2 }, (_, i) => request(i)));
    const files = splitBatchFiles(lines);
    expect(files).toHaveLength(2);
    const parsed = files.map((f) => f.trimEnd().split('\n').map((l) => JSON.parse(l).custom_id as string));
    expect(parsed[0]).toHaveLength(MAX_REQUESTS_PER_FILE);
    expect(parsed[1]).toEqual([`r1/p${MAX_REQUESTS_PER_FILE}/sample/0`, `r1/p${MAX_REQUESTS_PER_FILE + 1}/sample/0`]);
    expect(parsed.flat()).toEqual(lines.map((l) => l.custom_id));
  });

  it('also splits by bytes, and refuses a request larger than a file', () => {
    const lines = batchInputLines([request(1), request(2), request(3)]);
    const size = Buffer.byteLength(`${JSON.stringify(lines[0])}\n`);
    expect(splitBatchFiles(lines, 10, size * 2 + 1).map((f) => f.trimEnd().split('\n').length)).toEqual([2, 1]);
    expect(splitBatchFiles(lines, 2).map((f) => f.trimEnd().split('\n').length)).toEqual([2, 1]);
    expect(() => splitBatchFiles(lines, 10, 20)).toThrow(/alone is \d+ bytes/);
    expect(splitBatchFiles([])).toEqual([]);
  });
});

describe('parseBatchResults', () => {
  const asked = new Map([['a', 2], ['b', 2], ['c', 2], ['d', 2], ['e', 2]]);

  it('reads samples from 200 lines and failures from the error file, by key', () => {
    const output = [ok('a', completion(['x', 'y'])), ok('b', completion(['z', 'w'], { prompt_tokens: 4, completion_tokens: 6 }))].join('\n');
    const errors = [
      JSON.stringify({ id: 'r3', custom_id: 'c', response: { status_code: 500, request_id: 'q', body: { error: { message: 'boom', code: 'server_error' } } }, error: null }),
      JSON.stringify({ id: 'r4', custom_id: 'd', response: { status_code: 400, request_id: 'q', body: { error: { message: "Invalid 'n'", code: 'invalid_value' } } }, error: null }),
      JSON.stringify({ id: 'r5', custom_id: 'e', response: null, error: { code: 'batch_expired', message: 'expired' } }),
      JSON.stringify({ id: 'r6', custom_id: 'zz', response: null, error: { code: 'batch_expired', message: 'expired' } }),
    ].join('\n');
    const r = parseBatchResults([{ name: 'out.jsonl', text: output }, { name: 'err.jsonl', text: errors }], asked);
    expect([...r.succeeded.keys()]).toEqual(['a', 'b']);
    expect(r.succeeded.get('a')).toEqual({
      samples: [
        { text: 'x', finishReason: 'stop', logprob: null, completionTokens: 4 },
        { text: 'y', finishReason: 'stop', logprob: null, completionTokens: 4 },
      ],
      promptTokens: 10,
      completionTokens: 8,
    });
    expect(r.failed.get('c')).toEqual({ key: 'c', statusCode: 500, code: 'server_error', message: 'boom', retryable: true });
    expect(r.failed.get('d')).toMatchObject({ statusCode: 400, retryable: false });
    expect(r.failed.get('e')).toEqual({ key: 'e', statusCode: null, code: 'batch_expired', message: 'expired', retryable: true });
    expect(r.unexpected).toEqual(['zz']);
    expect(r.missing).toEqual([]);
  });

  it('takes a malformed 200 as a retryable failure, and a success seen again as nothing new', () => {
    const text = [ok('a', { choices: [] }), ok('b', completion(['1', '2'])), ok('b', completion(['3', '4']))].join('\n');
    const r = parseBatchResults([{ name: 'out.jsonl', text }], asked);
    expect(r.failed.get('a')).toMatchObject({ code: 'malformed_response', retryable: true, message: 'asked for 2 choices, the response has 0' });
    expect(r.succeeded.get('b')!.samples.map((s) => s.text)).toEqual(['1', '2']);
    expect(r.missing).toEqual(['c', 'd', 'e']);
  });

  it('names the file and line of a broken line', () => {
    expect(() => parseBatchResults([{ name: 'out.jsonl', text: `${ok('a', completion(['x', 'y']))}\n{nope` }], asked)).toThrow('out.jsonl:2: not a JSON line');
    expect(() => parseBatchResults([{ name: 'err.jsonl', text: '{"response": null}' }], asked)).toThrow('err.jsonl:1: the line has no custom_id');
  });
});

describe('resubmission', () => {
  it('resubmits retryable and unanswered requests with attempts left, gives up on the rest', () => {
    const results = parseBatchResults(
      [{
        name: 'err.jsonl',
        text: [
          JSON.stringify({ custom_id: 'a', response: null, error: { code: 'batch_expired', message: 'expired' } }),
          JSON.stringify({ custom_id: 'b', response: { status_code: 400, body: { error: { message: 'bad' } } }, error: null }),
          JSON.stringify({ custom_id: 'c', response: { status_code: 503, body: {} }, error: null }),
        ].join('\n'),
      }],
      new Map([['a', 1], ['b', 1], ['c', 1], ['d', 1]]),
    );
    const { resubmit, givenUp } = resubmission(results, new Map([['a', 1], ['c', 3], ['d', 2]]), 3);
    expect(resubmit.sort()).toEqual(['a', 'd']);
    expect(givenUp.map((f) => f.key).sort()).toEqual(['b', 'c']);
  });
});
