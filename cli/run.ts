/** `flywheel run <config>`: validate, store, start. Bad input exits non-zero and writes nothing. */
import { loadRunConfig } from '../config/load.js';
import { roundReports } from '../db/report.js';
import { openDatabase, resolveConnections } from './connections.js';
import { followProgress } from './progress.js';
import { formatTable } from './report.js';
import { connectClient, createRun, loadTaskSet, startRunWorkflow } from './start.js';

export async function runCommand(file: string, options: { json?: boolean; wait?: boolean }) {
  const loaded = loadRunConfig(file); // throws ConfigError before anything is written
  const taskSet = loadTaskSet(loaded); // TaskFileError (a bad line, an empty split) before anything connects
  const connections = resolveConnections();
  const database = await openDatabase(connections.databaseUrl);
  try {
    const client = await connectClient(connections.temporal);
    const baseUrl = loaded.config.model.baseUrls?.[0] ?? (loaded.config.model.baseUrl === 'embedded' ? (connections.modelUrl ?? 'embedded') : loaded.config.model.baseUrl);
    const runId = await createRun(database.db, loaded, baseUrl, taskSet);
    const handle = await startRunWorkflow(client, runId, `flywheel run ${loaded.config.name}: rounds 0–${loaded.config.rounds}`);
    if (options.json) process.stdout.write(`${JSON.stringify({ runId })}\n`);
    else {
      process.stdout.write(`started run ${runId} (workflow ${handle.workflowId})\n`);
      if (connections.uiUrl) process.stdout.write(`Temporal UI: ${connections.uiUrl}/namespaces/${connections.namespace}/workflows/${handle.workflowId}\n`);
      process.stdout.write(`follow it with: npx flywheel status ${runId} --follow\n`);
    }
    if (options.wait) {
      await followProgress(database.db, runId, handle.result());
      if (!options.json) process.stdout.write(formatTable(await roundReports(database.db, runId)) + '\n');
    }
    await client.connection.close();
  } finally {
    await database.close();
  }
}
