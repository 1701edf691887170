/** Queries of `flywheel reverify`: a run's rounds, and their traces without a verdict of one verifier version. */
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from './client.js';
import { rounds, traces, type Round } from './schema.js';
import { withoutVerdict, type TraceToVerify } from './traces.js';

export async function runRounds(db: Db, runId: string, index?: number): Promise<Round[]> {
  const where = index === undefined ? eq(rounds.runId, runId) : and(eq(rounds.runId, runId), eq(rounds.index, index));
  return db.select().from(rounds).where(where).orderBy(asc(rounds.index));
}

/** Every trace of the round (any purpose) that has no verdict from this verifier version, oldest first. */
export async function tracesWithoutVerdict(
  db: Db,
  roundId: number,
  verifier: { name: string; version: string },
  limit = 1000,
): Promise<TraceToVerify[]> {
  return withoutVerdict(db, verifier, eq(traces.roundId, roundId), limit);
}
