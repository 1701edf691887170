/**
 * Records workflow histories for the replay test (`test/unit/workflows/replay.test.ts`): a completed 2-round run
 * with step-level search, adaptive budgets and STaR rationalization on (so every branch of the round runs), and a
 * round that waited for attention (model server down) and was resumed with `resumeRound`, and a batch-mode round
 * (`generate.mode: batch`: submit, timer-paced polls, ingest, a resubmission of lines that failed once).
 *
 * Run it when workflow code changes ON PURPOSE in a way that running workflows need not survive (then bump the
 * recorded files in the same commit): `npx tsx test/histories/record.ts`. `npx tsx test/histories/record.ts batch`
 * records only the batch-mode round (`round-0-batch.json`), leaving the others as they are; `... record.ts prm` only
 * a round that trains a PRM after its policy (`round-1-prm.json`, the `patched('prm')` path).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { ensureTemporalCli } from '../../infra/temporal-cli.js';
import { parseRunConfig } from '../../config/load.js';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import { resumeRoundUpdate, roundStatusQuery, workflowIds } from '../../workflows/shared.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { testDatabase, testModelServer, testTemporal, testWorkers } from '../helpers/services.js';

const dir = new URL('.', import.meta.url);

const config = (rounds: number) =>
  parseRunConfig(`
name: replay
rounds: ${rounds}
task: {kind: countdown, seed: 5, train: 24, test: 12}
generate: {samplesPerProblem: 4, shardSamples: 32}
search: {step: {strategy: mcts, budget: 8, trainBudget: 4}}
adaptive: {enabled: true, minSamples: 1, maxSamples: 8}
rationalize: {enabled: true, samples: 2}
finetune: {hyperparameters: {nEpochs: 5}, pollIntervalMs: 100}
evaluate: {samples: 2, k: [1, 2]}
model: {maxRetries: 0, timeoutMs: 2000}
durability: {activityAttempts: 2, retryInitialIntervalMs: 100, retryMaxIntervalMs: 200, heartbeatTimeoutSeconds: 5}
`);

const batchConfig = parseRunConfig(`
name: replay-batch
rounds: 0
task: {kind: countdown, seed: 5, train: 8, test: 4}
generate: {mode: batch, batchPollSeconds: 1, samplesPerProblem: 2}
evaluate: {samples: 2, k: [1, 2]}
durability: {activityAttempts: 2, retryInitialIntervalMs: 100, retryMaxIntervalMs: 200, heartbeatTimeoutSeconds: 5}
`);
const onlyBatch = process.argv[2] === 'batch';
const onlyPrm = process.argv[2] === 'prm';

// The second learner: round 0's MCTS labels steps, round 1 trains the policy and then the PRM (patched 'prm').
const prmConfig = parseRunConfig(`
name: replay-prm
rounds: 1
task: {kind: countdown, seed: 5, train: 16, test: 8}
generate: {samplesPerProblem: 2, shardSamples: 32}
search: {step: {strategy: mcts, budget: 8, trainBudget: 8, train: all, value: mix}}
finetune: {hyperparameters: {nEpochs: 3}, pollIntervalMs: 200, prm: {enabled: true, hyperparameters: {nEpochs: 4}}}
evaluate: {samples: 2, k: [1, 2]}
`);

// Batch mode: sample 1 of every train problem fails the first time it runs (a resubmission follows); lines run slowly
// enough that the round polls more than once.
const seen = new Set<string>();
const batches = {
  requestDelayMs: 40,
  failRequest: (customId: string) => {
    const first = !seen.has(customId);
    seen.add(customId);
    return first && customId.startsWith('train/') && customId.endsWith('/s1');
  },
};
const [db, temporal, model] = await Promise.all([testDatabase(), testTemporal(), testModelServer({ batches })]);
const proxy = await startFaultProxy({ target: model.url.replace(/\/v1$/, '') });
const workers = await testWorkers({ temporal, db, modelUrl: proxy.url });
const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
const temporalCli = await ensureTemporalCli();
// The CLI writes histories in the proto3 JSON form that `historyFromJSON` reads back.
const save = async (workflowId: string, name: string) => {
  const json = execFileSync(temporalCli, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', temporal.address]);
  writeFileSync(new URL(`${name}.json`, dir), json);
  console.log(`recorded ${name}.json (${JSON.parse(json.toString()).events.length} events)`);
};

try {
  if (onlyPrm) {
    const prmRun = await createRun(db.db, { config: prmConfig, file: 'replay-prm.yaml', dir: process.cwd() }, proxy.url);
    await (await startRunWorkflow(client, prmRun, 'replay: a round that trains a PRM')).result();
    await save(workflowIds.round(prmRun, 1), 'round-1-prm');
  }
  if (!onlyPrm) {
    const batchRun = await createRun(db.db, { config: batchConfig, file: 'replay-batch.yaml', dir: process.cwd() }, proxy.url);
    await (await startRunWorkflow(client, batchRun, 'replay: batch-mode round')).result();
    await save(workflowIds.round(batchRun, 0), 'round-0-batch');
  }
  if (!onlyBatch && !onlyPrm) {
    const completed = await createRun(db.db, { config: config(2), file: 'replay.yaml', dir: process.cwd() }, proxy.url);
    await (await startRunWorkflow(client, completed, 'replay: completed run')).result();
    await save(workflowIds.run(completed), 'run-completed');
    for (const n of [0, 1, 2]) await save(workflowIds.round(completed, n), `round-${n}-completed`);

    await proxy.down();
    const stalled = await createRun(db.db, { config: config(0), file: 'replay.yaml', dir: process.cwd() }, proxy.url);
    const handle = await startRunWorkflow(client, stalled, 'replay: resumed run');
    const round = client.workflow.getHandle(workflowIds.round(stalled, 0));
    for (;;) {
      const status = await round.query(roundStatusQuery).catch(() => null);
      if (status?.needsAttention) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await proxy.up();
    await handle.executeUpdate(resumeRoundUpdate, { args: [{ note: 'model server back' }] });
    await handle.result();
    await save(workflowIds.run(stalled), 'run-resumed');
    await save(workflowIds.round(stalled, 0), 'round-0-resumed');
  }
} finally {
  await client.connection.close();
  await workers.shutdown();
  await proxy.close();
  await Promise.allSettled([model.close(), temporal.stop()]);
  await db.drop();
}
