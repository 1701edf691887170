/**
 * Peak worker memory through a large round: a real `flywheel worker` process (real Postgres, a real Temporal dev
 * server) runs round 0's evaluate, generate, verify and search stages over `--traces` train samples, then round 1's
 * filter and fine-tune stages up to the trainer's upload and submit (the run is then terminated: training itself
 * happens in the model server, not the worker). The worker's memory is sampled from /proc (VmRSS, and VmHWM, the
 * kernel's own high-water mark) of every process of its group.
 *
 * Generation goes to a fixed-latency chat server here in the bench (answers after `--latency-ms`, n choices a
 * request); everything else the worker asks of its model endpoint (files, fine-tuning jobs) is passed on to the
 * embedded model server.
 *
 * Usage: npx tsx bench/memory.ts [--traces 1000000] [--samples 16] [--latency-ms 1] [--shards-in-flight 16]
 *        [--worker-node-options '--max-old-space-size=256']
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createRun, startRunWorkflow } from '../cli/start.js';
import { parseRunConfig } from '../config/load.js';
import { workflowIds } from '../workflows/shared.js';
import { startWorkerProcess } from '../test/helpers/processes.js';
import { tempDir, testDatabase, testModelServer, testTemporal } from '../test/helpers/services.js';

const { values: args } = parseArgs({
  options: {
    traces: { type: 'string', default: '1000000' },
    samples: { type: 'string', default: '16' },
    'latency-ms': { type: 'string', default: '1' },
    'shards-in-flight': { type: 'string', default: '16' },
    /** NODE_OPTIONS for the worker process, e.g. `--max-old-space-size=256` (a V8 heap cap). */
    'worker-node-options': { type: 'string', default: '' },
  },
});
const SAMPLES = Number(args.samples);
const PROBLEMS = Math.ceil(Number(args.traces) / SAMPLES);
const LATENCY_MS = Number(args['latency-ms']);

const [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer()]);
const modelTarget = new URL(model.url);
let chatRequests = 0;

/** A model-like completion: a few lines of arithmetic, different for each choice (so dedupe keeps them). */
function completion(seed: number): string {
  const a = (seed * 7919) % 97;
  const b = (seed * 104729) % 89;
  return `Let me try ${a} + ${b} = ${a + b}.\nThen ${a + b} * 2 = ${(a + b) * 2}, not the target.\nAnswer: ${a} - ${b}`;
}

function chat(req: IncomingMessage, res: ServerResponse, body: Buffer) {
  const { n = 1, model: name } = JSON.parse(body.toString()) as { n?: number; model: string };
  const seed = ++chatRequests;
  setTimeout(() => {
    const choices = Array.from({ length: n }, (_, i) => ({ index: i, message: { role: 'assistant', content: completion(seed * 64 + i) }, finish_reason: 'stop' }));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: `c${seed}`, object: 'chat.completion', created: 0, model: name, choices, usage: { prompt_tokens: 40, completion_tokens: 30 * n, total_tokens: 40 + 30 * n } }));
  }, LATENCY_MS);
}

/** Everything but chat completions goes on to the embedded model server, as it came. */
function forward(req: IncomingMessage, res: ServerResponse, body: Buffer) {
  const headers = { ...req.headers, host: modelTarget.host, 'content-length': String(body.length) };
  delete headers['transfer-encoding'];
  const upstream = httpRequest(
    { host: modelTarget.hostname, port: modelTarget.port, method: req.method, path: req.url, headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', (err) => {
    res.statusCode = 502;
    res.end(JSON.stringify({ error: { message: err.message } }));
  });
  upstream.end(body);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.method === 'POST' && req.url?.endsWith('/chat/completions')) chat(req, res, body);
    else forward(req, res, body);
  });
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;

