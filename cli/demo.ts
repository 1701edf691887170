/**
 * `flywheel demo`: the whole flywheel on one machine with nothing configured. Starts the embedded stack (or uses a
 * running `flywheel dev`), runs 5 rounds of Countdown with the local model, and prints what happened.
 */
import { fileURLToPath } from 'node:url';
import { loadRunConfig } from '../config/load.js';
import { createDefaultDeps } from '../activities/deps.js';
import { BASE_MODEL, SUBWORD_BASE_MODEL } from '../localmodel/policy.js';
import { connectDatabase } from '../db/client.js';
import { roundReports } from '../db/report.js';
import { flywheelHome, readStackFile } from './connections.js';
import { followProgress } from './progress.js';
import { demoJson, formatCoverage, formatTable } from './report.js';
import { installQuietRuntime } from './runtime.js';
import { startStack } from './stack.js';
import { connectClient, createRun, startRunWorkflow } from './start.js';
import { startWorkers } from './worker.js';

const DEMO_CONFIG = fileURLToPath(new URL('../config/examples/countdown.yaml', import.meta.url));

export async function demoCommand(options: { json?: boolean; rounds?: number; config?: string; tokens?: string }) {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  const loaded = loadRunConfig(options.config ?? DEMO_CONFIG);
  if (options.rounds !== undefined) loaded.config.rounds = options.rounds;
  if (options.tokens !== undefined) {
    // The embedded model's two bases share their weights; the subword one writes LLM-like tokens (localmodel/tokenizer.ts).
    const base = { steps: BASE_MODEL, subword: SUBWORD_BASE_MODEL }[options.tokens];
    if (!base || loaded.config.model.baseUrl !== 'embedded') {
      process.stderr.write(`--tokens must be steps or subword, for the embedded model (model.baseUrl: embedded); got '${options.tokens}'\n`);
      process.exit(2);
    }
    loaded.config.model.name = base;
  }

  const home = flywheelHome();
  const running = readStackFile(home);
  installQuietRuntime();
  let stop = async () => {};
  let connections;
  let database;
  if (running) {
    log(`using the stack of \`flywheel dev\` (pid ${running.pid})`);
    connections = running;
    const db = await connectDatabase(running.databaseUrl);
    database = db;
    // `flywheel dev --no-worker`: the demo brings its own worker.
    const workers = running.worker
      ? null
      : await startWorkers({
          address: running.temporalAddress,
          namespace: running.namespace,
          deps: createDefaultDeps({ db: db.db, embeddedModelUrl: running.modelUrl ?? undefined, log }),
        });
    stop = async () => {
      await workers?.shutdown();
      await db.close();
    };
  } else {
    log('starting the embedded stack (Postgres, Temporal dev server, local model server, worker)...');
    const stack = await startStack({ home, worker: true, log, workerLog: () => {} });
    connections = stack;
    database = stack.database;
    stop = () => stack.stop();
    log(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const onSignal = () => void stop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const runId = await createRun(database.db, loaded, connections.modelUrl ?? loaded.config.model.baseUrl);
    const client = await connectClient('temporal' in connections ? connections.temporal : { address: connections.temporalAddress, namespace: connections.namespace });
    const handle = await startRunWorkflow(client, runId, `flywheel demo: countdown, rounds 0–${loaded.config.rounds}`);
    const ui = connections.uiUrl ? `${connections.uiUrl}/namespaces/${connections.namespace}/workflows/${handle.workflowId}` : null;
    log(`run ${runId}${ui ? ` · Temporal UI: ${ui}` : ''}`);
    await followProgress(database.db, runId, handle.result());
    await client.connection.close();
    const rounds = await roundReports(database.db, runId);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(demoJson(runId, rounds))}\n`);
      log(`done in ${seconds} s`);
    } else {
      const last = rounds[rounds.length - 1];
      const out = [
        '',
        formatTable(rounds),
        '',
        (last && formatCoverage(last)) ?? '',
        `run ${runId} finished in ${seconds} s`,
        ui ? `Temporal UI (while \`npx flywheel dev\` runs): ${ui}` : '',
        'Inspect it with SQL:',
        `  npx flywheel sql "SELECT round, model, traces, correct, greedy_pass_at_1 FROM flywheel.round_metrics WHERE run_id = '${runId}'"`,
        `  psql "${connections.databaseUrl}"   # while \`npx flywheel dev\` runs, or with DATABASE_URL`,
      ];
      process.stdout.write(out.filter((l) => l !== '').join('\n') + '\n');
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
  }
}
