/**
 * `flywheel export <run>`: a run's training sets (or, with `--traces`, every trace with its verdict) for one round
 * (`--round 3`), a range (`--rounds 1-3`) or the whole run, as chat JSONL (OpenAI/TRL `messages`), ShareGPT (with
 * LLaMA-Factory's dataset_info.json) or parquet (the Hugging Face datasets layout with a dataset card); or, with
 * `--format prm` / `prm-parquet`, the PRM datasets' step labels in TRL's stepwise layout. Rows stream from a Postgres
 * cursor (PRM examples page by page) to the output; no round is held in memory.
 */
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { exportLineage, lastRound, prmDatasets, streamTraces, streamTrainingExamples, type RoundRange, type TraceRow, type TrainingRow } from '../db/export.js';
import { streamPrmExamples, type PrmExample } from '../db/prm-dataset.js';
import type { Db } from '../db/client.js';
import { getRun, runConfig } from '../db/runs.js';
import { openDatabase, resolveConnections } from './connections.js';
import { UsageError } from './errors.js';
import { datasetCard } from './export/card.js';
import { chatRecord, datasetInfo, FORMATS, prmRecord, sharegptRecord, traceRecord, type ExportFormat } from './export/formats.js';
import { columnType, writeParquetShards, type ParquetColumn } from './export/parquet.js';

export interface ExportOptions {
  round?: string;
  rounds?: string;
  format?: string;
  traces?: boolean;
  out?: string;
  shardRows?: string;
}

/** `--round 3` or `--rounds 1-3` (or `--rounds 2`) or nothing: the whole run (rounds 0..last). */
export function parseRounds(options: Pick<ExportOptions, 'round' | 'rounds'>, last: number): RoundRange {
  if (options.round !== undefined && options.rounds !== undefined) throw new UsageError('--round and --rounds: give one of them');
  const whole = (v: string) => {
    if (!/^\d+$/.test(v.trim())) throw new UsageError(`a round is a whole number ≥ 0, got "${v}" (e.g. --round 3 or --rounds 1-3)`);
    return Number(v);
  };
  if (options.round !== undefined) return { from: whole(options.round), to: whole(options.round) };
  if (options.rounds !== undefined) {
    const [from = '', to = from] = options.rounds.split('-');
    const range = { from: whole(from), to: whole(to) };
    if (range.from > range.to) throw new UsageError(`--rounds ${options.rounds}: the first round comes after the last`);
    return range;
  }
  return { from: 0, to: last };
}

/** Writes `line` for each row to `out`, waiting for the stream to drain (a slow pipe holds the cursor back). */
async function writeLines<T>(rows: AsyncIterable<T>, toLine: (row: T) => string, out: Writable): Promise<number> {
  let n = 0;
  for await (const row of rows) {
    if (!out.write(`${toLine(row)}\n`)) await once(out, 'drain');
    n++;
  }
  return n;
}

async function closeFile(out: Writable & { path?: unknown }): Promise<void> {
  out.end();
  await once(out, 'finish');
}

const TRAINING_COLUMNS = (system: string | undefined): Array<ParquetColumn<TrainingRow>> => [
  { name: 'prompt', type: 'STRING', nullable: false, value: (r) => r.prompt },
  { name: 'completion', type: 'STRING', nullable: false, value: (r) => r.completion },
  { name: 'system', type: 'STRING', value: () => system ?? null },
  { name: 'trained_in_round', type: 'INT32', nullable: false, value: (r) => Number(r.trained_in_round) },
  { name: 'trained_model', type: 'STRING', value: (r) => r.trained_model },
  { name: 'trace_id', type: 'INT64', nullable: false, value: (r) => BigInt(r.trace_id) },
  { name: 'problem', type: 'STRING', nullable: false, value: (r) => r.problem },
  { name: 'sampled_by', type: 'STRING', nullable: false, value: (r) => r.sampled_by },
  { name: 'sampled_in_round', type: 'INT32', nullable: false, value: (r) => Number(r.sampled_in_round) },
  { name: 'strategy', type: 'STRING', nullable: false, value: (r) => r.strategy },
  { name: 'rationalized', type: 'BOOLEAN', nullable: false, value: (r) => r.rationalized },
  { name: 'verifier_score', type: 'DOUBLE', value: (r) => (r.verifier_score === null ? null : Number(r.verifier_score)) },
];

