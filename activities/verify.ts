/**
 * The verify stage, one shard at a time: ground-truth verdicts for every trace of the shard's problems that has
 * none yet from this verifier version.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { problemsInShard } from '../db/problems.js';
import { getRoundContext } from '../db/rounds.js';
import { splitOf } from '../lib/round/purpose.js';
import { insertVerdicts, unverifiedTraces, verdictRow, type NewVerdict } from '../db/traces.js';
import type { ShardInput, ShardResult } from '../workflows/shared.js';
import type { ActivityDeps } from './deps.js';
import { cancellationSignal, forEachLimit, startHeartbeats } from './heartbeat.js';

export function verifyActivities(deps: ActivityDeps) {
  return {
    async verifyShard(input: ShardInput): Promise<ShardResult> {
      const { db } = deps;
      const { run, round, config } = await getRoundContext(db, input.roundId);
      const verifier = deps.verifier(config.verifier, config.model);
      const problems = await problemsInShard(db, run.taskSet, splitOf(input.purpose), input.shard, input.shards);
      const todo = await unverifiedTraces(db, round.id, input.purpose, problems.map((p) => p.id), verifier);
      const signal = cancellationSignal();
      const heartbeats = startHeartbeats();
      const result: ShardResult = { written: 0, skipped: 0, errors: 0 };
      // Verdicts are written ~1,000 at a time (one commit each: bench/ingest.ts), verified 256 at a time.
      let pending: NewVerdict[] = [];
      const write = async () => {
        const rows = pending;
        pending = [];
        if (rows.length) result.written += await insertVerdicts(db, rows);
      };
      try {
        for (let i = 0; i < todo.length; i += 256) {
          const chunk = todo.slice(i, i + 256);
          const rows: NewVerdict[] = new Array(chunk.length);
          await forEachLimit(chunk, 8, async (trace, j) => {
            if (trace.error) {
              result.errors++;
              rows[j] = verdictRow(trace.id, verifier, { score: 0, correct: false, answer: null, detail: `no answer: ${trace.error}` });
              return;
            }
            try {
              const v = await verifier.verify({ prompt: trace.prompt, reference: trace.reference, text: trace.text }, { signal });
              rows[j] = verdictRow(trace.id, verifier, v);
            } catch (err) {
              // Cancelled (a worker shutting down): not a verifier fault; retried, not sent to an operator (as in
              // generate.ts).
              if (signal.aborted) throw new CancelledFailure('cancelled while verifying');
              // A verifier that throws is misconfigured (wrong verifier for the task, reference missing a field):
              // retrying will not help, a person will.
              throw ApplicationFailure.nonRetryable(
                `verifier ${verifier.name}@${verifier.version} failed on trace ${trace.id}: ${(err as Error).message}`,
                'VerifierError',
              );
            }
          });
          pending.push(...rows);
          if (pending.length >= 1024) await write();
          heartbeats.beat({ verified: i + chunk.length, total: todo.length });
        }
        await write();
      } catch (err) {
        // What was verified before a failure is kept, as each chunk's verdicts were before they were batched.
        await write().catch(() => {});
        throw err;
      } finally {
        heartbeats.stop();
      }
      return result;
    },
  };
}
