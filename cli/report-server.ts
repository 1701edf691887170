/**
 * Reports over HTTP: an index of runs at `/` and each run's report at `/runs/<id>`, rendered on every request (a
 * live run's page reloads itself). Used by `flywheel dev` and `flywheel report --serve`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '../db/client.js';
import { listRuns } from '../db/runs.js';
import { escapeHtml } from '../lib/report/index.js';
import { isLive, reportHtml } from './report-page.js';

export interface ReportServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

async function indexHtml(db: Db, only?: string): Promise<string> {
  const runs = (await listRuns(db, 200)).filter((r) => !only || r.id === only);
  const live = runs.some((r) => isLive(r.status));
  const rows = runs
    .map((r) => `<tr><td><a href="/runs/${encodeURIComponent(r.id)}">${escapeHtml(r.id)}</a></td><td>${escapeHtml(r.name)}</td><td>${escapeHtml(r.status)}</td><td>${escapeHtml(r.currentModel)}</td><td>${escapeHtml(r.createdAt.toISOString())}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">${live ? '<meta http-equiv="refresh" content="5">' : ''}<title>flywheel runs</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;margin:24px}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 10px;text-align:left}</style></head>
<body><h1>flywheel runs</h1>${runs.length ? `<table><tr><th>run</th><th>name</th><th>state</th><th>current model</th><th>started</th></tr>${rows}</table>` : '<p>no runs yet: start one with <code>npx flywheel run config/examples/countdown.yaml</code></p>'}</body></html>`;
}

/** Serves reports from `db` on `port` (0: a free one); `only` limits it to one run. */
export async function serveReports(db: Db, options: { port: number; host?: string; only?: string; log?: (line: string) => void }): Promise<ReportServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '');
    const send = (status: number, body: string) => res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(body);
    const run = /^\/runs\/([^/]+)\/?$/.exec(path)?.[1];
    let page: Promise<string>;
    if (path === '/' || path === '/runs') page = indexHtml(db, options.only);
    else if (run && (!options.only || run === options.only)) page = reportHtml(db, run, { served: true });
    else return send(404, `<p>not found: the runs are listed at <a href="/">/</a></p>`);
    page.then(
      (html) => send(200, html),
      (err: Error) => {
        const missing = /^no run /.test(err.message);
        if (!missing) options.log?.(`report of ${run ?? 'the index'} failed: ${err.message}`);
        send(missing ? 404 : 500, `<p>${escapeHtml(err.message)}</p>`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://${host}:${port}`, server, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
