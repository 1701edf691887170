/**
 * History growth of a large round: how many events (and bytes) a round of 100,000 samples writes into Temporal.
 * Shards keep payloads to ids and counts, and a stage never has more than MAX_SHARDS activities, so a round's
 * history stays small whatever its size.
 *
 *   npx tsx bench/history-growth.ts [--problems 6250] [--samples 16] [--rounds 1]
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { parseRunConfig } from '../config/load.js';
import { createRun, startRunWorkflow } from '../cli/start.js';
import { workflowIds } from '../workflows/shared.js';
import { testDatabase, testModelServer, testTemporal, testWorkers } from '../test/helpers/services.js';

const { values } = parseArgs({
  options: { problems: { type: 'string', default: '6250' }, samples: { type: 'string', default: '16' }, rounds: { type: 'string', default: '1' } },
});
const problems = Number(values.problems);
const samples = Number(values.samples);
const rounds = Number(values.rounds);

const config = parseRunConfig(`
name: history-growth
rounds: ${rounds}
task: {kind: countdown, seed: 3, train: ${problems}, test: 200}
generate: {samplesPerProblem: ${samples}}
evaluate: {samples: 8, k: [1, 8]}
`);

const [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer()]);
const workers = await testWorkers({ temporal, db, modelUrl: model.url });
const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
try {
  const started = Date.now();
  const runId = await createRun(db.db, { config, file: 'bench', dir: process.cwd() }, model.url);
  const handle = await startRunWorkflow(client, runId, 'history growth bench');
  await handle.result();
  const seconds = (Date.now() - started) / 1000;
  console.log(`\n${problems} problems × ${samples} samples = ${problems * samples} samples per round; ${rounds + 1} rounds in ${seconds.toFixed(1)} s\n`);
  console.log('| workflow | events | history bytes |');
  console.log('|---|---:|---:|');
  for (const id of [workflowIds.run(runId), ...Array.from({ length: rounds + 1 }, (_, n) => workflowIds.round(runId, n))]) {
    const d = await client.workflow.getHandle(id).describe();
    console.log(`| ${id.replace(runId, '<run>')} | ${d.historyLength} | ${d.historySize} |`);
  }
  const counts = await db.pool.query(
    `SELECT r.index, count(*)::int AS traces FROM flywheel.traces t JOIN flywheel.rounds r ON r.id = t.round_id WHERE t.purpose = 'train' GROUP BY 1 ORDER BY 1`,
  );
  console.log(`\ntrain traces per round: ${counts.rows.map((r) => `${r.index}: ${r.traces}`).join(', ')}`);
} finally {
  await client.connection.close();
  await workers.shutdown();
  await Promise.allSettled([model.close(), temporal.stop()]);
  await db.drop();
}
