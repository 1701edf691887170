/**
 * `deploy.kind: command`: a restart script of the user's (restart vLLM with the new weights, roll a Kubernetes
 * deployment...) run once per replica with `{checkpoint}`, `{modelName}`, `{replica}` (also FLYWHEEL_* variables);
 * then wait until the replica lists the new model and answers a request to it.
 */
import { runShell } from '../train/command/exec.js';
import { renderTemplate, templateEnv } from '../train/command/template.js';
import { listModels, probe, waitUntil, type ReplicaClient } from './replica.js';
import { ReplicaError, type DeployRequest, type ReplicaDeploy } from './types.js';

export async function deployCommand(client: ReplicaClient, request: DeployRequest, command: string, timeoutMs: number): Promise<ReplicaDeploy> {
  const replica = client.baseUrl;
  const values = { checkpoint: request.checkpointPath, modelName: request.model, replica };
  const line = renderTemplate(command, values, 'deploy.command');
  const out = await runShell(line, { env: { ...process.env, ...templateEnv(values) }, timeoutMs });
  if (out.code !== 0) {
    const text = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-5).join(' | ');
    throw new ReplicaError(replica, `the deploy command exited with code ${out.code}${text ? `: ${text}` : ''}`);
  }
  await waitUntil(replica, `the replica serving ${request.model} after the deploy command`, async () => (await listModels(client)).some((m) => m.id === request.model), timeoutMs, 1_000);
  await probe(client, request.model);
  return { replica, servedAs: request.model, alreadyLoaded: false, unloaded: [], unloadErrors: [] };
}
