/**
 * `/v1/batches`: OpenAI's Batch API over this server's own chat/completions and completions handlers. A batch reads
 * an uploaded JSONL file (`purpose: batch`) of `{custom_id, method, url, body}` lines, is validated, processed in
 * the background one line at a time, and finalized into an output file (the 200 responses) and an error file
 * (failed requests, and with `batch_expired` / `batch_cancelled` the ones never run), with OpenAI's statuses,
 * timestamps and request counts. State lives in the data dir; a restart continues where processing stopped.
 *
 *   batches/<batch id>.json          the batch object
 *   batches/<batch id>.lines.jsonl   one result line per processed request, in processing order
 *
 * Test hooks are server options (never request content): which requests fail, and when a batch's window closes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Batch, BatchError } from 'openai/resources/batches';
import { createChatCompletion } from './chat.js';
import { createCompletion } from './completions.js';
import type { FileStore } from './files.js';
import { ApiError, badRequest, cursorPage, notFound, queryLimit, readJsonObject, requiredString, sendJson } from './http.js';
import type { ModelRegistry } from './models.js';
import type { DataDir } from './store.js';
import { newId, nowSeconds } from './store.js';

export interface BatchOptions {
  /** Test hook: requests for which this returns true answer 500 (they land in the error file). */
  failRequest?: (customId: string, batch: Readonly<Batch>) => boolean;
  /**
   * Test hook: how many requests of `batch` run before its completion window closes (the rest expire with
   * `batch_expired`); null or undefined: the real window (`expires_at`) decides.
   */
  expireAfter?: (batch: Readonly<Batch>) => number | null | undefined;
  /** Pause between two requests, to leave time to watch a batch in progress (default 0). */
  requestDelayMs?: number;
}

/** One request line of an input file. */
export interface BatchRequestLine {
  custom_id: string;
  method: 'POST';
  url: string;
  body: Record<string, unknown>;
}

/** One line of an output or error file. */
export interface BatchResultLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string } | null;
}

const ENDPOINTS: Record<string, (body: Record<string, unknown>, models: ModelRegistry) => unknown> = {
  '/v1/chat/completions': createChatCompletion,
  '/v1/completions': createCompletion,
};
const WINDOW_SECONDS = 24 * 3600;
export const MAX_BATCH_REQUESTS = 50_000;
const ACTIVE = new Set<Batch['status']>(['validating', 'in_progress', 'finalizing', 'cancelling']);

type Handler = (ctx: { batches: Batches }, req: IncomingMessage, res: ServerResponse, params: string[], query: URLSearchParams) => Promise<void> | void;

/** The routes, for the server's router. */
export const batchRoutes: Array<{ method: string; pattern: RegExp; handle: Handler }> = [
  { method: 'POST', pattern: /^\/v1\/batches$/, handle: async ({ batches }, req, res) => sendJson(res, 200, batches.create(await readJsonObject(req))) },
  { method: 'GET', pattern: /^\/v1\/batches$/, handle: ({ batches }, _q, res, _p, query) => sendJson(res, 200, batches.list(query)) },
  { method: 'GET', pattern: /^\/v1\/batches\/([^/]+)$/, handle: ({ batches }, _q, res, [id]) => sendJson(res, 200, batches.get(id!)) },
  { method: 'POST', pattern: /^\/v1\/batches\/([^/]+)\/cancel$/, handle: ({ batches }, _q, res, [id]) => sendJson(res, 200, batches.cancel(id!)) },
];

