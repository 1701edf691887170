/**
 * Everything workflows, activities, clients, tests and the CLI agree on: task queues, messages, search-attribute
 * keys, stage names and the (small) payloads that cross Temporal. Payloads are ids and counts, never traces.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const TASK_QUEUES = {
  /** Workflows and control activities (planning, filter, promote). */
  control: 'flywheel',
  /** Inference: sampling from the model server. */
  generate: 'flywheel-generate',
  /** CPU verification (sandboxes, checkers). */
  verify: 'flywheel-verify',
  /** Trainer jobs. */
  train: 'flywheel-train',
} as const;
export type QueueRole = keyof typeof TASK_QUEUES;

export const SEARCH_ATTRIBUTES = {
  runId: defineSearchAttributeKey('FlywheelRunId', 'KEYWORD'),
  round: defineSearchAttributeKey('FlywheelRound', 'INT'),
  stage: defineSearchAttributeKey('FlywheelStage', 'KEYWORD'),
  status: defineSearchAttributeKey('FlywheelStatus', 'KEYWORD'),
  model: defineSearchAttributeKey('FlywheelModel', 'KEYWORD'),
} as const;

/** Values of `FlywheelStatus`, as shown in the UI's list filter. */
export const FLYWHEEL_STATUS = {
  running: 'Running',
  paused: 'Paused',
  needsAttention: 'NeedsAttention',
  stopping: 'Stopping',
  stopped: 'Stopped',
  completed: 'Completed',
  failed: 'Failed',
} as const;

// The stage order and the purposes of a shard are plain values that activities need too: they live in lib/round/
// (workflows import only their types).
import type { Purpose, Stage } from '../lib/round/stages.js';
export type { Purpose, Stage };

/**
 * Retries of the bookkeeping activities that run before a run's durability settings are known (loading the run,
 * planning a round, finishing a run): fixed and generous.
 */
export const BOOKKEEPING_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 } as const;

export const workflowIds = {
  run: (runId: string) => `flywheel-run-${runId}`,
  round: (runId: string, round: number) => `flywheel-run-${runId}-round-${round}`,
};

// ---------------------------------------------------------------------------------------------------------------
// Payloads

export interface RunInput {
  runId: string;
  /** Set by continue-as-new: the round to start from. */
  nextRound?: number;
  /** Carried across continue-as-new so a pause or stop is not forgotten. */
  paused?: boolean;
  stopRequested?: boolean;
  /**
   * Continue-as-new after this many rounds even when Temporal does not suggest it yet (carried across). Unset in
   * production, where the history's size decides; tests set it to reach continue-as-new without a long history.
   */
  continueAsNewEvery?: number;
}

export interface RoundInput {
  runId: string;
  round: number;
}

export interface RoundPlan {
  roundId: number;
  round: number;
  /** Stages still to run (finished ones are skipped on a re-run). */
  stages: Stage[];
  /** Shards of train problems for generate/verify, of held-out problems for evaluate. */
  trainShards: number;
  evalShards: number;
  /** Samples the round plans to generate on train problems. */
  planned: number;
  maxShardsInFlight: number;
  /** The model this round starts from: the base in round 0, else the last promoted model. */
  model: string;
  /** Retry and liveness settings for this round's activities (from the run config's `durability`). */
  durability: Durability;
  /** Step-level search on train problems (search stage) and on held-out problems (evaluate stage). */
  searchTrain?: boolean;
  searchEval?: boolean;
  /** STaR rationalization of train problems nothing solved (search stage). */
  rationalize?: boolean;
  /** The run has a budget (budget.maxCost or maxTokens): each stage is checked against it before it starts. */
  budgeted?: boolean;
  /** Batch mode: the generate fan-outs are provider batches, polled every `pollSeconds` (lib/round/plan.ts). */
  batch?: { pollSeconds: number; attempts: number };
  /** finetune.prm.enabled: the fine-tune stage trains the round's PRM after its policy (patched 'prm'). */
  prm?: boolean;
}

export interface Durability {
  activityAttempts: number;
  retryInitialIntervalMs: number;
  retryMaxIntervalMs: number;
  heartbeatTimeoutSeconds: number;
}

/** Batch mode: the round's batches of one purpose. */
export interface BatchStageInput {
  roundId: number;
  purpose: Purpose;
}

/** One attempt's batches: 1 for the first submission, then one per resubmission of failed or expired lines. */
export interface BatchAttemptInput extends BatchStageInput {
  attempt: number;
}

export interface BatchSubmitted {
  attempt: number;
  /** Batches (files) of the attempt, and the requests in them (0: nothing was missing). */
  batches: number;
  requests: number;
  /** Batches this call created (a retried or repeated call creates none it finds recorded). */
  created: number;
}

export interface BatchPoll {
  /** Every batch of the attempt has reached a final status. */
  final: boolean;
  total: number;
  completed: number;
  failed: number;
}

export interface BatchIngested {
  /** Traces new in Postgres, failed lines seen, and samples of the purpose still missing. */
  written: number;
  failed: number;
  missing: number;
}

export interface ShardInput {
  roundId: number;
  purpose: Purpose;
  shard: number;
  shards: number;
}

export interface ShardResult {
  /** Rows written by this attempt (a retried shard writes only what is missing). */
  written: number;
  /** Rows that were already there. */
  skipped: number;
  /** Samples recorded with an error (malformed responses after retries). */
  errors: number;
}

