/**
 * STaR rationalization, one shard of train problems at a time: a problem that neither sampling nor search solved
 * this round is asked again with its reference answer as a hint. The model's output is verified against the
 * ORIGINAL problem and stored without the hint (strategy 'rationalize', flagged), so that training pairs the
 * original prompt with a rationale that reaches the right answer.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { problemsInShard } from '../db/problems.js';
import { getRoundContext } from '../db/rounds.js';
import type { Problem } from '../db/schema.js';
import { traces, verdicts } from '../db/schema.js';
import { createModelClient } from '../lib/llm/client.js';
import { sampleChat } from '../lib/llm/sample.js';
import { hashSeed } from '../lib/rng.js';
import { verdictRow } from '../db/traces.js';
import type { ShardInput, ShardResult } from '../workflows/shared.js';
import { resolveEndpoint, type ActivityDeps } from './deps.js';
import { cancellationSignal, forEachLimit, startHeartbeats } from './heartbeat.js';

/** The answer a hint reveals: `reference.answer`, else countdown's known `solution`; null when there is none. */
export function hintAnswer(reference: unknown): string | null {
  if (!reference || typeof reference !== 'object') return typeof reference === 'string' ? reference : null;
  const r = reference as { answer?: unknown; solution?: unknown };
  const value = r.answer ?? r.solution;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
}

export function hintedPrompt(prompt: string, hint: string, answer: string): string {
  return `${prompt}\n\n${hint.split('{answer}').join(answer)}`;
}

export function rationalizeActivities(deps: ActivityDeps) {
  return {
    async rationalizeShard(input: ShardInput): Promise<ShardResult> {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, input.roundId);
      const result: ShardResult = { written: 0, skipped: 0, errors: 0 };
      const model = round.sampler;
      if (!model) throw new Error(`round ${round.index} has no sampler yet`);
      const problems = await problemsInShard(db, run.taskSet, 'train', input.shard, input.shards);
      const todo = await unsolved(db, round.id, problems);
      if (todo.length === 0) return result;
      const endpoint = resolveEndpoint(deps, config.model);
      const client = createModelClient(endpoint);
      const verifier = deps.verifier(config.verifier, config.model);
      const signal = cancellationSignal();
      const heartbeats = startHeartbeats();
      try {
        let finished = 0;
        await forEachLimit(todo, config.generate.concurrency, async (problem) => {
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
            { maxRetries: endpoint.maxRetries, signal },
          );
          const judged = await Promise.all(
            res.samples.map((s) => verifier.verify({ prompt: problem.prompt, reference: problem.reference, text: s.text }, { signal })),
          );
          await db.transaction(async (tx) => {
            for (const [i, sample] of res.samples.entries()) {
              const [row] = await tx
                .insert(traces)
                .values({
                  roundId: round.id,
                  problemId: problem.id,
                  purpose: 'train',
                  strategy: 'rationalize',
                  sampleIndex: i,
                  model,
                  text: sample.text,
                  logprob: sample.logprob,
                  promptTokens: res.promptTokens,
                  completionTokens: sample.completionTokens,
                  latencyMs: res.latencyMs,
                  finishReason: sample.finishReason,
                  flags: { rationalized: true },
                })
                .onConflictDoNothing()
                .returning({ id: traces.id });
              if (!row) continue;
              await tx.insert(verdicts).values(verdictRow(row.id, verifier, judged[i])).onConflictDoNothing();
              result.written++;
            }
          });
          heartbeats.beat({ rationalized: ++finished, total: todo.length });
        });
      } finally {
        heartbeats.stop();
      }
      return result;
    },
  };
}

/** Problems of the shard with no correct train trace this round (sampled or searched) and no rationalization yet. */
async function unsolved(db: Db, roundId: number, problems: Problem[]): Promise<Problem[]> {
  if (problems.length === 0) return [];
  const res = await db.execute(sql`
    SELECT DISTINCT t.problem_id FROM flywheel.traces t LEFT JOIN flywheel.verdicts v ON v.trace_id = t.id
    WHERE t.round_id = ${roundId} AND t.purpose = 'train'
      AND (v.correct OR t.strategy = 'rationalize')
      AND t.problem_id IN (${sql.join(problems.map((p) => sql`${p.id}`), sql`, `)})`);
  const skip = new Set((res.rows as Array<{ problem_id: string | number }>).map((r) => Number(r.problem_id)));
  return problems.filter((p) => !skip.has(p.id));
}
