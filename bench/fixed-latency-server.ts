/**
 * An OpenAI-compatible loopback server that answers every `/v1/chat/completions` after exactly `latencyMs`, with the
 * `n` choices asked for, logprobs and usage, in the shape vLLM and OpenAI send. With a known latency the ideal
 * throughput is known too (requests in flight ÷ latency), so a benchmark can say how close the orchestrator gets.
 * It records when each request arrived and was answered (`GET /stats`), to measure requests in flight over time.
 *
 * For benchmarks only (bench/generate-throughput.ts); run alone it prints its URL:
 *
 *   npx tsx bench/fixed-latency-server.ts --latency-ms 250 [--port 0]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export interface FixedLatencyStats {
  requests: number;
  inFlight: number;
  peakInFlight: number;
  /** Arrival and answer times (ms since the epoch) of every chat completion, in arrival order. */
  started: number[];
  finished: number[];
}

export interface FixedLatencyServer {
  /** Base URL, ending in /v1. */
  url: string;
  stats(): FixedLatencyStats;
  close(): Promise<void>;
}

const ANSWER = 'Step 1: 3 + 5 = 8\nAnswer: 8';

function completion(model: string, n: number, index: number) {
  const tokens = ANSWER.split(/(?<=\s)/);
  return {
    id: `chatcmpl-fixed-${index}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: Array.from({ length: n }, (_, i) => ({
      index: i,
      finish_reason: 'stop',
      message: { role: 'assistant', content: ANSWER },
      logprobs: { content: tokens.map((token) => ({ token, logprob: -0.25, bytes: null, top_logprobs: [] })) },
    })),
    usage: { prompt_tokens: 40, completion_tokens: tokens.length * n, total_tokens: 40 + tokens.length * n },
  };
}

export async function startFixedLatencyServer(options: { latencyMs: number; port?: number; host?: string }): Promise<FixedLatencyServer> {
  const { latencyMs } = options;
  const started: number[] = [];
  const finished: number[] = [];
  let inFlight = 0;
  let peakInFlight = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'GET' && path === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ requests: started.length, inFlight, peakInFlight, started, finished } satisfies FixedLatencyStats));
        return;
      }
      if (req.method === 'GET' && path === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'fixed', object: 'model', created: 0, owned_by: 'bench' }] }));
        return;
      }
      if (req.method !== 'POST' || path !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${path}`, type: 'not_found' } }));
        return;
      }
      const arrived = Date.now();
      let body: { model?: string; n?: number };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'invalid JSON', type: 'invalid_request_error' } }));
        return;
      }
      const index = started.length;
      started.push(arrived);
      peakInFlight = Math.max(peakInFlight, ++inFlight);
      setTimeout(() => {
        inFlight--;
        finished[index] = Date.now();
        const payload = JSON.stringify(completion(body.model ?? 'fixed', body.n ?? 1, index));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
      }, latencyMs - (Date.now() - arrived));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/v1`,
    stats: () => ({ requests: started.length, inFlight, peakInFlight, started: [...started], finished: [...finished] }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { 'latency-ms': { type: 'string', default: '250' }, port: { type: 'string', default: '0' } } });
  const served = await startFixedLatencyServer({ latencyMs: Number(values['latency-ms']), port: Number(values.port) });
  console.log(`fixed-latency server on ${served.url} (${values['latency-ms']} ms)`);
  const stop = () => void served.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
