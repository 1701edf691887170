/**
 * `flywheelRun(runId)`: rounds 0..N as child workflows `flywheelRound`, one after the other. Pause, resume and stop
 * reach the round in flight; `resumeRound` is forwarded to the round that waits for attention. The run
 * continues-as-new between rounds when Temporal suggests it (or every `continueAsNewEvery` rounds), so its history
 * stays bounded however many rounds run.
 */
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type SignalDefinition,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { flywheelRound } from './round.js';
import {
  BOOKKEEPING_RETRY,
  FLYWHEEL_STATUS,
  HANDLER_DESCRIPTIONS,
  SEARCH_ATTRIBUTES,
  TASK_QUEUES,
  budgetRaisedSignal,
  pauseSignal,
  raiseBudgetProblem,
  raiseBudgetUpdate,
  resumeRoundUpdate,
  resumeSignal,
  retryStageSignal,
  roundAttentionSignal,
  statusQuery,
  stopSignal,
  workflowIds,
  type RaiseBudgetArgs,
  type ResumeRoundArgs,
  type RoundAttention,
  type RoundResult,
  type RunInput,
  type RunStatus,
} from './shared.js';

const control = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '5m',
  heartbeatTimeout: '60s',
  retry: BOOKKEEPING_RETRY,
});

export interface RunResult {
  runId: string;
  state: RunStatus['state'];
  rounds: number;
  model: string;
}

type LoadedRun = Awaited<ReturnType<Activities['loadRun']>>;

export async function flywheelRun(input: RunInput): Promise<RunResult> {
  const { runId } = input;
  const run = await control.loadRun({ runId });
  const state = runState(input, run);
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.runId, value: runId },
    { key: SEARCH_ATTRIBUTES.model, value: run.currentModel },
  ]);
  state.showStatus();

  let model = run.currentModel;
  const first = input.nextRound ?? 0;
  try {
    for (let n = first; n <= run.rounds; n++) {
      await condition(() => !state.paused || state.stopRequested);
      if (state.stopRequested) break;
      const result = await runRound(state, run, n, model);
      // Not the unpromoted candidate: the run's model is the one it goes on with (older results lack `current`).
      model = result.current ?? result.model;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.model, value: model }]);
      if (result.stopped) state.stopRequested = true;
      if (state.stopRequested) break;
      if (n < run.rounds && continueAsNewDue(input, n + 1 - first)) {
        const { paused, stopRequested } = state;
        await continueAsNew<typeof flywheelRun>({ runId, nextRound: n + 1, paused, stopRequested, continueAsNewEvery: input.continueAsNewEvery });
      }
    }
  } catch (err) {
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.failed }]);
    await control.finishRun({ runId, state: 'failed', error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
  const final = state.stopRequested ? 'stopped' : 'completed';
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.status, value: final === 'stopped' ? FLYWHEEL_STATUS.stopped : FLYWHEEL_STATUS.completed },
  ]);
  await control.finishRun({ runId, state: final });
  return { runId, state: final, rounds: run.rounds, model };
}

/** Whether to continue-as-new after `roundsHere` rounds of this execution: when Temporal suggests it, or by count. */
function continueAsNewDue(input: RunInput, roundsHere: number): boolean {
  const every = input.continueAsNewEvery;
  return workflowInfo().continueAsNewSuggested || (every !== undefined && every > 0 && roundsHere >= every);
}

/** Round `n` as a child workflow; the run's view of it (current round, attention) is cleared when it ends. */
async function runRound(state: RunState, run: LoadedRun, n: number, model: string): Promise<RoundResult> {
  const { runId } = state;
  state.currentRound = n;
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.round, value: n }]);
  const result = await executeChild(flywheelRound, {
    workflowId: workflowIds.round(runId, n),
    taskQueue: TASK_QUEUES.control,
    args: [{ runId, round: n }],
    staticSummary: n === 0 ? `Round 0 of ${run.name}: evaluate and sample the base model` : `Round ${n} of ${run.rounds} of ${run.name}`,
    staticDetails: roundDetails(runId, n, run.rounds),
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.runId, value: runId },
      { key: SEARCH_ATTRIBUTES.round, value: n },
      { key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.running },
      { key: SEARCH_ATTRIBUTES.model, value: model },
    ],
  });
  state.currentRound = null;
  // A round that was reset or terminated while it waited cannot clear this itself.
  state.attention = null;
  state.showStatus();
  return result;
}

