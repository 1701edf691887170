/**
 * `flywheelRound(runId, n)`: one round as a sequence of stages, each an activity or a bounded fan-out of shard
 * activities (the table `STAGE_TABLE`). Stage completion lives in Postgres, so a new execution (a reset from the UI,
 * a re-run after a crash) skips what is done. A stage that fails after its retries does not fail the round: the
 * round shows FlywheelStatus=NeedsAttention, explains itself in its current details, and waits for `resumeRound`.
 */
import {
  ActivityFailure,
  condition,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
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
  roundStatusQuery,
  stopSignal,
  type BudgetCheck,
  type Durability,
  type RaiseBudgetArgs,
  type Purpose,
  type ResumeRoundArgs,
  type RoundAttention,
  type RoundInput,
  type RoundPlan,
  type RoundResult,
  type RoundStatus,
  type ShardResult,
  type Stage,
} from './shared.js';

/** Planning happens before the run's durability settings are known. */
const planning = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.control,
  startToCloseTimeout: '10m',
  heartbeatTimeout: '60s',
  retry: BOOKKEEPING_RETRY,
});

type ShardKind = 'generate' | 'verify' | 'search' | 'rationalize';

/** A fan-out of a stage: shards of one kind over one purpose's problems, when the plan's flag (if any) is on. */
interface FanOut {
  kind: ShardKind;
  purpose: Purpose;
  when?: 'searchEval' | 'searchTrain' | 'rationalize';
}

/** What a stage runs: its fan-outs in order, then at most one activity; `after` sees that activity's result. */
interface StageSpec {
  fanOuts?: FanOut[];
  run?: (round: RoundRuntime) => Promise<unknown>;
  after?: (round: RoundRuntime, result: unknown) => void;
}

/** The round, stage by stage: what each stage runs. The order is the plan's (lib/round/stages.ts). */
const STAGE_TABLE: Record<Stage, StageSpec> = {
  filter: { run: (r) => r.control.filterRound({ roundId: r.plan.roundId }) },
  'fine-tune': {
    run: (r) => r.train.fineTune.executeWithOptions({ ...r.options.train, summary: `fine-tune round ${r.round}` }, [{ roundId: r.plan.roundId }]),
    after: (r, tuned) => {
      r.model = (tuned as { model: string }).model;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.model, value: r.model }]);
    },
  },
  // Only in plans of runs that deploy (lib/round/stages.ts); it runs where inference runs, which reaches the replicas.
  deploy: {
    run: (r) => r.deploy.deployModel({ roundId: r.plan.roundId }),
    after: (r, deployed) => {
      r.model = (deployed as { model: string }).model;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.model, value: r.model }]);
    },
  },
  evaluate: {
    fanOuts: [
      { kind: 'generate', purpose: 'eval' },
      { kind: 'verify', purpose: 'eval' },
      { kind: 'search', purpose: 'eval', when: 'searchEval' },
    ],
    run: (r) => r.control.scoreEval({ roundId: r.plan.roundId }),
  },
  promote: {
    run: (r) => r.control.promote({ roundId: r.plan.roundId }),
    after: (r, result) => void (r.promoted = (result as { promoted: boolean }).promoted),
  },
  generate: { fanOuts: [{ kind: 'generate', purpose: 'train' }] },
  verify: { fanOuts: [{ kind: 'verify', purpose: 'train' }] },
  search: {
    fanOuts: [
      { kind: 'search', purpose: 'train', when: 'searchTrain' },
      { kind: 'rationalize', purpose: 'train', when: 'rationalize' },
    ],
    run: (r) => r.control.searchRound({ roundId: r.plan.roundId, purpose: 'train' }),
  },
};

