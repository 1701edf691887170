/**
 * The embedded server as a stand-in for vLLM's runtime LoRA serving, as real processes: `flywheel train-policy`
 * writes a checkpoint directory, the server (started with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True) loads it through
 * /v1/load_lora_adapter, lists it in /v1/models with vLLM's fields, serves it by name, unloads it, and forgets it
 * on restart, as vLLM does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPrompt, generateCountdown } from '../../lib/tasks/countdown.js';
import { verifyCountdown } from '../../lib/verify/countdown.js';
import { processEnv, runFlywheel } from '../helpers/processes.js';
import { writeCountdownJsonl } from '../helpers/train-data.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-lora-'));
const heldOut = generateCountdown({ seed: 99, train: 0, test: 40 });

async function startServer(runtimeLora: boolean): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'localmodel/main.ts'), '--data-dir', path.join(dir, 'data')], {
    env: processEnv({ VLLM_ALLOW_RUNTIME_LORA_UPDATING: runtimeLora ? 'True' : undefined }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`localmodel exited ${code}: ${out}`)));
  });
  return { url, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function post(url: string, body: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

async function passAt1(url: string, model: string): Promise<number> {
  let solved = 0;
  for (const p of heldOut) {
    const res = await fetch(`${url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: formatPrompt(p) }], temperature: 0 }),
    });
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    if (verifyCountdown(p, body.choices[0]!.message.content).correct) solved++;
  }
  return solved / heldOut.length;
}

const checkpoint = path.join(dir, 'ckpt');
let server: { url: string; child: ChildProcess };

beforeAll(async () => {
  const data = writeCountdownJsonl(path.join(dir, 'train.jsonl'), 300);
  const trained = await runFlywheel(['train-policy', '--data', data, '--output', checkpoint, '--epochs', '8', '--seed', '3'], {});
  expect(trained.code, trained.stderr).toBe(0);
  const progress = trained.stdout.trim().split('\n').map((l) => JSON.parse(l));
  expect(progress.filter((p) => typeof p.step === 'number').map((p) => p.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(progress[7].loss).toBeLessThan(progress[0].loss);
  expect(JSON.parse(readFileSync(path.join(checkpoint, 'manifest.json'), 'utf8'))).toMatchObject({ kind: 'adapter', baseModel: 'countdown-mlp', files: ['policy.json'] });
  server = await startServer(true);
});

afterAll(async () => {
  if (server) await stop(server.child);
  rmSync(dir, { recursive: true, force: true });
});

describe('vLLM runtime LoRA routes on the embedded server', () => {
  it('loads a checkpoint directory, lists it like vLLM and serves it by name', async () => {
    const loaded = await post(`${server.url}/load_lora_adapter`, { lora_name: 'round-1', lora_path: checkpoint });
    expect(loaded).toMatchObject({ status: 200, text: "Success: LoRA adapter 'round-1' added successfully." });
    expect(loaded.type).toMatch(/^text\/plain/);
    const models = (await (await fetch(`${server.url}/models`)).json()) as { data: Array<Record<string, unknown>> };
    expect(models.data.find((m) => m.id === 'round-1')).toMatchObject({ object: 'model', root: checkpoint, parent: 'countdown-mlp' });
    const base = await passAt1(server.url, 'countdown-mlp');
    const tuned = await passAt1(server.url, 'round-1');
    expect(tuned).toBeGreaterThan(base);
  });

  it('answers bad loads with vLLM\'s error shapes', async () => {
    const again = await post(`${server.url}/load_lora_adapter`, { lora_name: 'round-1', lora_path: checkpoint });
    expect(again.status).toBe(400);
    expect(JSON.parse(again.text)).toEqual({ error: { message: "The lora adapter 'round-1' has already been loaded.", type: 'InvalidUserInput', param: null, code: 400 } });
    const missing = await post(`${server.url}/load_lora_adapter`, { lora_name: 'x', lora_path: path.join(dir, 'nope') });
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text).error).toMatchObject({ type: 'NotFoundError', code: 404 });
    const notCkpt = await post(`${server.url}/load_lora_adapter`, { lora_name: 'x', lora_path: dir });
    expect(notCkpt.status).toBe(400);
    expect(JSON.parse(notCkpt.text).error.message).toMatch(/has no manifest\.json/);
    expect((await post(`${server.url}/load_lora_adapter`, { lora_name: 'x' })).status).toBe(400);
  });

  it('unloads by name, then the name is unknown', async () => {
    expect(await post(`${server.url}/unload_lora_adapter`, { lora_name: 'round-1' })).toMatchObject({ status: 200, text: "Success: LoRA adapter 'round-1' removed successfully." });
    const chat = await post(`${server.url}/chat/completions`, { model: 'round-1', messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.status).toBe(404);
    const gone = await post(`${server.url}/unload_lora_adapter`, { lora_name: 'round-1' });
    expect(JSON.parse(gone.text).error).toMatchObject({ message: "The lora adapter 'round-1' cannot be found.", code: 404 });
  });

  it('forgets adapters on restart, and offers no LoRA routes unless enabled', async () => {
    expect((await post(`${server.url}/load_lora_adapter`, { lora_name: 'round-2', lora_path: checkpoint })).status).toBe(200);
    await stop(server.child);
    server = await startServer(false);
    const ids = ((await (await fetch(`${server.url}/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    expect(ids).not.toContain('round-2');
    expect((await post(`${server.url}/load_lora_adapter`, { lora_name: 'round-2', lora_path: checkpoint })).status).toBe(404);
    expect(existsSync(checkpoint)).toBe(true);
  });
});
