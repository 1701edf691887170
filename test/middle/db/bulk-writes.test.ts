/**
 * The COPY write path of db/traces.ts against a real Postgres: text that needs escaping survives byte for byte, a
 * batch written again writes nothing twice (the same keys as a plain ON CONFLICT insert), and the search-result
 * upsert replaces what a search chose.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyText } from '../../../db/copy.js';
import { problemIds } from '../../../db/problems.js';
import { modelErrors, searchResults, traces, verdicts } from '../../../db/schema.js';
import {
  createTraceWriter,
  insertModelErrors,
  insertTraces,
  insertVerdicts,
  insertVerifiedTraces,
  upsertSearchResults,
  verdictRow,
} from '../../../db/traces.js';
import { testDatabase, type TestDatabase } from '../../helpers/services.js';
import { storeRounds, storeRun } from '../fixtures.js';

let db: TestDatabase;
let roundId: number;
let problems: number[];

beforeAll(async () => {
  db = await testDatabase();
  const { runId, taskSet } = await storeRun(db.db);
  roundId = (await storeRounds(db.db, runId, 0)).id;
  problems = await problemIds(db.db, taskSet, 'train');
});
afterAll(async () => {
  await db?.drop();
});

const AWKWARD = 'tab\there, newline\nthere, CR\r, backslash \\ and \\N, quotes "\' and unicode ∑ 🙂';

describe('COPY text format', () => {
  it('escapes what delimits rows and fields, and writes NULL as \\N', () => {
    expect(copyText(null)).toBe('\\N');
    expect(copyText(undefined)).toBe('\\N');
    expect(copyText('\\N')).toBe('\\\\N');
    expect(copyText('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyText(true)).toBe('t');
    expect(copyText({ k: 'x\ny' })).toBe('{"k":"x\\\\ny"}');
  });
});

describe('bulk writes', () => {
  it('stores traces exactly, and a batch written again adds nothing', async () => {
    const rows = problems.slice(0, 3).flatMap((problemId) =>
      [0, 1].map((sampleIndex) => ({
        roundId, problemId, purpose: 'train', strategy: 'sample', sampleIndex, model: 'm',
        text: `${AWKWARD} #${sampleIndex}`, logprob: sampleIndex ? -0.5 : null, flags: { note: AWKWARD },
      })),
    );
    expect(await insertTraces(db.db, rows)).toBe(6);
    expect(await insertTraces(db.db, rows)).toBe(0);
    // A batch that overlaps: only the new key is written, the old rows keep their text.
    expect(await insertTraces(db.db, [{ ...rows[0]!, text: 'changed' }, { ...rows[0]!, sampleIndex: 9 }])).toBe(1);
    const stored = await db.db.select().from(traces).where(and(eq(traces.roundId, roundId), eq(traces.problemId, problems[0]!), eq(traces.sampleIndex, 0)));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ text: `${AWKWARD} #0`, logprob: null, flags: { note: AWKWARD }, promptTokens: 0, error: null });

    const ids = stored.map((t) => t.id);
    const verifier = { name: 'v', version: '1' };
    const verdict = verdictRow(ids[0]!, verifier, { score: 1, correct: true, answer: AWKWARD, detail: 'd' });
    expect(await insertVerdicts(db.db, [verdict, verdict])).toBe(1);
    expect(await insertVerdicts(db.db, [verdict])).toBe(0);
    const [v] = await db.db.select().from(verdicts).where(eq(verdicts.traceId, ids[0]!));
    expect(v).toMatchObject({ answer: AWKWARD, correct: true, score: 1 });
  });

  it('the trace writer counts only new traces and appends every model error', async () => {
    const at = { roundId, purpose: 'eval', model: 'm' };
    const writer = createTraceWriter(db.db, at, 4);
    const sample = (sampleIndex: number) => ({ problemId: problems[1]!, strategy: 'sample', sampleIndex, text: 't' });
    await writer.add([0, 1, 2, 3, 4].map(sample)); // flushes at 4
    writer.addError({ problemId: problems[1]!, strategy: 'sample', attempt: 1, error: `HTTP 500\n${AWKWARD}` });
    await writer.flush();
    await writer.add([3, 4, 5].map(sample));
    await writer.flush();
    expect(writer.written).toBe(6);
    await insertModelErrors(db.db, [{ roundId, purpose: 'eval', problemId: problems[1]!, strategy: 'sample', attempt: 1, error: 'again' }]);
    const errors = await db.db.select().from(modelErrors).where(eq(modelErrors.roundId, roundId));
    expect(errors.map((e) => e.error).sort()).toEqual([`HTTP 500\n${AWKWARD}`, 'again']);
    expect(errors.every((e) => e.final === false)).toBe(true);
  });

  it('search results: a search run again replaces its choice', async () => {
    const [trace] = await db.db.select({ id: traces.id }).from(traces).where(eq(traces.roundId, roundId)).limit(1);
    const row = { roundId, problemId: problems[0]!, purpose: 'train', strategy: 'majority', traceId: trace!.id, answer: '1', votes: 2, calls: 4, tokens: 10, promptTokens: 7 };
    await upsertSearchResults(db.db, [row]);
    await upsertSearchResults(db.db, [{ ...row, answer: '2', votes: 3, promptTokens: 99 }]);
    const stored = await db.db.select().from(searchResults).where(eq(searchResults.roundId, roundId));
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ answer: '2', votes: 3, calls: 4, promptTokens: 7, cachedPromptTokens: null });
  });

  it('verified traces in a transaction: new ones get a verdict, existing ones and repeats get null', async () => {
    const verifier = { name: 'v', version: '1' };
    const trace = (sampleIndex: number) => ({ roundId, problemId: problems[2]!, purpose: 'train', strategy: 'rationalize', sampleIndex, model: 'm', text: `r${sampleIndex}` });
    const verdict = { score: 1, correct: true, answer: 'a', detail: 'ok' };
    const first = await db.db.transaction((tx) => insertVerifiedTraces(tx, verifier, [{ trace: trace(0), verdict }]));
    expect(first).toHaveLength(1);
    expect(first[0]).toBeTypeOf('number');
    const again = await db.db.transaction((tx) =>
      insertVerifiedTraces(tx, verifier, [{ trace: trace(0), verdict }, { trace: trace(1), verdict }, { trace: trace(1), verdict }]),
    );
    expect(again[0]).toBeNull();
    expect(again[1]).toBeTypeOf('number');
    expect(again[2]).toBeNull();
    const stored = await db.db.select({ id: verdicts.id }).from(verdicts).innerJoin(traces, eq(traces.id, verdicts.traceId)).where(eq(traces.strategy, 'rationalize'));
    expect(stored).toHaveLength(2);
  });
});
