/**
 * HTTP to one inference replica (vLLM, SGLang, the embedded model): JSON or text replies, errors that say what the
 * server answered, connection failures retried a few times before the replica counts as down.
 */
import { ReplicaError } from './types.js';

export interface ReplicaOptions {
  apiKey?: string;
  /** Per request. */
  requestTimeoutMs?: number;
  /** Attempts when the replica cannot be reached at all (refused, reset, timed out). */
  connectAttempts?: number;
  retryDelayMs?: number;
}

export interface Reply {
  status: number;
  text: string;
  json: unknown;
}

/** `http://host:8000/v1` → `http://host:8000` (SGLang's own routes are at the root). */
export function serverRoot(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** The message inside an error reply: vLLM `{error: {message}}` or `{message}`, SGLang `{error_message}`, FastAPI `{detail}`. */
export function replyMessage(reply: Reply): string {
  const body = reply.json as Record<string, unknown> | null;
  const nested = body && typeof body.error === 'object' && body.error ? (body.error as Record<string, unknown>).message : undefined;
  const message = nested ?? body?.message ?? body?.error_message ?? body?.detail ?? reply.text;
  return String(typeof message === 'string' ? message : JSON.stringify(message)).slice(0, 500);
}

/** A 4xx another try will not change (400 bad checkpoint, 404 adapter not found); 408, 409 and 429 may. */
export function refusedForGood(status: number): boolean {
  return status >= 400 && status < 500 && ![408, 409, 429].includes(status);
}

export function createReplicaClient(baseUrl: string, options: ReplicaOptions = {}) {
  const base = baseUrl.replace(/\/+$/, '');
  const attempts = options.connectAttempts ?? 3;
  const delay = options.retryDelayMs ?? 500;

  async function request(method: 'GET' | 'POST', url: string, body?: unknown): Promise<Reply> {
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await fetch(url, {
          method,
          headers: {
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(options.requestTimeoutMs ?? 60_000),
        });
        const text = await res.text();
        let json: unknown = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          json = null; // vLLM answers its LoRA routes in plain text
        }
        return { status: res.status, text, json };
      } catch (err) {
        lastError = err;
        if (attempt < attempts) await new Promise((r) => setTimeout(r, delay * attempt));
      }
    }
    const cause = (lastError as { cause?: { code?: string; message?: string } })?.cause;
    const why = cause?.code ?? cause?.message ?? (lastError as Error)?.message ?? String(lastError);
    throw new ReplicaError(baseUrl, `unreachable after ${attempts} attempts (${method} ${url.slice(base.length) || '/'}: ${why})`);
  }

  return {
    baseUrl: base,
    root: serverRoot(base),
    get: (path: string) => request('GET', `${base}${path}`),
    post: (path: string, body: unknown) => request('POST', `${base}${path}`, body),
    /** SGLang's routes live beside /v1, at the server root. */
    postRoot: (path: string, body: unknown) => request('POST', `${serverRoot(base)}${path}`, body),
    getRoot: (path: string) => request('GET', `${serverRoot(base)}${path}`),
  };
}

export type ReplicaClient = ReturnType<typeof createReplicaClient>;

export interface ListedModel {
  id: string;
  root?: string | null;
  parent?: string | null;
}

export async function listModels(client: ReplicaClient): Promise<ListedModel[]> {
  const reply = await client.get('/models');
  if (reply.status !== 200) throw new ReplicaError(client.baseUrl, `GET /models answered ${reply.status}: ${replyMessage(reply)}`);
  const data = (reply.json as { data?: unknown })?.data;
  if (!Array.isArray(data)) throw new ReplicaError(client.baseUrl, 'GET /models did not answer a model list');
  return data.filter((m): m is ListedModel => typeof (m as ListedModel)?.id === 'string');
}

/** Polls until `check` holds or `timeoutMs` passes; the error says what was awaited. */
export async function waitUntil(replica: string, what: string, check: () => Promise<boolean>, timeoutMs: number, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new ReplicaError(replica, `${what} did not happen within ${Math.round(timeoutMs / 1000)} s${last ? ` (last error: ${(last as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** One short chat request addressed to `model`: the proof that the replica serves it. */
export async function probe(client: ReplicaClient, model: string): Promise<void> {
  const reply = await client.post('/chat/completions', { model, messages: [{ role: 'user', content: 'Reply with OK.' }], max_tokens: 1, temperature: 0 });
  if (reply.status !== 200 || !Array.isArray((reply.json as { choices?: unknown })?.choices)) {
    throw new ReplicaError(client.baseUrl, `a request to ${model} answered ${reply.status}: ${replyMessage(reply)}`);
  }
}
