/**
 * Trace ingest against Postgres's own limit: traces (and their verdicts) per second through the real write path
 * (the generate stage's trace writer, the verify stage's insertVerdicts) ÷ a raw `COPY` of the same rows into the
 * same tables of the same Postgres, side by side in one run; then the bytes each trace and verdict takes in Postgres
 * (table + TOAST + indexes, pg_total_relation_size) at the bench's size.
 *
 * The two paths alternate (real, raw, real, raw...), each into a round of its own, so neither gets the emptier
 * table or the warmer cache; the ratio is of the sums over all repetitions.
 *
 * Usage: npx tsx bench/ingest.ts [--traces 200000] [--writers 4] [--reps 2] [--text 600] [--batch 1024]
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { from as copyFrom } from 'pg-copy-streams';
import { copyText } from '../db/copy.js';
import { upsertProblems } from '../db/problems.js';
import { ensureRound } from '../db/rounds.js';
import { insertRun } from '../db/runs.js';
import type { NewTrace } from '../db/schema.js';
import { createTraceWriter, insertVerdicts, verdictRow, type NewVerdict } from '../db/traces.js';
import { runConfigSchema } from '../config/schema.js';
import { testDatabase } from '../test/helpers/services.js';

const { values: args } = parseArgs({
  options: {
    traces: { type: 'string', default: '200000' },
    writers: { type: 'string', default: '4' },
    reps: { type: 'string', default: '2' },
    text: { type: 'string', default: '600' },
    problems: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '1024' },
  },
});
const TRACES = Number(args.traces);
const WRITERS = Number(args.writers);
const REPS = Number(args.reps);
const TEXT = Number(args.text);
const PROBLEMS = Number(args.problems);
/** Rows per write: the trace writer's buffer and the verify stage's chunk. */
const BATCH = Number(args.batch);
/** What a generate shard hands its writer at once: one problem's samples of one request (n = 4). */
const ADD = 4;

