/**
 * `flywheelRun(runId)`: rounds 0..N as child workflows `flywheelRound`, one after the other. Pause, resume and stop
 * reach the round in flight; `resumeRound` is forwarded to the round that waits for attention. The run
 * continues-as-new between rounds when Temporal suggests it, so its history stays bounded however many rounds run.
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
  FLYWHEEL_STATUS,
  HANDLER_DESCRIPTIONS,
  SEARCH_ATTRIBUTES,
  TASK_QUEUES,
  pauseSignal,
  resumeRoundUpdate,
  resumeSignal,
  retryStageSignal,
  roundAttentionSignal,
  statusQuery,
  stopSignal,
  workflowIds,
  type ResumeRoundArgs,
  type RoundAttention,
  type RunInput,
  type RunStatus,
} from './shared.js';

const control = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '5m',
  heartbeatTimeout: '60s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

export interface RunResult {
  runId: string;
  state: RunStatus['state'];
  rounds: number;
  model: string;
}

export async function flywheelRun(input: RunInput): Promise<RunResult> {
  const { runId } = input;
  let paused = input.paused ?? false;
  let stopRequested = input.stopRequested ?? false;
  let attention: RoundAttention | null = null;
  let currentRound: number | null = null;

  const run = await control.loadRun({ runId });
  const state = (): RunStatus['state'] =>
    attention ? 'needs_attention' : stopRequested ? 'stopping' : paused ? 'paused' : 'running';
  const showStatus = () => {
    const value = {
      running: FLYWHEEL_STATUS.running,
      paused: FLYWHEEL_STATUS.paused,
      needs_attention: FLYWHEEL_STATUS.needsAttention,
      stopping: FLYWHEEL_STATUS.stopping,
    }[state() as 'running' | 'paused' | 'needs_attention' | 'stopping'];
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value }]);
  };
  const forward = async (signal: SignalDefinition<[]>) => {
    if (currentRound === null) return;
    try {
      await getExternalWorkflowHandle(workflowIds.round(runId, currentRound)).signal(signal);
    } catch {
      // The round has not started yet or has just finished: the run's own state covers it.
    }
  };

  setHandler(statusQuery, () => ({ state: state(), round: currentRound, rounds: run.rounds }), {
    description: HANDLER_DESCRIPTIONS.status,
  });
  setHandler(
    pauseSignal,
    async () => {
      paused = true;
      showStatus();
      await forward(pauseSignal);
    },
    { description: HANDLER_DESCRIPTIONS.pause },
  );
  setHandler(
    resumeSignal,
    async () => {
      paused = false;
      showStatus();
      await forward(resumeSignal);
    },
    { description: HANDLER_DESCRIPTIONS.resume },
  );
  setHandler(
    stopSignal,
    async () => {
      stopRequested = true;
      showStatus();
      await forward(stopSignal);
    },
    { description: HANDLER_DESCRIPTIONS.stop },
  );
  setHandler(
    roundAttentionSignal,
    (value) => {
      attention = value;
      showStatus();
    },
    { description: HANDLER_DESCRIPTIONS.roundAttention },
  );
  setHandler(
    resumeRoundUpdate,
    async (args?: ResumeRoundArgs) => {
      const waiting = attention as RoundAttention | null;
      if (!waiting) throw ApplicationFailure.nonRetryable('no round is waiting for attention');
      await getExternalWorkflowHandle(workflowIds.round(runId, waiting.round)).signal(retryStageSignal, args);
      return { round: waiting.round, stage: waiting.stage };
    },
    {
      description: HANDLER_DESCRIPTIONS.resumeRound,
      validator: (_args?: ResumeRoundArgs) => {
        if (!attention) throw new Error(`no round of run ${runId} is waiting for attention (state: ${state()})`);
      },
    },
  );

  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.runId, value: runId },
    { key: SEARCH_ATTRIBUTES.model, value: run.currentModel },
  ]);
  showStatus();

  let model = run.currentModel;
  try {
    for (let n = input.nextRound ?? 0; n <= run.rounds; n++) {
      await condition(() => !paused || stopRequested);
      if (stopRequested) break;
      currentRound = n;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.round, value: n }]);
      const result = await executeChild(flywheelRound, {
        workflowId: workflowIds.round(runId, n),
        taskQueue: TASK_QUEUES.control,
        args: [{ runId, round: n }],
        staticSummary:
          n === 0 ? `Round 0 of ${run.name}: evaluate and sample the base model` : `Round ${n} of ${run.rounds} of ${run.name}`,
        staticDetails: roundDetails(runId, n, run.rounds),
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.runId, value: runId },
          { key: SEARCH_ATTRIBUTES.round, value: n },
          { key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.running },
          { key: SEARCH_ATTRIBUTES.model, value: model },
        ],
      });
      currentRound = null;
      // A round that was reset or terminated while it waited cannot clear this itself.
      attention = null;
      showStatus();
      model = result.model;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.model, value: model }]);
      if (result.stopped) stopRequested = true;
      if (stopRequested) break;
      if (n < run.rounds && workflowInfo().continueAsNewSuggested) {
        await continueAsNew<typeof flywheelRun>({ runId, nextRound: n + 1, paused, stopRequested });
      }
    }
  } catch (err) {
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.failed }]);
    await control.finishRun({ runId, state: 'failed', error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
  const final = stopRequested ? 'stopped' : 'completed';
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.status, value: final === 'stopped' ? FLYWHEEL_STATUS.stopped : FLYWHEEL_STATUS.completed },
  ]);
  await control.finishRun({ runId, state: final });
  return { runId, state: final, rounds: run.rounds, model };
}

function roundDetails(runId: string, round: number, rounds: number): string {
  const stages =
    round === 0 ? 'evaluate → generate → verify → search' : 'filter → fine-tune → evaluate → promote → generate → verify → search';
  return [
    `Round **${round}** of run \`${runId}\` (rounds 0–${rounds}: round 0 evaluates and samples the base model).`,
    '',
    `Stages: ${stages}.`,
    '',
    'Traces, verdicts and metrics are in Postgres (schema `flywheel`); see the view `flywheel.round_metrics`.',
  ].join('\n');
}
