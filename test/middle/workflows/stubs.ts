/**
 * Stub activities for workflow tests: plain functions with the production activities' names and shapes, recording
 * what the workflows asked for. Each test builds its own `StubRun` (per run id), so one set of workers serves them.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Activities } from '../../../activities/index.js';
import type { RoundPlan, ShardInput, ShardResult, Stage } from '../../../workflows/shared.js';
import { stagesToRun } from '../../../lib/round/stages.js';

/** One activity call: its name and input, in the order calls arrived. */
export interface Call {
  name: string;
  input: Record<string, unknown>;
}

export interface StubRunOptions {
  rounds: number;
  trainShards?: number;
  evalShards?: number;
  maxShardsInFlight?: number;
  /** What round n's promote stage decides (default: promoted). */
  promotes?: (round: number) => boolean;
  /** Step search and rationalization fan-outs (more activities per round); default off. */
  search?: boolean;
  /** A token budget: every completed stage uses `perStage` tokens, and each stage is estimated at that too. */
  budget?: { maxTokens: number; perStage: number };
  /** Called before a shard returns: throw to fail it, await to hold it. */
  onShard?: (kind: string, input: ShardInput, attempt: number) => Promise<void> | void;
}

/** A run as the stub activities see it; round ids are `1000 * runIndex + round`. */
export class StubRun {
  readonly calls: Call[] = [];
  /** Shards that returned, as `kind:purpose:shard`, in order. */
  readonly finished: string[] = [];
  private readonly shardAttempts = new Map<string, number>();
  private readonly promoted = new Map<number, boolean>();
  /** The stub's stored budget (raiseBudget changes it) and tokens spent (completed stages × perStage). */
  maxTokens: number | undefined;
  spentTokens = 0;
  constructor(
    readonly runId: string,
    readonly base: number,
    readonly options: StubRunOptions,
  ) {
    this.maxTokens = options.budget?.maxTokens;
  }

  roundOf(roundId: number): number {
    return roundId - this.base;
  }

  plan(round: number): RoundPlan {
    return {
      roundId: this.base + round,
      round,
      stages: stagesToRun(round),
      trainShards: this.options.trainShards ?? 1,
      evalShards: this.options.evalShards ?? 1,
      planned: 8,
      maxShardsInFlight: this.options.maxShardsInFlight ?? 4,
      model: round === 0 ? 'base' : `model-${round - 1}`,
      durability: { activityAttempts: 1, retryInitialIntervalMs: 10, retryMaxIntervalMs: 10, heartbeatTimeoutSeconds: 10 },
      searchTrain: this.options.search ?? false,
      searchEval: this.options.search ?? false,
      rationalize: this.options.search ?? false,
      ...(this.options.budget ? { budgeted: true } : {}),
    };
  }

  async shard(kind: string, input: ShardInput): Promise<ShardResult> {
    const key = `${this.roundOf(input.roundId)}:${kind}:${input.purpose}:${input.shard}`;
    const attempt = (this.shardAttempts.get(key) ?? 0) + 1;
    this.shardAttempts.set(key, attempt);
    await this.options.onShard?.(kind, input, attempt);
    this.finished.push(`${kind}:${input.purpose}:${input.shard}`);
    return { written: 1, skipped: 0, errors: 0 };
  }

  /** Names of the calls made, optionally only those of one activity. */
  names(only?: string): string[] {
    return this.calls.filter((c) => !only || c.name === only).map((c) => c.name);
  }

  /** The stages begun, as `round:stage`. */
  stagesBegun(): string[] {
    return this.calls.filter((c) => c.name === 'beginStage').map((c) => `${this.roundOf(c.input.roundId as number)}:${c.input.stage as Stage}`);
  }

  /** How often each shard of a round's fan-out ran: shard → attempts. */
  shardRuns(kind: string, purpose: string, round = 0): Record<number, number> {
    const out: Record<number, number> = {};
    for (const [key, n] of this.shardAttempts) {
      const [r, k, p, shard] = key.split(':');
      if (Number(r) === round && k === kind && p === purpose) out[Number(shard)] = n;
    }
    return out;
  }

  decidePromotion(round: number): boolean {
    const promoted = this.options.promotes?.(round) ?? true;
    this.promoted.set(round, promoted);
    return promoted;
  }

