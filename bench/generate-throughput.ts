/**
 * Generate-stage throughput against a model server of known latency: a real round (Temporal dev server, Postgres,
 * `flywheel worker --queues generate` processes, the control/verify/train worker in this process) generates
 * against bench/fixed-latency-server.ts, which answers every request after exactly L ms in a process of its own.
 * The ideal is known: requests in flight ÷ L. Printed: achieved ÷ ideal requests per second over the whole generate
 * stage (from its start to its end in `round_stages`, Temporal scheduling and every trace write included).
 *
 * Two tables: one generate worker at 128, 512 and 2,048 requests in flight (`model.maxConcurrency`), and 1, 2 and 4
 * generate workers at a fixed per-worker `model.maxConcurrency` and a fixed latency (scale-out; each worker with
 * `--generate-slots` ≈ 3 × maxConcurrency ÷ requests per shard, so that shards go to whichever worker has room).
 * In the first table the latency grows with the requests in flight so that every measurement runs at the same
 * requests per second (`--rps`): the question is whether the orchestrator keeps the server full, not how fast
 * this machine's CPUs are. Beside each measurement, the same requests sent from this process through the model
 * client and limiter alone (no Temporal, no Postgres) against the same server: what the machine itself allows.
 *
 *   npx tsx bench/generate-throughput.ts [--rps 128] [--seconds 12] [--samples 4] [--levels 128,512,2048]
 *     [--workers 1,2,4] [--per-worker 128] [--only levels|workers]
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createRun, startRunWorkflow } from '../cli/start.js';
import { startWorkers } from '../cli/worker.js';
import { installQuietRuntime } from '../cli/runtime.js';
import { parseRunConfig } from '../config/load.js';
import { MAX_SHARDS_IN_FLIGHT } from '../config/schema.js';
import { createDefaultDeps } from '../activities/deps.js';
import { createModelClient } from '../lib/llm/client.js';
import { endpointLimiter } from '../lib/llm/limiter.js';
import { sampleChat } from '../lib/llm/sample.js';
import { workflowIds } from '../workflows/shared.js';
import { spawnFlywheel, waitFor, type FlywheelProcess } from '../test/helpers/processes.js';
import { tempDir, testDatabase, testTemporal } from '../test/helpers/services.js';
import type { FixedLatencyStats } from './fixed-latency-server.js';

const { values } = parseArgs({
  options: {
    rps: { type: 'string', default: '128' },
    seconds: { type: 'string', default: '12' },
    samples: { type: 'string', default: '4' },
    levels: { type: 'string', default: '128,512,2048' },
    workers: { type: 'string', default: '1,2,4' },
    'per-worker': { type: 'string', default: '128' },
    only: { type: 'string' },
    /** Generate in this process (one worker), e.g. to profile it: node --cpu-prof --import tsx bench/generate-throughput.ts --in-process */
    'in-process': { type: 'boolean', default: false },
  },
});
const RPS = Number(values.rps);
const SECONDS = Number(values.seconds);
const SAMPLES = Number(values.samples);
const PER_WORKER = Number(values['per-worker']);
const REQUESTS_PER_SHARD = 64;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

/** The fixed-latency server in a process of its own, so that its CPU is not the orchestrator's. */
async function startServer(latencyMs: number) {
  const child = spawn(TSX, [path.join(ROOT, 'bench/fixed-latency-server.ts'), '--latency-ms', String(latencyMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = out.match(/on (http:\S+)/);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`fixed-latency server exited (${code})`)));
  });
  return {
    url,
    async stats(): Promise<FixedLatencyStats> {
      return (await (await fetch(url.replace(/\/v1$/, '/stats'))).json()) as FixedLatencyStats;
    },
    close: () => new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.kill('SIGTERM'))),
  };
}

installQuietRuntime('ERROR');
const [db, temporal] = await Promise.all([testDatabase(), testTemporal()]);
const home = tempDir('throughput');
const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
// Workflows, verification and training here; generation only in `flywheel worker --queues generate` processes.
const control = await startWorkers({
  address: temporal.address,
  namespace: temporal.namespace,
  deps: createDefaultDeps({ db: db.db, env: {} }),
  queues: ['control', 'verify', 'train'],
});
const generateWorkers: FlywheelProcess[] = [];
const inProcess = values['in-process']
  ? await startWorkers({ address: temporal.address, namespace: temporal.namespace, deps: createDefaultDeps({ db: db.db, env: {} }), queues: ['generate'] })
  : null;

async function addGenerateWorker(slots?: number) {
  if (inProcess) return;
  const worker = spawnFlywheel(['worker', '--queues', 'generate', ...(slots ? ['--generate-slots', String(slots)] : [])], {
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    FLYWHEEL_HOME: home.dir,
    NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS,
  });
  generateWorkers.push(worker);
  await worker.waitForOutput(/worker serving flywheel/, 120_000);
}