/** VmRSS and VmHWM of a process, in bytes (0 once it is gone). */
function memoryOf(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

const config = parseRunConfig(`
name: memory-bench
rounds: 1
task: {kind: countdown, seed: 11, train: ${PROBLEMS}, test: 20}
generate: {samplesPerProblem: ${SAMPLES}, maxShardsInFlight: ${Number(args['shards-in-flight'])}}
evaluate: {samples: 1, k: [1]}
filter: {correctOnly: false, minScore: 0}
finetune: {pollIntervalMs: 1000}
model: {timeoutMs: 120000}
`);
const home = tempDir('memory-bench');
const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
const worker = await startWorkerProcess({
  DATABASE_URL: db.url,
  TEMPORAL_ADDRESS: temporal.address,
  TEMPORAL_NAMESPACE: temporal.namespace,
  FLYWHEEL_MODEL_URL: endpoint,
  FLYWHEEL_HOME: home.dir,
  ...(args['worker-node-options'] ? { NODE_OPTIONS: args['worker-node-options'] } : {}),
});
const peak = new Map<number, { rss: number; hwm: number }>();
let peakGroupRss = 0;
const sample = () => {
  let total = 0;
  for (const pid of worker.members()) {
    const m = memoryOf(pid);
    const p = peak.get(pid) ?? { rss: 0, hwm: 0 };
    peak.set(pid, { rss: Math.max(p.rss, m.rss), hwm: Math.max(p.hwm, m.hwm) });
    total += m.rss;
  }
  peakGroupRss = Math.max(peakGroupRss, total);
};
const sampler = setInterval(sample, 200);
// The worker before any work: what it takes to start (the workflow bundle is built in-process at start-up).
await new Promise((resolve) => setTimeout(resolve, 5_000));
sample();
const idle = worker.members().map((pid) => ({ pid, ...memoryOf(pid) }));
const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;

const stageTimes: Array<{ stage: string; at: number }> = [];
try {
  const started = Date.now();
  const runId = await createRun(db.db, { config, file: 'bench', dir: process.cwd() }, endpoint);
  await startRunWorkflow(client, runId, 'memory bench');
  let lastStage = '';
  for (;;) {
    const { rows } = await db.pool.query<{ index: number; stage: string; traces: string; verdicts: string; job: string | null }>(
      `SELECT r.index, r.stage,
              (SELECT count(*) FROM flywheel.traces t WHERE t.round_id = r.id) AS traces,
              (SELECT count(*) FROM flywheel.verdicts v JOIN flywheel.traces t ON t.id = v.trace_id WHERE t.round_id = r.id) AS verdicts,
              (SELECT f.external_job_id FROM flywheel.fine_tunes f WHERE f.run_id = r.run_id AND f.round = r.index AND f.external_job_id IS NOT NULL LIMIT 1) AS job
       FROM flywheel.rounds r WHERE r.run_id = $1 ORDER BY r.index DESC LIMIT 1`,
      [runId],
    );
    const round = rows[0];
    const now = `${round?.index ?? '-'}:${round?.stage ?? '-'}`;
    if (now !== lastStage) {
      stageTimes.push({ stage: now, at: Date.now() });
      lastStage = now;
    }
    const secs = ((Date.now() - started) / 1000).toFixed(0);
    console.log(`${secs.padStart(5)} s  round ${now}  traces ${round?.traces ?? 0}  verdicts ${round?.verdicts ?? 0}  worker RSS ${mb([...worker.members()].reduce((s, p) => s + memoryOf(p).rss, 0))}`);
    if (round?.job) break;
    const status = (await client.workflow.getHandle(workflowIds.run(runId)).describe()).status.name;
    if (status !== 'RUNNING') throw new Error(`the run ended (${status}) before round 1's fine-tune job was submitted`);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
  sample();
  const seconds = (Date.now() - started) / 1000;
  await client.workflow.getHandle(workflowIds.run(runId)).terminate('memory bench: fine-tune submitted');
  const { rows: counts } = await db.pool.query<{ traces: string; verdicts: string; items: string; search: string }>(
    `SELECT (SELECT count(*) FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = $1 AND r.index = 0 AND t.purpose = 'train') AS traces,
            (SELECT count(*) FROM flywheel.verdicts v JOIN flywheel.traces t ON t.id = v.trace_id JOIN flywheel.rounds r ON r.id = t.round_id WHERE r.run_id = $1 AND r.index = 0 AND t.purpose = 'train') AS verdicts,
            (SELECT coalesce(sum(items), 0) FROM flywheel.datasets WHERE run_id = $1) AS items,
            (SELECT count(*) FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = $1) AS search`,
    [runId],
  );
  const { rows: sizes } = await db.pool.query<{ traces: string; verdicts: string }>(
    `SELECT pg_total_relation_size('flywheel.traces') AS traces, pg_total_relation_size('flywheel.verdicts') AS verdicts`,
  );
  const c = counts[0]!;
  const traces = Number(c.traces);
  console.log(`\nworker NODE_OPTIONS: ${args['worker-node-options'] || '(none)'}`);
  console.log(`${PROBLEMS} problems × ${SAMPLES} samples, ${LATENCY_MS} ms latency, ${chatRequests} chat requests; ${seconds.toFixed(0)} s to round 1's fine-tune submit`);
  console.log(`round 0 train traces ${traces}, verdicts ${c.verdicts}, search results ${c.search}; round 1 dataset ${c.items} examples (exported and uploaded)`);
  console.log('stages (round:stage, seconds from start):', stageTimes.map((s) => `${s.stage} ${((s.at - started) / 1000).toFixed(0)}`).join(', '));
  for (const [pid, p] of peak) {
    const before = idle.find((i) => i.pid === pid);
    console.log(`worker process ${pid}: idle after start-up VmRSS ${mb(before?.rss ?? 0)} (VmHWM ${mb(before?.hwm ?? 0)}); through the round peak VmHWM ${mb(p.hwm)}, peak sampled VmRSS ${mb(p.rss)}`);
  }
  console.log(`peak worker RSS (largest process VmHWM): ${mb(Math.max(...[...peak.values()].map((p) => p.hwm)))}; whole group sampled: ${mb(peakGroupRss)}`);
  console.log(`Postgres bytes per trace: ${(Number(sizes[0]!.traces) / traces).toFixed(0)} (traces table + TOAST + indexes), per verdict ${(Number(sizes[0]!.verdicts) / Number(c.verdicts)).toFixed(0)}`);
} finally {
  clearInterval(sampler);
  await worker.stop();
  await client.connection.close();
  server.close();
  await Promise.allSettled([model.close(), temporal.stop()]);
  await db.drop();
  home.remove();
}
