/**
 * LLM-judge verifier: a model grades the answer against a rubric (and the reference, when the problem has one)
 * through the same OpenAI-compatible client as everything else. The judge ends its reply with `VERDICT: PASS` or
 * `VERDICT: FAIL` and, optionally, `SCORE: <0..1>`. A reply without either is a verdict (score 0, the reply in
 * the detail), never an exception; a failed request throws, so that the activity retries it rather than storing
 * a verdict the answer did not earn.
 */
import type OpenAI from 'openai';
import { lastAnswerLine } from './exact.js';
import type { Verdict, Verifier, VerifyContext, VerifyInput } from './types.js';
import { versionWithOptions } from './version.js';

export const JUDGE_VERSION = '1';

export interface JudgeOptions {
  /** The judge model, as the client's server names it. */
  model: string;
  /** What a good answer must do, in the words the judge reads. */
  rubric: string;
  /** Default 0, so that the same answer gets the same verdict. */
  temperature?: number;
  /** Default 1024. */
  maxTokens?: number;
  /** Without a VERDICT line, a SCORE at or above this passes. Default 0.5. */
  passThreshold?: number;
  /** Replaces the default system prompt. */
  systemPrompt?: string;
}

const SYSTEM_PROMPT =
  'You are a strict, fair grader. Judge only whether the response meets the rubric (using the reference answer ' +
  'when one is given). Think briefly, then end your reply with exactly two lines:\n' +
  'VERDICT: PASS or VERDICT: FAIL\nSCORE: a number from 0 to 1';

function referenceText(reference: unknown): string | null {
  if (reference === null || reference === undefined) return null;
  if (typeof reference === 'string') return reference.trim() || null;
  if (typeof reference === 'object' && 'answer' in reference) return referenceText((reference as { answer: unknown }).answer);
  return JSON.stringify(reference);
}

/** The judge's user message: problem, reference (if any), rubric, response. */
export function judgePrompt(input: VerifyInput, rubric: string): string {
  const reference = referenceText(input.reference);
  return [
    `## Problem\n${input.prompt}`,
    reference ? `## Reference answer\n${reference}` : '',
    `## Rubric\n${rubric}`,
    `## Response to grade\n${input.text}`,
    '## Your grading\nEnd with `VERDICT: PASS` or `VERDICT: FAIL`, then `SCORE: <0..1>`.',
  ]
    .filter(Boolean)
    .join('\n\n');
}

export interface JudgeReply {
  verdict: 'PASS' | 'FAIL' | null;
  /** In [0, 1]; `8/10` and `80%` are read too. */
  score: number | null;
}

/**
 * Reads the last VERDICT and SCORE lines of a judge's reply (markdown emphasis and case do not matter).
 *
 * @example
 * parseJudgeReply('Good work.\n**VERDICT:** pass\nSCORE: 0.9') // { verdict: 'PASS', score: 0.9 }
 */
export function parseJudgeReply(reply: string): JudgeReply {
  const verdicts = [...reply.matchAll(/verdict[\s*_`]*[:=][\s*_`]*(pass(?:ed)?|fail(?:ed)?|correct|incorrect)\b/gi)];
  const last = verdicts[verdicts.length - 1]?.[1]!.toLowerCase();
  const verdict = last === undefined ? null : last.startsWith('pass') || last === 'correct' ? 'PASS' : 'FAIL';
  const scores = [...reply.matchAll(/score[\s*_`]*[:=][\s*_`]*(-?\d+(?:\.\d+)?)\s*(?:(\/)\s*(\d+(?:\.\d+)?)|(%))?/gi)];
  const s = scores[scores.length - 1];
  let score: number | null = null;
  if (s) {
    let value = Number(s[1]);
    if (s[2] && Number(s[3]) > 0) value /= Number(s[3]);
    else if (s[4]) value /= 100;
    if (Number.isFinite(value)) score = Math.min(1, Math.max(0, value));
  }
  return { verdict, score };
}

export function createJudgeVerifier(client: OpenAI, options: JudgeOptions): Verifier {
  const passThreshold = options.passThreshold ?? 0.5;
  return {
    name: 'judge',
    version: versionWithOptions(JUDGE_VERSION, {
      model: options.model, rubric: options.rubric, temperature: options.temperature, systemPrompt: options.systemPrompt,
      passThreshold: options.passThreshold,
    }),
    async verify(input: VerifyInput, context?: VerifyContext): Promise<Verdict> {
      const completion = await client.chat.completions.create(
        {
          model: options.model,
          temperature: options.temperature ?? 0,
          max_tokens: options.maxTokens ?? 1024,
          messages: [
            { role: 'system', content: options.systemPrompt ?? SYSTEM_PROMPT },
            { role: 'user', content: judgePrompt(input, options.rubric) },
          ],
        },
        { signal: context?.signal },
      );
      const reply = completion.choices?.[0]?.message?.content ?? '';
      const answer = lastAnswerLine(input.text);
      const { verdict, score } = parseJudgeReply(reply);
      const excerpt = reply.trim().slice(-300);
      if (verdict === null && score === null) {
        return { score: 0, correct: false, answer, detail: `the judge's reply has no VERDICT or SCORE line: ${JSON.stringify(excerpt)}` };
      }
      const correct = verdict !== null ? verdict === 'PASS' : (score as number) >= passThreshold;
      return {
        score: score ?? (correct ? 1 : 0),
        correct,
        answer,
        detail: `judge ${options.model}: ${verdict ?? `score ${score}`}${verdict && score !== null ? `, score ${score}` : ''}: ${excerpt}`.slice(0, 1000),
      };
    },
  };
}
