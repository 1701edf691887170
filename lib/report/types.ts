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
  generatedAt: string;
}
