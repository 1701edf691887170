/**
 * Process-wide Temporal runtime settings for commands that run workers: the SDK and core log through flywheel's
 * logger (pino), at `level` and above.
 */
import { Runtime } from '@temporalio/worker';
import { rootLogger, type Logger } from '../telemetry/logger.js';
import { sdkLogger } from '../telemetry/temporal.js';

let installed = false;

export function installQuietRuntime(level: 'INFO' | 'WARN' | 'ERROR' = 'WARN', logger: Logger = rootLogger()): void {
  if (installed) return;
  installed = true;
  const leveled = logger.child({}, { level: level.toLowerCase() });
  // Core's own logs are forwarded at WARN at most: at INFO it reports every poll.
  const coreLevel = level === 'INFO' ? 'WARN' : level;
  Runtime.install({ logger: sdkLogger(leveled), telemetryOptions: { logging: { forward: {}, filter: coreLevel } } });
}
