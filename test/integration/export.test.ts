/**
 * `flywheel export` of a real 2-round run, through the CLI as a user runs it: parquet in the Hugging Face layout
 * read back by another reader (hyparquet; written by hyparquet-writer) with its dataset card's lineage, then chat
 * JSONL, ShareGPT with LLaMA-Factory's dataset_info.json, raw traces, and bad arguments.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFlywheel } from '../helpers/processes.js';
import { tempDir } from '../helpers/services.js';
import { startFixtureRun, startFixtureServices, type FixtureServices } from './report-fixture.js';

let services: FixtureServices;
let runId: string;
const dir = tempDir('export');

beforeAll(async () => {
  services = await startFixtureServices();
  const run = await startFixtureRun(services, 'export');
  runId = run.runId;
  await run.result;
});

afterAll(async () => {
  await services?.stop();
  dir.remove();
});

const env = () => ({ DATABASE_URL: services.db.url, TEMPORAL_ADDRESS: services.temporal.address, FLYWHEEL_HOME: dir.dir });
const flywheel = (...args: string[]) => runFlywheel(['export', runId, ...args], env());
const rows = async <T>(query: ReturnType<typeof sql>) => (await services.db.db.execute(query)).rows as T[];

async function readParquet(file: string) {
  const buffer = await asyncBufferFromFile(file);
  const metadata = await parquetMetadataAsync(buffer);
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  return { columns, rows: (await parquetReadObjects({ file: buffer })) as Array<Record<string, unknown>> };
}

describe('flywheel export', () => {
  it('parquet: the HF datasets layout, read back by hyparquet, with the lineage in its dataset card', async () => {
    const out = path.join(dir.dir, 'parquet');
    const res = await flywheel('--format', 'parquet', '--out', out, '--shard-rows', '25');
    expect(res.code, res.stderr).toBe(0);
    const examples = await rows<{ round: number; trace_id: string; prompt: string; completion: string; trained_model: string }>(sql`
      SELECT trained_in_round AS round, trace_id::text, prompt, completion, trained_model FROM flywheel.training_examples WHERE run_id = ${runId} ORDER BY trained_in_round, training_examples.trace_id`);
    expect(examples.length).toBeGreaterThan(25);
    const files = readdirSync(path.join(out, 'data')).sort();
    const n = Math.ceil(examples.length / 25);
    expect(files).toEqual(Array.from({ length: n }, (_, i) => `train-${String(i).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.parquet`));
    expect(res.stderr).toContain(`${examples.length} examples of rounds 0-2 in ${n} parquet file(s)`);

    const read = await Promise.all(files.map((f) => readParquet(path.join(out, 'data', f))));
    expect(read[0]!.columns).toEqual(['prompt', 'completion', 'system', 'trained_in_round', 'trained_model', 'trace_id', 'problem', 'sampled_by', 'sampled_in_round', 'strategy', 'rationalized', 'verifier_score']);
    const all = read.flatMap((r) => r.rows);
    expect(all).toHaveLength(examples.length);
    expect(read.slice(0, -1).every((r) => r.rows.length === 25)).toBe(true);
    // Row for row what Postgres holds, in the same order.
    expect(all.map((r) => [r.trained_in_round, String(r.trace_id), r.prompt, r.completion, r.trained_model])).toEqual(
      examples.map((e) => [e.round, e.trace_id, e.prompt, e.completion, e.trained_model]),
    );
    expect(typeof all[0]!.trace_id).toBe('bigint');
    expect(all.every((r) => r.sampled_in_round === Number(r.trained_in_round) - 1)).toBe(true);

    const card = readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(card).toMatch(/^---\nconfigs:\n- config_name: default\n {2}data_files:\n {2}- split: train\n {4}path: data\/train-\*\.parquet\n/);
    expect(card).toContain(`**Run:** \`${runId}\``);
    expect(card).toContain('**Rounds:** 0–2');
    const [verifier] = await rows<{ verifier: string; version: string }>(sql`SELECT DISTINCT verifier, verifier_version AS version FROM flywheel.verdicts`);
    expect(card).toContain(`\`${verifier!.verifier}\` version \`${verifier!.version}\``);
    expect(card).toContain(`**Rows:** ${examples.length} in ${n} file(s)`);
    const datasets = await rows<{ round: number; items: number; filter: unknown }>(sql`SELECT round, items, filter FROM flywheel.datasets WHERE run_id = ${runId} AND kind = 'policy' ORDER BY round`);
    expect(datasets).toHaveLength(2);
    for (const d of datasets) {
      const model = examples.find((e) => e.round === d.round)!.trained_model;
      expect(card).toMatch(new RegExp(`\\| ${d.round} \\| ${d.items} \\| \\d+ \\| \`${model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\` \\| \`countdown-mlp\``));
      expect(card).toContain(`- round ${d.round}: \`${JSON.stringify(d.filter)}\``);
    }
  });

  it('parquet --traces: every trace with its verdict and the searches that chose it', async () => {
    const out = path.join(dir.dir, 'traces-parquet');
    const res = await flywheel('--traces', '--format', 'parquet', '--out', out, '--rounds', '1-2');
    expect(res.code, res.stderr).toBe(0);
    const [count] = await rows<{ n: number; correct: number }>(sql`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM flywheel.verdicts v WHERE v.trace_id = t.id AND v.correct))::int AS correct
      FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId} AND r.index BETWEEN 1 AND 2`);
    const { rows: traces, columns } = await readParquet(path.join(out, 'data', 'train-00000-of-00001.parquet'));
    expect(traces).toHaveLength(count!.n);
    expect(columns).toEqual(expect.arrayContaining(['round', 'purpose', 'strategy', 'text', 'verifier', 'verifier_version', 'correct', 'verifier_score', 'chosen_by', 'flags']));
    expect(traces.filter((t) => t.correct === true)).toHaveLength(count!.correct);
    expect(new Set(traces.map((t) => t.round))).toEqual(new Set([1, 2]));
    const chosen = traces.filter((t) => t.chosen_by !== null && t.chosen_by !== undefined);
    expect(chosen.length).toBeGreaterThan(0);
    const meta = (typeof chosen[0]!.chosen_by === 'string' ? JSON.parse(chosen[0]!.chosen_by) : chosen[0]!.chosen_by) as Array<{ strategy: string; calls: number }>;
    expect(meta[0]).toEqual({ strategy: expect.any(String), votes: expect.any(Number), calls: expect.any(Number), tokens: expect.any(Number) });
    expect(readFileSync(path.join(out, 'README.md'), 'utf8')).toContain(`Traces: ${count!.n}, verified correct: ${count!.correct}.`);
  });

  it('chat: the messages JSONL of one round on stdout, what its trainer read', async () => {
    const res = await flywheel('--round', '1');
    expect(res.code, res.stderr).toBe(0);
    const examples = await rows<{ prompt: string; completion: string }>(sql`
      SELECT prompt, completion FROM flywheel.training_examples WHERE run_id = ${runId} AND trained_in_round = 1 ORDER BY trace_id`);
    const lines = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as { messages: Array<{ role: string; content: string }> });
    expect(lines).toHaveLength(examples.length);
    expect(lines.map((l) => l.messages.map((m) => m.role))).toEqual(examples.map(() => ['user', 'assistant']));
    expect(lines.map((l) => [l.messages[0]!.content, l.messages[1]!.content])).toEqual(examples.map((e) => [e.prompt, e.completion]));
    expect(res.stderr).toContain(`${examples.length} examples of round 1`);
  });

  it('sharegpt: conversations and the dataset_info.json LLaMA-Factory reads, for a range of rounds', async () => {
    const out = path.join(dir.dir, 'sharegpt');
    const res = await flywheel('--format', 'sharegpt', '--rounds', '1-2', '--out', out);
    expect(res.code, res.stderr).toBe(0);
    const info = JSON.parse(readFileSync(path.join(out, 'dataset_info.json'), 'utf8')) as Record<string, { file_name: string; formatting: string; columns: Record<string, string>; tags: Record<string, string> }>;
    const [name] = Object.keys(info);
    expect(info[name!]).toEqual({
      file_name: `${name}.jsonl`,
      formatting: 'sharegpt',
      columns: { messages: 'conversations', system: 'system' },
      tags: { role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt' },
    });
    const lines = readFileSync(path.join(out, info[name!]!.file_name), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { conversations: Array<{ from: string; value: string }> });
    const [items] = await rows<{ n: number }>(sql`SELECT sum(items)::int AS n FROM flywheel.datasets WHERE run_id = ${runId} AND kind = 'policy' AND round BETWEEN 1 AND 2`);
    expect(lines).toHaveLength(items!.n);
    expect(lines.every((l) => l.conversations.map((c) => c.from).join() === 'human,gpt' && l.conversations[1]!.value.length > 0)).toBe(true);
  });

  it('--traces as JSON lines: each trace of a round with verdict, scores and search metadata', async () => {
    const res = await flywheel('--traces', '--round', '0');
    expect(res.code, res.stderr).toBe(0);
    const traces = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const [count] = await rows<{ n: number }>(sql`SELECT count(*)::int AS n FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId} AND r.index = 0`);
    expect(traces).toHaveLength(count!.n);
    expect(new Set(traces.map((t) => t.purpose))).toEqual(new Set(['train', 'eval']));
    expect(traces.every((t) => typeof t.verifier === 'string' && typeof t.correct === 'boolean' && typeof t.trace_id === 'number')).toBe(true);
    expect(traces.some((t) => Array.isArray(t.chosen_by))).toBe(true);
    expect(traces.some((t) => t.strategy === 'mcts')).toBe(true);
  });

  it('--format prm: the PRM datasets of the run’s MCTS step labels in TRL’s stepwise layout', async () => {
    const res = await flywheel('--format', 'prm', '--rounds', '1-2');
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { prompt: string; completions: string[]; labels: boolean[] });
    const [sets] = await rows<{ n: number; sets: number }>(sql`
      SELECT coalesce(sum(items), 0)::int AS n, count(*)::int AS sets FROM flywheel.datasets WHERE run_id = ${runId} AND kind = 'prm' AND round BETWEEN 1 AND 2`);
    expect(sets!.sets).toBe(2);
    expect(lines).toHaveLength(sets!.n);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(['prompt', 'completions', 'labels']);
      expect(l.labels).toHaveLength(l.completions.length);
    }
    expect(lines.filter((l) => l.labels.at(-1)).length).toBe(lines.filter((l) => !l.labels.at(-1)).length);
  });

  it('bad arguments exit 2 with what to do', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--rounds', '2-1'], /--rounds 2-1: the first round comes after the last/],
      [['--format', 'parquet'], /--format parquet writes a folder .* --out <dir>/],
      [['--round', '0'], /no training set in round 0 \(round 0 trains nothing/],
      [['--round', 'x'], /a round is a whole number ≥ 0, got "x"/],
      [['--traces', '--format', 'sharegpt'], /ShareGPT holds conversations only/],
    ];
    for (const [args, message] of cases) {
      const res = await flywheel(...args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toMatch(message);
    }
    const missing = await runFlywheel(['export', 'no-such-run'], env());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no run "no-such-run"');
  });
});