export async function flywheelRound(input: RoundInput): Promise<RoundResult> {
  const { runId, round } = input;
  const state = roundState(round);
  const plan = await planning.startRound({ runId, round });
  const r = roundRuntime(runId, plan, state);
  budgetHandlers(r);

  for (const name of plan.stages) {
    await r.paused();
    // Only a run with a budget checks it (and records the patch marker): runs without one issue no new commands.
    if (plan.budgeted && !state.stopRequested && patched('budget-gate')) await budgetGate(r, name);
    if (state.stopRequested) {
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.stopped }]);
      setCurrentDetails(`Round ${round} stopped by an operator before stage **${name}**.`);
      return { round, model: r.model, promoted: r.promoted, stopped: true };
    }
    // Plans before the deploy stage existed never name it; the marker keeps a replay of a deployed round exact.
    if (name === 'deploy' && !patched('deploy-stage')) continue;
    const spec = STAGE_TABLE[name];
    const result = await runStage(r, name, () => stageBody(r, spec));
    spec.after?.(r, result);
  }
  state.status.stage = 'done';
  const finished = await r.control.finishRound({ roundId: plan.roundId });
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.stage, value: 'done' },
    { key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.completed },
    { key: SEARCH_ATTRIBUTES.model, value: finished.model },
  ]);
  setCurrentDetails(`Round ${round} completed: model \`${finished.model}\`${finished.promoted ? ' (promoted)' : ''}.`);
  return { round, model: finished.model, current: finished.current, promoted: finished.promoted, stopped: false };
}

/** A round's messages: status, pause, resume, stop, and the operator's retry of a stage that waits. */
function roundState(round: number) {
  const state = {
    status: { round, stage: 'planned', needsAttention: false, failure: null, paused: false } as RoundStatus,
    stopRequested: false,
    retryRequested: false,
    resumeNote: null as string | null,
    /** Waiting before a stage for a raised budget (or a stop); set once raiseBudget stored the new limit. */
    budgetWait: false,
    budgetRaised: false,
  };
  const { status } = state;
  setHandler(roundStatusQuery, () => status, { description: HANDLER_DESCRIPTIONS.roundStatus });
  setHandler(pauseSignal, () => void (status.paused = true), { description: HANDLER_DESCRIPTIONS.pause });
  setHandler(resumeSignal, () => void (status.paused = false), { description: HANDLER_DESCRIPTIONS.resume });
  setHandler(stopSignal, () => void (state.stopRequested = true), { description: HANDLER_DESCRIPTIONS.stop });
  setHandler(
    retryStageSignal,
    (args?: ResumeRoundArgs) => {
      state.retryRequested = status.needsAttention;
      state.resumeNote = args?.note ?? null;
    },
    { description: HANDLER_DESCRIPTIONS.retryStage },
  );
  setHandler(
    resumeRoundUpdate,
    (args?: ResumeRoundArgs) => {
      state.retryRequested = true;
      state.resumeNote = args?.note ?? null;
      return { round, stage: String(status.stage) };
    },
    {
      description: HANDLER_DESCRIPTIONS.resumeRound,
      validator: (_args?: ResumeRoundArgs) => {
        if (!status.needsAttention) throw new Error(`round ${round} is not waiting for attention (stage: ${status.stage})`);
        if (state.budgetWait) throw new Error(`round ${round} waits for a raised budget: send raiseBudget (or stop), not resumeRound`);
      },
    },
  );
  return state;
}
type RoundState = ReturnType<typeof roundState>;

/** Activity options of a round, from the run config's `durability` section. */
function activityOptions(d: Durability) {
  const retry = {
    initialInterval: d.retryInitialIntervalMs,
    backoffCoefficient: 2,
    maximumInterval: d.retryMaxIntervalMs,
    maximumAttempts: d.activityAttempts,
  };
  const heartbeatTimeout = d.heartbeatTimeoutSeconds * 1000;
  // Every activity heartbeats (activities/adapt.ts), so a dead worker is noticed after the heartbeat timeout.
  const on = (taskQueue: string, startToCloseTimeout: string): ActivityOptions => ({ taskQueue, startToCloseTimeout, heartbeatTimeout, retry });
  const shard: Record<ShardKind, ActivityOptions> = {
    generate: on(TASK_QUEUES.generate, '4h'),
    verify: on(TASK_QUEUES.verify, '4h'),
    // Step-level search and rationalization call the model: they run where inference runs.
    search: on(TASK_QUEUES.generate, '4h'),
    rationalize: on(TASK_QUEUES.generate, '4h'),
  };
  return { control: on(TASK_QUEUES.control, '30m'), shard, train: on(TASK_QUEUES.train, '72h') };
}

