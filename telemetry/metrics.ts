/**
 * Prometheus metrics of a worker (prom-client): model requests, their latency and errors by kind per endpoint,
 * tokens, traces written, verdicts by verifier, shard and activity durations, activity slots in use, trainer job
 * states. Collected without touching activity code: an instrumented `fetch` for the model client, wrappers around
 * the verifier and trainer that activities get from their deps, and an activity interceptor that sees every
 * activity's duration and its ShardResult.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context as ActivityContext } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityDeps } from '../activities/deps.js';
import type { Trainer, TrainerJob } from '../lib/train/types.js';
import type { Verifier } from '../lib/verify/types.js';

const SHARD_ACTIVITIES = new Set(['generateShard', 'verifyShard', 'searchShard', 'rationalizeShard']);
/** Shards whose `written` counts traces (a search shard's counts the problems it searched). */
const TRACE_WRITERS = new Set(['generateShard', 'rationalizeShard']);

export interface WorkerMetrics {
  registry: Registry;
  /** A fetch for the OpenAI client that counts requests, latency, errors and tokens per endpoint. */
  fetch: typeof fetch;
  /** The activity interceptor (durations, ShardResults, slots in use). */
  activityInterceptor(ctx: ActivityContext): ActivityInterceptors;
  /** Deps whose model endpoint, verifier and trainer report to these metrics. */
  instrument(deps: ActivityDeps): ActivityDeps;
}

