/**
 * Sample requests as a provider's Batch API takes them, and its answers back: input lines `{custom_id, method,
 * url, body}` with the sample's key as `custom_id`, files of at most 50,000 requests (and 200 MB), and output /
 * error lines `{id, custom_id, response: {status_code, request_id, body}, error}` parsed by key into samples or
 * failures, with which failures are worth resubmitting. Pure: the uploading and waiting belong to an activity.
 */
import { MalformedResponseError } from './client.js';
import { chatRequestBody, parseChatCompletion, type SampleRequest, type SampleResponse } from './sample.js';

export const BATCH_ENDPOINT = '/v1/chat/completions';
/** OpenAI's limits per batch input file. */
export const MAX_REQUESTS_PER_FILE = 50_000;
export const MAX_BYTES_PER_FILE = 200 * 1024 * 1024;

export interface BatchInputLine {
  custom_id: string;
  method: 'POST';
  url: typeof BATCH_ENDPOINT;
  body: ReturnType<typeof chatRequestBody>;
}

/** A request to put in a batch: the key it is ingested under (a sample's idempotent key) and what to ask. */
export interface KeyedSampleRequest {
  key: string;
  request: SampleRequest;
}

/** Input lines for `requests`, one per request, `custom_id` = its key; a duplicate or empty key is an error. */
export function batchInputLines(requests: readonly KeyedSampleRequest[]): BatchInputLine[] {
  const seen = new Set<string>();
  return requests.map(({ key, request }, i) => {
    if (!key) throw new Error(`batch request ${i} has an empty key: every request needs its sample's key as custom_id`);
    if (seen.has(key)) throw new Error(`batch request ${i} repeats the key '${key}': a batch rejects duplicate custom_ids`);
    seen.add(key);
    return { custom_id: key, method: 'POST', url: BATCH_ENDPOINT, body: chatRequestBody(request) };
  });
}

/**
 * The lines as JSONL files of at most `maxRequests` lines and `maxBytes` bytes each, in order.
 *
 * @example
 * splitBatchFiles(batchInputLines(requests)) // ['{"custom_id":"r3/p17/s0",...}\n...', ...]
 */
export function splitBatchFiles(lines: readonly BatchInputLine[], maxRequests = MAX_REQUESTS_PER_FILE, maxBytes = MAX_BYTES_PER_FILE): string[] {
  const files: string[] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    const text = `${JSON.stringify(line)}\n`;
    const size = Buffer.byteLength(text);
    if (size > maxBytes) throw new Error(`the request '${line.custom_id}' alone is ${size} bytes, more than a batch file may hold (${maxBytes})`);
    if (current.length && (current.length >= maxRequests || bytes + size > maxBytes)) {
      files.push(current.join(''));
      current = [];
      bytes = 0;
    }
    current.push(text);
    bytes += size;
  }
  if (current.length) files.push(current.join(''));
  return files;
}

/** Why a request of a batch did not produce samples, and whether sending it again may help. */
export interface BatchFailure {
  key: string;
  /** HTTP status of the request, or null when it never ran (expired, cancelled). */
  statusCode: number | null;
  code: string | null;
  message: string;
  /** Expired, cancelled, 408/409/429/5xx, or a malformed answer: worth another attempt. 4xx is the request's fault. */
  retryable: boolean;
}

export interface BatchResults {
  /** Samples by key, for requests that answered 200 with a well-formed completion. */
  succeeded: Map<string, Omit<SampleResponse, 'latencyMs' | 'retries'>>;
  failed: Map<string, BatchFailure>;
  /** Keys the files answered that were not asked (ignored), and keys asked that no file answered. */
  unexpected: string[];
  missing: string[];
}

const RETRYABLE_CODES = new Set(['batch_expired', 'batch_cancelled', 'request_timeout']);

/**
 * Output and error file lines by key. `asked` maps each key to the `n` its request asked for (the shape check of a
 * completion). A key answered twice keeps its first success: ingesting is by key, so a line seen again changes
 * nothing. A line that is not JSON, or names no custom_id, is an error naming its file and line.
 */
export function parseBatchResults(files: ReadonlyArray<{ name: string; text: string }>, asked: ReadonlyMap<string, number>): BatchResults {
  const succeeded: BatchResults['succeeded'] = new Map();
  const failed: BatchResults['failed'] = new Map();
  const unexpected: string[] = [];
  for (const file of files) {
    file.text.split('\n').forEach((raw, i) => {
      if (!raw.trim()) return;
      const where = `${file.name}:${i + 1}`;
      let line: { custom_id?: unknown; response?: { status_code?: unknown; body?: unknown } | null; error?: { code?: unknown; message?: unknown } | null };
      try {
        line = JSON.parse(raw) as typeof line;
      } catch {
        throw new Error(`${where}: not a JSON line of a batch result file`);
      }
      if (typeof line?.custom_id !== 'string') throw new Error(`${where}: the line has no custom_id`);
      const key = line.custom_id;
      const n = asked.get(key);
      if (n === undefined) {
        unexpected.push(key);
        return;
      }
      if (succeeded.has(key)) return;
      const failure = (statusCode: number | null, code: string | null, message: string, retryable: boolean) => {
        failed.set(key, { key, statusCode, code, message, retryable });
      };
      if (line.error) {
        const code = typeof line.error.code === 'string' ? line.error.code : null;
        failure(null, code, String(line.error.message ?? code ?? 'failed'), code === null || RETRYABLE_CODES.has(code));
        return;
      }
      const status = typeof line.response?.status_code === 'number' ? line.response.status_code : null;
      if (status === 200) {
        try {
          succeeded.set(key, parseChatCompletion(line.response!.body, n));
          failed.delete(key);
        } catch (err) {
          if (!(err instanceof MalformedResponseError)) throw err;
          failure(200, 'malformed_response', err.message, true);
        }
        return;
      }
      const body = line.response?.body as { error?: { message?: unknown; code?: unknown } } | undefined;
      const code = typeof body?.error?.code === 'string' ? body.error.code : null;
      const retryable = status === null || status === 408 || status === 409 || status === 429 || status >= 500;
      failure(status, code, String(body?.error?.message ?? `status ${status}`), retryable);
    });
  }
  const missing = [...asked.keys()].filter((key) => !succeeded.has(key) && !failed.has(key));
  return { succeeded, failed, unexpected, missing };
}

/**
 * The requests to send again after a batch: retryable failures and requests no file answered, while they have
 * attempts left (`attempts` counts batches a key was in, this one included). The rest is final.
 */
export function resubmission(
  results: BatchResults,
  attempts: ReadonlyMap<string, number>,
  maxAttempts: number,
): { resubmit: string[]; givenUp: BatchFailure[] } {
  const resubmit: string[] = [];
  const givenUp: BatchFailure[] = [];
  const candidates: BatchFailure[] = [
    ...results.failed.values(),
    ...results.missing.map((key) => ({ key, statusCode: null, code: 'missing', message: 'no output or error line for this request', retryable: true })),
  ];
  for (const failure of candidates) {
    if (failure.retryable && (attempts.get(failure.key) ?? 1) < maxAttempts) resubmit.push(failure.key);
    else givenUp.push(failure);
  }
  return { resubmit, givenUp };
}
