/** Process-wide Temporal runtime settings for commands that run workers: warnings and errors only. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

export function installQuietRuntime(level: 'WARN' | 'ERROR' = 'WARN'): void {
  if (installed) return;
  installed = true;
  const logger = new DefaultLogger(level, (entry) => {
    // Activity-only workers (generate, verify, train queues) say this at start; it is how they are meant to be.
    if (entry.message.startsWith('No workflows registered')) return;
    process.stderr.write(`[temporal ${entry.level.toLowerCase()}] ${entry.message}\n`);
  });
  Runtime.install({ logger, telemetryOptions: { logging: { forward: {}, filter: `${level}` } } });
}