export class Batches {
  private readonly batches = new Map<string, Batch>();
  private readonly dirPath: string;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly dir: DataDir,
    private readonly files: FileStore,
    private readonly models: ModelRegistry,
    private readonly options: BatchOptions = {},
    private readonly log: (line: string) => void = () => {},
  ) {
    this.dirPath = path.join(dir.root, 'batches');
    fs.mkdirSync(this.dirPath, { recursive: true });
    for (const name of dir.list('batches', '.json')) {
      const batch = dir.readJson<Batch>(`batches/${name}`);
      this.batches.set(batch.id, batch);
    }
  }

  /** `POST /v1/batches`: checks the parameters now, the file's lines in the background (status `validating`). */
  create(body: Record<string, unknown>): Batch {
    const inputFileId = requiredString(body, 'input_file_id');
    const endpoint = requiredString(body, 'endpoint');
    if (!ENDPOINTS[endpoint]) {
      throw badRequest('endpoint', `Invalid 'endpoint': '${endpoint}'; this server runs batches for ${Object.keys(ENDPOINTS).join(' and ')}.`);
    }
    const window = requiredString(body, 'completion_window');
    if (window !== '24h') throw badRequest('completion_window', `Invalid 'completion_window': '${window}'; only '24h' is supported.`);
    const metadata = readMetadata(body.metadata);
    const file = this.files.get(inputFileId, 'input_file_id');
    if (file.purpose !== 'batch') {
      throw badRequest('input_file_id', `The file '${inputFileId}' has purpose '${file.purpose}'; a batch input file must be uploaded with purpose 'batch'.`);
    }
    const now = nowSeconds();
    const batch: Batch = {
      id: newId('batch'),
      object: 'batch',
      endpoint,
      errors: undefined,
      input_file_id: inputFileId,
      completion_window: '24h',
      status: 'validating',
      output_file_id: undefined,
      error_file_id: undefined,
      created_at: now,
      in_progress_at: undefined,
      expires_at: now + WINDOW_SECONDS,
      finalizing_at: undefined,
      completed_at: undefined,
      failed_at: undefined,
      expired_at: undefined,
      cancelling_at: undefined,
      cancelled_at: undefined,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata,
    };
    this.save(batch);
    this.kick();
    return present(batch);
  }

  get(id: string): Batch {
    const batch = this.batches.get(id);
    if (!batch) throw notFound('batch', id, 'batch_id');
    return present(batch);
  }

  /** `GET /v1/batches`: newest first, `after` and `limit` (1–100, default 20). */
  list(query: URLSearchParams) {
    const sorted = [...this.batches.values()].sort((a, b) => b.id.localeCompare(a.id)).map(present);
    return cursorPage(sorted, query.get('after'), queryLimit(query, 20, 100));
  }

  /** `POST /v1/batches/{id}/cancel`: `cancelling` now, `cancelled` once the request in flight has finished. */
  cancel(id: string): Batch {
    const batch = this.batches.get(id);
    if (!batch) throw notFound('batch', id, 'batch_id');
    if (batch.status === 'cancelling' || batch.status === 'cancelled') return present(batch);
    if (batch.status !== 'validating' && batch.status !== 'in_progress') {
      throw new ApiError(409, `Cannot cancel a batch with status '${batch.status}'.`, null, 'batch_not_cancellable');
    }
    this.save({ ...batch, status: 'cancelling', cancelling_at: nowSeconds() });
    this.kick();
    return present(this.batches.get(id)!);
  }

  /** Continues batches that a previous process left unfinished. */
  resume(): void {
    this.kick();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.running;
  }

  private save(batch: Batch): void {
    this.batches.set(batch.id, batch);
    this.dir.writeJson(`batches/${batch.id}.json`, batch);
  }

  /** One background loop for all batches: oldest active batch first, until none is left. */
  private kick(): void {
    if (this.running || this.closed) return;
    this.running = (async () => {
      // Yield first: `running` must be assigned before the loop can finish and clear it.
      await Promise.resolve();
      try {
        for (;;) {
          const next = [...this.batches.values()].filter((b) => ACTIVE.has(b.status)).sort((a, b) => a.id.localeCompare(b.id))[0];
          if (!next || this.closed) return;
          await this.advance(next.id);
        }
      } catch (err) {
        this.log(`batches: ${(err as Error).stack ?? err}`);
      } finally {
        this.running = null;
      }
    })();
  }

  /** Runs one batch until it reaches a final status or the server closes. */
  private async advance(id: string): Promise<void> {
    const lines = this.readInput(id);
    if (!lines) return; // failed validation
    const done = new Set(this.dir.readJsonLines<BatchResultLine>(`batches/${id}.lines.jsonl`).map((l) => l.custom_id));
    let batch = this.batches.get(id)!;
    if (batch.status === 'validating') {
      batch = { ...batch, status: 'in_progress', in_progress_at: nowSeconds(), request_counts: { total: lines.length, completed: 0, failed: 0 } };
      this.save(batch);
    }
    const budget = this.options.expireAfter?.(batch) ?? null;
    for (const line of lines) {
      if (this.closed) return;
      batch = this.batches.get(id)!;
      if (batch.status !== 'in_progress') break;
      if (done.has(line.custom_id)) continue;
      if ((budget !== null && done.size >= budget) || nowSeconds() >= (batch.expires_at ?? Infinity)) {
        return this.finish(id, lines, 'expired');
      }
      const result = this.run(line, batch);
      this.dir.appendLine(`batches/${id}.lines.jsonl`, JSON.stringify(result));
      done.add(line.custom_id);
      const ok = result.response?.status_code === 200;
      const counts = batch.request_counts!;
      this.save({ ...batch, request_counts: { ...counts, completed: counts.completed + (ok ? 1 : 0), failed: counts.failed + (ok ? 0 : 1) } });
      await new Promise((resolve) => setTimeout(resolve, this.options.requestDelayMs ?? 0));
    }
    batch = this.batches.get(id)!;
    this.finish(id, lines, batch.status === 'cancelling' ? 'cancelled' : 'completed');
  }

  /** Validates the input file: a batch with a bad line fails as a whole, each problem named by its line. */
  private readInput(id: string): BatchRequestLine[] | null {
    const batch = this.batches.get(id)!;
    if (batch.status === 'cancelling' && batch.request_counts?.total === 0) {
      this.finish(id, [], 'cancelled');
      return null;
    }
    const { lines, errors } = parseInputFile(this.files.content(batch.input_file_id).toString('utf8'), batch.endpoint);
    if (errors.length) {
      this.save({ ...batch, status: 'failed', failed_at: nowSeconds(), errors: { object: 'list', data: errors.slice(0, 100) } });
      return null;
    }
    return lines;
  }

  /** One request through the endpoint's own handler: a 200 with its body, or the handler's error with its status. */
  private run(line: BatchRequestLine, batch: Batch): BatchResultLine {
    const id = `batch_req_${randomBytes(12).toString('hex')}`;
    const requestId = `req_${randomBytes(12).toString('hex')}`;
    let status = 200;
    let body: unknown;
    try {
      if (this.options.failRequest?.(line.custom_id, batch)) {
        throw new ApiError(500, 'The server had an error while processing your request.', null, 'server_error');
      }
      body = ENDPOINTS[batch.endpoint]!(line.body, this.models);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : new ApiError(500, `Internal error: ${(err as Error).message}`, null, 'internal_error');
      status = apiError.status;
      body = apiError.toJSON();
    }
    return { id, custom_id: line.custom_id, response: { status_code: status, request_id: requestId, body }, error: null };
  }

  /** Writes the output and error files and the final status; requests never run get `batch_expired` / `batch_cancelled`. */
  private finish(id: string, lines: BatchRequestLine[], status: 'completed' | 'expired' | 'cancelled'): void {
    let batch = this.batches.get(id)!;
    const results = this.dir.readJsonLines<BatchResultLine>(`batches/${id}.lines.jsonl`);
    const ran = new Set(results.map((r) => r.custom_id));
    const code = status === 'expired' ? 'batch_expired' : 'batch_cancelled';
    const message =
      status === 'expired'
        ? 'This request could not be executed before the completion window expired.'
        : 'This request was not executed because the batch was cancelled.';
    const notRun: BatchResultLine[] = lines
      .filter((l) => !ran.has(l.custom_id))
      .map((l) => ({ id: `batch_req_${randomBytes(12).toString('hex')}`, custom_id: l.custom_id, response: null, error: { code, message } }));
    if (status === 'completed') {
      batch = { ...batch, status: 'finalizing', finalizing_at: nowSeconds() };
      this.save(batch);
    }
    const ok = results.filter((r) => r.response?.status_code === 200);
    const failed = [...results.filter((r) => r.response?.status_code !== 200), ...notRun];
    const jsonl = (rows: BatchResultLine[]) => Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const output = ok.length ? this.files.create(`${id}_output.jsonl`, 'batch_output', jsonl(ok)) : null;
    const errorFile = failed.length ? this.files.create(`${id}_error.jsonl`, 'batch_output', jsonl(failed)) : null;
    const now = nowSeconds();
    const usage = ok.reduce(
      (u, r) => {
        const reported = (r.response?.body as { usage?: { prompt_tokens?: number; completion_tokens?: number } } | undefined)?.usage;
        return { input: u.input + (reported?.prompt_tokens ?? 0), output: u.output + (reported?.completion_tokens ?? 0) };
      },
      { input: 0, output: 0 },
    );
    const counts = batch.request_counts!;
    this.save({
      ...batch,
      status,
      output_file_id: output?.id,
      error_file_id: errorFile?.id,
      ...(status === 'completed' ? { completed_at: now } : status === 'expired' ? { expired_at: now } : { cancelled_at: now }),
      // Requests never run count as failed, as OpenAI reports them.
      request_counts: { total: counts.total || lines.length, completed: ok.length, failed: failed.length },
      usage: {
        input_tokens: usage.input,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: usage.output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: usage.input + usage.output,
      },
    });
    this.log(`batch ${id} ${status}: ${ok.length} ok, ${failed.length} failed`);
  }
}

