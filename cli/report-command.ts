/**
 * `flywheel report <run> [--out report.html] [--serve [--port N]]`: the run's report as one self-contained HTML
 * file (charts, tables, config; opens offline), or served at a local URL that follows a live run.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { getRun } from '../db/runs.js';
import { openDatabase, resolveConnections } from './connections.js';
import { UsageError } from './errors.js';
import { reportHtml } from './report-page.js';
import { serveReports } from './report-server.js';

export async function reportCommand(runId: string, options: { out?: string; serve?: boolean; port?: string; host?: string }) {
  const port = options.port === undefined ? 8234 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (0–65535), got "${options.port}"`);
  if (options.serve && options.out) throw new UsageError('--serve and --out: choose one (a file, or a page served at a URL)');
  const database = await openDatabase(resolveConnections().databaseUrl, { migrate: false });
  try {
    await getRun(database.db, runId).catch((err: Error) => {
      throw new UsageError(err.message);
    });
    if (options.serve) {
      const served = await serveReports(database.db, { port, host: options.host, only: runId, log: (l) => process.stderr.write(`${l}\n`) });
      process.stdout.write(`report of ${runId} at ${served.url}/runs/${encodeURIComponent(runId)} (refreshes while the run is live); Ctrl-C stops\n`);
      await new Promise<void>((resolve) => {
        process.on('SIGINT', resolve);
        process.on('SIGTERM', resolve);
      });
      await served.close();
      return;
    }
    const out = path.resolve(options.out ?? `report-${runId}.html`);
    const html = await reportHtml(database.db, runId);
    writeFileSync(out, html);
    process.stderr.write(`wrote ${out} (${(html.length / 1024).toFixed(0)} KiB, self-contained: open it in a browser, offline)\n`);
  } finally {
    await database.close();
  }
}
