/**
 * Records the history of a deployed round for the replay test (`test/histories/round-1-deployed.json`): round 1 of
 * a run with the `command` trainer (the `local` launcher running `flywheel train-policy`) and `deploy.kind:
 * vllm-lora` into the embedded server with runtime LoRA on. Its first deploy is refused (the trainer leaves a
 * broken checkpoint), the round waits in NeedsAttention, the checkpoint is repaired and `resumeRound` deploys it:
 * so the history holds the deploy stage, its failure and its retry.
 *
 * Run it when the deploy path of the round workflow changes ON PURPOSE: `npx tsx test/histories/record-deployed.ts`.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'drizzle-orm';
import { ensureTemporalCli } from '../../infra/temporal-cli.js';
import { parseRunConfig } from '../../config/load.js';
import { createRun, startRunWorkflow } from '../../cli/start.js';
import { startLocalModelServer } from '../../localmodel/server.js';
import { resumeRoundUpdate, roundStatusQuery, workflowIds } from '../../workflows/shared.js';
import { testDatabase, testTemporal, testWorkers } from '../helpers/services.js';

const dir = new URL('.', import.meta.url);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(path.join(os.tmpdir(), 'flywheel-record-deployed-'));
const TRAIN = `${ROOT}/node_modules/.bin/tsx ${ROOT}/cli/main.ts train-policy --data {dataset} --output {outputDir} --epochs {epochs} --seed {seed}`;
const BREAK = 'cp {outputDir}/policy.json {outputDir}/../policy.good && echo broken > {outputDir}/policy.json';

const [db, temporal, model] = await Promise.all([
  testDatabase(),
  testTemporal(),
  startLocalModelServer({ dataDir: path.join(work, 'localmodel'), port: 0, runtimeLora: true, log: () => {} }),
]);
const config = parseRunConfig(`
name: replay-deployed
rounds: 1
task: {kind: countdown, seed: 5, train: 24, test: 12}
model: {baseUrl: ${model.url}, maxRetries: 0, timeoutMs: 5000}
generate: {samplesPerProblem: 4, shardSamples: 32}
filter: {correctOnly: false, minScore: 0, maxPerProblem: 4}
evaluate: {samples: 2, k: [1, 2]}
finetune:
  backend: command
  hyperparameters: {nEpochs: 3}
  pollIntervalMs: 100
  workdir: ${work}
  command: '${TRAIN} && ${BREAK}'
  launcher: {kind: local}
deploy: {kind: vllm-lora, timeoutSeconds: 10}
durability: {activityAttempts: 2, retryInitialIntervalMs: 100, retryMaxIntervalMs: 200, heartbeatTimeoutSeconds: 5}
`);
const workers = await testWorkers({ temporal, db, modelUrl: model.url });
const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
const temporalCli = await ensureTemporalCli();

try {
  const runId = await createRun(db.db, { config, file: 'replay-deployed.yaml', dir: process.cwd() }, model.url);
  const run = await startRunWorkflow(client, runId, 'replay: deployed round');
  const round = client.workflow.getHandle(workflowIds.round(runId, 1));
  for (;;) {
    const status = await round.query(roundStatusQuery).catch(() => null);
    if (status?.needsAttention && status.stage === 'deploy') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const { rows } = await db.db.execute(sql`SELECT checkpoint_path FROM flywheel.fine_tunes WHERE run_id = ${runId} AND round = 1`);
  const checkpoint = String((rows[0] as { checkpoint_path: string }).checkpoint_path);
  copyFileSync(path.join(checkpoint, '..', 'policy.good'), path.join(checkpoint, 'policy.json'));
  await round.executeUpdate(resumeRoundUpdate, { args: [{ note: 'checkpoint repaired' }] });
  await run.result();
  const json = execFileSync(temporalCli, ['workflow', 'show', '--workflow-id', workflowIds.round(runId, 1), '--output', 'json', '--address', temporal.address]);
  writeFileSync(new URL('round-1-deployed.json', dir), json);
  console.log(`recorded round-1-deployed.json (${JSON.parse(json.toString()).events.length} events)`);
} finally {
  await client.connection.close();
  await workers.shutdown();
  await Promise.allSettled([model.close(), temporal.stop()]);
  await db.drop();
  rmSync(work, { recursive: true, force: true });
}
