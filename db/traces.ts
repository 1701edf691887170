/** Traces, their verdicts and search results: bulk writes keyed for idempotency. */
import { and, asc, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { VerifiedSample } from '../lib/search/rank-samples.js';
import type { Db } from './client.js';
import { copyMerge, poolOf, type CopyColumn } from './copy.js';
import { streamRows } from './cursor.js';
import type { modelErrors, searchResults } from './schema.js';
import { problems, traces, verdicts, type NewTrace } from './schema.js';

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

/** The columns a trace is written with (its id and creation time are the table's defaults). */
const TRACE_COLUMNS: ReadonlyArray<CopyColumn<NewTrace>> = [
  { name: 'round_id', value: (t) => t.roundId },
  { name: 'problem_id', value: (t) => t.problemId },
  { name: 'purpose', value: (t) => t.purpose },
  { name: 'strategy', value: (t) => t.strategy },
  { name: 'sample_index', value: (t) => t.sampleIndex },
  { name: 'model', value: (t) => t.model },
  { name: 'text', value: (t) => t.text },
  { name: 'logprob', value: (t) => t.logprob },
  { name: 'score', value: (t) => t.score },
  { name: 'prompt_tokens', value: (t) => t.promptTokens ?? 0 },
  { name: 'completion_tokens', value: (t) => t.completionTokens ?? 0 },
  { name: 'latency_ms', value: (t) => t.latencyMs ?? 0 },
  { name: 'finish_reason', value: (t) => t.finishReason },
  { name: 'error', value: (t) => t.error },
  { name: 'flags', value: (t) => t.flags ?? {} },
];

/**
 * Inserts traces (COPY into staging, merged on the sample key); rows whose key already exists are left as they are.
 * Returns how many were new.
 */
export async function insertTraces(db: Db, rows: NewTrace[]): Promise<number> {
  return copyMerge(poolOf(db), { table: '"flywheel"."traces"', columns: TRACE_COLUMNS, onConflict: { nothing: true } }, rows);
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

const VERDICT_COLUMNS: ReadonlyArray<CopyColumn<NewVerdict>> = [
  { name: 'trace_id', value: (v) => v.traceId },
  { name: 'verifier', value: (v) => v.verifier },
  { name: 'verifier_version', value: (v) => v.verifierVersion },
  { name: 'score', value: (v) => v.score },
  { name: 'correct', value: (v) => v.correct },
  { name: 'answer', value: (v) => v.answer },
  { name: 'detail', value: (v) => v.detail },
];

/** Inserts verdicts (COPY, merged on trace and verifier version): a trace's verdict is never written twice. */
export async function insertVerdicts(db: Db, rows: NewVerdict[]): Promise<number> {
  return copyMerge(poolOf(db), { table: '"flywheel"."verdicts"', columns: VERDICT_COLUMNS, onConflict: { nothing: true } }, rows);
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

/**
 * {@link verifiedSamples} of one strategy, streamed through a cursor in the same order (problem, sample index): what
 * a stage that goes over a whole round reads, a batch of problems at a time, instead of the round at once.
 */
export async function* streamVerifiedSamples(
  db: Db,
  roundId: number,
  purpose: string,
  strategy: string,
  verifier: { name: string; version: string },
): AsyncGenerator<VerifiedSample> {
  const rows = streamRows<{
    trace_id: string; problem_id: string; strategy: string; sample_index: number; logprob: number | null;
    completion_tokens: number; answer: string | null; score: number; correct: boolean;
  }>(
    poolOf(db),
    `SELECT t.id AS trace_id, t.problem_id, t.strategy, t.sample_index, t.logprob, t.completion_tokens, v.answer, v.score, v.correct
     FROM flywheel.traces t
     JOIN flywheel.verdicts v ON v.trace_id = t.id AND v.verifier = $4 AND v.verifier_version = $5
     WHERE t.round_id = $1 AND t.purpose = $2 AND t.strategy = $3
     ORDER BY t.problem_id, t.sample_index`,
    [roundId, purpose, strategy, verifier.name, verifier.version],
  );
  for await (const r of rows) {
    yield {
      traceId: Number(r.trace_id), problemId: Number(r.problem_id), strategy: r.strategy, sampleIndex: r.sample_index, logprob: r.logprob,
      completionTokens: r.completion_tokens, answer: r.answer, score: r.score, correct: r.correct,
    };
  }
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

const SEARCH_RESULT_COLUMNS: ReadonlyArray<CopyColumn<NewSearchResult>> = [
  { name: 'round_id', value: (r) => r.roundId },
  { name: 'problem_id', value: (r) => r.problemId },
  { name: 'purpose', value: (r) => r.purpose },
  { name: 'strategy', value: (r) => r.strategy },
  { name: 'trace_id', value: (r) => r.traceId },
  { name: 'answer', value: (r) => r.answer },
  { name: 'votes', value: (r) => r.votes ?? 0 },
  { name: 'calls', value: (r) => r.calls ?? 0 },
  { name: 'tokens', value: (r) => r.tokens ?? 0 },
  { name: 'prompt_tokens', value: (r) => r.promptTokens ?? 0 },
  { name: 'cached_prompt_tokens', value: (r) => r.cachedPromptTokens },
];

/**
 * Writes search results (COPY, merged on round, problem, purpose and strategy): a search run again replaces its
 * choice, trace, votes and compute; the prompt-token columns of a row already there are kept (as they were before
 * this moved to COPY).
 */
export async function upsertSearchResults(db: Db, rows: NewSearchResult[]): Promise<void> {
  await copyMerge(
    poolOf(db),
    {
      table: '"flywheel"."search_results"',
      columns: SEARCH_RESULT_COLUMNS,
      onConflict: { key: ['round_id', 'problem_id', 'purpose', 'strategy'], update: ['trace_id', 'answer', 'votes', 'calls', 'tokens'] },
    },
    rows,
  );
}

export type NewModelError = typeof modelErrors.$inferInsert;

const MODEL_ERROR_COLUMNS: ReadonlyArray<CopyColumn<NewModelError>> = [
  { name: 'round_id', value: (e) => e.roundId },
  { name: 'problem_id', value: (e) => e.problemId },
  { name: 'purpose', value: (e) => e.purpose },
  { name: 'strategy', value: (e) => e.strategy },
  { name: 'attempt', value: (e) => e.attempt },
  { name: 'error', value: (e) => e.error },
  { name: 'final', value: (e) => e.final ?? false },
];

/** Appends failed model attempts (a plain COPY: every attempt is its own row, there is no key). */
export async function insertModelErrors(db: Db, rows: NewModelError[]): Promise<void> {
  await copyMerge(poolOf(db), { table: '"flywheel"."model_errors"', columns: MODEL_ERROR_COLUMNS, onConflict: { append: true } }, rows);
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
  // Multi-row statements (the caller's transaction is a drizzle one, which COPY cannot join): the traces in one,
  // their verdicts in another, matched back to their rows by the sample key.
  const ids: Array<number | null> = [];
  const key = (t: { roundId: number; problemId: number; purpose: string; strategy: string; sampleIndex: number }) =>
    `${t.roundId}/${t.problemId}/${t.purpose}/${t.strategy}/${t.sampleIndex}`;
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const inserted = await tx
      .insert(traces)
      .values(chunk.map((r) => r.trace))
      .onConflictDoNothing()
      .returning({ id: traces.id, roundId: traces.roundId, problemId: traces.problemId, purpose: traces.purpose, strategy: traces.strategy, sampleIndex: traces.sampleIndex });
    const byKey = new Map(inserted.map((r) => [key(r), r.id]));
    const verdictRows: NewVerdict[] = [];
    for (const { trace, verdict } of chunk) {
      const id = byKey.get(key(trace)) ?? null;
      // A key twice in one call: the first row is the one inserted, the second already existed.
      byKey.delete(key(trace));
      ids.push(id);
      if (id !== null) verdictRows.push(verdictRow(id, verifier, verdict));
    }
    if (verdictRows.length) await tx.insert(verdicts).values(verdictRows).onConflictDoNothing();
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
 * `batch` traces or about a megabyte of text), so a shard of thousands of samples writes in a few COPYs, and what a
 * failing shard did is still stored by the caller's final `flush`. Each write is a commit (an fsync): batches of
 * ~1,000 rows are what brings the writer near a raw COPY's pace (bench/ingest.ts), and the byte cap bounds what one
 * shard holds in memory however long its traces are.
 */
export function createTraceWriter(
  db: Db,
  at: { roundId: number; purpose: string; model: string },
  batch = 1024,
) {
  let traceRows: NewTrace[] = [];
  let errorRows: NewModelError[] = [];
  let bufferedChars = 0;
  let written = 0;
  const flush = async () => {
    const rows = traceRows;
    const failed = errorRows;
    traceRows = [];
    errorRows = [];
    bufferedChars = 0;
    if (rows.length) written += await insertTraces(db, rows);
    if (failed.length) await insertModelErrors(db, failed);
  };
  return {
    /** Adds traces (a row without its round, purpose and model); flushes when the buffer is full. */
    async add(rows: ReadonlyArray<Omit<NewTrace, 'roundId' | 'purpose' | 'model'>>) {
      for (const row of rows) {
        traceRows.push({ ...row, roundId: at.roundId, purpose: at.purpose, model: at.model });
        bufferedChars += row.text.length;
      }
      if (traceRows.length >= batch || bufferedChars >= MAX_BUFFERED_CHARS) await flush();
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

const MAX_BUFFERED_CHARS = 1 << 20;
