/**
 * HTTP plumbing for the embedded model server: OpenAI-shaped errors, JSON bodies and replies, and small request
 * validators that name the bad field, so a client sees the same kind of 400 it would get from OpenAI or vLLM.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error the client caused (or a missing resource), sent as `{error: {message, type, param, code}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status === 401 ? 'invalid_request_error' : status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function badRequest(param: string, message: string): ApiError {
  return new ApiError(400, message, param, 'invalid_value');
}

export function notFound(what: string, id: string, param: string | null = null, code = 'not_found'): ApiError {
  return new ApiError(404, `No ${what} found with id '${id}'.`, param, code);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status, err.toJSON());
}

/** The raw request body, refused past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError(413, `Request body is larger than ${limit} bytes.`, null, 'request_too_large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; 400 when the body is not a JSON object. */
export async function readJsonObject(req: IncomingMessage, limit = 10 * 1024 * 1024): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit);
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'We could not parse the JSON body of your request. Send a JSON object with Content-Type: application/json.', null, 'invalid_json');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ApiError(400, 'The request body must be a JSON object.', null, 'invalid_json');
  return value as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------------
// Field validators: each returns the value or throws a 400 naming the field.

export function optionalInt(body: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw badRequest(field, `Invalid '${field}': expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}.`);
  }
  return v;
}

export function optionalNumber(body: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw badRequest(field, `Invalid '${field}': expected a number from ${min} to ${max}, got ${JSON.stringify(v)}.`);
  }
  return v;
}

export function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(field, `Invalid '${field}': expected true or false, got ${JSON.stringify(v)}.`);
  return v;
}

export function requiredString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') {
    throw new ApiError(400, v === undefined ? `Missing required parameter: '${field}'.` : `Invalid '${field}': expected a non-empty string.`, field, v === undefined ? 'missing_required_parameter' : 'invalid_type');
  }
  return v;
}

/** `stop`: a string or up to 4 strings. */
export function optionalStop(body: Record<string, unknown>): string[] {
  const v = body.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > 4 || list.some((s) => typeof s !== 'string' || s === '')) {
    throw badRequest('stop', "Invalid 'stop': expected a non-empty string or an array of up to 4 non-empty strings.");
  }
  return list as string[];
}

/** Streaming is not offered; say so instead of answering in a shape the client does not expect. */
export function refuseStream(body: Record<string, unknown>): void {
  if (body.stream === true) throw badRequest('stream', "Invalid 'stream': this server does not stream; send stream: false or leave it out.");
}

/**
 * One page of a cursor list, OpenAI style: `items` newest first, `after` the id of the last item of the previous
 * page, `has_more` when the list goes on.
 */
export function cursorPage<T extends { id: string }>(items: readonly T[], after: string | null, limit: number) {
  let start = 0;
  if (after) {
    const i = items.findIndex((item) => item.id === after);
    if (i < 0) throw badRequest('after', `Invalid 'after': no item with id '${after}' in this list.`);
    start = i + 1;
  }
  const data = items.slice(start, start + limit);
  return {
    object: 'list' as const,
    data,
    has_more: start + limit < items.length,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  };
}

/** `limit` from a query string: an integer in [1, max], `fallback` when absent. */
export function queryLimit(query: URLSearchParams, fallback: number, max: number): number {
  const raw = query.get('limit');
  if (raw === null) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > max) throw badRequest('limit', `Invalid 'limit': expected an integer from 1 to ${max}, got '${raw}'.`);
  return v;
}
