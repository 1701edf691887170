/**
 * The generate stage, one shard at a time: sample the model on the shard's problems and store every trace.
 * Only the samples that are missing are requested, so a retried shard finishes the work without repeating it.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import type { RunConfig } from '../config/schema.js';
import type { NewTrace } from '../db/schema.js';
import { roundBudgets } from '../db/budgets.js';
import { problemsInShard } from '../db/problems.js';
import { getRoundContext } from '../db/rounds.js';
import { existingSamples, insertModelErrors, insertTraces, type NewModelError } from '../db/traces.js';
import { classifyError, createModelClient, MalformedResponseError } from '../lib/llm/client.js';
import { sampleChat } from '../lib/llm/sample.js';
import { hashSeed } from '../lib/rng.js';
import type { ShardInput, ShardResult } from '../workflows/shared.js';
import { resolveEndpoint, type ActivityDeps } from './deps.js';
import { cancellationSignal, forEachLimit, startHeartbeats } from './heartbeat.js';

interface SampleGroup {
  strategy: 'sample' | 'greedy';
  n: number;
  temperature: number;
}

/** What one problem gets: the round's samples for training, greedy plus samples for evaluation. */
export function sampleGroups(config: RunConfig, purpose: ShardInput['purpose']): SampleGroup[] {
  if (purpose === 'train') {
    return [{ strategy: 'sample', n: config.generate.samplesPerProblem, temperature: config.generate.temperature }];
  }
  const groups: SampleGroup[] = [];
  if (config.evaluate.greedy) groups.push({ strategy: 'greedy', n: 1, temperature: 0 });
  if (config.evaluate.samples > 0) {
    groups.push({ strategy: 'sample', n: config.evaluate.samples, temperature: config.evaluate.temperature });
  }
  return groups;
}

export function generateActivities(deps: ActivityDeps) {
  return {
    async generateShard(input: ShardInput): Promise<ShardResult> {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, input.roundId);
      const model = input.purpose === 'train' ? round.sampler : round.model;
      if (!model) throw new Error(`round ${round.index} has no ${input.purpose === 'train' ? 'sampler' : 'model'} yet`);
      const endpoint = resolveEndpoint(deps, config.model);
      const client = createModelClient(endpoint);
      const signal = cancellationSignal();
      const heartbeats = startHeartbeats();

      const problems = await problemsInShard(db, run.taskSet, input.purpose === 'train' ? 'train' : 'test', input.shard, input.shards);
      const existing = await existingSamples(db, round.id, input.purpose, problems.map((p) => p.id));
      const groups = sampleGroups(config, input.purpose);
      // Under difficulty-adaptive budgets, each train problem has its own number of samples.
      const budgets = input.purpose === 'train' ? await roundBudgets(db, round.id, problems.map((p) => p.id)) : new Map();
      const todo = problems.flatMap((problem) =>
        groups
          .map((planned) => {
            const group = { ...planned, n: budgets.get(problem.id)?.samples ?? planned.n };
            const have = existing.get(problem.id)?.get(group.strategy) ?? new Set<number>();
            const missing = Array.from({ length: group.n }, (_, i) => i).filter((i) => !have.has(i));
            return { problem, group, missing, skipped: group.n - missing.length };
          }),
      );

      const result: ShardResult = { written: 0, skipped: 0, errors: 0 };
      let buffer: NewTrace[] = [];
      let errors: NewModelError[] = [];
      const flush = async () => {
        const rows = buffer;
        const failed = errors;
        buffer = [];
        errors = [];
        if (rows.length) result.written += await insertTraces(db, rows);
        if (failed.length) await insertModelErrors(db, failed);
      };
      let done = 0;
      try {
        await forEachLimit(todo, config.generate.concurrency, async ({ problem, group, missing, skipped }) => {
          result.skipped += skipped;
          if (missing.length === 0) return;
          const base = {
            roundId: round.id,
            problemId: problem.id,
            purpose: input.purpose,
            strategy: group.strategy,
            model,
          };
          const failed = (attempt: number, error: string, final = false) =>
            errors.push({ roundId: round.id, problemId: problem.id, purpose: input.purpose, strategy: group.strategy, attempt, error: error.slice(0, 500), final });
          let attempts = 0;
          try {
            const res = await sampleChat(
              client,
              {
                model,
                prompt: problem.prompt,
                systemPrompt: config.model.systemPrompt,
                n: missing.length,
                temperature: group.temperature,
                maxTokens: config.generate.maxTokens,
                seed: hashSeed(run.id, round.index, problem.id, input.purpose, group.strategy, missing[0]),
                logprobs: true,
              },
              {
                maxRetries: endpoint.maxRetries,
                signal,
                onRetry: (e) => {
                  attempts = e.attempt;
                  failed(e.attempt, e.error);
                  deps.log(`model request retry ${e.attempt} (${e.error}); waiting ${Math.round(e.delayMs)} ms`);
                },
              },
            );
            res.samples.forEach((s, i) =>
              buffer.push({
                ...base,
                sampleIndex: missing[i],
                text: s.text,
                logprob: s.logprob,
                promptTokens: res.promptTokens,
                completionTokens: s.completionTokens,
                latencyMs: res.latencyMs,
                finishReason: s.finishReason,
                flags: res.retries ? { retries: res.retries } : {},
              }),
            );
          } catch (err) {
            // Cancelled (the worker shuts down, the workflow cancels): the model server did nothing wrong. The attempt
            // ends as cancelled and is retried, rather than reported as a refusal no retry fixes (found by the
            // durability tests: a graceful worker restart mid-generation sent the round to NeedsAttention).
            if (signal.aborted) throw new CancelledFailure('cancelled while sampling');
            failed(attempts + 1, describeError(err), true);
            // A malformed answer after retries is recorded against the samples (an error verdict follows), not lost.
            const malformed = err instanceof MalformedResponseError || err instanceof SyntaxError;
            if (!malformed) {
              if (!classifyError(err).retry) throw nonRetryable(err);
              // Say where and how often, so the round's NeedsAttention details are actionable.
              const tries = attempts + 1;
              throw new Error(`model server ${endpoint.baseUrl}: ${describeError(err)} (${tries} ${tries === 1 ? 'attempt' : 'attempts'})`);
            }
            result.errors += missing.length;
            for (const sampleIndex of missing) {
              buffer.push({
                ...base,
                sampleIndex,
                text: '',
                error: `malformed response: ${(err as Error).message}`.slice(0, 500),
              });
            }
          }
          done++;
          if (buffer.length >= 256) await flush();
          heartbeats.beat({ done, total: todo.length });
        });
      } finally {
        heartbeats.stop();
        await flush();
      }
      return result;
    },
  };
}

function describeError(err: unknown): string {
  const c = classifyError(err);
  return c.retry ? c.reason : err instanceof Error ? err.message : String(err);
}

/** Errors the model server will give again (400 bad request, 401, 404 unknown model) stop the shard's retries. */
function nonRetryable(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.nonRetryable(`model server refused the request: ${message}`, 'ModelRequestRefused');
}
