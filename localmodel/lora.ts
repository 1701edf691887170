/**
 * vLLM's runtime LoRA routes (`POST /v1/load_lora_adapter`, `POST /v1/unload_lora_adapter`), with vLLM's request
 * and response shapes: a plain-text `Success: ...` on 200, `{error: {message, type, param, code}}` otherwise. They
 * exist only when enabled, as vLLM offers them only with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True. An adapter here is
 * a checkpoint directory of the embedded policy (see checkpoint.ts); like vLLM, loaded adapters live in memory
 * and are gone after a restart, so a deploy must load them again.
 */
import type { ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CheckpointError, VALUE_FILE, readCheckpoint, readValueCheckpoint } from './checkpoint.js';
import type { ModelRegistry } from './models.js';
import { BASE_MODEL, createBasePolicy } from './policy.js';

/** vLLM's error body; `code` is the HTTP status, as vLLM sends it. */
export class VllmError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
  ) {
    super(message);
    this.name = 'VllmError';
  }

  toJSON() {
    return { error: { message: this.message, type: this.type, param: null, code: this.status } };
  }
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendVllmError(res: ServerResponse, err: VllmError): void {
  const text = JSON.stringify(err.toJSON());
  res.writeHead(err.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function field(body: Record<string, unknown>, name: string): string | null {
  const v = body[name];
  return typeof v === 'string' && v !== '' ? v : null;
}

/** `POST /v1/load_lora_adapter {lora_name, lora_path}` */
export function loadLoraAdapter(models: ModelRegistry, body: Record<string, unknown>, res: ServerResponse): void {
  const name = field(body, 'lora_name');
  const loraPath = field(body, 'lora_path');
  if (!name || !loraPath) throw new VllmError(400, "Both 'lora_name' and 'lora_path' must be provided.", 'InvalidUserInput');
  if (models.hasAdapter(name) && body.load_inplace !== true) {
    throw new VllmError(400, `The lora adapter '${name}' has already been loaded.`, 'InvalidUserInput');
  }
  if (name === BASE_MODEL || (models.has(name) && !models.hasAdapter(name))) {
    throw new VllmError(400, `The name '${name}' is taken by a model this server serves; choose another lora_name.`, 'InvalidUserInput');
  }
  let policy;
  let value = null;
  try {
    // A PRM checkpoint (value.json, with or without the policy beside it) serves as a PRM under lora_name.
    if (existsSync(path.join(loraPath, VALUE_FILE))) {
      const prm = readValueCheckpoint(loraPath);
      value = prm.value;
      policy = prm.policy ?? createBasePolicy();
    } else {
      policy = readCheckpoint(loraPath).policy;
    }
  } catch (err) {
    if (err instanceof CheckpointError && /does not exist/.test(err.message)) {
      throw new VllmError(404, `Loading lora ${name} failed: No adapter found for ${loraPath}`, 'NotFoundError');
    }
    throw new VllmError(400, `Loading lora ${name} failed: ${(err as Error).message}`, 'BadRequestError');
  }
  models.addAdapter(name, loraPath, policy, value);
  sendText(res, 200, `Success: LoRA adapter '${name}' added successfully.`);
}

/** `POST /v1/unload_lora_adapter {lora_name}` */
export function unloadLoraAdapter(models: ModelRegistry, body: Record<string, unknown>, res: ServerResponse): void {
  const name = field(body, 'lora_name');
  if (!name) throw new VllmError(400, "'lora_name' needs to be provided to unload a LoRA adapter.", 'InvalidUserInput');
  if (!models.removeAdapter(name)) throw new VllmError(404, `The lora adapter '${name}' cannot be found.`, 'NotFoundError');
  sendText(res, 200, `Success: LoRA adapter '${name}' removed successfully.`);
}
