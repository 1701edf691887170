import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployer, DeployError } from '../../../lib/deploy/index.js';
import { writeCheckpoint } from '../../../localmodel/checkpoint.js';
import { createBasePolicy } from '../../../localmodel/policy.js';
import { startLocalModelServer, type LocalModelServer } from '../../../localmodel/server.js';
import { freePort } from '../../../infra/ports.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-deploy-'));
let a: LocalModelServer;
let b: LocalModelServer;
let locked: LocalModelServer;
const ckpt = (name: string) => {
  const p = path.join(dir, name);
  writeCheckpoint(p, createBasePolicy());
  return p;
};

beforeAll(async () => {
  a = await startLocalModelServer({ dataDir: path.join(dir, 'a'), runtimeLora: true });
  b = await startLocalModelServer({ dataDir: path.join(dir, 'b'), runtimeLora: true });
  locked = await startLocalModelServer({ dataDir: path.join(dir, 'c') }); // runtime LoRA updating off, vLLM's default
});
afterAll(async () => {
  await Promise.all([a.close(), b.close(), locked.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function modelIds(url: string): Promise<string[]> {
  const body = (await (await fetch(`${url}/models`)).json()) as { data: Array<{ id: string }> };
  return body.data.map((m) => m.id);
}

describe('vllm-lora deploy', () => {
  it('loads the adapter on every replica, proves it answers, and unloads this run\'s stale adapters only', async () => {
    const deployer = createDeployer({ kind: 'vllm-lora', replicas: [a.url, b.url], timeoutMs: 10_000 });
    const r1 = ckpt('r1');
    await deployer.deploy({ model: 'fw-run1-r1', checkpointPath: r1, keep: [], unloadPrefix: 'fw-run1-' });
    // another run's adapter on the same server is not ours to unload
    await fetch(`${a.url}/load_lora_adapter`, { method: 'POST', body: JSON.stringify({ lora_name: 'fw-other-r1', lora_path: r1 }) });
    await deployer.deploy({ model: 'fw-run1-r2', checkpointPath: ckpt('r2'), keep: ['fw-run1-r1'], unloadPrefix: 'fw-run1-' });
    const result = await deployer.deploy({ model: 'fw-run1-r3', checkpointPath: ckpt('r3'), keep: ['fw-run1-r2'], unloadPrefix: 'fw-run1-' });
    expect(result.replicas.map((r) => [r.replica, r.unloaded])).toEqual([
      [a.url, ['fw-run1-r1']],
      [b.url, ['fw-run1-r1']],
    ]);
    expect(await modelIds(a.url)).toEqual(['countdown-mlp', 'countdown-mlp-subword', 'fw-other-r1', 'fw-run1-r2', 'fw-run1-r3']);
    expect(await modelIds(b.url)).toEqual(['countdown-mlp', 'countdown-mlp-subword', 'fw-run1-r2', 'fw-run1-r3']);
    // a retried deploy finds it loaded and does not fail
    const again = await deployer.deploy({ model: 'fw-run1-r3', checkpointPath: path.join(dir, 'r3'), keep: ['fw-run1-r2'], unloadPrefix: 'fw-run1-' });
    expect(again.replicas.every((r) => r.alreadyLoaded)).toBe(true);
  });

  it('refuses a stale adapter under the same name', async () => {
    const deployer = createDeployer({ kind: 'vllm-lora', replicas: [a.url], timeoutMs: 5_000 });
    await expect(deployer.deploy({ model: 'fw-run1-r3', checkpointPath: ckpt('elsewhere'), keep: [] })).rejects.toThrow(
      /already serves 'fw-run1-r3' from .*r3, not .*elsewhere; a stale adapter under this name is not reused/,
    );
  });

  it('names the replica and the server\'s reason when it refuses the adapter', async () => {
    const deployer = createDeployer({ kind: 'vllm-lora', replicas: [a.url, b.url], timeoutMs: 5_000 });
    const err = await deployer.deploy({ model: 'fw-run2-r1', checkpointPath: path.join(dir, 'missing'), keep: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect((err as DeployError).failures.map((f) => f.replica)).toEqual([a.url, b.url]);
    expect((err as DeployError).message).toMatch(/refused the adapter \(404\): Loading lora fw-run2-r1 failed: No adapter found for .*missing/);
    expect(await modelIds(a.url)).toContain('fw-run1-r3'); // the current model still serves
  });

  it('says when the server does not offer runtime LoRA loading', async () => {
    const deployer = createDeployer({ kind: 'vllm-lora', replicas: [locked.url], timeoutMs: 5_000 });
    await expect(deployer.deploy({ model: 'x-r1', checkpointPath: path.join(dir, 'r1'), keep: [] })).rejects.toThrow(/VLLM_ALLOW_RUNTIME_LORA_UPDATING=True/);
  });

  it('a replica that is down fails the deploy naming it, while the others load', async () => {
    const down = `http://127.0.0.1:${await freePort()}/v1`;
    const deployer = createDeployer({ kind: 'vllm-lora', replicas: [a.url, down], timeoutMs: 5_000, connectAttempts: 2, retryDelayMs: 10 });
    const err = (await deployer.deploy({ model: 'fw-run3-r1', checkpointPath: path.join(dir, 'r1'), keep: [] }).catch((e: unknown) => e)) as DeployError;
    expect(err.failures).toEqual([{ replica: down, reason: expect.stringMatching(/unreachable after 2 attempts \(GET \/models: ECONNREFUSED\)/), permanent: false }]);
    expect(await modelIds(a.url)).toContain('fw-run3-r1');
  });
});

describe('sglang deploys', () => {
  // A stand-in speaking SGLang's routes, recording what it was sent.
  let server: http.Server;
  let url: string;
  const calls: Array<{ path: string; body: unknown }> = [];
  let modelPath = '/base';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c));
      req.on('end', () => {
        const body = text ? JSON.parse(text) : null;
        calls.push({ path: req.url!, body });
        const send = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        if (req.url === '/update_weights_from_disk') {
          if (String(body.model_path).includes('bad')) return send(400, { success: false, message: 'Failed to load weights: shape mismatch' });
          modelPath = body.model_path;
          return send(200, { success: true, message: 'Succeeded to update model weights.' });
        }
        if (req.url === '/get_model_info') return send(200, { model_path: modelPath });
        if (req.url === '/load_lora_adapter') return send(200, { success: true, loaded_adapters: { 'fw-r1': '/a1', [body.lora_name]: body.lora_path } });
        if (req.url === '/unload_lora_adapter') return send(200, { success: true });
        if (req.url === '/v1/models') return send(200, { object: 'list', data: [{ id: 'served-model' }] });
        if (req.url === '/v1/chat/completions') return send(200, { choices: [{ message: { content: 'OK' } }] });
        send(404, { detail: 'Not Found' });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sglang-weights updates from disk, waits for the new model_path and probes the served name', async () => {
    const result = await createDeployer({ kind: 'sglang-weights', replicas: [url], timeoutMs: 5_000 }).deploy({ model: 'fw-r2', checkpointPath: '/ckpt/r2', keep: [] });
    expect(result.replicas[0]!.servedAs).toBe('served-model');
    expect(calls.find((c) => c.path === '/update_weights_from_disk')?.body).toEqual({ model_path: '/ckpt/r2' });
    await expect(createDeployer({ kind: 'sglang-weights', replicas: [url] }).deploy({ model: 'x', checkpointPath: '/bad', keep: [] })).rejects.toThrow(
      /refused the new weights \(400\): Failed to load weights: shape mismatch/,
    );
  });

  it('sglang-lora loads the adapter and unloads this run\'s others', async () => {
    const result = await createDeployer({ kind: 'sglang-lora', replicas: [url] }).deploy({ model: 'fw-r2', checkpointPath: '/a2', keep: [], unloadPrefix: 'fw-' });
    expect(result.replicas[0]!.unloaded).toEqual(['fw-r1']);
    expect(calls.find((c) => c.path === '/load_lora_adapter')?.body).toEqual({ lora_name: 'fw-r2', lora_path: '/a2' });
  });
});

describe('command deploy', () => {
  it('runs the restart script per replica and waits for the model to be served', async () => {
    const r9 = ckpt('r9');
    const command = `curl -sf -X POST {replica}/load_lora_adapter -d "{{\\"lora_name\\": \\"$FLYWHEEL_MODEL_NAME\\", \\"lora_path\\": \\"{checkpoint}\\"}}"`;
    const result = await createDeployer({ kind: 'command', replicas: [a.url], command, timeoutMs: 10_000 }).deploy({ model: 'fw-cmd-r1', checkpointPath: r9, keep: [] });
    expect(result.replicas[0]!.servedAs).toBe('fw-cmd-r1');
    await expect(createDeployer({ kind: 'command', replicas: [a.url], command: 'echo no GPU left >&2; exit 4' }).deploy({ model: 'y', checkpointPath: r9, keep: [] })).rejects.toThrow(
      /the deploy command exited with code 4: no GPU left/,
    );
  });
});
