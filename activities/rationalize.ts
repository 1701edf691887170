/**
 * STaR rationalization, one shard of train problems at a time: a problem that neither sampling nor search solved
 * this round is asked again with its reference answer as a hint (lib/round/rationalize.ts). The model's output is
 * verified against the ORIGINAL problem and stored without the hint (strategy 'rationalize', flagged), so that
 * training pairs the original prompt with a rationale that reaches the right answer.
 */
import { problemsInShard } from '../db/problems.js';
import { getRoundContext } from '../db/rounds.js';
import { solvedOrRationalized, storeVerifiedTraces } from '../db/traces.js';
import { createModelClient } from '../lib/llm/client.js';
import { limiterOf } from '../lib/llm/limiter.js';
import { sampleChat } from '../lib/llm/sample.js';
import { hashSeed } from '../lib/rng.js';
import { samplingModel } from '../lib/round/purpose.js';
import { hintAnswer, hintedPrompt } from '../lib/round/rationalize.js';
import type { ShardInput, ShardResult } from '../workflows/shared.js';
import { resolveEndpoint, type ActivityDeps } from './deps.js';
import { cancellationSignal, forEachLimit, startHeartbeats } from './heartbeat.js';

export function rationalizeActivities(deps: ActivityDeps) {
  return {
    async rationalizeShard(input: ShardInput): Promise<ShardResult> {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, input.roundId);
      const result: ShardResult = { written: 0, skipped: 0, errors: 0 };
      const model = samplingModel(round, 'train');
      const problems = await problemsInShard(db, run.taskSet, 'train', input.shard, input.shards);
      const skip = await solvedOrRationalized(db, round.id, problems.map((p) => p.id));
      const todo = problems.filter((p) => !skip.has(p.id));
      if (todo.length === 0) return result;
      const endpoint = resolveEndpoint(deps, config.model);
      const client = createModelClient(endpoint);
      const limiter = limiterOf(endpoint);
      const verifier = deps.verifier(config.verifier, config.model);
      const signal = cancellationSignal();
      const heartbeats = startHeartbeats();
      try {
        let finished = 0;
        await forEachLimit(todo, config.generate.concurrency ?? limiter?.limits.maxConcurrency ?? todo.length, async (problem) => {
          const answer = hintAnswer(problem.reference);
          if (answer === null) {
            result.skipped++;
            return;
          }
          const res = await sampleChat(
            client,
            {
              model,
              prompt: hintedPrompt(problem.prompt, config.rationalize.hint, answer),
              systemPrompt: config.model.systemPrompt,
              n: config.rationalize.samples,
              temperature: config.generate.temperature,
              maxTokens: config.generate.maxTokens,
              seed: hashSeed(run.id, round.index, problem.id, 'rationalize'),
            },
            { maxRetries: endpoint.maxRetries, signal, limiter },
          );
          const rows = await Promise.all(
            res.samples.map(async (sample, sampleIndex) => ({
              trace: {
                roundId: round.id,
                problemId: problem.id,
                purpose: 'train',
                strategy: 'rationalize',
                sampleIndex,
                model,
                text: sample.text,
                logprob: sample.logprob,
                promptTokens: res.promptTokens,
                completionTokens: sample.completionTokens,
                latencyMs: res.latencyMs,
                finishReason: sample.finishReason,
                flags: { rationalized: true },
              },
              verdict: await verifier.verify({ prompt: problem.prompt, reference: problem.reference, text: sample.text }, { signal }),
            })),
          );
          result.written += await storeVerifiedTraces(db, verifier, rows);
          heartbeats.beat({ rationalized: ++finished, total: todo.length });
        });
      } finally {
        heartbeats.stop();
      }
      return result;
    },
  };
}