interface Measurement {
  label: string;
  inFlight: number;
  latencyMs: number;
  requests: number;
  stageS: number;
  idealS: number;
  peak: number;
  perWorkerShards: string;
  /** The same requests sent straight from this process (no Temporal, no Postgres): what the machine allows. */
  clientOnlyS: number;
}

/** `requests` requests at `inFlight` through the model client and limiter alone, against the same server. */
async function clientOnly(url: string, inFlight: number, requests: number): Promise<number> {
  const client = createModelClient({ baseUrl: url, timeoutMs: 120_000, maxRetries: 0 });
  const limiter = endpointLimiter(`${url}#client-only`, { maxConcurrency: inFlight });
  const prompt = 'Using the numbers [12, 7, 45, 3], make 57. Use each number exactly once.';
  const started = Date.now();
  await Promise.all(
    Array.from({ length: requests }, () =>
      sampleChat(client, { model: 'fixed', prompt, n: SAMPLES, temperature: 1, maxTokens: 512, logprobs: true }, { maxRetries: 0, limiter }),
    ),
  );
  return (Date.now() - started) / 1000;
}

let runs = 0;
/** One round's generate stage at `inFlight` requests in flight in all, then the run is terminated. */
async function measure(label: string, inFlight: number, maxConcurrency: number, latencyMs: number, shardsInFlight?: number): Promise<Measurement> {
  // At least --seconds at the ideal rate, and at least three latencies' worth (a ramp, a middle and an end).
  const wanted = Math.max((inFlight / latencyMs) * 1000 * SECONDS, 3 * inFlight);
  const requests = Math.ceil(wanted / REQUESTS_PER_SHARD) * REQUESTS_PER_SHARD;
  // Enough shards in flight that the endpoint never runs dry before the end: ~3× the requests in flight.
  const shards = requests / REQUESTS_PER_SHARD;
  const maxShardsInFlight = Math.min(shards, shardsInFlight ?? Math.max(2, Math.ceil((3 * inFlight) / REQUESTS_PER_SHARD)));
  const server = await startServer(latencyMs);
  try {
    const config = parseRunConfig(`
name: throughput-${++runs}
rounds: 0
task: {kind: countdown, seed: ${runs}, train: ${requests}, test: 4}
model: {baseUrl: "${server.url}", name: fixed, maxConcurrency: ${maxConcurrency}, timeoutMs: 120000}
generate: {samplesPerProblem: ${SAMPLES}, shardSamples: ${REQUESTS_PER_SHARD * SAMPLES}, maxShardsInFlight: ${maxShardsInFlight}}
evaluate: {greedy: true, samples: 0, k: []}
search: {strategies: []}
`);
    const runId = await createRun(db.db, { config, file: 'bench', dir: process.cwd() }, server.url);
    const handle = await startRunWorkflow(client, runId, `throughput bench: ${label}`);
    const stage = await waitFor(
      'the generate stage to finish',
      async () => {
        const { rows } = await db.pool.query<{ started: Date; finished: Date | null }>(
          `SELECT s.started_at AS started, s.finished_at AS finished FROM flywheel.round_stages s JOIN flywheel.rounds r ON r.id = s.round_id
           WHERE r.run_id = $1 AND s.stage = 'generate' AND s.status = 'done'`,
          [runId],
        );
        return rows[0]?.finished ? { started: rows[0].started.getTime(), finished: rows[0].finished.getTime() } : undefined;
      },
      { timeoutMs: 5 * 60_000, intervalMs: 200 },
    );
    await handle.terminate('benchmark: generate stage measured').catch(() => {});
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = $1 AND t.purpose = 'train'`,
      [runId],
    );
    if (rows[0]?.n !== requests * SAMPLES) throw new Error(`${label}: ${rows[0]?.n} train traces, expected ${requests * SAMPLES}`);
    const stats = await server.stats();
    // Requests in flight at the server during the stage, sampled at every arrival.
    let peak = 0;
    const ends = stats.finished.filter((_, i) => (stats.started[i] ?? 0) >= stage.started).sort((a, b) => a - b);
    const starts = stats.started.filter((t) => t >= stage.started);
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (j < ends.length && (ends[j] ?? Infinity) <= starts[i]!) j++;
      peak = Math.max(peak, i + 1 - j);
    }
    if (process.env.BENCH_TIMELINE) {
      // Requests in flight at the server every 250 ms through the stage, to see ramps, gaps and tails.
      const line: number[] = [];
      for (let t = stage.started; t < stage.finished; t += 250) line.push(stats.started.filter((s, i) => s <= t && (stats.finished[i] ?? Infinity) > t).length);
      console.error(`${label} @${inFlight}: ${line.join(' ')}`);
    }
    const history = await client.workflow.getHandle(workflowIds.round(runId, 0)).fetchHistory();
    const byWorker = new Map<string, number>();
    const generateScheduled = new Set<string>();
    const at = new Map<string, number>();
    const ms = (e: (typeof history.events & object)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
    for (const e of history.events ?? []) {
      if (!process.env.BENCH_TIMELINE) break;
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'generateShard') at.set(id, ms(e));
      const st = e.activityTaskStartedEventAttributes;
      if (st && at.has(String(st.scheduledEventId))) at.set(`s${st.scheduledEventId}`, ms(e));
      const done = e.activityTaskCompletedEventAttributes;
      if (done && at.has(String(done.scheduledEventId))) {
        const sched = at.get(String(done.scheduledEventId))!;
        console.error(`shard scheduled +${sched - stage.started} started +${at.get(`s${done.scheduledEventId}`)! - sched} done +${ms(e) - sched}`);
      }
    }
    for (const e of history.events ?? []) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name === 'generateShard') generateScheduled.add(String(e.eventId));
      const started = e.activityTaskStartedEventAttributes;
      if (started && generateScheduled.has(String(started.scheduledEventId))) {
        byWorker.set(started.identity ?? '?', (byWorker.get(started.identity ?? '?') ?? 0) + 1);
      }
    }
    const clientOnlyS = await clientOnly(server.url, inFlight, requests);
    return {
      clientOnlyS,
      label,
      inFlight,
      latencyMs,
      requests: starts.length,
      stageS: (stage.finished - stage.started) / 1000,
      idealS: (requests * latencyMs) / inFlight / 1000,
      peak,
      perWorkerShards: [...byWorker.values()].sort((a, b) => b - a).join(' / '),
    };
  } finally {
    await server.close();
  }
}

function table(rows: Measurement[], first: string) {
  console.log(
    `\n| ${first} | in flight | latency | requests | generate stage | ideal | achieved ÷ ideal | peak in flight | shards per worker | client alone | client alone ÷ ideal |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.label} | ${r.inFlight} | ${r.latencyMs} ms | ${r.requests} | ${r.stageS.toFixed(2)} s | ${r.idealS.toFixed(2)} s | ` +
        `**${(r.idealS / r.stageS).toFixed(3)}** | ${r.peak} | ${r.perWorkerShards} | ${r.clientOnlyS.toFixed(2)} s | ${(r.idealS / r.clientOnlyS).toFixed(3)} |`,
    );
  }
}

try {
  if (values.only !== 'workers') await addGenerateWorker();
  console.log(`${RPS} requests/s ideal in every measurement, ${SECONDS} s of it, n = ${SAMPLES} samples per request, ${REQUESTS_PER_SHARD} requests per shard`);
  if (values.only !== 'workers') {
    const rows: Measurement[] = [];
    for (const level of values.levels.split(',').map(Number)) rows.push(await measure(`1`, level, level, Math.round((level / RPS) * 1000)));
    table(rows, 'generate workers');
  }
  if (values.only !== 'levels') {
    // Fixed latency and per-worker maxConcurrency: the most workers reach --rps, one worker a fraction of it.
    const counts = values.workers.split(',').map(Number);
    const latencyMs = Math.round(((Math.max(...counts) * PER_WORKER) / RPS) * 1000);
    // Each worker holds about three times the shards its maxConcurrency needs (--generate-slots) and the round
    // keeps every shard in flight: the rest wait in Temporal's queue for whichever worker frees a slot first, so
    // no worker hoards shards that another could serve.
    const slots = Math.ceil((3 * PER_WORKER) / REQUESTS_PER_SHARD);
    await Promise.all(generateWorkers.splice(0).map((w) => w.stop()));
    const rows: Measurement[] = [];
    for (const count of counts) {
      while (generateWorkers.length < count) await addGenerateWorker(slots);
      rows.push(await measure(`${count}`, count * PER_WORKER, PER_WORKER, latencyMs, MAX_SHARDS_IN_FLIGHT));
    }
    table(rows, 'generate workers');
    const rate = (r: Measurement) => r.requests / r.stageS;
    const one = rows[0];
    if (one) for (const r of rows.slice(1)) console.log(`${r.label} generate workers: ${(rate(r) / rate(one)).toFixed(2)}× the requests/s of ${one.label}`);
  }
} finally {
  if (process.env.BENCH_WORKER_LOG) for (const w of generateWorkers) console.error(w.output().slice(-3000));
  await Promise.allSettled(generateWorkers.map((w) => w.stop()));
  await inProcess?.shutdown();
  await control.shutdown();
  await client.connection.close();
  await temporal.stop();
  await db.drop();
  home.remove();
}