/** What a running round's helpers share: its plan, activity proxies, state, and the model it has so far. */
function roundRuntime(runId: string, plan: RoundPlan, state: RoundState) {
  const options = activityOptions(plan.durability);
  const shards = {
    generate: proxyActivities<Activities>(options.shard.generate).generateShard,
    verify: proxyActivities<Activities>(options.shard.verify).verifyShard,
    search: proxyActivities<Activities>(options.shard.search).searchShard,
    rationalize: proxyActivities<Activities>(options.shard.rationalize).rationalizeShard,
  };
  return {
    runId,
    round: plan.round,
    plan,
    state,
    options,
    control: proxyActivities<Activities>(options.control),
    train: proxyActivities<Activities>(options.train),
    deploy: proxyActivities<Activities>(options.shard.generate),
    shards,
    /** Shards done per fan-out (kind and purpose), kept across an operator's retries of the stage. */
    done: new Map<string, Set<number>>(),
    model: plan.model,
    promoted: plan.round === 0,
    paused: () => condition(() => !state.status.paused || state.stopRequested),
  };
}
type RoundRuntime = ReturnType<typeof roundRuntime>;

/** A stage's fan-outs in order, then its activity. */
async function stageBody(r: RoundRuntime, spec: StageSpec): Promise<unknown> {
  for (const f of spec.fanOuts ?? []) {
    if (f.when && !r.plan[f.when]) continue;
    // Batch mode (only such runs reach the patch marker): the provider's Batch API instead of generate shards.
    if (f.kind === 'generate' && r.plan.batch && patched('batch-generate')) {
      await batchGenerate(r, f.purpose, r.plan.batch);
      continue;
    }
    const count = f.purpose === 'train' ? r.plan.trainShards : r.plan.evalShards;
    await fanOut(r, f.kind, f.purpose, count);
  }
  return spec.run?.(r);
}

/** Runs one stage; on failure after retries, waits for an operator and tries again. */
async function runStage<T>(r: RoundRuntime, name: Stage, body: () => Promise<T>): Promise<T> {
  const { plan } = r;
  r.state.status.stage = name;
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.stage, value: name }]);
  setCurrentDetails(`Round ${r.round}: stage **${name}** (${plan.stages.indexOf(name) + 1} of ${plan.stages.length}: ${plan.stages.join(' → ')}).`);
  for (;;) {
    try {
      await r.control.beginStage({ roundId: plan.roundId, stage: name });
      const result = await body();
      await r.control.completeStage({ roundId: plan.roundId, stage: name });
      return result;
    } catch (err) {
      if (!(err instanceof ActivityFailure || err instanceof ShardsFailed)) throw err;
      await awaitAttention(r, name, describeFailure(err));
    }
  }
}

/** Shows the failure, tells the run, and waits for an operator's `resumeRound`; then shows the round running again. */
async function awaitAttention(r: RoundRuntime, stage: Stage, failure: string): Promise<void> {
  const { status } = r.state;
  const roundId = r.plan.roundId;
  status.needsAttention = true;
  status.failure = failure;
  r.state.retryRequested = false;
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.needsAttention }]);
  setCurrentDetails(attentionDetails(r.runId, r.round, stage, failure));
  await r.control.recordAttention({ roundId, stage, failure });
  await tellParent({ round: r.round, stage, failure });
  await condition(() => r.state.retryRequested);
  status.needsAttention = false;
  status.failure = null;
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.running }]);
  const note = r.state.resumeNote;
  setCurrentDetails(`Round ${r.round}: retrying stage **${stage}**, resumed by an operator${note ? `: “${note}”` : '.'}`);
  await r.control.recordAttention({ roundId, stage, failure: null });
  await tellParent(null);
}

