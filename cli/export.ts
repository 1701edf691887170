/**
 * `flywheel export <run> --round N`: a round's training set as chat JSONL on stdout (the exact file its trainer job
 * read), to train elsewhere or to inspect. `--traces` exports every verified trace of the round instead.
 */
import { sql } from 'drizzle-orm';
import { datasetExamples, getDataset } from '../db/datasets.js';
import { getRun, runConfig } from '../db/runs.js';
import { toChatJsonl } from '../lib/train/chat-jsonl.js';
import { openDatabase, resolveConnections } from './connections.js';
import { UsageError } from './errors.js';

export async function exportCommand(runId: string, options: { round: string; traces?: boolean }) {
  const round = Number(options.round);
  if (!Number.isInteger(round) || round < 0) throw new UsageError(`--round must be a round number, got "${options.round}"`);
  const database = await openDatabase(resolveConnections().databaseUrl, { migrate: false });
  try {
    const run = await getRun(database.db, runId);
    const system = runConfig(run).model.systemPrompt;
    if (options.traces) {
      const res = await database.db.execute(sql`
        SELECT p.prompt, t.text, t.strategy, t.sample_index, v.score, v.correct
        FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id
        JOIN flywheel.problems p ON p.id = t.problem_id JOIN flywheel.verdicts v ON v.trace_id = t.id
        WHERE r.run_id = ${runId} AND r.index = ${round} AND t.purpose = 'train'
        ORDER BY t.id`);
      for (const row of res.rows as Array<Record<string, unknown>>) process.stdout.write(`${JSON.stringify(row)}\n`);
      return;
    }
    const dataset = await getDataset(database.db, runId, round);
    if (!dataset) throw new UsageError(`run ${runId} has no training set for round ${round} (round 0 trains nothing)`);
    const examples = await datasetExamples(database.db, dataset.id);
    process.stdout.write(toChatJsonl(examples.map((e) => ({ prompt: e.prompt, completion: e.text })), system));
    process.stderr.write(`${examples.length} examples of round ${round} (dataset ${dataset.id}, filter ${JSON.stringify(dataset.filter)})\n`);
  } finally {
    await database.close();
  }
}
