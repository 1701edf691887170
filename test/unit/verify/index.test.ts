import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { createVerifier, verifierSpecSchema } from '../../../lib/verify/index.js';

describe('verifierSpecSchema', () => {
  it('accepts every verifier spec', () => {
    for (const spec of [
      { name: 'countdown' },
      { name: 'numeric' },
      { name: 'math' },
      { name: 'exact', caseSensitive: false, normalizeWhitespace: true, extract: 'answer-line' },
      { name: 'regex', flags: 'im', fullMatch: true },
      { name: 'code', timeoutMs: 5000, memoryMb: 256, maxProcesses: 32, language: 'python' },
      { name: 'judge', model: 'gpt-x', rubric: 'Be right.', passThreshold: 0.6 },
    ]) {
      expect(verifierSpecSchema.parse(spec)).toEqual(spec);
    }
  });

  it('rejects unknown verifiers, unknown keys and bad values', () => {
    expect(verifierSpecSchema.safeParse({ name: 'vibes' }).success).toBe(false);
    expect(verifierSpecSchema.safeParse({ name: 'exact', caseSensitve: false }).success).toBe(false);
    expect(verifierSpecSchema.safeParse({ name: 'regex', flags: 'q' }).success).toBe(false);
    expect(verifierSpecSchema.safeParse({ name: 'judge', rubric: 'r' }).success).toBe(false);
    expect(verifierSpecSchema.safeParse({ name: 'code', timeoutMs: -1 }).success).toBe(false);
  });
});

describe('createVerifier', () => {
  it('builds the named verifier', () => {
    for (const name of ['countdown', 'numeric', 'math', 'exact', 'regex', 'code'] as const) {
      const verifier = createVerifier({ name });
      expect(verifier.name).toBe(name);
      expect(verifier.version).toMatch(/^\d+/);
    }
    const openai = new OpenAI({ apiKey: 'unused', baseURL: 'http://127.0.0.1:9/v1' });
    expect(createVerifier({ name: 'judge', model: 'm', rubric: 'r' }, { openai }).name).toBe('judge');
  });

  it('explains an invalid spec and a missing client', () => {
    expect(() => createVerifier({ name: 'judge', model: 'm', rubric: 'r' })).toThrow(/needs an OpenAI client/);
    expect(() => createVerifier({ name: 'nope' } as never)).toThrow(/invalid verifier spec \{"name":"nope"\}/);
  });

  it('keeps the countdown verifier working through the registry', async () => {
    const verdict = await createVerifier({ name: 'countdown' }).verify({
      prompt: '',
      reference: { numbers: [2, 3, 4, 5], target: 14 },
      text: 'Answer: (5 - 3) * 4 + 2 * 1 - 2 + 2',
    });
    expect(verdict.correct).toBe(false);
    expect((await createVerifier({ name: 'countdown' }).verify({ prompt: '', reference: { numbers: [2, 3, 4, 5], target: 14 }, text: 'Answer: (5 - 3) * 4 + 2 * 3' })).correct).toBe(false);
  });
});
