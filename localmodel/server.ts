/**
 * The embedded model server: an OpenAI-compatible HTTP API (models, chat completions, legacy completions, files,
 * fine-tuning jobs, reward scores) over the countdown step policy and its value head, so the flywheel drives it with the same `openai` client code
 * that drives vLLM or OpenAI. Plain `node:http`; state lives under `dataDir` and survives restarts.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Batches, batchRoutes, type BatchOptions } from './batches.js';
import { createChatCompletion } from './chat.js';
import { createCompletion } from './completions.js';
import { FileStore } from './files.js';
import { ApiError, readBody, readJsonObject, sendError, sendJson } from './http.js';
import { FineTuningJobs } from './jobs.js';
import { ModelRegistry } from './models.js';
import { PrefixCache } from './prefix-cache.js';
import { flywheelReward, vllmScore } from './reward.js';
import { DataDir } from './store.js';
import { loadLoraAdapter, sendVllmError, unloadLoraAdapter, VllmError } from './lora.js';
import type { TokenMode } from './tokenizer.js';

export interface LocalModelServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  dataDir: string;
  /** When set, every request needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  log?: (line: string) => void;
  /**
   * Serve vLLM's runtime LoRA routes (/v1/load_lora_adapter, /v1/unload_lora_adapter), as vLLM does with
   * VLLM_ALLOW_RUNTIME_LORA_UPDATING=True. Default: off, like vLLM.
   */
  runtimeLora?: boolean;
  /** The Batch API's pacing and test hooks (which requests fail, when a batch expires). */
  batches?: BatchOptions;
  /**
   * What clients see as tokens for every model: `steps` (one token per step line) or `subword` (LLM-like tokens).
   * Default: each model's own (`countdown-mlp` and its fine-tunes write steps, `countdown-mlp-subword` subwords).
   */
  tokens?: TokenMode;
}

export interface LocalModelServer {
  /** The OpenAI base URL, e.g. `http://127.0.0.1:1234/v1`. */
  url: string;
  port: number;
  /** Stops listening and stops a running training job (it runs again on the next start). */
  close(): Promise<void>;
}

const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

interface Context {
  models: ModelRegistry;
  files: FileStore;
  jobs: FineTuningJobs;
  runtimeLora: boolean;
  batches: Batches;
  cache: PrefixCache;
}

type Route = {
  method: string;
  pattern: RegExp;
  handle: (ctx: Context, req: IncomingMessage, res: ServerResponse, params: string[], query: URLSearchParams) => Promise<void> | void;
};

const routes: Route[] = [
  { method: 'GET', pattern: /^\/v1\/models$/, handle: (c, _q, res) => sendJson(res, 200, { object: 'list', data: c.models.list() }) },
  { method: 'GET', pattern: /^\/v1\/models\/([^/]+)$/, handle: (c, _q, res, [id]) => sendJson(res, 200, c.models.get(id!)) },
  {
    method: 'POST',
    pattern: /^\/v1\/chat\/completions$/,
    handle: async (c, req, res) => sendJson(res, 200, createChatCompletion(await readJsonObject(req), c.models, c.cache)),
  },
  {
    method: 'POST',
    pattern: /^\/v1\/completions$/,
    handle: async (c, req, res) => sendJson(res, 200, createCompletion(await readJsonObject(req), c.models, c.cache)),
  },
  {
    method: 'POST',
    pattern: /^\/v1\/files$/,
    handle: async (c, req, res) => sendJson(res, 200, await c.files.upload(req.headers['content-type'], await readBody(req, MAX_UPLOAD_BYTES))),
  },
  { method: 'GET', pattern: /^\/v1\/files$/, handle: (c, _q, res, _p, query) => sendJson(res, 200, c.files.list(query)) },
  { method: 'GET', pattern: /^\/v1\/files\/([^/]+)$/, handle: (c, _q, res, [id]) => sendJson(res, 200, c.files.get(id!)) },
  { method: 'DELETE', pattern: /^\/v1\/files\/([^/]+)$/, handle: (c, _q, res, [id]) => sendJson(res, 200, c.files.delete(id!)) },
  {
    method: 'GET',
    pattern: /^\/v1\/files\/([^/]+)\/content$/,
    handle: (c, _q, res, [id]) => {
      const bytes = c.files.content(id!);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      res.end(bytes);
    },
  },
  { method: 'POST', pattern: /^\/v1\/reward$/, handle: async (c, req, res) => sendJson(res, 200, flywheelReward(c.models, await readJsonObject(req))) },
  { method: 'POST', pattern: /^(?:\/v1)?\/score$/, handle: async (c, req, res) => sendJson(res, 200, vllmScore(c.models, await readJsonObject(req))) },
  { method: 'POST', pattern: /^\/v1\/fine_tuning\/jobs$/, handle: async (c, req, res) => sendJson(res, 200, c.jobs.create(await readJsonObject(req))) },
  { method: 'GET', pattern: /^\/v1\/fine_tuning\/jobs$/, handle: (c, _q, res, _p, query) => sendJson(res, 200, c.jobs.list(query)) },
  { method: 'GET', pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)$/, handle: (c, _q, res, [id]) => sendJson(res, 200, c.jobs.get(id!)) },
  {
    method: 'GET',
    pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)\/events$/,
    handle: (c, _q, res, [id], query) => sendJson(res, 200, c.jobs.events(id!, query)),
  },
  {
    method: 'POST',
    pattern: /^\/v1\/load_lora_adapter$/,
    handle: async (c, req, res) => loadLoraAdapter(c.models, await readJsonObject(req), res),
  },
  {
    method: 'POST',
    pattern: /^\/v1\/unload_lora_adapter$/,
    handle: async (c, req, res) => unloadLoraAdapter(c.models, await readJsonObject(req), res),
  },
  { method: 'POST', pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)\/cancel$/, handle: (c, _q, res, [id]) => sendJson(res, 200, c.jobs.cancel(id!)) },
  ...batchRoutes,
];