const TRACE_COLUMNS: Array<ParquetColumn<TraceRow>> = [
  { name: 'round', type: 'INT32', nullable: false, value: (r) => Number(r.round) },
  { name: 'trace_id', type: 'INT64', nullable: false, value: (r) => BigInt(r.trace_id) },
  { name: 'purpose', type: 'STRING', nullable: false, value: (r) => r.purpose },
  { name: 'strategy', type: 'STRING', nullable: false, value: (r) => r.strategy },
  { name: 'sample_index', type: 'INT32', nullable: false, value: (r) => r.sample_index },
  { name: 'problem', type: 'STRING', nullable: false, value: (r) => r.problem },
  { name: 'split', type: 'STRING', nullable: false, value: (r) => r.split },
  { name: 'prompt', type: 'STRING', nullable: false, value: (r) => r.prompt },
  { name: 'text', type: 'STRING', nullable: false, value: (r) => r.text },
  { name: 'model', type: 'STRING', nullable: false, value: (r) => r.model },
  { name: 'logprob', type: 'DOUBLE', value: (r) => r.logprob },
  { name: 'score', type: 'DOUBLE', value: (r) => r.score },
  { name: 'prompt_tokens', type: 'INT32', nullable: false, value: (r) => r.prompt_tokens },
  { name: 'completion_tokens', type: 'INT32', nullable: false, value: (r) => r.completion_tokens },
  { name: 'latency_ms', type: 'INT32', nullable: false, value: (r) => r.latency_ms },
  { name: 'finish_reason', type: 'STRING', value: (r) => r.finish_reason },
  { name: 'error', type: 'STRING', value: (r) => r.error },
  { name: 'flags', type: 'JSON', value: (r) => r.flags },
  { name: 'verifier', type: 'STRING', value: (r) => r.verifier },
  { name: 'verifier_version', type: 'STRING', value: (r) => r.verifier_version },
  { name: 'correct', type: 'BOOLEAN', value: (r) => r.correct },
  { name: 'verifier_score', type: 'DOUBLE', value: (r) => r.verifier_score },
  { name: 'answer', type: 'STRING', value: (r) => r.answer },
  { name: 'chosen_by', type: 'JSON', value: (r) => r.chosen_by },
];

/** A PRM example as exported, with the round whose PRM dataset holds it. */
type PrmRow = PrmExample & { trainedInRound: number };

const PRM_COLUMNS: Array<ParquetColumn<PrmRow>> = [
  { name: 'prompt', type: 'STRING', nullable: false, value: (r) => r.prompt },
  { name: 'completions', type: { list: 'STRING' }, nullable: false, value: (r) => r.completions },
  { name: 'labels', type: { list: 'BOOLEAN' }, nullable: false, value: (r) => r.labels },
  { name: 'soft_labels', type: { list: 'DOUBLE' }, nullable: false, value: (r) => r.softLabels },
  { name: 'problem_id', type: 'INT64', nullable: false, value: (r) => BigInt(r.problemId) },
  { name: 'searched_in_round', type: 'INT32', nullable: false, value: (r) => r.round },
  { name: 'trained_in_round', type: 'INT32', nullable: false, value: (r) => r.trainedInRound },
];

/** Every example of the PRM datasets, round by round. */
async function* prmRows(db: Db, sets: ReadonlyArray<{ id: number; round: number }>): AsyncGenerator<PrmRow> {
  for (const set of sets) for await (const example of streamPrmExamples(db, set.id)) yield { ...example, trainedInRound: set.round };
}

