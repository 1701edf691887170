/** Traces, their verdicts and search results: bulk writes keyed for idempotency. */
import { and, asc, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { VerifiedSample } from '../lib/search/rank-samples.js';
import type { Db } from './client.js';
import { modelErrors, problems, searchResults, traces, verdicts, type NewTrace } from './schema.js';

/** A transaction of `db.transaction`, or the database itself: what writes that join a caller's transaction take. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

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
  return withoutVerdict(db, verifier, and(eq(traces.roundId, roundId), eq(traces.purpose, purpose), inArray(traces.problemId, problemIds)));
}

/** Traces matching `where` that have no verdict from this verifier version, oldest first (at most `limit`). */
export function withoutVerdict(db: Db, verifier: { name: string; version: string }, where: SQL | undefined, limit?: number): Promise<TraceToVerify[]> {
  const query = db
    .select({ id: traces.id, text: traces.text, error: traces.error, prompt: problems.prompt, reference: problems.reference })
    .from(traces)
    .innerJoin(problems, eq(problems.id, traces.problemId))
    .leftJoin(
      verdicts,
      and(eq(verdicts.traceId, traces.id), eq(verdicts.verifier, verifier.name), eq(verdicts.verifierVersion, verifier.version)),
    )
    .where(and(where, isNull(verdicts.id)))
    .orderBy(asc(traces.id));
  return limit === undefined ? query : query.limit(limit);
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

/** A trace and the verdict it gets, written together. */
export interface VerifiedTrace {
  trace: NewTrace;
  verdict: { score: number; correct: boolean; answer: string | null; detail: string };
}

/**
 * Inserts traces each with its verdict, in the caller's transaction: a trace whose key exists is left as it is (and
 * gets no second verdict). Returns the new trace ids, null where the trace was already there.
 */
export async function insertVerifiedTraces(
  tx: DbOrTx,
  verifier: { name: string; version: string },
  rows: readonly VerifiedTrace[],
): Promise<Array<number | null>> {
  const ids: Array<number | null> = [];
  for (const { trace, verdict } of rows) {
    const [row] = await tx.insert(traces).values(trace).onConflictDoNothing().returning({ id: traces.id });
    ids.push(row?.id ?? null);
    if (row) await tx.insert(verdicts).values(verdictRow(row.id, verifier, verdict)).onConflictDoNothing();
  }
  return ids;
}

/** {@link insertVerifiedTraces} in a transaction of its own; returns how many traces were new. */
export async function storeVerifiedTraces(
  db: Db,
  verifier: { name: string; version: string },
  rows: readonly VerifiedTrace[],
): Promise<number> {
  const ids = await db.transaction((tx) => insertVerifiedTraces(tx, verifier, rows));
  return ids.filter((id) => id !== null).length;
}

/** Problems (of these) with a correct train trace this round, sampled or searched, or a rationalization already. */
export async function solvedOrRationalized(db: Db, roundId: number, problemIds: readonly number[]): Promise<Set<number>> {
  if (problemIds.length === 0) return new Set();
  const res = await db.execute(sql`
    SELECT DISTINCT t.problem_id FROM flywheel.traces t LEFT JOIN flywheel.verdicts v ON v.trace_id = t.id
    WHERE t.round_id = ${roundId} AND t.purpose = 'train'
      AND (v.correct OR t.strategy = 'rationalize')
      AND t.problem_id IN (${sql.join(problemIds.map((id) => sql`${id}`), sql`, `)})`);
  return new Set((res.rows as Array<{ problem_id: string | number }>).map((r) => Number(r.problem_id)));
}

/** Problems (of these) that a train sample of this round solved. */
export async function solvedBySampling(db: Db, roundId: number, problemIds: readonly number[]): Promise<Set<number>> {
  if (problemIds.length === 0) return new Set();
  const res = await db.execute(sql`
    SELECT DISTINCT t.problem_id FROM flywheel.traces t JOIN flywheel.verdicts v ON v.trace_id = t.id
    WHERE t.round_id = ${roundId} AND t.purpose = 'train' AND t.strategy = 'sample' AND v.correct
      AND t.problem_id IN (${sql.join(problemIds.map((id) => sql`${id}`), sql`, `)})`);
  return new Set((res.rows as Array<{ problem_id: string | number }>).map((r) => Number(r.problem_id)));
}

/**
 * A buffered writer of one shard's traces and model errors: rows are kept until `flush` (or until the buffer holds
 * `batch` traces), so a shard of thousands of samples writes in a few statements, and what a failing shard did is
 * still stored by the caller's final `flush`.
 */
export function createTraceWriter(
  db: Db,
  at: { roundId: number; purpose: string; model: string },
  batch = 256,
) {
  let traceRows: NewTrace[] = [];
  let errorRows: NewModelError[] = [];
  let written = 0;
  const flush = async () => {
    const rows = traceRows;
    const failed = errorRows;
    traceRows = [];
    errorRows = [];
    if (rows.length) written += await insertTraces(db, rows);
    if (failed.length) await insertModelErrors(db, failed);
  };
  return {
    /** Adds traces (a row without its round, purpose and model); flushes when the buffer is full. */
    async add(rows: ReadonlyArray<Omit<NewTrace, 'roundId' | 'purpose' | 'model'>>) {
      for (const row of rows) traceRows.push({ ...row, roundId: at.roundId, purpose: at.purpose, model: at.model });
      if (traceRows.length >= batch) await flush();
    },
    addError(row: Omit<NewModelError, 'roundId' | 'purpose'>) {
      errorRows.push({ ...row, roundId: at.roundId, purpose: at.purpose });
    },
    flush,
    /** Traces new in the database so far (rows that already existed are not counted). */
    get written() {
      return written;
    },
  };
}