export interface RoundResult {
  round: number;
  /** The model this round trained and evaluated (the candidate), or the one it started from. */
  model: string;
  /** The model the run goes on with after this round (absent in results recorded before it existed). */
  current?: string;
  promoted: boolean;
  stopped: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

export interface RunStatus {
  state: 'running' | 'paused' | 'needs_attention' | 'stopping' | 'completed' | 'stopped' | 'failed';
  round: number | null;
  rounds: number;
}

export interface RoundStatus {
  round: number;
  stage: Stage | 'planned' | 'done';
  needsAttention: boolean;
  /** The failure that is waiting for `resumeRound`, if any. */
  failure: string | null;
  paused: boolean;
}

export interface ResumeRoundResult {
  round: number;
  stage: string;
}

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const stopSignal = defineSignal('stop');
export const statusQuery = defineQuery<RunStatus>('status');
export const roundStatusQuery = defineQuery<RoundStatus>('roundStatus');
/** Sent to a run (forwarded to its round that waits) or to the waiting round itself. */
export const resumeRoundUpdate = defineUpdate<ResumeRoundResult, [ResumeRoundArgs]>('resumeRound');
/** Internal: a round tells its run that it waits for attention (payload) or no longer does (null). */
export const roundAttentionSignal = defineSignal<[RoundAttention | null]>('roundAttention');
export interface RoundAttention {
  round: number;
  stage: string;
  failure: string;
  /** The round waits for a raised budget (raiseBudget), not for a retry (resumeRound). */
  budget?: boolean;
}
/** Internal: how a run tells its waiting round to retry. */
export const retryStageSignal = defineSignal<[ResumeRoundArgs?]>('retryStage');

export interface ResumeRoundArgs {
  /** Free text kept in the round's history: what the operator fixed. */
  note?: string;
}

/** The new limits of a run's budget (at least one); what is not given stays as it was. */
export interface RaiseBudgetArgs {
  maxCost?: number;
  maxTokens?: number;
}

/** What a budget check before a stage found: whether it fits, and the numbers. */
export type BudgetCheck = (
  | { fits: true }
  | { fits: false; limit: 'maxCost' | 'maxTokens'; max: number; spent: number; estimate: number; message: string }
) & {
  budget: RaiseBudgetArgs;
  /** Spend so far and the stage's estimate in both units (the verdict's `spent` and `estimate` are in its limit's). */
  spend: { cost: number; tokens: number };
  stageEstimate: { tokens: number; cost: number | null; basis: 'history' | 'cap' };
};

export interface RaiseBudgetResult {
  round: number;
  stage: string;
  budget: RaiseBudgetArgs;
}

/** Sent to a run (forwarded to its round that waits at a budget) or to the waiting round itself. */
export const raiseBudgetUpdate = defineUpdate<RaiseBudgetResult, [RaiseBudgetArgs]>('raiseBudget');
/** Internal: how a run tells its round waiting at a budget that the budget was raised (already stored). */
export const budgetRaisedSignal = defineSignal('budgetRaised');

/** Checks raiseBudget's input in a validator (workflow code: no zod). */
export function raiseBudgetProblem(args: RaiseBudgetArgs | undefined): string | null {
  if (!args || (args.maxCost === undefined && args.maxTokens === undefined)) return 'raiseBudget needs maxCost or maxTokens: {"maxCost": 20} or {"maxTokens": 5000000}';
  if (args.maxCost !== undefined && !(typeof args.maxCost === 'number' && Number.isFinite(args.maxCost) && args.maxCost > 0)) return `raiseBudget: maxCost must be a number > 0, got ${JSON.stringify(args.maxCost)}`;
  if (args.maxTokens !== undefined && !(Number.isInteger(args.maxTokens) && args.maxTokens > 0)) return `raiseBudget: maxTokens must be a whole number > 0, got ${JSON.stringify(args.maxTokens)}`;
  return null;
}

export const HANDLER_DESCRIPTIONS = {
  pause: 'Pause the run before its next stage or shard. Work in flight finishes; nothing new starts.',
  resume: 'Resume a paused run.',
  stop: 'Stop the run cleanly: the current stage finishes, no further stage or round starts.',
  status: 'The run state, its current round and the number of rounds.',
  roundStatus: 'The round number, its current stage, and whether it waits for attention.',
  resumeRound:
    'Retry the stage that failed after its retries (the round shows FlywheelStatus=NeedsAttention). ' +
    'Fix the cause first (model server down, bad credentials...); finished work is not redone. Optional input: {"note": "what you fixed"}.',
  roundAttention: 'Internal: sent by a round to its run when it starts or stops waiting for attention.',
  raiseBudget:
    'Raise the run budget when a round waits before a stage that would pass it (FlywheelStatus=NeedsAttention, the ' +
    'details show spend so far, the estimate and the limit). Input: the new limit, {"maxCost": 20} and/or {"maxTokens": 5000000}; stored on the run for later rounds. Or send stop.',
  budgetRaised: 'Internal: sent by the run to its round waiting at a budget once raiseBudget has stored the new limit.',
  retryStage: 'Internal: sent by the run to the waiting round when the run receives resumeRound.',
} as const;