/** Present only when runtime LoRA updating is enabled (vLLM: VLLM_ALLOW_RUNTIME_LORA_UPDATING=True). */
const LORA_ROUTE = /^\/v1\/(load|unload)_lora_adapter$/;

function authorized(req: IncomingMessage, apiKey: string | undefined): boolean {
  if (!apiKey) return true;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const wanted = Buffer.from(apiKey);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * Starts the server and resumes unfinished fine-tuning jobs found in `dataDir`.
 *
 * @example
 * const server = await startLocalModelServer({ dataDir: '.flywheel/localmodel' });
 * const client = new OpenAI({ baseURL: server.url, apiKey: 'unused' });
 */
export async function startLocalModelServer(options: LocalModelServerOptions): Promise<LocalModelServer> {
  const log = options.log ?? (() => {});
  const dir = new DataDir(options.dataDir);
  const models = new ModelRegistry(dir, options.tokens);
  const files = new FileStore(dir);
  const jobs = new FineTuningJobs(dir, files, models, log);
  const batches = new Batches(dir, files, models, options.batches, log);
  const ctx: Context = { models, files, jobs, batches, runtimeLora: options.runtimeLora ?? false, cache: new PrefixCache() };

  const server = http.createServer(function handleRequest(req, res) {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localmodel');
    res.on('finish', () => log(`${req.method} ${url.pathname} ${res.statusCode} ${(performance.now() - started).toFixed(1)}ms`));
    void route(ctx, req, res, url, options.apiKey).catch((err: unknown) => {
      const apiError = err instanceof ApiError ? err : new ApiError(500, `Internal error: ${(err as Error).message}`, null, 'internal_error');
      if (apiError.status >= 500 && !(err instanceof VllmError)) log(`error on ${req.method} ${url.pathname}: ${(err as Error).stack ?? err}`);
      if (res.headersSent) res.destroy();
      else if (err instanceof VllmError) sendVllmError(res, err);
      else sendError(res, apiError);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  jobs.resume();
  batches.resume();
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/v1`;
  log(`localmodel listening on ${url}`);
  return {
    url,
    port: address.port,
    async close() {
      await Promise.all([jobs.close(), batches.close()]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function route(ctx: Context, req: IncomingMessage, res: ServerResponse, url: URL, apiKey: string | undefined): Promise<void> {
  if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { ok: true });
  if (!authorized(req, apiKey)) {
    throw new ApiError(401, 'Incorrect API key provided. Send it as "Authorization: Bearer <key>".', null, 'invalid_api_key');
  }
  const path = url.pathname.replace(/\/+$/, '');
  let pathMatched = false;
  for (const r of routes) {
    if (!ctx.runtimeLora && LORA_ROUTE.test(path)) break;
    const m = r.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== req.method) continue;
    return r.handle(ctx, req, res, m.slice(1).map(decodePathPart), url.searchParams);
  }
  if (pathMatched) throw new ApiError(405, `Method ${req.method} is not allowed on ${path}.`, null, 'method_not_allowed');
  throw new ApiError(404, `Unknown request URL: ${req.method} ${path}. This server offers /v1/models, /v1/chat/completions, /v1/completions, /v1/files, /v1/fine_tuning/jobs, /v1/batches, /v1/reward and /score.`, null, 'unknown_url');
}

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ApiError(400, `The URL path part '${part}' is not valid percent-encoding.`, null, 'invalid_url');
  }
}