/** The round's raiseBudget update (stores the new limit, then lets the waiting stage check again) and its internal signal. */
function budgetHandlers(r: RoundRuntime) {
  const { state } = r;
  setHandler(budgetRaisedSignal, () => void (state.budgetRaised = state.budgetWait), { description: HANDLER_DESCRIPTIONS.budgetRaised });
  setHandler(
    raiseBudgetUpdate,
    async (args: RaiseBudgetArgs) => {
      const budget = await r.control.raiseBudget({ runId: r.runId, ...args });
      state.budgetRaised = true;
      return { round: r.round, stage: String(state.status.stage), budget };
    },
    {
      description: HANDLER_DESCRIPTIONS.raiseBudget,
      validator: (args: RaiseBudgetArgs) => {
        if (!state.budgetWait) throw new Error(`round ${r.round} is not waiting for a budget (stage: ${state.status.stage})`);
        const problem = raiseBudgetProblem(args);
        if (problem) throw new Error(problem);
      },
    },
  );
}

/**
 * Before a stage: while the run's spend so far plus the stage's estimate would pass its budget, the stage does not
 * start; the round shows NeedsAttention with the numbers and waits for raiseBudget (checked again) or a stop.
 */
async function budgetGate(r: RoundRuntime, stage: Stage): Promise<void> {
  const { state } = r;
  const { status } = state;
  const roundId = r.plan.roundId;
  for (;;) {
    const check = await r.control.checkStageBudget({ runId: r.runId, round: r.round, stage, planned: r.plan.planned });
    if (check.fits) return;
    status.stage = stage;
    status.needsAttention = true;
    status.failure = check.message;
    state.budgetWait = true;
    state.budgetRaised = false;
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.stage, value: stage },
      { key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.needsAttention },
    ]);
    setCurrentDetails(budgetDetails(r.runId, r.round, stage, check));
    await r.control.recordAttention({ roundId, stage, failure: check.message });
    await tellParent({ round: r.round, stage, failure: check.message, budget: true });
    await condition(() => state.budgetRaised || state.stopRequested);
    state.budgetWait = false;
    status.needsAttention = false;
    status.failure = null;
    await r.control.recordAttention({ roundId, stage, failure: null });
    await tellParent(null);
    if (state.stopRequested) return;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: FLYWHEEL_STATUS.running }]);
    setCurrentDetails(`Round ${r.round}: budget raised by an operator; checking stage **${stage}** again.`);
  }
}

function money(n: number | null): string {
  if (n === null) return 'unpriced';
  return n >= 1 || n === 0 ? `$${n.toFixed(2)}` : `$${n.toPrecision(2)}`;
}

function budgetDetails(runId: string, round: number, stage: string, check: BudgetCheck & { fits: false }): string {
  const limit = check.limit === 'maxCost' ? `budget.maxCost ${money(check.max)}` : `budget.maxTokens ${check.max}`;
  const example = check.limit === 'maxCost' ? `{"maxCost": ${Math.ceil(check.spent + (Number.isFinite(check.estimate) ? check.estimate : check.max)) + 1}}` : `{"maxTokens": ${check.spent + check.estimate}}`;
  return [
    `## Round ${round} needs attention: budget`,
    '',
    `Stage **${stage}** of run \`${runId}\` has not started: it would pass ${limit}.`,
    '',
    `- Spent so far: ${money(check.spend.cost)}, ${check.spend.tokens} tokens`,
    `- Estimate of **${stage}**: ${money(check.stageEstimate.cost)}, ${check.stageEstimate.tokens} tokens (${check.stageEstimate.basis === 'history' ? 'tokens per sample so far' : 'every completion at generate.maxTokens'})`,
    `- Limit: ${limit}`,
    '',
    '**What to do:** raise the budget with the `raiseBudget` update: in this UI, **More Actions → Send an Update →',
    `raiseBudget** with the new limit, e.g. \`${example}\`, or run \`npx flywheel budget ${runId} --max-cost X --max-tokens N\`;`,
    `or stop the run (\`npx flywheel stop ${runId}\`). The new limit is stored on the run for later rounds.`,
  ].join('\n');
}