/** The input file's request lines, or every problem with its (1-based) line number. */
export function parseInputFile(text: string, endpoint: string): { lines: BatchRequestLine[]; errors: BatchError[] } {
  const lines: BatchRequestLine[] = [];
  const errors: BatchError[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      errors.push({ code: 'invalid_json_line', line, message: `Line ${line} is not valid JSON.`, param: null });
      return;
    }
    const r = value as Partial<BatchRequestLine> | null;
    if (!r || typeof r !== 'object' || Array.isArray(r)) {
      errors.push({ code: 'invalid_request', line, message: `Line ${line} must be a JSON object.`, param: null });
    } else if (typeof r.custom_id !== 'string' || r.custom_id === '') {
      errors.push({ code: 'missing_required_parameter', line, message: `Line ${line} has no 'custom_id' string.`, param: 'custom_id' });
    } else if (seen.has(r.custom_id)) {
      errors.push({ code: 'duplicate_custom_id', line, message: `The custom_id '${r.custom_id}' on line ${line} is used on an earlier line; each custom_id must be unique.`, param: 'custom_id' });
    } else if (r.method !== 'POST') {
      errors.push({ code: 'invalid_method', line, message: `Line ${line}: 'method' must be 'POST', got ${JSON.stringify(r.method)}.`, param: 'method' });
    } else if (r.url !== endpoint) {
      errors.push({ code: 'mismatched_endpoint', line, message: `Line ${line}: 'url' ${JSON.stringify(r.url)} is not the batch's endpoint '${endpoint}'.`, param: 'url' });
    } else if (!r.body || typeof r.body !== 'object' || Array.isArray(r.body)) {
      errors.push({ code: 'missing_required_parameter', line, message: `Line ${line} has no 'body' object.`, param: 'body' });
    } else {
      seen.add(r.custom_id);
      lines.push(r as BatchRequestLine);
    }
  });
  if (!errors.length && lines.length === 0) errors.push({ code: 'empty_file', line: null, message: 'The input file has no request lines.', param: null });
  if (lines.length > MAX_BATCH_REQUESTS) {
    errors.push({ code: 'too_many_requests', line: null, message: `The input file has ${lines.length} requests; a batch takes at most ${MAX_BATCH_REQUESTS}.`, param: null });
  }
  return { lines, errors };
}

function readMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest('metadata', "Invalid 'metadata': expected an object of string values.");
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 16) throw badRequest('metadata', "Invalid 'metadata': at most 16 keys.");
  for (const [k, v] of entries) {
    if (k.length > 64 || typeof v !== 'string' || v.length > 512) {
      throw badRequest('metadata', `Invalid 'metadata.${k}': keys up to 64 characters, string values up to 512.`);
    }
  }
  return value as Record<string, string>;
}

/** The batch as the API shows it: every optional field present, null when unset (as OpenAI answers). */
function present(batch: Batch): Batch {
  const fields = ['errors', 'output_file_id', 'error_file_id', 'in_progress_at', 'finalizing_at', 'completed_at', 'failed_at', 'expired_at', 'cancelling_at', 'cancelled_at', 'usage'] as const;
  const out: Record<string, unknown> = { ...batch };
  for (const f of fields) out[f] ??= null;
  return out as unknown as Batch;
}
