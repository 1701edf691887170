/**
 * Math verifier (MATH / competition style, judged as Math-Verify judges): the final answer is found by extraction
 * tiers (extract.ts), compared with the reference by structure and the compute engine (equivalent.ts), each verdict
 * in a worker thread with a time limit (pool.ts).
 */
import type { Verdict, Verifier, VerifyContext, VerifyInput } from '../types.js';
import { versionWithOptions } from '../version.js';
import { resolveMathOptions, type MathOptions } from './options.js';
import { sharedMathPool } from './pool.js';
import { mathReference } from './verdict.js';

/**
 * 1: boxed / "answer is" and a hand-written parser. 2: Math-Verify-style extraction and the compute engine.
 * 3: plain numbers read as `numeric` reads them (mixed numbers, arithmetic, percent as a fraction), `\pm`, solutions
 * as assignments, `a ≤ |x| ≤ b`, a reference percent also as its fraction.
 */
export const MATH_VERSION = '3';

/** The verdict options that change verdicts (the time limit changes only which verdicts are errors, so it counts). */
export function createMathVerifier(options: MathOptions = {}): Verifier {
  const resolved = resolveMathOptions(options);
  return {
    name: 'math',
    version: versionWithOptions(MATH_VERSION, options as Record<string, unknown>),
    async verify(input: VerifyInput, context?: VerifyContext): Promise<Verdict> {
      const gold = mathReference(input.reference);
      if (context?.signal?.aborted) throw new Error('cancelled');
      return sharedMathPool().verify({ gold, text: input.text, options: resolved }, resolved.timeoutMs);
    },
  };
}

export const mathVerifier: Verifier = createMathVerifier();

export { DEFAULT_EXTRACTION, extractAnswer, extractMathAnswer, lastBoxed, plainNumber, type ExtractMode, type ExtractTier } from './extract.js';
export { mathAnswerKey, mathEquivalent } from './equivalent.js';
export { normalizeMathAnswer } from './normalize.js';
export { mathOptionsShape, resolveMathOptions, type MathOptions } from './options.js';
export { goldAnswer, mathReference, verifyMath } from './verdict.js';
export { closeSharedMathPool, MathPool, sharedMathPool } from './pool.js';