async function tellParent(attention: RoundAttention | null) {
  const parent = workflowInfo().parent;
  if (parent) await getExternalWorkflowHandle(parent.workflowId).signal(roundAttentionSignal, attention);
}

/** Bounded fan-out: at most `maxShardsInFlight` shards in flight; failed shards are retried alone on resume. */
async function fanOut(r: RoundRuntime, kind: ShardKind, purpose: Purpose, count: number): Promise<ShardResult> {
  const key = `${kind}:${purpose}`;
  const done = r.done.get(key) ?? new Set<number>();
  r.done.set(key, done);
  const totals: ShardResult = { written: 0, skipped: 0, errors: 0 };
  const failures: Array<{ shard: number; cause: string }> = [];
  const pending = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
  const lane = async () => {
    for (let i = pending.shift(); i !== undefined; i = pending.shift()) {
      await r.paused();
      try {
        const shard = await r.shards[kind].executeWithOptions(
          { ...r.options.shard[kind], summary: `${kind} ${purpose} shard ${i + 1}/${count}` },
          [{ roundId: r.plan.roundId, purpose, shard: i, shards: count }],
        );
        done.add(i);
        totals.written += shard.written;
        totals.skipped += shard.skipped;
        totals.errors += shard.errors;
      } catch (err) {
        failures.push({ shard: i + 1, cause: describeFailure(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(r.plan.maxShardsInFlight, pending.length) }, lane));
  if (failures.length) throw new ShardsFailed(kind, count, failures);
  return totals;
}

/**
 * Batch mode: submit the purpose's missing samples as a batch attempt, look at it once per durable timer
 * (`sleep(pollSeconds)`: no worker waits, a restart changes nothing), ingest it when every batch of it is final, and
 * resubmit only what is still missing, in at most `attempts` attempts; past them, or for lines the provider refused,
 * ingest fails and the stage needs attention (a resume gives the missing samples `attempts` more).
 */
async function batchGenerate(r: RoundRuntime, purpose: Purpose, batch: { pollSeconds: number; attempts: number }): Promise<void> {
  const roundId = r.plan.roundId;
  const acts = proxyActivities<Activities>({ ...r.options.shard.generate, startToCloseTimeout: '30m' });
  let submitted = await acts.submitBatches({ roundId, purpose });
  for (let attempts = 1; ; attempts++) {
    const since = Date.now(); // workflow time: the same on replay
    for (;;) {
      const poll = await acts.pollBatches({ roundId, purpose, attempt: submitted.attempt });
      if (poll.final) break;
      const waitMs = pollInterval(batch.pollSeconds, Date.now() - since);
      setCurrentDetails(
        `Round ${r.round}: **${purpose}** samples in ${submitted.batches} provider batch${submitted.batches === 1 ? '' : 'es'} ` +
          `(attempt ${submitted.attempt}): ${poll.completed + poll.failed} of ${poll.total} requests done; next look in ${Math.round(waitMs / 1000)} s.`,
      );
      await sleep(waitMs);
      await r.paused();
    }
    const ingested = await acts.ingestBatches({ roundId, purpose, attempt: submitted.attempt, last: attempts >= batch.attempts });
    if (ingested.missing === 0) return;
    submitted = await acts.submitBatches({ roundId, purpose, attempt: submitted.attempt + 1 });
  }
}

/**
 * The wait before the next look at a batch: `pollSeconds`, stretched to 1/25 of the time the attempt has waited so
 * far, so a batch that takes its whole 24-hour window costs at most about 230 looks whatever `pollSeconds` is (a
 * bounded history, each look a handful of events) and is noticed at most 4% of its wait late.
 */
function pollInterval(pollSeconds: number, waitedMs: number): number {
  return Math.max(pollSeconds * 1000, Math.round(waitedMs / 25));
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
