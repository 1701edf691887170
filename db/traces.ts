/** Traces, their verdicts and search results: bulk writes keyed for idempotency. */
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from './client.js';
import { modelErrors, problems, searchResults, traces, verdicts, type NewTrace } from './schema.js';

/** For each problem: strategy → the sample indices already stored. */
export async function existingSamples(
  db: Db,
  roundId: number,
  purpose: string,
  problemIds: number[],
): Promise<Map<number, Map<string, Set<number>>>> {
  const out = new Map<number, Map<string, Set<number>>>();
  if (problemIds.length === 0) return out;
  const rows = await db
    .select({ problemId: traces.problemId, strategy: traces.strategy, sampleIndex: traces.sampleIndex })
    .from(traces)
    .where(and(eq(traces.roundId, roundId), eq(traces.purpose, purpose), inArray(traces.problemId, problemIds)));
  for (const r of rows) {
    const byStrategy = out.get(r.problemId) ?? new Map<string, Set<number>>();
    const set = byStrategy.get(r.strategy) ?? new Set<number>();
    set.add(r.sampleIndex);
    byStrategy.set(r.strategy, set);
    out.set(r.problemId, byStrategy);
  }
  return out;
}

/** Inserts traces; rows whose key already exists are left as they are. Returns how many were new. */
export async function insertTraces(db: Db, rows: NewTrace[]): Promise<number> {
  let written = 0;
  for (let i = 0; i < rows.length; i += 500) {
    const res = await db
      .insert(traces)
      .values(rows.slice(i, i + 500))
      .onConflictDoNothing()
      .returning({ id: traces.id });
    written += res.length;
  }
  return written;
}

export interface TraceToVerify {
  id: number;
  text: string;
  error: string | null;
  prompt: string;
  reference: unknown;
}

/** Traces of these problems that have no verdict from this verifier version yet. */
export async function unverifiedTraces(
  db: Db,
  roundId: number,
  purpose: string,
  problemIds: number[],
  verifier: { name: string; version: string },
): Promise<TraceToVerify[]> {
  if (problemIds.length === 0) return [];
  return db
    .select({ id: traces.id, text: traces.text, error: traces.error, prompt: problems.prompt, reference: problems.reference })
    .from(traces)
    .innerJoin(problems, eq(problems.id, traces.problemId))
    .leftJoin(
      verdicts,
      and(eq(verdicts.traceId, traces.id), eq(verdicts.verifier, verifier.name), eq(verdicts.verifierVersion, verifier.version)),
    )
    .where(
      and(eq(traces.roundId, roundId), eq(traces.purpose, purpose), inArray(traces.problemId, problemIds), isNull(verdicts.id)),
    )
    .orderBy(asc(traces.id));
}

export interface NewVerdict {
  traceId: number;
  verifier: string;
  verifierVersion: string;
  score: number;
  correct: boolean;
  answer: string | null;
  detail: string;
}

/** The row that stores a verifier's verdict on a trace (details capped at 2,000 characters). */
export function verdictRow(
  traceId: number,
  verifier: { name: string; version: string },
  verdict: { score: number; correct: boolean; answer: string | null; detail: string },
): NewVerdict {
  return {
    traceId,
    verifier: verifier.name,
    verifierVersion: verifier.version,
    score: verdict.score,
    correct: verdict.correct,
    answer: verdict.answer,
    detail: verdict.detail.slice(0, 2000),
  };
}

export async function insertVerdicts(db: Db, rows: NewVerdict[]): Promise<number> {
  let written = 0;
  for (let i = 0; i < rows.length; i += 1000) {
    const res = await db
      .insert(verdicts)
      .values(rows.slice(i, i + 1000))
      .onConflictDoNothing()
      .returning({ id: verdicts.id });
    written += res.length;
  }
  return written;
}

export interface VerifiedSample {
  traceId: number;
  problemId: number;
  strategy: string;
  sampleIndex: number;
  logprob: number | null;
  completionTokens: number;
  answer: string | null;
  score: number;
  correct: boolean;
}

/** Every trace of a round and purpose with its verdict, ordered by problem, strategy and sample index. */
export async function verifiedSamples(
  db: Db,
  roundId: number,
  purpose: string,
  verifier: { name: string; version: string },
): Promise<VerifiedSample[]> {
  return db
    .select({
      traceId: traces.id,
      problemId: traces.problemId,
      strategy: traces.strategy,
      sampleIndex: traces.sampleIndex,
      logprob: traces.logprob,
      completionTokens: traces.completionTokens,
      answer: verdicts.answer,
      score: verdicts.score,
      correct: verdicts.correct,
    })
    .from(traces)
    .innerJoin(
      verdicts,
      and(eq(verdicts.traceId, traces.id), eq(verdicts.verifier, verifier.name), eq(verdicts.verifierVersion, verifier.version)),
    )
    .where(and(eq(traces.roundId, roundId), eq(traces.purpose, purpose)))
    .orderBy(asc(traces.problemId), asc(traces.strategy), asc(traces.sampleIndex));
}

/** Sets the search score of many traces in one statement. */
export async function setTraceScores(db: Db, scores: Array<{ traceId: number; score: number }>): Promise<void> {
  for (let i = 0; i < scores.length; i += 2000) {
    const chunk = scores.slice(i, i + 2000);
    const values = sql.join(
      chunk.map((s) => sql`(${s.traceId}::bigint, ${s.score}::real)`),
      sql`, `,
    );
    await db.execute(sql`UPDATE flywheel.traces AS t SET score = v.score FROM (VALUES ${values}) AS v(id, score) WHERE t.id = v.id`);
  }
}

export type NewSearchResult = typeof searchResults.$inferInsert;

export async function upsertSearchResults(db: Db, rows: NewSearchResult[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    await db
      .insert(searchResults)
      .values(rows.slice(i, i + 1000))
      .onConflictDoUpdate({
        target: [searchResults.roundId, searchResults.problemId, searchResults.purpose, searchResults.strategy],
        set: {
          traceId: sql`excluded.trace_id`,
          answer: sql`excluded.answer`,
          votes: sql`excluded.votes`,
          calls: sql`excluded.calls`,
          tokens: sql`excluded.tokens`,
        },
      });
  }
}

export type NewModelError = typeof modelErrors.$inferInsert;

export async function insertModelErrors(db: Db, rows: NewModelError[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) await db.insert(modelErrors).values(rows.slice(i, i + 1000));
}
