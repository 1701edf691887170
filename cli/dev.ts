/** `flywheel dev`: the embedded stack for local work, until Ctrl-C. Started again, it finds its state. */
import { rootLogger } from '../telemetry/logger.js';
import { activityAwareLog } from '../telemetry/temporal.js';
import { flywheelHome, readStackFile } from './connections.js';
import { serveReports, type ReportServer } from './report-server.js';
import { installQuietRuntime } from './runtime.js';
import { startStack } from './stack.js';

export async function devCommand(options: { worker: boolean }) {
  const logger = rootLogger().child({ component: 'dev' });
  const log = (line: string) => logger.info(line);
  const home = flywheelHome();
  const other = readStackFile(home);
  if (other) throw new Error(`\`flywheel dev\` already runs for ${home} (pid ${other.pid}); stop it first or set FLYWHEEL_HOME`);
  // The Temporal runtime is for workers; installed without one, nothing ever shuts it down and it keeps the process
  // alive after Ctrl-C (`dev --no-worker` never exited; found by the CLI integration test).
  if (options.worker) installQuietRuntime();
  const stack = await startStack({ home, worker: options.worker, log, workerLog: activityAwareLog(logger), advertise: true });
  let reports: ReportServer;
  try {
    reports = await serveReportsOnPreferredPort(stack.database.db, log);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const lines = [
    'flywheel dev is up:',
    `  Postgres        ${stack.databaseUrl}${stack.embedded.postgres ? '  (embedded, data in ' + home + '/pg)' : ''}`,
    `  Temporal        ${stack.temporalAddress}  namespace ${stack.namespace}${stack.embedded.temporal ? '  (dev server, state in ' + home + '/temporal.db)' : ''}`,
    `  Temporal UI     ${stack.uiUrl ?? '—'}`,
    `  Model server    ${stack.modelUrl ?? '—'}${stack.embedded.model ? '  (embedded, OpenAI-compatible)' : ''}`,
    `  Reports         ${reports.url}  (every run at /runs/<id>, refreshing while it runs)`,
    `  Worker          ${stack.workers ? stack.workers.queues.join(', ') : 'none (--no-worker): start one with `npx flywheel worker`'}`,
    '',
    'Start a run:  npx flywheel run config/examples/countdown.yaml',
    'Ctrl-C stops everything.',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    // `on`, not `once`: Ctrl-C reaches this process twice when it runs under tsx (from the terminal, and relayed by
    // tsx), and a second SIGINT without a listener killed it in the middle of stopping, leaving the Temporal dev
    // server to its watchdog and stack.json behind (found by the CLI integration test).
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    stack.workers?.done.catch((err) => {
      log(`worker stopped: ${(err as Error).message}`);
      resolve();
    });
  });
  log('stopping...');
  await reports.close();
  await stack.stop();
}

/** :8234 (next to the Temporal UI's :8233) when it is free, else any free port. */
async function serveReportsOnPreferredPort(db: Parameters<typeof serveReports>[0], log: (line: string) => void): Promise<ReportServer> {
  try {
    return await serveReports(db, { port: 8234, log });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return serveReports(db, { port: 0, log });
  }
}