export function createWorkerMetrics(options: { defaultMetrics?: boolean } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'flywheel_process_' });

  const requests = new Counter({
    name: 'flywheel_model_requests_total',
    help: 'HTTP requests to model servers, by endpoint, API path and status code',
    labelNames: ['endpoint', 'path', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'flywheel_model_request_duration_seconds',
    help: 'Time to the end of a model server response, by endpoint and API path',
    labelNames: ['endpoint', 'path'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const modelErrors = new Counter({
    name: 'flywheel_model_errors_total',
    help: 'Failed model requests by endpoint and kind (http_429, http_5xx, http_4xx, timeout, connection)',
    labelNames: ['endpoint', 'kind'],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'flywheel_model_tokens_total',
    help: 'Tokens the model servers reported in `usage`, by endpoint and kind (prompt, completion)',
    labelNames: ['endpoint', 'kind'],
    registers: [registry],
  });
  const tracesWritten = new Counter({
    name: 'flywheel_traces_written_total',
    help: 'Sampled traces written to Postgres (generate and rationalize shards), by activity and purpose',
    labelNames: ['activity', 'purpose'],
    registers: [registry],
  });
  const searches = new Counter({
    name: 'flywheel_search_problems_total',
    help: 'Problems searched by step-level search shards, by purpose',
    labelNames: ['purpose'],
    registers: [registry],
  });
  const shardRows = new Counter({
    name: 'flywheel_shard_rows_total',
    help: 'Rows of shard activities by outcome (written, skipped, errors)',
    labelNames: ['activity', 'outcome'],
    registers: [registry],
  });
  const verdicts = new Counter({
    name: 'flywheel_verdicts_total',
    help: 'Verdicts by verifier, version and correctness',
    labelNames: ['verifier', 'version', 'correct'],
    registers: [registry],
  });
  const shardDuration = new Histogram({
    name: 'flywheel_shard_duration_seconds',
    help: 'Duration of shard activities (generate, verify, search, rationalize)',
    labelNames: ['activity', 'purpose', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  });
  const activityDuration = new Histogram({
    name: 'flywheel_activity_duration_seconds',
    help: 'Duration of every activity attempt, by activity type, task queue and outcome',
    labelNames: ['activity', 'task_queue', 'outcome'],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200],
    registers: [registry],
  });
  const slots = new Gauge({
    name: 'flywheel_activity_slots_in_use',
    help: 'Activities executing now, by task queue',
    labelNames: ['task_queue'],
    registers: [registry],
  });
  const trainerJobs = new Gauge({
    name: 'flywheel_trainer_jobs',
    help: 'Trainer jobs this worker has seen, by backend and last known state',
    labelNames: ['backend', 'state'],
    registers: [registry],
  });
  const jobStates = new Map<string, { backend: string; state: string }>();
  const observeJob = (backend: string, job: TrainerJob | null) => {
    if (!job) return job;
    const previous = jobStates.get(job.id);
    if (previous?.state === job.status) return job;
    if (previous) trainerJobs.dec({ backend: previous.backend, state: previous.state });
    trainerJobs.inc({ backend, state: job.status });
    jobStates.set(job.id, { backend, state: job.status });
    return job;
  };

  const instrumentedFetch: typeof fetch = async function modelFetch(input, init) {
    const url = new URL(input instanceof Request ? input.url : String(input));
    // The openai package also fetches `data:` URLs of its own (file uploads): not a request to a server.
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fetch(input, init);
    const endpoint = url.origin; // never the path's query or credentials: labels are public
    const path = apiPath(url.pathname);
    const end = latency.startTimer({ endpoint, path });
    let res: Response;
    try {
      res = await fetch(input, init);
    } catch (err) {
      end();
      requests.inc({ endpoint, path, status: 'none' });
      modelErrors.inc({ endpoint, kind: fetchErrorKind(err, init?.signal ?? undefined) });
      throw err;
    }
    requests.inc({ endpoint, path, status: String(res.status) });
    if (res.status >= 400) modelErrors.inc({ endpoint, kind: res.status === 429 ? 'http_429' : res.status >= 500 ? 'http_5xx' : 'http_4xx' });
    if (res.ok && (res.headers.get('content-type') ?? '').includes('application/json')) {
      // The body is read once more from a clone, after the caller has its response: latency ends with the body.
      res
        .clone()
        .json()
        .then((json: unknown) => {
          end();
          const body = json as { usage?: { prompt_tokens?: number; completion_tokens?: number } } | null;
          if (body?.usage?.prompt_tokens) tokens.inc({ endpoint, kind: 'prompt' }, body.usage.prompt_tokens);
          if (body?.usage?.completion_tokens) tokens.inc({ endpoint, kind: 'completion' }, body.usage.completion_tokens);
        })
        .catch(() => {
          end();
          modelErrors.inc({ endpoint, kind: 'malformed' });
        });
    } else {
      end();
    }
    return res;
  };

  function activityInterceptor(ctx: ActivityContext): ActivityInterceptors {
    return {
      inbound: {
        async execute(call, next) {
          const { activityType, taskQueue } = ctx.info;
          const purpose = String((call.args[0] as { purpose?: string } | undefined)?.purpose ?? 'none');
          const started = process.hrtime.bigint();
          slots.inc({ task_queue: taskQueue });
          let outcome = 'failed';
          try {
            const result = await next(call);
            outcome = 'completed';
            if (SHARD_ACTIVITIES.has(activityType) && isShardResult(result)) {
              for (const key of ['written', 'skipped', 'errors'] as const) shardRows.inc({ activity: activityType, outcome: key }, result[key]);
              if (TRACE_WRITERS.has(activityType)) tracesWritten.inc({ activity: activityType, purpose }, result.written);
              if (activityType === 'searchShard') searches.inc({ purpose }, result.written);
            }
            return result;
          } finally {
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            slots.dec({ task_queue: taskQueue });
            activityDuration.observe({ activity: activityType, task_queue: taskQueue, outcome }, seconds);
            if (SHARD_ACTIVITIES.has(activityType)) shardDuration.observe({ activity: activityType, purpose, outcome }, seconds);
          }
        },
      },
    };
  }

  function instrumentVerifier(verifier: Verifier): Verifier {
    const counted = Object.create(verifier) as Verifier;
    counted.verify = async (...args: Parameters<Verifier['verify']>) => {
      const verdict = await verifier.verify(...args);
      verdicts.inc({ verifier: verifier.name, version: verifier.version, correct: String(verdict.correct) });
      return verdict;
    };
    return counted;
  }

  function instrumentTrainer(trainer: Trainer): Trainer {
    const observed = Object.create(trainer) as Trainer;
    observed.find = async (tag) => observeJob(trainer.backend, await trainer.find(tag));
    observed.submit = async (request) => observeJob(trainer.backend, await trainer.submit(request))!;
    observed.get = async (jobId) => observeJob(trainer.backend, await trainer.get(jobId))!;
    return observed;
  }

  const verifiers = new WeakMap<Verifier, Verifier>();
  return {
    registry,
    fetch: instrumentedFetch,
    activityInterceptor,
    instrument(deps) {
      return {
        ...deps,
        modelEndpoint: (model) => ({ ...deps.modelEndpoint(model), fetch: instrumentedFetch }),
        verifier(spec, model) {
          const v = deps.verifier(spec, model);
          let counted = verifiers.get(v);
          if (!counted) verifiers.set(v, (counted = instrumentVerifier(v)));
          return counted;
        },
        trainer: (config, endpoint) => instrumentTrainer(deps.trainer(config, endpoint)),
      };
    },
  };
}

/** `/v1/chat/completions` → `chat/completions`; ids in paths (`/fine_tuning/jobs/ftjob-1`) collapse to `:id`. */
export function apiPath(pathname: string): string {
  const parts = pathname.split('/').filter(Boolean);
  const v1 = parts.indexOf('v1');
  const rest = v1 >= 0 ? parts.slice(v1 + 1) : parts;
  return rest.map((p, i) => (i > 0 && /\d/.test(p) && !/^v\d+$/.test(p) ? ':id' : p)).join('/') || '/';
}

function fetchErrorKind(err: unknown, signal: AbortSignal | undefined): string {
  const name = (err as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || (name === 'AbortError' && signal?.aborted)) return 'timeout';
  return 'connection';
}

function isShardResult(value: unknown): value is { written: number; skipped: number; errors: number } {
  const v = value as Record<string, unknown> | null;
  return !!v && typeof v.written === 'number' && typeof v.skipped === 'number' && typeof v.errors === 'number';
}

/** Serves `/metrics` (Prometheus text format) on `port` (0: any free port) at `host`. */
export async function serveMetrics(registry: Registry, port: number, host = '0.0.0.0'): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shown}:${address.port}/metrics`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
