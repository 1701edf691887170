/**
 * A fault-injecting HTTP proxy in front of a model server, for tests: 500s, 429 with Retry-After, hung connections,
 * truncated and malformed JSON at given rates, extra latency, or down for good. It counts every fault it injects,
 * per path, so a test can compare them with what flywheel recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRng } from '../../lib/rng.js';

export type Fault = 'status500' | 'status429' | 'hang' | 'truncated' | 'malformed';

export interface FaultProxyOptions {
  /** The server behind the proxy, e.g. http://127.0.0.1:1234 (no /v1). */
  target: string;
  /** Probability of each fault per request, applied to paths matching `only` (default: every path). */
  rates?: Partial<Record<Fault, number>>;
  only?: RegExp;
  /** Added to every forwarded request. */
  latencyMs?: number;
  /** Seconds in the Retry-After header of injected 429s. */
  retryAfterSeconds?: number;
  seed?: number;
}

export interface FaultProxy {
  /** Base URL for the `openai` client (`.../v1`). */
  url: string;
  port: number;
  /** Faults injected so far, by kind and by path. */
  injected: Record<Fault, number>;
  injectedOn(path: RegExp): number;
  requests: number;
  /** Requests received and not answered yet (hung ones included), on paths matching `path` (default: all). */
  inFlight(path?: RegExp): number;
  /** Changes the latency added to forwarded requests (to those matching `only`, else to every one). */
  setLatency(ms: number, only?: RegExp): void;
  /**
   * Forwards matching requests (`POST /v1/fine_tuning/jobs`...) upstream at once but holds their responses, as a
   * network that loses an answer after the server acted on the request. `held` counts them; `release()` sends them.
   */
  hold(match: { method?: string; path: RegExp } | null): void;
  held: number;
  release(): void;
  /** Stop accepting connections (the server is "down for good") until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  setRates(rates: Partial<Record<Fault, number>>): void;
  /**
   * Every request (on `only` paths) whose body contains `text` gets `fault`, attempt after attempt, whatever the
   * rates: a request that fails for good, whichever order the requests arrive in. Counted like the rest; null stops.
   */
  always(rule: { fault: Fault; bodyContains: string } | null): void;
  close(): Promise<void>;
}

const FAULTS: Fault[] = ['status500', 'status429', 'hang', 'truncated', 'malformed'];

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const rng = createRng(options.seed ?? 1);
  let rates = { ...options.rates };
  const injected = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  const log: Array<{ path: string; fault: Fault }> = [];
  const hung = new Set<http.ServerResponse>();
  let requests = 0;
  let latency = { ms: options.latencyMs ?? 0, only: undefined as RegExp | undefined };
  let holding: { method?: string; path: RegExp } | null = null;
  const heldResponses: Array<() => void> = [];
  let heldCount = 0;
  /** Requests not answered yet, by path. */
  const open = new Map<string, number>();
  const opened = (p: string, by: number) => {
    const n = (open.get(p) ?? 0) + by;
    if (n > 0) open.set(p, n);
    else open.delete(p);
  };
  const target = new URL(options.target);

  let sticky: { fault: Fault; bodyContains: string } | null = null;
  const pick = (path: string, body: Buffer): Fault | null => {
    if (options.only && !options.only.test(path)) return null;
    if (sticky && body.includes(sticky.bodyContains)) return sticky.fault;
    const r = rng();
    let acc = 0;
    for (const f of FAULTS) {
      acc += rates[f] ?? 0;
      if (r < acc) return f;
    }
    return null;
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests++;
    const path = req.url ?? '/';
    opened(path, 1);
    res.on('close', () => opened(path, -1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const fault = pick(path, Buffer.concat(chunks));
      if (fault) {
        injected[fault]++;
        log.push({ path, fault });
      }
      if (fault === 'status500') return json(res, 500, { error: { message: 'injected: internal error', type: 'server_error' } });
      if (fault === 'status429') {
        return json(res, 429, { error: { message: 'injected: rate limited', type: 'rate_limit' } }, {
          'retry-after': String(options.retryAfterSeconds ?? 0.2),
        });
      }
      if (fault === 'hang') {
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return; // never answers; the client's timeout must handle it
      }
      const delay = !latency.only || latency.only.test(path) ? latency.ms : 0;
      setTimeout(() => forward(req, res, Buffer.concat(chunks), fault), delay);
    });
  };

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, fault: Fault | null) => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
      (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => {
          let payload = Buffer.concat(parts);
          if (fault === 'truncated') payload = payload.subarray(0, Math.floor(payload.length / 2));
          if (fault === 'malformed') payload = Buffer.from('{"id": "chatcmpl-x", "choices": [ oops not json');
          const headers = { ...up.headers, 'content-length': String(payload.length) };
          const send = () => {
            if (res.destroyed) return;
            res.writeHead(up.statusCode ?? 502, headers);
            res.end(payload);
          };
          const hold = holding && (!holding.method || holding.method === req.method) && holding.path.test(req.url ?? '/');
          if (!hold) return send();
          heldCount++;
          heldResponses.push(send);
          hung.add(res);
          res.on('close', () => hung.delete(res));
        });
      },
    );
    upstream.on('error', (err) => json(res, 502, { error: { message: `proxy: ${err.message}`, type: 'proxy' } }));
    upstream.end(body);
  };

  let server = http.createServer(handler);
  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    injected,
    injectedOn: (path) => log.filter((l) => path.test(l.path)).length,
    get requests() {
      return requests;
    },
    async down() {
      for (const res of hung) res.destroy();
      await closeServer(server);
    },
    async up() {
      server = http.createServer(handler);
      await listen(server, port);
    },
    inFlight: (match) => [...open].reduce((n, [p, c]) => (!match || match.test(p) ? n + c : n), 0),
    setLatency(ms, only) {
      latency = { ms, only };
    },
    hold(match) {
      holding = match;
    },
    get held() {
      return heldCount;
    },
    release() {
      for (const send of heldResponses.splice(0)) send();
    },
    setRates(next) {
      rates = { ...next };
    },
    always(rule) {
      sticky = rule;
    },
    async close() {
      for (const res of hung) res.destroy();
      await closeServer(server).catch(() => {});
    },
  };
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
