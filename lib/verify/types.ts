/**
 * What every verifier takes and gives. A verifier is versioned: the version is stored with each verdict, so a
 * changed verifier never silently mixes with verdicts of the old one.
 */
export interface VerifyInput {
  /** The problem's prompt, as the model saw it. */
  prompt: string;
  /** The problem's reference (answer, tests, numbers and target...), as stored in `problems.reference`. */
  reference: unknown;
  /** The model's full output for this sample. */
  text: string;
}

export interface Verdict {
  /** Graded score in [0, 1]: 1 correct, partial credit where the verifier defines it, 0 for no answer. */
  score: number;
  correct: boolean;
  /** The normalised final answer (the key majority voting groups on), or null when there is none. */
  answer: string | null;
  /** Why, in a sentence a person can act on. */
  detail: string;
}

export interface VerifyContext {
  signal?: AbortSignal;
}

export interface Verifier {
  readonly name: string;
  readonly version: string;
  verify(input: VerifyInput, context?: VerifyContext): Promise<Verdict>;
}
