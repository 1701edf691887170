/**
 * Verifiers: ground-truth verdicts on final answers. A run config names one by a spec (`verifierSpecSchema`);
 * `createVerifier(spec, deps)` builds it.
 *
 * @example
 * const verifier = createVerifier({ name: 'math' });
 * const verdict = await verifier.verify({ prompt, reference: { answer: '\\frac{1}{2}' }, text: '... \\boxed{0.5}' });
 */
import type OpenAI from 'openai';
import { z } from 'zod';
import { createCodeVerifier } from './code/verifier.js';
import { countdownVerifier } from './countdown.js';
import { createExactVerifier, createRegexVerifier } from './exact.js';
import { createJudgeVerifier } from './judge.js';
import { createMathVerifier, mathOptionsShape } from './math/index.js';
import { numericVerifier } from './numeric.js';
import type { Verifier } from './types.js';

const answerSource = z.enum(['auto', 'answer-line', 'whole']);
const positive = () => z.number().positive();

export const verifierSpecSchema = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('countdown') }),
  z.strictObject({ name: z.literal('numeric') }),
  z.strictObject({ name: z.literal('math'), ...mathOptionsShape }),
  z.strictObject({
    name: z.literal('exact'),
    caseSensitive: z.boolean().optional(),
    normalizeWhitespace: z.boolean().optional(),
    extract: answerSource.optional(),
  }),
  z.strictObject({
    name: z.literal('regex'),
    flags: z.string().regex(/^[dgimsuyv]*$/, 'regex flags are some of d g i m s u v y').optional(),
    fullMatch: z.boolean().optional(),
    extract: answerSource.optional(),
  }),
  z.strictObject({
    name: z.literal('code'),
    /** Per run: the whole test harness, or each stdin/stdout case. */
    timeoutMs: z.number().int().min(100).max(600_000).optional(),
    memoryMb: z.number().int().min(32).max(65_536).optional(),
    maxProcesses: z.number().int().min(4).max(4096).optional(),
    maxOutputBytes: z.number().int().min(1024).optional(),
    diskMb: z.number().int().min(1).max(65_536).optional(),
    language: z.enum(['python', 'javascript']).optional(),
    maxConcurrent: positive().int().optional(),
  }),
  z.strictObject({
    name: z.literal('judge'),
    model: z.string().min(1),
    rubric: z.string().min(1),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: positive().int().optional(),
    passThreshold: z.number().min(0).max(1).optional(),
    systemPrompt: z.string().min(1).optional(),
  }),
]);

export type VerifierSpec = z.infer<typeof verifierSpecSchema>;

export interface VerifierDeps {
  /** The client the judge calls (created by the caller, e.g. against the run's model server). */
  openai?: OpenAI;
}

/** Builds the verifier a spec names. Throws, saying what is wrong, on an invalid spec or a missing dependency. */
export function createVerifier(spec: VerifierSpec, deps: VerifierDeps = {}): Verifier {
  const parsed = verifierSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw new Error(`invalid verifier spec ${JSON.stringify(spec)}: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  }
  const s = parsed.data;
  switch (s.name) {
    case 'countdown':
      return countdownVerifier;
    case 'numeric':
      return numericVerifier;
    case 'math': {
      const { name: _name, ...options } = s;
      return createMathVerifier(options);
    }
    case 'exact':
      return createExactVerifier(s);
    case 'regex':
      return createRegexVerifier(s);
    case 'code':
      return createCodeVerifier(s);
    case 'judge':
      if (!deps.openai) throw new Error('the judge verifier needs an OpenAI client: pass deps.openai to createVerifier');
      return createJudgeVerifier(deps.openai, s);
  }
}

export type { Verdict, Verifier, VerifyContext, VerifyInput } from './types.js';
export { countdownVerifier } from './countdown.js';
export { numericVerifier, extractNumericAnswer, verifyNumeric } from './numeric.js';
export {
  closeSharedMathPool, createMathVerifier, mathVerifier, mathEquivalent, mathAnswerKey, extractAnswer, extractMathAnswer, normalizeMathAnswer, verifyMath, type MathOptions,
} from './math/index.js';
export { createExactVerifier, createRegexVerifier, extractAnswerText, lastAnswerLine, type AnswerSource, type ExactOptions, type RegexOptions } from './exact.js';
export { createJudgeVerifier, parseJudgeReply, judgePrompt, type JudgeOptions } from './judge.js';
export { createCodeVerifier, extractProgram, parseCodeReference, type CodeVerifierOptions } from './code/index.js';
export { probeSandbox, runInSandbox, SandboxError, SandboxUnavailableError, type SandboxLimits, type SandboxResult } from './sandbox/index.js';
export { rationalKey, type Rational } from './rational.js';