/** The run's messages: status, and pause / resume / stop / resumeRound, forwarded to the round they concern. */
function runState(input: RunInput, run: LoadedRun) {
  const { runId } = input;
  const state = {
    runId,
    paused: input.paused ?? false,
    stopRequested: input.stopRequested ?? false,
    attention: null as RoundAttention | null,
    currentRound: null as number | null,
    state(): RunStatus['state'] {
      return state.attention ? 'needs_attention' : state.stopRequested ? 'stopping' : state.paused ? 'paused' : 'running';
    },
    showStatus() {
      const value = {
        running: FLYWHEEL_STATUS.running,
        paused: FLYWHEEL_STATUS.paused,
        needs_attention: FLYWHEEL_STATUS.needsAttention,
        stopping: FLYWHEEL_STATUS.stopping,
      }[state.state() as 'running' | 'paused' | 'needs_attention' | 'stopping'];
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value }]);
    },
  };
  const forward = async (signal: SignalDefinition<[]>) => {
    if (state.currentRound === null) return;
    try {
      await getExternalWorkflowHandle(workflowIds.round(runId, state.currentRound)).signal(signal);
    } catch {
      // The round has not started yet or has just finished: the run's own state covers it.
    }
  };
  /** A signal that sets the run's state, shows it, and reaches the round in flight. */
  const relay = (signal: SignalDefinition<[]>, apply: () => void, description: string) =>
    setHandler(
      signal,
      async () => {
        apply();
        state.showStatus();
        await forward(signal);
      },
      { description },
    );

  setHandler(statusQuery, () => ({ state: state.state(), round: state.currentRound, rounds: run.rounds }), {
    description: HANDLER_DESCRIPTIONS.status,
  });
  relay(pauseSignal, () => void (state.paused = true), HANDLER_DESCRIPTIONS.pause);
  relay(resumeSignal, () => void (state.paused = false), HANDLER_DESCRIPTIONS.resume);
  relay(stopSignal, () => void (state.stopRequested = true), HANDLER_DESCRIPTIONS.stop);
  setHandler(
    roundAttentionSignal,
    (value) => {
      state.attention = value;
      state.showStatus();
    },
    { description: HANDLER_DESCRIPTIONS.roundAttention },
  );
  setHandler(
    resumeRoundUpdate,
    async (args?: ResumeRoundArgs) => {
      const waiting = state.attention;
      if (!waiting) throw ApplicationFailure.nonRetryable('no round is waiting for attention');
      await getExternalWorkflowHandle(workflowIds.round(runId, waiting.round)).signal(retryStageSignal, args);
      return { round: waiting.round, stage: waiting.stage };
    },
    {
      description: HANDLER_DESCRIPTIONS.resumeRound,
      validator: (_args?: ResumeRoundArgs) => {
        if (!state.attention) throw new Error(`no round of run ${runId} is waiting for attention (state: ${state.state()})`);
        if (state.attention.budget) throw new Error(`round ${state.attention.round} waits for a raised budget: send raiseBudget (or stop), not resumeRound`);
      },
    },
  );
  setHandler(
    raiseBudgetUpdate,
    async (args: RaiseBudgetArgs) => {
      const waiting = state.attention;
      if (!waiting?.budget) throw ApplicationFailure.nonRetryable('no round is waiting for a budget');
      const budget = await control.raiseBudget({ runId, ...args });
      await getExternalWorkflowHandle(workflowIds.round(runId, waiting.round)).signal(budgetRaisedSignal);
      return { round: waiting.round, stage: waiting.stage, budget };
    },
    {
      description: HANDLER_DESCRIPTIONS.raiseBudget,
      validator: (args: RaiseBudgetArgs) => {
        if (!state.attention?.budget) throw new Error(`no round of run ${runId} is waiting for a budget (state: ${state.state()})`);
        const problem = raiseBudgetProblem(args);
        if (problem) throw new Error(problem);
      },
    },
  );
  return state;
}
type RunState = ReturnType<typeof runState>;

function roundDetails(runId: string, round: number, rounds: number): string {
  return [
    `Round **${round}** of run \`${runId}\` (rounds 0–${rounds}: round 0 evaluates and samples the base model; later rounds`,
    'first train a candidate on what the round before verified, evaluate it and promote it if it is at least as good).',
    '',
    "The round's current details name its stages in order and the one running.",
    '',
    'Traces, verdicts and metrics are in Postgres (schema `flywheel`); see the view `flywheel.round_metrics`.',
  ].join('\n');
}
