/** What a run report is made of: rows read from Postgres (shapes of db/report.ts and round_metrics), nothing else. */

export interface ReportRound {
  round: number;
  model: string | null;
  stage: string;
  status: string;
  planned: number;
  traces: number;
  verified: number;
  correct: number;
  datasetItems: number | null;
  greedyPassAt1: number | null;
  passAtK: Record<string, number>;
  majAtK: Record<string, number>;
  promoted: boolean | null;
  searchTraces: number;
  search: { strategy: string; budget: number; accuracy: number; meanCalls: number | null } | null;
  modelErrors: number;
  coverage: {
    points: Array<{ k: number; coverage: number }>;
    fit: { a: number; b: number; r2: number } | null;
    stopsPayingAt: number | null;
  } | null;
}

export interface SearchOutcome {
  round: number;
  purpose: string;
  strategy: string;
  calls: number;
  tokens: number;
  correct: boolean;
}

export interface BudgetBin {
  round: number;
  bin: string;
  problems: number;
  samples: number;
  searchBudget: number;
}

export interface ProblemRound {
  problemId: number;
  problem: string;
  round: number;
  n: number;
  c: number;
}

export interface TrainerJobRow {
  round: number;
  backend: string;
  status: string;
  externalJobId: string | null;
  resultModel: string | null;
  hyperparameters: unknown;
  progress: unknown;
}

export interface LineageStep {
  depth: number;
  model: string;
  trainedFrom: string | null;
  datasetRound: number | null;
  datasetItems: number | null;
  tracesByRound: Record<string, number> | null;
  filter: unknown;
}

export interface ModelErrorCount {
  round: number;
  error: string;
  final: boolean;
  n: number;
}

/** What the PRM gate measured on held-out step labels (`rounds.stats.prm`, written by activities/finetune-prm.ts). */
export interface PrmGate {
  /** The candidate; balancedAccuracy is null for runs stored before the gate recorded it. */
  heldOut: { accuracy: number | null; balancedAccuracy: number | null; auc: number | null; steps: number; positives: number };
  /** The run's current PRM before the round, on the same labels; null when there was none. */
  incumbent: { model: string; accuracy: number | null; balancedAccuracy: number | null; auc: number | null } | null;
  promoted: boolean;
  reason: string;
  /** Reward-model requests the gate itself made (candidate and incumbent). */
  scorerCalls: number;
}

/** A round that trained a process reward model (its `fine_tunes` row of learner `prm`). */
export interface PrmRound {
  round: number;
  /** The PRM the job made; null while the job runs or when it failed. */
  model: string | null;
  jobStatus: string;
  externalJobId: string | null;
  /** Step labels the PRM was trained on, by the round whose search labelled them (model_lineage.step_labels_by_round). */
  stepLabelsByRound: Record<string, number> | null;
  /** Examples (paths) in the round's PRM dataset (its `datasets.items`). */
  examples: number | null;
  /** Null until the gate has measured the PRM. */
  gate: PrmGate | null;
  /** PRM requests of the round's searches (search_results.scorer_calls summed); null on a schema without the column. */
  searchScorerCalls: number | null;
}

export interface ReportInput {
  runId: string;
  name: string;
  state: string;
  createdAt: string;
  baseModel: string;
  currentModel: string;
  config: unknown;
  rounds: ReportRound[];
  /** Round → how many of its train traces a training set took. */
  trainedFromRound: Record<string, number>;
  searchOutcomes: SearchOutcome[];
  budgetBins: BudgetBin[];
  problemRounds: ProblemRound[];
  /** Problem id → prompt, for the problems listed as hardest. */
  prompts: Record<string, string>;
  trainer: TrainerJobRow[];
  lineage: LineageStep[];
  modelErrors: ModelErrorCount[];
  /** Rounds that trained a PRM (empty when the run trains none: the report then has no PRM section). */
  prm: PrmRound[];
  generatedAt: string;
}
