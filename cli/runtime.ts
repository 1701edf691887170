/** Process-wide Temporal runtime settings for commands that run workers: warnings and errors only. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

export function installQuietRuntime(level: 'WARN' | 'ERROR' = 'WARN'): void {
  if (installed) return;
  installed = true;
  const logger = new DefaultLogger(level, (entry) => {
    process.stderr.write(`[temporal ${entry.level.toLowerCase()}] ${entry.message}\n`);
  });
  Runtime.install({ logger, telemetryOptions: { logging: { forward: {}, filter: `${level}` } } });
}
