/**
 * The generate stage, one shard at a time (lib/generate/shard.ts): sample the model on the shard's problems and
 * store every trace. Only the samples that are missing are requested, so a retried shard finishes the work without
 * repeating it. This adapter turns sampling failures into Temporal's retry decisions.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { roundBudgets } from '../db/budgets.js';
import { problemsInShard } from '../db/problems.js';
import { getRoundContext } from '../db/rounds.js';
import { createTraceWriter, existingSamples } from '../db/traces.js';
import { planMissingSamples, sampleMissing, SamplingFailed } from '../lib/generate/shard.js';
import { createModelClient } from '../lib/llm/client.js';
import { limiterOf } from '../lib/llm/limiter.js';
import { hashSeed } from '../lib/rng.js';
import { samplingModel, splitOf } from '../lib/round/purpose.js';
import { sampleGroups } from '../lib/round/samples.js';
import type { ShardInput, ShardResult } from '../workflows/shared.js';
import { resolveEndpoint, type ActivityDeps } from './deps.js';
import { cancellationSignal, forEachLimit, startHeartbeats } from './heartbeat.js';

export function generateActivities(deps: ActivityDeps) {
  const warned = new Set<string>();
  /** Once per run: this worker holds fewer shards than the run keeps in flight (other workers may hold the rest). */
  const warnSlots = (runId: string, maxShardsInFlight: number) => {
    const slots = deps.generateSlots;
    if (slots === undefined || slots >= maxShardsInFlight || warned.has(runId)) return;
    warned.add(runId);
    deps.log(
      `warning: run ${runId} keeps generate.maxShardsInFlight ${maxShardsInFlight} shards in flight, but this worker runs at most ` +
        `${slots} at once (--generate-slots ${slots}); unless other workers serve the generate queue, the rest wait. ` +
        `Start the worker with --generate-slots ${maxShardsInFlight}, or add workers.`,
    );
  };
  return {
    async generateShard(input: ShardInput): Promise<ShardResult> {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, input.roundId);
      warnSlots(run.id, config.generate.maxShardsInFlight);
      const model = samplingModel(round, input.purpose);
      const endpoint = resolveEndpoint(deps, config.model);
      const client = createModelClient(endpoint);
      const limiter = limiterOf(endpoint);
      const signal = cancellationSignal();
      const heartbeats = startHeartbeats();

      const problems = await problemsInShard(db, run.taskSet, splitOf(input.purpose), input.shard, input.shards);
      const ids = problems.map((p) => p.id);
      // Under difficulty-adaptive budgets, each train problem has its own number of samples.
      const budgets = input.purpose === 'train' ? await roundBudgets(db, round.id, ids) : new Map<number, { samples: number }>();
      const tasks = planMissingSamples(problems, sampleGroups(config, input.purpose), await existingSamples(db, round.id, input.purpose, ids), (id) => budgets.get(id)?.samples);
      const writer = createTraceWriter(db, { roundId: round.id, purpose: input.purpose, model });
      const result: ShardResult = { written: 0, skipped: 0, errors: 0 };
      let done = 0;
      try {
        // The endpoint's limiter (shared by every shard on this worker) keeps the server full; a shard only caps
        // itself when the deprecated generate.concurrency says so.
        const lanes = config.generate.concurrency ?? limiter?.limits.maxConcurrency ?? tasks.length;
        await forEachLimit(tasks, lanes, async (task) => {
          result.skipped += task.skipped;
          if (task.missing.length === 0) return;
          const sampled = await sampleMissing(client, task, {
            model,
            systemPrompt: config.model.systemPrompt,
            maxTokens: config.generate.maxTokens,
            seed: hashSeed(run.id, round.index, task.problem.id, input.purpose, task.group.strategy, task.missing[0]!),
            maxRetries: endpoint.maxRetries,
            baseUrl: endpoint.baseUrl,
            limiter,
            signal,
            onError: (error) => writer.addError(error),
            log: deps.log,
          }).catch((err: unknown) => {
            throw temporalFailure(err);
          });
          result.errors += sampled.errors;
          await writer.add(sampled.traces);
          heartbeats.beat({ done: ++done, total: tasks.length });
        });
      } finally {
        heartbeats.stop();
        await writer.flush();
        result.written = writer.written;
      }
      return result;
    },
  };
}

/** Cancelled: retried, not sent to an operator. Refused: the server will refuse again, so no retry. */
function temporalFailure(err: unknown): unknown {
  if (!(err instanceof SamplingFailed)) return err;
  if (err.kind === 'cancelled') return new CancelledFailure(err.message);
  if (err.kind === 'refused') return ApplicationFailure.nonRetryable(err.message, 'ModelRequestRefused');
  return new Error(err.message);
}