  promotedIn(round: number): boolean {
    return round === 0 || (this.promoted.get(round) ?? false);
  }
}

/** The stub activities: every call finds its run by run id or round id. */
export function stubActivities(runs: Map<string, StubRun>): Activities {
  const byRoundId = (roundId: number) => {
    for (const run of runs.values()) if (roundId >= run.base && roundId < run.base + 1000) return run;
    throw ApplicationFailure.nonRetryable(`no stub run for round id ${roundId}`);
  };
  const byRunId = (runId: string) => {
    const run = runs.get(runId);
    if (!run) throw ApplicationFailure.nonRetryable(`no stub run ${runId}`);
    return run;
  };
  const record = (run: StubRun, name: string, input: object) => run.calls.push({ name, input: { ...input } });
  const shard = (kind: string) => async (input: ShardInput) => {
    const run = byRoundId(input.roundId);
    record(run, `${kind}Shard`, input);
    return run.shard(kind, input);
  };
  const control = <I extends { roundId: number }, R>(name: string, answer: (run: StubRun, input: I) => R) => async (input: I) => {
    const run = byRoundId(input.roundId);
    record(run, name, input);
    return answer(run, input);
  };
  const stubs = {
    async loadRun({ runId }: { runId: string }) {
      const run = byRunId(runId);
      record(run, 'loadRun', { runId });
      return { name: runId, rounds: run.options.rounds, currentModel: 'base' };
    },
    async startRound({ runId, round }: { runId: string; round: number }) {
      const run = byRunId(runId);
      record(run, 'startRound', { runId, round });
      return run.plan(round);
    },
    beginStage: control('beginStage', () => undefined),
    completeStage: control('completeStage', (run) => void (run.spentTokens += run.options.budget?.perStage ?? 0)),
    async checkStageBudget(input: { runId: string; round: number; stage: string; planned: number }) {
      const run = byRunId(input.runId);
      record(run, 'checkStageBudget', input);
      const perStage = run.options.budget?.perStage ?? 0;
      const max = run.maxTokens ?? Number.POSITIVE_INFINITY;
      const spent = { cost: 0, tokens: run.spentTokens };
      const estimate = { tokens: perStage, cost: null, basis: 'history' as const };
      const base = { budget: { maxTokens: run.maxTokens }, spend: spent, stageEstimate: estimate };
      if (spent.tokens + perStage <= max) return { fits: true as const, ...base };
      const message = `stage ${input.stage} of round ${input.round} would use about ${perStage} tokens after ${spent.tokens} so far, past budget.maxTokens ${max}`;
      return { fits: false as const, limit: 'maxTokens' as const, max, spent: spent.tokens, estimate: perStage, message, ...base };
    },
    async raiseBudget(input: { runId: string; maxTokens?: number; maxCost?: number }) {
      const run = byRunId(input.runId);
      record(run, 'raiseBudget', input);
      if (input.maxTokens !== undefined) run.maxTokens = input.maxTokens;
      return { maxTokens: run.maxTokens };
    },
    recordAttention: control('recordAttention', () => undefined),
    filterRound: control('filterRound', () => ({ datasetId: 1, items: 4, problems: 2 })),
    fineTune: control('fineTune', (run, { roundId }) => ({ model: `model-${run.roundOf(roundId)}`, jobId: 'job', skipped: false })),
    scoreEval: control('scoreEval', () => ({})),
    promote: control('promote', (run, { roundId }) => {
      const round = run.roundOf(roundId);
      const promoted = run.decidePromotion(round);
      return { promoted, model: promoted ? `model-${round}` : `model-${round - 1}` };
    }),
    searchRound: control('searchRound', () => ({})),
    finishRound: control('finishRound', (run, { roundId }) => {
      const round = run.roundOf(roundId);
      return { model: round === 0 ? 'base' : `model-${round}`, promoted: run.promotedIn(round) };
    }),
    async finishRun(input: { runId: string; state: string }) {
      record(byRunId(input.runId), 'finishRun', input);
    },
    generateShard: shard('generate'),
    verifyShard: shard('verify'),
    searchShard: shard('search'),
    rationalizeShard: shard('rationalize'),
  };
  return stubs as unknown as Activities;
}
