/** `flywheel worker`: serve task queues until SIGINT/SIGTERM (in-flight activities finish first). */
import { createDefaultDeps } from '../activities/deps.js';
import { TASK_QUEUES, type QueueRole } from '../workflows/shared.js';
import { openDatabase, resolveConnections } from './connections.js';
import { UsageError } from './errors.js';
import { installQuietRuntime } from './runtime.js';
import { startWorkers } from './worker.js';

export async function workerCommand(options: { queues: string }) {
  const roles = options.queues.split(',').map((q) => q.trim()).filter(Boolean);
  if (roles.length === 0) throw new UsageError(`--queues: no role given; choose from ${Object.keys(TASK_QUEUES).join(', ')}`);
  const unknown = roles.filter((r) => !(r in TASK_QUEUES));
  if (unknown.length) {
    throw new UsageError(`--queues: unknown role${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; choose from ${Object.keys(TASK_QUEUES).join(', ')}`);
  }
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const connections = resolveConnections();
  installQuietRuntime();
  const database = await openDatabase(connections.databaseUrl);
  const deps = createDefaultDeps({ db: database.db, embeddedModelUrl: connections.modelUrl ?? undefined, log });
  const workers = await startWorkers({
    ...connections.temporal,
    deps,
    queues: roles as QueueRole[],
  });
  log(`worker serving ${workers.queues.join(', ')} on ${connections.temporalAddress} (namespace ${connections.namespace})`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log('shutting down: finishing activities in flight...');
    void workers.shutdown();
  };
  // `on`, not `once`: under tsx a Ctrl-C arrives twice (see cli/dev.ts); the second must not kill the drain.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await workers.done;
  } finally {
    await database.close();
  }
}
