/** `flywheel worker`: serve task queues until SIGINT/SIGTERM (in-flight activities finish first). */
import { createDefaultDeps } from '../activities/deps.js';
import { rootLogger } from '../telemetry/logger.js';
import { createWorkerMetrics, serveMetrics } from '../telemetry/metrics.js';
import { activityAwareLog } from '../telemetry/temporal.js';
import { TASK_QUEUES, type QueueRole } from '../workflows/shared.js';
import { openDatabase, resolveConnections } from './connections.js';
import { UsageError } from './errors.js';
import { installQuietRuntime } from './runtime.js';
import { DEFAULT_GENERATE_SLOTS, startWorkers } from './worker.js';

/**
 * Postgres connections per worker process by default: dozens of shards starting at once each read their round,
 * problems and stored samples while others write traces; with 8, a round of 97 shards took twice as long to reach
 * its requests in flight (bench/RESULTS.md). Several workers share the server's max_connections (100 by default).
 */
const DEFAULT_DB_CONNECTIONS = 16;

export async function workerCommand(options: { queues: string; metricsPort?: string; metricsHost?: string; generateSlots?: string; dbConnections?: string }) {
  const roles = options.queues.split(',').map((q) => q.trim()).filter(Boolean);
  if (roles.length === 0) throw new UsageError(`--queues: no role given; choose from ${Object.keys(TASK_QUEUES).join(', ')}`);
  const unknown = roles.filter((r) => !(r in TASK_QUEUES));
  if (unknown.length) {
    throw new UsageError(`--queues: unknown role${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; choose from ${Object.keys(TASK_QUEUES).join(', ')}`);
  }
  const metricsPort = options.metricsPort === undefined ? null : Number(options.metricsPort);
  if (metricsPort !== null && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)) {
    throw new UsageError(`--metrics-port must be a port number (0–65535; 0 picks a free one), got "${options.metricsPort}"`);
  }
  const generateSlots = options.generateSlots === undefined ? undefined : Number(options.generateSlots);
  if (generateSlots !== undefined && (!Number.isInteger(generateSlots) || generateSlots < 1 || generateSlots > 100_000)) {
    throw new UsageError(`--generate-slots must be a whole number from 1 to 100000, got "${options.generateSlots}"`);
  }
  const dbConnections = Number(options.dbConnections ?? DEFAULT_DB_CONNECTIONS);
  if (!Number.isInteger(dbConnections) || dbConnections < 1 || dbConnections > 1000) {
    throw new UsageError(`--db-connections must be a whole number from 1 to 1000, got "${options.dbConnections}"`);
  }
  const logger = rootLogger().child({ component: 'worker' });
  const connections = resolveConnections();
  installQuietRuntime('INFO', logger);
  const database = await openDatabase(connections.databaseUrl, { max: dbConnections });
  const deps = createDefaultDeps({ db: database.db, embeddedModelUrl: connections.modelUrl ?? undefined, log: activityAwareLog(logger) });
  const metrics = metricsPort === null ? undefined : createWorkerMetrics();
  const served = metrics ? await serveMetrics(metrics.registry, metricsPort!, options.metricsHost) : null;
  if (served) logger.info({ metricsUrl: served.url }, `metrics on ${served.url}`);
  const workers = await startWorkers({
    ...connections.temporal,
    deps,
    queues: roles as QueueRole[],
    concurrency: { generate: generateSlots ?? DEFAULT_GENERATE_SLOTS },
    telemetry: { metrics, log: (line) => logger.info(line.replace(/^flywheel: /, '').trim()) },
  });
  logger.info(
    { queues: workers.queues, generateSlots: roles.includes('generate') ? (generateSlots ?? DEFAULT_GENERATE_SLOTS) : undefined, temporalAddress: connections.temporalAddress, namespace: connections.namespace },
    `worker serving ${workers.queues.join(', ')} on ${connections.temporalAddress} (namespace ${connections.namespace})`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down: finishing activities in flight...');
    void workers.shutdown();
  };
  // `on`, not `once`: under tsx a Ctrl-C arrives twice (see cli/dev.ts); the second must not kill the drain.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await workers.done;
  } finally {
    await served?.close();
    await database.close();
    logger.flush();
  }
}
