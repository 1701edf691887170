/**
 * `flywheelRound(runId, n)`: one round as a sequence of stages, each an activity or a bounded fan-out of shard
 * activities. Stage completion lives in Postgres, so a new execution (a reset from the UI, a re-run after a crash)
 * skips what is done. A stage that fails after its retries does not fail the round: the round shows
 * FlywheelStatus=NeedsAttention, explains itself in its current details, and waits for `resumeRound`.
 */
import {
  ActivityFailure,
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
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
  roundStatusQuery,
  stopSignal,
  type Durability,
  type Purpose,
  type ResumeRoundArgs,
  type RoundInput,
  type RoundResult,
  type RoundStatus,
  type ShardResult,
  type Stage,
} from './shared.js';

/** Planning happens before the run's durability settings are known: fixed, generous defaults. */
const planning = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '10m',
  heartbeatTimeout: '60s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

type ShardKind = 'generate' | 'verify' | 'search' | 'rationalize';

/** Activity options of a round, from the run config's `durability` section. */
function activityOptions(d: Durability) {
  const retry = {
    initialInterval: d.retryInitialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: d.retryMaxIntervalMs,
    maximumAttempts: d.activityAttempts,
  };
  const heartbeatTimeout = d.heartbeatTimeoutSeconds * 1000;
  // Every activity heartbeats (activities/index.ts), so a dead worker is noticed after the heartbeat timeout.
  const control: ActivityOptions = { taskQueue: TASK_QUEUES.control, startToCloseTimeout: '30m', heartbeatTimeout, retry };
  const shard: Record<ShardKind, ActivityOptions> = {
    generate: { taskQueue: TASK_QUEUES.generate, startToCloseTimeout: '4h', heartbeatTimeout, retry },
    verify: { taskQueue: TASK_QUEUES.verify, startToCloseTimeout: '4h', heartbeatTimeout, retry },
    // Step-level search calls the model: it runs where inference runs.
    search: { taskQueue: TASK_QUEUES.generate, startToCloseTimeout: '4h', heartbeatTimeout, retry },
    rationalize: { taskQueue: TASK_QUEUES.generate, startToCloseTimeout: '4h', heartbeatTimeout, retry },
  };
  const train: ActivityOptions = { taskQueue: TASK_QUEUES.train, startToCloseTimeout: '72h', heartbeatTimeout, retry };
  return { control, shard, train };
}

