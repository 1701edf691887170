/** Rounds and their stage bookkeeping. */
import { and, eq, sql } from 'drizzle-orm';
import type { RunConfig } from '../config/schema.js';
import { runConfig } from './runs.js';
import type { Db } from './client.js';
import { roundStages, rounds, runs, type Round, type Run } from './schema.js';

/** Creates the round row once; a re-run of the round finds the same row. */
export async function ensureRound(
  db: Db,
  runId: string,
  index: number,
  init: { planned: number; sampler: string | null; model: string | null },
): Promise<Round> {
  await db
    .insert(rounds)
    .values({ runId, index, planned: init.planned, sampler: init.sampler, model: init.model })
    .onConflictDoNothing();
  const [row] = await db
    .select()
    .from(rounds)
    .where(and(eq(rounds.runId, runId), eq(rounds.index, index)));
  if (!row) throw new Error(`round ${index} of run ${runId} is missing right after its insert`);
  return row;
}

export interface RoundContext {
  round: Round;
  run: Run;
  config: RunConfig;
}

export async function getRoundContext(db: Db, roundId: number): Promise<RoundContext> {
  const [row] = await db.select().from(rounds).innerJoin(runs, eq(rounds.runId, runs.id)).where(eq(rounds.id, roundId));
  if (!row) throw new Error(`no round with id ${roundId}`);
  return { round: row.rounds, run: row.runs, config: runConfig(row.runs) };
}

export async function getRoundByIndex(db: Db, runId: string, index: number): Promise<Round | null> {
  const [row] = await db
    .select()
    .from(rounds)
    .where(and(eq(rounds.runId, runId), eq(rounds.index, index)));
  return row ?? null;
}

export async function updateRound(db: Db, roundId: number, set: Partial<Pick<Round, 'model' | 'sampler' | 'stage' | 'status'>>) {
  await db.update(rounds).set({ ...set, updatedAt: sql`now()` }).where(eq(rounds.id, roundId));
}

/** Merges keys into `rounds.stats`. */
export async function mergeRoundStats(db: Db, roundId: number, stats: Record<string, unknown>) {
  await db
    .update(rounds)
    .set({ stats: sql`${rounds.stats} || ${JSON.stringify(stats)}::jsonb`, updatedAt: sql`now()` })
    .where(eq(rounds.id, roundId));
}

export async function doneStages(db: Db, roundId: number): Promise<Set<string>> {
  const rows = await db
    .select({ stage: roundStages.stage })
    .from(roundStages)
    .where(and(eq(roundStages.roundId, roundId), eq(roundStages.status, 'done')));
  return new Set(rows.map((r) => r.stage));
}

export async function beginStage(db: Db, roundId: number, stage: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .insert(roundStages)
      .values({ roundId, stage, status: 'running' })
      .onConflictDoUpdate({ target: [roundStages.roundId, roundStages.stage], set: { status: 'running' } });
    await tx.update(rounds).set({ stage, updatedAt: sql`now()` }).where(eq(rounds.id, roundId));
  });
}

export async function completeStage(db: Db, roundId: number, stage: string, result: Record<string, unknown> = {}) {
  await db
    .update(roundStages)
    .set({ status: 'done', result, finishedAt: sql`now()` })
    .where(and(eq(roundStages.roundId, roundId), eq(roundStages.stage, stage)));
}

/** Marks the round (and its run) as waiting for an operator, or as running again when `failure` is null. */
export async function setAttention(db: Db, roundId: number, stage: string, failure: string | null) {
  const status = failure ? 'needs_attention' : 'running';
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(rounds)
      .set({
        status,
        stats: sql`${rounds.stats} || ${JSON.stringify({ attention: failure ? { stage, failure } : null })}::jsonb`,
        updatedAt: sql`now()`,
      })
      .where(eq(rounds.id, roundId))
      .returning({ runId: rounds.runId });
    if (row) await tx.update(runs).set({ status, updatedAt: sql`now()` }).where(eq(runs.id, row.runId));
  });
}

export async function setPlanned(db: Db, roundId: number, planned: number): Promise<void> {
  await db.update(rounds).set({ planned, updatedAt: sql`now()` }).where(eq(rounds.id, roundId));
}

/** The model a round starts from: the base for round 0, else what the round before chose to sample with. */
export async function startingModel(db: Db, runId: string, round: number): Promise<string> {
  if (round === 0) {
    const [run] = await db.select({ baseModel: runs.baseModel }).from(runs).where(eq(runs.id, runId));
    if (!run) throw new Error(`no run "${runId}" in the database`);
    return run.baseModel;
  }
  const previous = await getRoundByIndex(db, runId, round - 1);
  if (!previous?.sampler || previous.status !== 'completed') {
    throw new Error(`round ${round} of run ${runId} cannot start: round ${round - 1} has not completed`);
  }
  return previous.sampler;
}
