/**
 * `flywheel reverify <run> [--round N]`: verdicts of the current version of the run's verifier for the traces that
 * have none from it (after a verifier changed version, say). Old verdicts stay as they are, keyed by their version;
 * running it twice writes nothing the second time. Needs only Postgres, not Temporal.
 */
import OpenAI from 'openai';
import { verifierSchema } from '../config/schema.js';
import { connectDatabase } from '../db/client.js';
import { runRounds, tracesWithoutVerdict } from '../db/reverify.js';
import { getRun, runConfig } from '../db/runs.js';
import { insertVerdicts, verdictRow, type NewVerdict } from '../db/traces.js';
import { closeSharedMathPool, createVerifier } from '../lib/verify/index.js';
import { flywheelHome, MissingServiceError, readStackFile } from './connections.js';
import { UsageError } from './errors.js';

export async function reverifyCommand(runId: string, options: { round?: string; json?: boolean }) {
  const index = options.round === undefined ? undefined : Number(options.round);
  if (index !== undefined && (!Number.isInteger(index) || index < 0)) throw new UsageError(`--round must be a round number, got "${options.round}"`);
  const databaseUrl = process.env.DATABASE_URL || readStackFile(flywheelHome())?.databaseUrl;
  if (!databaseUrl) throw new MissingServiceError('no DATABASE_URL: set it, or start the embedded stack with `npx flywheel dev`');
  const database = await connectDatabase(databaseUrl, { migrate: false });
  try {
    const run = await getRun(database.db, runId).catch(() => {
      throw new UsageError(`no run "${runId}" (see \`flywheel status\` for the latest runs)`);
    });
    const spec = verifierSchema.parse(runConfig(run).verifier);
    const openai = spec.name === 'judge' ? new OpenAI({ baseURL: process.env.FLYWHEEL_MODEL_URL, apiKey: process.env.OPENAI_API_KEY ?? 'not-needed' }) : undefined;
    const verifier = createVerifier(spec, { openai });
    const found = await runRounds(database.db, runId, index);
    if (found.length === 0) throw new UsageError(index === undefined ? `run ${runId} has no rounds yet` : `run ${runId} has no round ${index}`);
    const summary: Array<{ round: number; written: number }> = [];
    for (const round of found) {
      let written = 0;
      for (;;) {
        const todo = await tracesWithoutVerdict(database.db, round.id, verifier);
        if (todo.length === 0) break;
        const rows: NewVerdict[] = await Promise.all(
          todo.map(async (trace) =>
            trace.error
              ? verdictRow(trace.id, verifier, { score: 0, correct: false, answer: null, detail: `no answer: ${trace.error}` })
              : verdictRow(trace.id, verifier, await verifier.verify({ prompt: trace.prompt, reference: trace.reference, text: trace.text })),
          ),
        );
        const inserted = await insertVerdicts(database.db, rows);
        written += inserted;
        if (inserted === 0) break; // another process wrote them meanwhile
      }
      summary.push({ round: round.index, written });
      if (!options.json) process.stderr.write(`round ${round.index}: ${written} new verdicts from ${verifier.name}@${verifier.version}\n`);
    }
    if (options.json) process.stdout.write(`${JSON.stringify({ runId, verifier: verifier.name, version: verifier.version, rounds: summary })}\n`);
  } finally {
    await closeSharedMathPool();
    await database.close();
  }
}
