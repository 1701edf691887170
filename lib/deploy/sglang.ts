/**
 * SGLang: `sglang-lora` loads an adapter with POST /load_lora_adapter {lora_name, lora_path} (the server runs with
 * --enable-lora); `sglang-weights` swaps the served weights in place with POST /update_weights_from_disk
 * {model_path}. Both answer `{success, message | error_message}`; the routes live at the server root, beside /v1.
 */
import { listModels, probe, refusedForGood, replyMessage, waitUntil, type ReplicaClient } from './replica.js';
import { ReplicaError, type DeployRequest, type ReplicaDeploy } from './types.js';

function succeeded(reply: { status: number; json: unknown }): boolean {
  return reply.status === 200 && (reply.json as { success?: unknown })?.success !== false;
}

export async function deploySglangLora(client: ReplicaClient, request: DeployRequest): Promise<ReplicaDeploy> {
  const replica = client.baseUrl;
  const reply = await client.postRoot('/load_lora_adapter', { lora_name: request.model, lora_path: request.checkpointPath });
  let alreadyLoaded = false;
  if (!succeeded(reply)) {
    const message = replyMessage(reply);
    if (!/already (been )?loaded|already exists/i.test(message)) throw new ReplicaError(replica, `it refused the adapter (${reply.status}): ${message}`, refusedForGood(reply.status));
    alreadyLoaded = true;
  }
  await probe(client, request.model);
  const unloaded: string[] = [];
  const unloadErrors: string[] = [];
  const loaded = (reply.json as { loaded_adapters?: Record<string, unknown> })?.loaded_adapters;
  if (request.unloadPrefix && loaded && typeof loaded === 'object') {
    const keep = new Set([...request.keep, request.model]);
    for (const name of Object.keys(loaded).filter((n) => n.startsWith(request.unloadPrefix!) && !keep.has(n))) {
      const r = await client.postRoot('/unload_lora_adapter', { lora_name: name });
      if (succeeded(r)) unloaded.push(name);
      else unloadErrors.push(`${name}: ${r.status} ${replyMessage(r)}`);
    }
  }
  return { replica, servedAs: request.model, alreadyLoaded, unloaded, unloadErrors };
}

export async function deploySglangWeights(client: ReplicaClient, request: DeployRequest, timeoutMs: number): Promise<ReplicaDeploy> {
  const replica = client.baseUrl;
  const reply = await client.postRoot('/update_weights_from_disk', { model_path: request.checkpointPath });
  if (!succeeded(reply)) throw new ReplicaError(replica, `it refused the new weights (${reply.status}): ${replyMessage(reply)}`, refusedForGood(reply.status));
  await waitUntil(replica, `the server reporting model_path ${request.checkpointPath}`, async () => {
    const info = await client.getRoot('/get_model_info');
    return info.status === 200 && (info.json as { model_path?: string })?.model_path === request.checkpointPath;
  }, timeoutMs);
  // The weights change under the served name: requests keep addressing it by that name.
  const servedAs = (await listModels(client))[0]?.id;
  if (!servedAs) throw new ReplicaError(replica, 'GET /v1/models lists no model after the weight update');
  await probe(client, servedAs);
  return { replica, servedAs, alreadyLoaded: false, unloaded: [], unloadErrors: [] };
}