export async function flywheelRound(input: RoundInput): Promise<RoundResult> {
  const { runId, round } = input;
  const status: RoundStatus = { round, stage: 'planned', needsAttention: false, failure: null, paused: false };
  let stopRequested = false;
  let retryRequested = false;
  let resumeNote: string | null = null;

  setHandler(roundStatusQuery, () => status, { description: HANDLER_DESCRIPTIONS.roundStatus });
  setHandler(pauseSignal, () => void (status.paused = true), { description: HANDLER_DESCRIPTIONS.pause });
  setHandler(resumeSignal, () => void (status.paused = false), { description: HANDLER_DESCRIPTIONS.resume });
  setHandler(stopSignal, () => void (stopRequested = true), { description: HANDLER_DESCRIPTIONS.stop });
  setHandler(
    retryStageSignal,
    (args?: ResumeRoundArgs) => {
      retryRequested = status.needsAttention;
      resumeNote = args?.note ?? null;
    },
    { description: HANDLER_DESCRIPTIONS.retryStage },
  );
  setHandler(
    resumeRoundUpdate,
    (args?: ResumeRoundArgs) => {
      retryRequested = true;
      resumeNote = args?.note ?? null;
      return { round, stage: String(status.stage) };
    },
    {
      description: HANDLER_DESCRIPTIONS.resumeRound,
      validator: (_args?: ResumeRoundArgs) => {
        if (!status.needsAttention) throw new Error(`round ${round} is not waiting for attention (stage: ${status.stage})`);
      },
    },
  );

  const plan = await planning.startRound({ runId, round });
  const options = activityOptions(plan.durability);
  const control = proxyActivities<Activities>(options.control);
  const shards = {
    generate: proxyActivities<Activities>(options.shard.generate).generateShard,
    verify: proxyActivities<Activities>(options.shard.verify).verifyShard,
    search: proxyActivities<Activities>(options.shard.search).searchShard,
    rationalize: proxyActivities<Activities>(options.shard.rationalize).rationalizeShard,
  };
  const train = proxyActivities<Activities>(options.train);
  const paused = () => condition(() => !status.paused || stopRequested);

  /** Runs one stage; on failure after retries, waits for an operator and tries again. */
  async function stage<T>(name: Stage, body: () => Promise<T>): Promise<T> {
    status.stage = name;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.stage, value: name }]);
    setCurrentDetails(`Round ${round}: stage **${name}** (${plan.stages.indexOf(name) + 1} of ${plan.stages.length}).`);
    for (;;) {
      try {
        await control.beginStage({ roundId: plan.roundId, stage: name });
        const result = await body();
        await control.completeStage({ roundId: plan.roundId, stage: name });
        return result;
      } catch (err) {
        if (!(err instanceof ActivityFailure || err instanceof ShardsFailed)) throw err;
        await needsAttention(name, describeFailure(err));
      }
    }
  }

  async function needsAttention(name: Stage, failure: string): Promise<void> {
    status.needsAttention = true;
    status.failure = failure;
    retryRequested = false;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.needsAttention }]);
    setCurrentDetails(attentionDetails(runId, round, name, failure));
    await control.recordAttention({ roundId: plan.roundId, stage: name, failure });
    await tellParent({ round, stage: name, failure });
    await condition(() => retryRequested);
    status.needsAttention = false;
    status.failure = null;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.running }]);
    setCurrentDetails(
      `Round ${round}: retrying stage **${name}**, resumed by an operator${resumeNote ? `: “${resumeNote}”` : '.'}`,
    );
    await control.recordAttention({ roundId: plan.roundId, stage: name, failure: null });
    await tellParent(null);
  }

  async function tellParent(attention: { round: number; stage: string; failure: string } | null) {
    const parent = workflowInfo().parent;
    if (parent) await getExternalWorkflowHandle(parent.workflowId).signal(roundAttentionSignal, attention);
  }

  /** Bounded fan-out: at most `window` shards in flight; failed shards are retried alone on resume. */
  async function fanOut(kind: ShardKind, purpose: Purpose, count: number, done: Set<number>) {
    const totals: ShardResult = { written: 0, skipped: 0, errors: 0 };
    const failures: Array<{ shard: number; cause: string }> = [];
    const pending = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
    const lane = async () => {
      for (let i = pending.shift(); i !== undefined; i = pending.shift()) {
        await paused();
        try {
          const r = await shards[kind].executeWithOptions(
            { ...options.shard[kind], summary: `${kind} ${purpose} shard ${i + 1}/${count}` },
            [{ roundId: plan.roundId, purpose, shard: i, shards: count }],
          );
          done.add(i);
          totals.written += r.written;
          totals.skipped += r.skipped;
          totals.errors += r.errors;
        } catch (err) {
          failures.push({ shard: i + 1, cause: describeFailure(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(plan.maxShardsInFlight, pending.length) }, lane));
    if (failures.length) throw new ShardsFailed(kind, count, failures);
    return totals;
  }

  let model = plan.model;
  let promoted = round === 0;
  for (const name of plan.stages) {
    await paused();
    if (stopRequested) {
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.stopped }]);
      setCurrentDetails(`Round ${round} stopped by an operator before stage **${name}**.`);
      return { round, model, promoted, stopped: true };
    }
    switch (name) {
      case 'filter':
        await stage(name, () => control.filterRound({ roundId: plan.roundId }));
        break;
      case 'fine-tune': {
        const tuned = await stage(name, () =>
          train.fineTune.executeWithOptions({ ...options.train, summary: `fine-tune round ${round}` }, [{ roundId: plan.roundId }]),
        );
        model = tuned.model;
        upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.model, value: model }]);
        break;
      }
      case 'evaluate': {
        const done = { generate: new Set<number>(), verify: new Set<number>(), search: new Set<number>() };
        await stage(name, async () => {
          await fanOut('generate', 'eval', plan.evalShards, done.generate);
          await fanOut('verify', 'eval', plan.evalShards, done.verify);
          if (plan.searchEval) await fanOut('search', 'eval', plan.evalShards, done.search);
          return control.scoreEval({ roundId: plan.roundId });
        });
        break;
      }
      case 'promote':
        promoted = (await stage(name, () => control.promote({ roundId: plan.roundId }))).promoted;
        break;
      case 'generate': {
        const done = new Set<number>();
        await stage(name, () => fanOut('generate', 'train', plan.trainShards, done));
        break;
      }
      case 'search': {
        const done = { search: new Set<number>(), rationalize: new Set<number>() };
        await stage(name, async () => {
          if (plan.searchTrain) await fanOut('search', 'train', plan.trainShards, done.search);
          if (plan.rationalize) await fanOut('rationalize', 'train', plan.trainShards, done.rationalize);
          return control.searchRound({ roundId: plan.roundId, purpose: 'train' });
        });
        break;
      }
      case 'verify': {
        const done = new Set<number>();
        await stage(name, () => fanOut('verify', 'train', plan.trainShards, done));
        break;
      }
    }
  }
  status.stage = 'done';
  const finished = await control.finishRound({ roundId: plan.roundId });
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.stage, value: 'done' },
    { key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.completed },
    { key: SEARCH_ATTRIBUTES.model, value: finished.model },
  ]);
  setCurrentDetails(`Round ${round} completed: model \`${finished.model}\`${finished.promoted ? ' (promoted)' : ''}.`);
  return { round, model: finished.model, promoted: finished.promoted, stopped: false };
}

