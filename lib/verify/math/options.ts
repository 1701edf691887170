/** The math verifier's options: what a run config may set under `verifier: {name: math, ...}`. */
import { z } from 'zod';
import { DEFAULT_EXTRACTION, type ExtractTier } from './extract.js';

const mode = z.enum(['boxed', 'final-answer', 'latex', 'expression']);

export const mathOptionsShape = {
  /**
   * Extraction tiers in priority order; a tier is a mode or a list of modes that compete on position (the last in
   * the text wins). Default `[[boxed, final-answer], [latex, expression]]`.
   */
  extract: z.array(z.union([mode, z.array(mode).min(1)])).min(1).optional(),
  /** Decimal places that a value written with decimals is rounded to before comparing (default 6). */
  precision: z.number().int().min(0).max(15).optional(),
  /** Time limit of one verdict in milliseconds (default 2000); past it the verdict is an error. */
  timeoutMs: z.number().int().min(10).max(60_000).optional(),
  /** Also read a predicted `a \le x \le b` as the interval `[a, b]` (a reference one always is). */
  setRelations: z.boolean().optional(),
};

export interface MathOptions {
  extract?: ExtractTier[];
  precision?: number;
  timeoutMs?: number;
  setRelations?: boolean;
}

export interface ResolvedMathOptions {
  extract: ExtractTier[];
  precision: number;
  timeoutMs: number;
  setRelations: boolean;
}

export function resolveMathOptions(options: MathOptions = {}): ResolvedMathOptions {
  return {
    extract: options.extract ?? DEFAULT_EXTRACTION,
    precision: options.precision ?? 6,
    timeoutMs: options.timeoutMs ?? 2000,
    setRelations: options.setRelations ?? false,
  };
}