export async function exportCommand(runId: string, options: ExportOptions) {
  const format = (options.format ?? 'chat') as ExportFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${options.format}"`);
  if (options.traces && format === 'sharegpt') throw new UsageError('--traces exports raw traces as JSON lines (--format chat) or parquet; ShareGPT holds conversations only');
  if (format === 'parquet' && !options.out) throw new UsageError('--format parquet writes a folder (data/train-*.parquet and README.md): name it with --out <dir>');
  if (format === 'prm-parquet' && !options.out) throw new UsageError('--format prm-parquet writes a folder (data/train-*.parquet and README.md): name it with --out <dir>');
  if (options.traces && format.startsWith('prm')) throw new UsageError(`--traces exports raw traces; --format ${format} exports the PRM datasets' step labels: give one of them`);
  const shardRows = options.shardRows === undefined ? undefined : Number(options.shardRows);
  if (shardRows !== undefined && (!Number.isInteger(shardRows) || shardRows < 1)) throw new UsageError(`--shard-rows must be a whole number ≥ 1, got "${options.shardRows}"`);

  parseRounds(options, 0); // bad rounds exit 2 before anything connects
  const database = await openDatabase(resolveConnections().databaseUrl, { migrate: false });
  try {
    const run = await getRun(database.db, runId).catch((err: Error) => {
      throw new UsageError(err.message);
    });
    const last = await lastRound(database.db, runId);
    if (last === null) throw new UsageError(`run ${runId} has no rounds yet: nothing to export`);
    const range = parseRounds(options, last);
    const system = runConfig(run).model.systemPrompt;
    const lineage = await exportLineage(database.db, runId, range);
    const rounds = range.from === range.to ? `round ${range.from}` : `rounds ${range.from}-${range.to}`;
    if (format === 'prm' || format === 'prm-parquet') {
      const sets = await prmDatasets(database.db, runId, range);
      if (sets.length === 0) throw new UsageError(`run ${runId} has no PRM dataset in ${rounds} (the filter stage builds one from round 1 on)`);
      if (format === 'prm-parquet') {
        const dir = path.resolve(options.out!);
        const shards = await writeParquetShards(prmRows(database.db, sets), PRM_COLUMNS, { dir, rowsPerShard: shardRows });
        const card = datasetCard({
          runId,
          runName: run.name,
          taskSet: run.taskSet,
          baseModel: run.baseModel,
          currentModel: run.currentModel,
          rounds: range,
          kind: 'PRM step labels',
          rows: shards.rows,
          files: shards.files.map((f) => path.relative(dir, f)),
          columns: PRM_COLUMNS.map((c) => ({ name: c.name, type: columnType(c) })),
          lineage,
          prm: sets,
          exportedAt: new Date().toISOString(),
        });
        writeFileSync(path.join(dir, 'README.md'), card);
        process.stderr.write(`${shards.rows} PRM examples of ${rounds} in ${shards.files.length} parquet file(s) under ${dir}/data, card in ${dir}/README.md\n`);
        return;
      }
      let out: Writable = process.stdout;
      const file = options.out ? path.resolve(options.out) : null;
      if (file) {
        mkdirSync(path.dirname(file), { recursive: true });
        out = createWriteStream(file);
      }
      const n = await writeLines(prmRows(database.db, sets), (r) => JSON.stringify(prmRecord(r)), out);
      if (file) await closeFile(out);
      process.stderr.write(`${n} PRM examples of ${rounds}${file ? ` in ${file}` : ''} (filters ${sets.map((d) => `round ${d.round}: ${JSON.stringify(d.filter)}`).join('; ')})\n`);
      return;
    }
    if (!options.traces && lineage.datasets.length === 0) {
      throw new UsageError(`run ${runId} has no training set in ${rounds} (round 0 trains nothing; sets are built from round 1 on)`);
    }
    const rows = () => (options.traces ? streamTraces(database.pool, runId, range) : streamTrainingExamples(database.pool, runId, range));
    const what = options.traces ? 'traces' : 'examples';

    if (format === 'parquet') {
      const dir = path.resolve(options.out!);
      const columns = options.traces ? TRACE_COLUMNS : TRAINING_COLUMNS(system);
      const shards = await writeParquetShards(rows() as AsyncIterable<never>, columns as Array<ParquetColumn<never>>, { dir, rowsPerShard: shardRows });
      const card = datasetCard({
        runId,
        runName: run.name,
        taskSet: run.taskSet,
        baseModel: run.baseModel,
        currentModel: run.currentModel,
        rounds: range,
        kind: options.traces ? 'traces' : 'training set',
        rows: shards.rows,
        files: shards.files.map((f) => path.relative(dir, f)),
        columns: columns.map((c) => ({ name: c.name, type: columnType(c) })),
        lineage,
        systemPrompt: system,
        exportedAt: new Date().toISOString(),
      });
      writeFileSync(path.join(dir, 'README.md'), card);
      process.stderr.write(`${shards.rows} ${what} of ${rounds} in ${shards.files.length} parquet file(s) under ${dir}/data, card in ${dir}/README.md\n`);
      return;
    }

    const toLine = options.traces
      ? (r: TraceRow) => JSON.stringify(traceRecord(r))
      : format === 'sharegpt'
        ? (r: TrainingRow) => JSON.stringify(sharegptRecord(r, system))
        : (r: TrainingRow) => JSON.stringify(chatRecord(r, system));
    let file: string | null = null;
    let out: Writable = process.stdout;
    if (options.out) {
      const target = path.resolve(options.out);
      // ShareGPT goes to a folder (the file LLaMA-Factory reads beside its dataset_info.json); chat and traces to a file.
      if (format === 'sharegpt') {
        mkdirSync(target, { recursive: true });
        const name = `flywheel_${runId.replace(/[^\w-]/g, '_')}`;
        file = path.join(target, `${name}.jsonl`);
        writeFileSync(path.join(target, 'dataset_info.json'), `${JSON.stringify(datasetInfo(name, path.basename(file)), null, 2)}\n`);
      } else {
        mkdirSync(path.dirname(target), { recursive: true });
        file = target;
      }
      out = createWriteStream(file);
    }
    const n = await writeLines(rows() as AsyncIterable<TrainingRow & TraceRow>, toLine as (r: TrainingRow & TraceRow) => string, out);
    if (file) await closeFile(out);
    const filters = lineage.datasets.map((d) => `round ${d.round}: ${JSON.stringify(d.filter)}`).join('; ');
    process.stderr.write(`${n} ${what} of ${rounds}${file ? ` in ${file}` : ''}${options.traces ? '' : ` (filters ${filters})`}\n`);
  } finally {
    await database.close();
  }
}