const db = await testDatabase();
try {
  const config = runConfigSchema.parse({ name: 'bench-ingest', rounds: 1, task: { kind: 'countdown', seed: 1, train: 10, test: 10 } });
  await upsertProblems(
    db.db,
    'bench-ingest',
    Array.from({ length: PROBLEMS }, (_, i) => ({ externalId: `p${i}`, split: 'train' as const, prompt: `problem ${i}`, reference: { i } })),
  );
  const problemIds = (await db.db.execute(sql`SELECT id FROM flywheel.problems WHERE task_set = 'bench-ingest' ORDER BY position`)).rows.map((r) => Number((r as { id: string }).id));
  await insertRun(db.db, { id: 'bench-ingest', config, taskSet: 'bench-ingest', baseUrl: 'http://model.invalid/v1' });

  // Model-like text: words of a reasoning trace, with the newlines and quotes COPY has to escape.
  const words = ['let', 'us', 'try', '(3 + 5)', '* 7', '= 56,', 'no;', 'then', '"maybe"', 'subtract\n', 'answer:', '42\t'];
  const textOf = (i: number) => {
    let s = '';
    for (let k = 0; s.length < TEXT; k++) s += `${words[(i * 7 + k * 13) % words.length]} `;
    return s;
  };
  const tracesOf = (roundId: number): NewTrace[] =>
    Array.from({ length: TRACES }, (_, i) => ({
      roundId,
      problemId: problemIds[i % PROBLEMS]!,
      purpose: 'train',
      strategy: 'sample',
      sampleIndex: Math.floor(i / PROBLEMS),
      model: 'bench-model',
      text: textOf(i),
      logprob: -0.25,
      promptTokens: 40,
      completionTokens: 150,
      latencyMs: 1,
      finishReason: 'stop',
      error: null,
      flags: {},
    }));

  /** The generate stage's path: one trace writer per shard, `WRITERS` shards at once, a request's samples at a time. */
  async function realTraces(rows: NewTrace[]): Promise<number> {
    const [first] = rows;
    if (!first) return 0;
    const shards = Array.from({ length: WRITERS }, (_, w) => rows.filter((_, i) => i % WRITERS === w));
    const counts = await Promise.all(
      shards.map(async (shard) => {
        const writer = createTraceWriter(db.db, { roundId: first.roundId, purpose: 'train', model: 'bench-model' }, BATCH);
        for (let i = 0; i < shard.length; i += ADD) {
          await writer.add(shard.slice(i, i + ADD).map(({ roundId: _r, purpose: _p, model: _m, ...rest }) => rest));
        }
        await writer.flush();
        return writer.written;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** The verify stage's path: a chunk of verdicts per insert, `WRITERS` shards at once. */
  async function realVerdicts(rows: NewVerdict[]): Promise<number> {
    const shards = Array.from({ length: WRITERS }, (_, w) => rows.filter((_, i) => i % WRITERS === w));
    const counts = await Promise.all(
      shards.map(async (shard) => {
        let n = 0;
        for (let i = 0; i < shard.length; i += BATCH) n += await insertVerdicts(db.db, shard.slice(i, i + BATCH));
        return n;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Postgres's own limit: one plain COPY per writer straight into the table, no staging, no conflict check. */
  async function rawCopy<Row>(table: string, columns: Array<[string, (r: Row) => unknown]>, rows: Row[]): Promise<number> {
    const names = columns.map(([n]) => n).join(', ');
    const shards = Array.from({ length: WRITERS }, (_, w) => rows.filter((_, i) => i % WRITERS === w));
    const counts = await Promise.all(
      shards.map(async (shard) => {
        const client = await db.pool.connect();
        try {
          const copy = client.query(copyFrom(`COPY ${table} (${names}) FROM STDIN`));
          const lines = function* () {
            let chunk = '';
            for (const row of shard) {
              chunk += columns.map(([, value]) => copyText(value(row))).join('\t') + '\n';
              if (chunk.length > 65536) {
                yield chunk;
                chunk = '';
              }
            }
            if (chunk) yield chunk;
          };
          await pipeline(Readable.from(lines()), copy);
          return copy.rowCount;
        } finally {
          client.release();
        }
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }
  const traceColumns: Array<[string, (t: NewTrace) => unknown]> = [
    ['round_id', (t) => t.roundId], ['problem_id', (t) => t.problemId], ['purpose', (t) => t.purpose], ['strategy', (t) => t.strategy],
    ['sample_index', (t) => t.sampleIndex], ['model', (t) => t.model], ['text', (t) => t.text], ['logprob', (t) => t.logprob],
    ['score', (t) => t.score], ['prompt_tokens', (t) => t.promptTokens], ['completion_tokens', (t) => t.completionTokens],
    ['latency_ms', (t) => t.latencyMs], ['finish_reason', (t) => t.finishReason], ['error', (t) => t.error], ['flags', (t) => t.flags],
  ];
  const verdictColumns: Array<[string, (v: NewVerdict) => unknown]> = [
    ['trace_id', (v) => v.traceId], ['verifier', (v) => v.verifier], ['verifier_version', (v) => v.verifierVersion],
    ['score', (v) => v.score], ['correct', (v) => v.correct], ['answer', (v) => v.answer], ['detail', (v) => v.detail],
  ];
  const verifier = { name: 'countdown', version: '1' };
  const verdictsOf = async (roundId: number) =>
    (await db.db.execute(sql`SELECT id FROM flywheel.traces WHERE round_id = ${roundId} ORDER BY id`)).rows.map((r, i) =>
      verdictRow(Number((r as { id: string }).id), verifier, { score: i % 3 === 0 ? 1 : 0, correct: i % 3 === 0, answer: '42', detail: 'checked: 42' }),
    );

  const time = async (fn: () => Promise<number>) => {
    const start = process.hrtime.bigint();
    const n = await fn();
    return { n, s: Number(process.hrtime.bigint() - start) / 1e9 };
  };
  const sums = { real: { t: 0, tn: 0, v: 0, vn: 0 }, raw: { t: 0, tn: 0, v: 0, vn: 0 } };
  let roundIndex = 0;
  for (let rep = 0; rep < REPS; rep++) {
    for (const path of ['real', 'raw'] as const) {
      const round = await ensureRound(db.db, 'bench-ingest', roundIndex++, { planned: TRACES, sampler: 'bench-model', model: 'bench-model' });
      const rows = tracesOf(round.id);
      const t = await time(() => (path === 'real' ? realTraces(rows) : rawCopy('flywheel.traces', traceColumns, rows)));
      const verdicts = await verdictsOf(round.id);
      const v = await time(() => (path === 'real' ? realVerdicts(verdicts) : rawCopy('flywheel.verdicts', verdictColumns, verdicts)));
      if (t.n !== TRACES || v.n !== TRACES) throw new Error(`${path}: wrote ${t.n} traces and ${v.n} verdicts, expected ${TRACES} of each`);
      sums[path].t += t.s;
      sums[path].tn += t.n;
      sums[path].v += v.s;
      sums[path].vn += v.n;
      console.log(`rep ${rep} ${path.padEnd(4)}: traces ${(t.n / t.s).toFixed(0).padStart(7)}/s, verdicts ${(v.n / v.s).toFixed(0).padStart(7)}/s`);
    }
  }
  // A retried shard: the same rows again write nothing (and how long finding that out takes).
  const round0 = await ensureRound(db.db, 'bench-ingest', 0, { planned: 0, sampler: null, model: null });
  const again = await time(() => realTraces(tracesOf(round0.id)));
  if (again.n !== 0) throw new Error(`a repeated write of round 0 wrote ${again.n} traces`);

  await db.db.execute(sql`VACUUM ANALYZE flywheel.traces`);
  await db.db.execute(sql`VACUUM ANALYZE flywheel.verdicts`);
  const [size] = (
    await db.db.execute(sql`
      SELECT (SELECT count(*) FROM flywheel.traces)::bigint AS traces, pg_total_relation_size('flywheel.traces')::bigint AS traces_bytes,
             pg_indexes_size('flywheel.traces')::bigint AS traces_index_bytes,
             (SELECT count(*) FROM flywheel.verdicts)::bigint AS verdicts, pg_total_relation_size('flywheel.verdicts')::bigint AS verdicts_bytes`)
  ).rows as Array<Record<string, string>>;
  const rate = (n: number, s: number) => (n / s).toFixed(0);
  console.log(`\n${TRACES} traces per path and repetition, ${WRITERS} writers, ${BATCH} rows per write, ${REPS} repetitions, text ~${TEXT} chars`);
  console.log(`traces:   real path ${rate(sums.real.tn, sums.real.t)}/s, raw COPY ${rate(sums.raw.tn, sums.raw.t)}/s, ratio ${(sums.raw.t / sums.real.t).toFixed(2)}×`);
  console.log(`verdicts: real path ${rate(sums.real.vn, sums.real.v)}/s, raw COPY ${rate(sums.raw.vn, sums.raw.v)}/s, ratio ${(sums.raw.v / sums.real.v).toFixed(2)}×`);
  console.log(`a retried write of ${TRACES} traces already stored: ${again.s.toFixed(2)} s, 0 written`);
  const traces = Number(size!.traces);
  console.log(
    `Postgres bytes per trace at ${traces} traces: ${(Number(size!.traces_bytes) / traces).toFixed(0)} (indexes ${(Number(size!.traces_index_bytes) / traces).toFixed(0)}); ` +
      `per verdict at ${size!.verdicts}: ${(Number(size!.verdicts_bytes) / Number(size!.verdicts)).toFixed(0)}`,
  );
} finally {
  await db.drop();
}
