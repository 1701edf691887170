/**
 * `deploy.kind: vllm-lora`: vLLM's runtime LoRA loading (the server runs with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True
 * and --enable-lora). On every replica: load the adapter under its round's name, wait until /v1/models lists it,
 * send one request to it, then unload this run's adapters that are neither kept nor the candidate.
 */
import { listModels, probe, refusedForGood, replyMessage, waitUntil, type ReplicaClient } from './replica.js';
import { ReplicaError, type DeployRequest, type ReplicaDeploy } from './types.js';

export async function deployVllmLora(client: ReplicaClient, request: DeployRequest, timeoutMs: number): Promise<ReplicaDeploy> {
  const replica = client.baseUrl;
  const listed = await listModels(client);
  const existing = listed.find((m) => m.id === request.model);
  if (existing && existing.root && existing.root !== request.checkpointPath) {
    throw new ReplicaError(replica, `it already serves '${request.model}' from ${existing.root}, not ${request.checkpointPath}; a stale adapter under this name is not reused`);
  }
  let alreadyLoaded = Boolean(existing);
  if (!existing) {
    const reply = await client.post('/load_lora_adapter', { lora_name: request.model, lora_path: request.checkpointPath });
    // vLLM answers a missing adapter directory with 404 'No adapter found'; any other 404 is a missing route.
    if (reply.status === 404 && !/No adapter found/i.test(replyMessage(reply))) {
      throw new ReplicaError(replica, 'it has no /v1/load_lora_adapter route: start vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora', true);
    }
    if (reply.status !== 200) {
      const message = replyMessage(reply);
      // Another attempt loaded it between our listing and our load: fine, if it is the same directory (checked below).
      if (!(reply.status === 400 && /already been loaded/.test(message))) {
        throw new ReplicaError(replica, `it refused the adapter (${reply.status}): ${message}`, refusedForGood(reply.status));
      }
      alreadyLoaded = true;
    }
  }
  await waitUntil(replica, `/v1/models listing ${request.model}`, async () => {
    const found = (await listModels(client)).find((m) => m.id === request.model);
    if (found?.root && found.root !== request.checkpointPath) {
      throw new ReplicaError(replica, `'${request.model}' is served from ${found.root}, not ${request.checkpointPath}`);
    }
    return Boolean(found);
  }, timeoutMs);
  await probe(client, request.model);
  const { unloaded, unloadErrors } = await unloadStale(client, request);
  return { replica, servedAs: request.model, alreadyLoaded, unloaded, unloadErrors };
}

async function unloadStale(client: ReplicaClient, request: DeployRequest): Promise<{ unloaded: string[]; unloadErrors: string[] }> {
  const unloaded: string[] = [];
  const unloadErrors: string[] = [];
  if (!request.unloadPrefix) return { unloaded, unloadErrors };
  const keep = new Set([...request.keep, request.model]);
  // vLLM lists an adapter with `parent` (its base model); base models have none.
  const stale = (await listModels(client)).filter((m) => m.parent && m.id.startsWith(request.unloadPrefix!) && !keep.has(m.id));
  for (const m of stale) {
    const reply = await client.post('/unload_lora_adapter', { lora_name: m.id });
    if (reply.status === 200 || reply.status === 404) unloaded.push(m.id);
    else unloadErrors.push(`${m.id}: ${reply.status} ${replyMessage(reply)}`);
  }
  return { unloaded, unloadErrors };
}
