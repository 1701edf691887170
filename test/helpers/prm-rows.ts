/**
 * A round's second learner stored the way `fineTunePrm` leaves it, without training one: step labels in
 * `search_steps`, the round's PRM dataset over them, the `fine_tunes` row of learner `prm`, its model in `models`, the
 * gate's `rounds.stats.prm`, and PRM requests on the round's search results. For the report's tests: the numbers are
 * the test's, so it can look for them on the page.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { ensureFineTune, updateFineTune } from '../../db/fine-tunes.js';
import { mergeRoundStats } from '../../db/rounds.js';
import { promotePrm, upsertModel } from '../../db/runs.js';
import { datasets, prmDatasetItems, rounds, searchSteps } from '../../db/schema.js';
import { insertSearchSteps } from '../../db/search-steps.js';

export interface StoredPrmRound {
  runId: string;
  round: number;
  /** A train problem of the run, whose steps are labelled. */
  problemId: number;
  /** How many step labels each earlier round's search gave the dataset (searched round → labels). */
  labels: Record<number, number>;
  examples: number;
  job: { id: string; status: string };
  /** The model the job made (none while it runs). */
  model?: { name: string; parent: string };
  /** What the gate wrote in the round's stats (`stats.prm`); with `promoted: true` the model is promoted too. */
  gate?: Record<string, unknown> & { promoted: boolean };
  /** PRM requests set on each of the round's search results (the report sums them). */
  scorerCallsPerResult?: number;
}

async function roundId(db: Db, runId: string, index: number): Promise<number> {
  const [row] = await db.select({ id: rounds.id }).from(rounds).where(and(eq(rounds.runId, runId), eq(rounds.index, index)));
  if (!row) throw new Error(`run ${runId} has no round ${index}`);
  return row.id;
}

/** Stores one round's PRM (replacing the round's PRM dataset); returns the dataset's id. */
export async function storePrmRound(db: Db, spec: StoredPrmRound): Promise<number> {
  const stepIds: number[] = [];
  for (const [searched, n] of Object.entries(spec.labels)) {
    const at = { roundId: await roundId(db, spec.runId, Number(searched)), problemId: spec.problemId, purpose: 'train', strategy: 'mcts', source: 'mcts' };
    // Steps of their own (a prefix of this fixture's name): never one a real search of the run stored.
    const prefix = `prm fixture of round ${spec.round}\n`;
    const steps = Array.from({ length: n }, (_, i) => ({ prefix, step: `step ${i}`, depth: 2, visits: 2, rollouts: 2, verifiedRollouts: i % 2, value: (i % 2) / 2, verdict: null }));
    await insertSearchSteps(db, at, steps);
    const rows = await db
      .select({ id: searchSteps.id })
      .from(searchSteps)
      .where(and(eq(searchSteps.roundId, at.roundId), eq(searchSteps.problemId, spec.problemId), eq(searchSteps.prefix, prefix)));
    stepIds.push(...rows.map((r) => r.id));
  }
  const [dataset] = await db
    .insert(datasets)
    .values({ runId: spec.runId, round: spec.round, kind: 'prm', filter: { fixture: true }, items: spec.examples, problems: 1 })
    // The filter stage builds a PRM dataset every round: this one replaces it, so its numbers are the test's.
    .onConflictDoUpdate({ target: [datasets.runId, datasets.round, datasets.kind], set: { filter: { fixture: true }, items: spec.examples, problems: 1 } })
    .returning({ id: datasets.id });
  await db.delete(prmDatasetItems).where(eq(prmDatasetItems.datasetId, dataset!.id));
  if (stepIds.length > 0) {
    await db.insert(prmDatasetItems).values(
      stepIds.map((stepId, i) => ({ datasetId: dataset!.id, stepId, problemId: spec.problemId, depth: 2, rollouts: 2, verifiedRollouts: i % 2, softLabel: (i % 2) / 2, label: i % 2 === 1, complete: true, example: i < spec.examples })),
    );
  }
  const job = await ensureFineTune(db, { runId: spec.runId, round: spec.round, learner: 'prm', backend: 'openai', baseModel: spec.model?.parent ?? 'base', datasetId: dataset!.id, hyperparameters: {} });
  await updateFineTune(db, job.id, { externalJobId: spec.job.id, status: spec.job.status, ...(spec.model ? { resultModel: spec.model.name } : {}) });
  if (spec.model) {
    await upsertModel(db, { runId: spec.runId, round: spec.round, name: spec.model.name, baseUrl: 'http://model.invalid/v1', parentName: spec.model.parent, datasetId: dataset!.id, fineTuneId: job.id, kind: 'api', learner: 'prm' });
    if (spec.gate?.promoted) await promotePrm(db, spec.runId, spec.model.name);
  }
  const id = await roundId(db, spec.runId, spec.round);
  if (spec.gate) await mergeRoundStats(db, id, { prm: { jobId: spec.job.id, model: spec.model?.name, datasetId: dataset!.id, ...spec.gate } });
  if (spec.scorerCallsPerResult !== undefined) {
    await db.execute(sql`UPDATE flywheel.search_results SET scorer_calls = ${spec.scorerCallsPerResult} WHERE round_id = ${id}`);
  }
  return dataset!.id;
}