/** Shards that failed after their retries; identical causes are reported once, with the shards they hit. */
class ShardsFailed extends Error {
  constructor(kind: string, count: number, failures: Array<{ shard: number; cause: string }>) {
    const byCause = new Map<string, number[]>();
    for (const f of failures) byCause.set(f.cause, [...(byCause.get(f.cause) ?? []), f.shard]);
    const lines = [...byCause].map(([cause, list]) => {
      const shards = list.sort((a, b) => a - b).join(', ');
      return `${kind} shard${list.length > 1 ? 's' : ''} ${shards} (of ${count}): ${cause}`;
    });
    super(`${failures.length} of ${count} ${kind} shards failed after their retries\n${lines.join('\n')}`);
    this.name = 'ShardsFailed';
  }
}

function describeFailure(err: unknown): string {
  if (err instanceof ActivityFailure) {
    const cause = err.cause as { message?: string } | undefined;
    return `${err.activityType ?? 'activity'} failed: ${cause?.message ?? err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function attentionDetails(runId: string, round: number, stage: string, failure: string): string {
  return [
    `## Round ${round} needs attention`,
    '',
    `Stage **${stage}** of run \`${runId}\` failed after its retries:`,
    '',
    ...failure
      .split('\n')
      .filter((line) => line.trim())
      .slice(0, 20)
      .map((line) => `- ${line.replace(/^- /, '')}`),
    '',
    '**What to do:** fix the cause (is the model server up? are the credentials in the worker environment?), then',
    'send the `resumeRound` update: in this UI, **More Actions → Send an Update → resumeRound** (optional data:',
    `\`{"note": "what you fixed"}\`), or run \`npx flywheel resume ${runId}\`. Finished work is kept; only what failed runs again.`,
  ].join('\n');
}
