/**
 * A worker's Prometheus metrics, scraped over HTTP while a real 2-round run is in flight: model requests, traces
 * written and verdicts are counted as they happen, and after the run the numbers agree with what Postgres holds.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerMetrics, serveMetrics } from '../../telemetry/metrics.js';
import { startFixtureRun, startFixtureServices, type FixtureServices } from './report-fixture.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, one sample per line (`name{a="b"} 3`). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

const total = (samples: Sample[], name: string, where: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);

let services: FixtureServices;
let metricsUrl: string;
let closeMetrics: () => Promise<void>;
const metrics = createWorkerMetrics();

beforeAll(async () => {
  services = await startFixtureServices({ workers: { telemetry: { metrics } } });
  const served = await serveMetrics(metrics.registry, 0, '127.0.0.1');
  metricsUrl = served.url;
  closeMetrics = served.close;
});

afterAll(async () => {
  await closeMetrics?.();
  await services?.stop();
});

const scrape = async () => {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseMetrics(await res.text());
};

describe('worker metrics at /metrics', () => {
  let runId: string;

  it('count model requests, traces written and verdicts while the run is in flight', async () => {
    const run = await startFixtureRun(services, 'metrics');
    runId = run.runId;
    let finished = false;
    void run.result.finally(() => (finished = true)).catch(() => {});
    let seen: Sample[] = [];
    const deadline = Date.now() + 120_000;
    for (;;) {
      seen = await scrape();
      const counts = [
        total(seen, 'flywheel_model_requests_total'),
        total(seen, 'flywheel_traces_written_total'),
        total(seen, 'flywheel_verdicts_total'),
      ];
      if (counts.every((n) => n > 0)) break;
      if (finished || Date.now() > deadline) throw new Error(`counters stayed at zero during the run: ${counts.join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // The scrape that found them was taken during the run, not after it.
    expect(finished).toBe(false);
    expect(total(seen, 'flywheel_model_requests_total', { path: 'chat/completions', status: '200' })).toBeGreaterThan(0);
    expect(total(seen, 'flywheel_verdicts_total', { verifier: 'countdown' })).toBeGreaterThan(0);
    await run.result;
  });

  it('agree with Postgres after the run: traces, verdicts, tokens, durations, trainer jobs', async () => {
    const after = await scrape();
    const [db] = (
      await services.db.db.execute(sql`
        SELECT (SELECT count(*)::int FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId} AND t.strategy IN ('sample', 'greedy', 'rationalize')) AS traces,
               (SELECT count(*)::int FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND s.strategy = 'mcts') AS searched,
               (SELECT count(*)::int FROM flywheel.verdicts v JOIN flywheel.traces t ON t.id = v.trace_id JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId}) AS verdicts,
               (SELECT count(*) FILTER (WHERE v.correct)::int FROM flywheel.verdicts v JOIN flywheel.traces t ON t.id = v.trace_id JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId}) AS correct,
               (SELECT coalesce(sum(t.completion_tokens), 0)::int FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = ${runId} AND t.strategy IN ('sample', 'greedy')) AS sampled_tokens`)
    ).rows as Array<{ traces: number; searched: number; verdicts: number; correct: number; sampled_tokens: number }>;
    // Every sampled trace is written by exactly one shard attempt that reports it (a retry reports only what was
    // missing), and every problem MCTS searched by one search shard.
    expect(total(after, 'flywheel_traces_written_total')).toBe(db!.traces);
    expect(total(after, 'flywheel_search_problems_total')).toBe(db!.searched);
    // Verdicts the verifier gave: at least one per stored verdict (a retried shard may judge a trace again).
    expect(total(after, 'flywheel_verdicts_total')).toBeGreaterThanOrEqual(db!.verdicts);
    expect(total(after, 'flywheel_verdicts_total', { correct: 'true' })).toBeGreaterThanOrEqual(db!.correct);
    expect(total(after, 'flywheel_model_tokens_total', { kind: 'completion' })).toBeGreaterThanOrEqual(db!.sampled_tokens);
    expect(total(after, 'flywheel_model_request_duration_seconds_count')).toBe(total(after, 'flywheel_model_requests_total'));
    expect(total(after, 'flywheel_shard_duration_seconds_count', { activity: 'generateShard', outcome: 'completed' })).toBeGreaterThan(0);
    expect(total(after, 'flywheel_activity_duration_seconds_count', { activity: 'fineTune' })).toBeGreaterThan(0);
    // Both rounds' trainer jobs, last seen succeeded; no activity runs any more.
    expect(total(after, 'flywheel_trainer_jobs', { state: 'succeeded' })).toBe(2);
    expect(total(after, 'flywheel_trainer_jobs', { state: 'running' })).toBe(0);
    expect(after.some((s) => s.name === 'flywheel_activity_slots_in_use')).toBe(true);
    expect(total(after, 'flywheel_activity_slots_in_use')).toBe(0);
    expect(total(after, 'flywheel_model_errors_total')).toBe(0);
    // Labels name endpoints by origin only.
    const endpoints = new Set(after.filter((s) => s.name === 'flywheel_model_requests_total').map((s) => s.labels.endpoint));
    expect([...endpoints]).toEqual([new URL(services.model.url).origin]);
  });

  it('serve 404 with a hint anywhere but /metrics', async () => {
    const res = await fetch(metricsUrl.replace('/metrics', '/'));
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('/metrics');
  });
});
