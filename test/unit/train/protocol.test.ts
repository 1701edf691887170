import { appendFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeProgress, parseProgressLine, ProgressReader, thinHistory } from '../../../lib/train/progress.js';
import { readManifest } from '../../../lib/train/manifest.js';
import { renderTemplate, shellQuote, templateEnv, unknownPlaceholders } from '../../../lib/train/command/template.js';
import { exportChatDataset } from '../../../lib/train/dataset.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-protocol-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('progress protocol', () => {
  it('takes JSON objects with a numeric step and ignores every other line', () => {
    expect(parseProgressLine('{"step": 3, "loss": 0.5, "epoch": 1.5, "lr": 2e-5, "grad_norm": 1.1, "note": "x"}')).toEqual({ step: 3, loss: 0.5, epoch: 1.5, lr: 2e-5, grad_norm: 1.1 });
    expect(parseProgressLine('{"loss": 0.5}')).toBeNull();
    expect(parseProgressLine('Epoch 1: loss 0.5')).toBeNull();
    expect(parseProgressLine('{"step": "3"}')).toBeNull();
    expect(parseProgressLine('{not json}')).toBeNull();
    expect(describeProgress({ step: 120, loss: 0.53, epoch: 1.2, lr: 2e-5 })).toBe('step 120 · loss 0.5300 · epoch 1.2 · lr 2.00e-5');
  });

  it('reads only what a file gained, and waits for a torn line to end', () => {
    const file = path.join(dir, 'log.txt');
    writeFileSync(file, 'starting\n{"step": 1, "loss": 3}\n{"step": 2, "lo');
    const reader = new ProgressReader();
    expect(reader.read([file]).map((p) => p.step)).toEqual([1]);
    appendFileSync(file, 'ss": 2}\n{"step": 3}\n');
    expect(reader.read([file, path.join(dir, 'missing')]).map((p) => [p.step, p.loss])).toEqual([
      [1, 3],
      [2, 2],
      [3, undefined],
    ]);
  });

  it('thins a long history but keeps its recent end', () => {
    const points = Array.from({ length: 100 }, (_, i) => ({ step: i }));
    const thinned = thinHistory(points, 40);
    expect(thinned.length).toBeLessThanOrEqual(40);
    expect(thinned.at(-1)?.step).toBe(99);
    expect(thinned[0]!.step).toBe(0);
  });
});

describe('manifest', () => {
  it('accepts a manifest whose files exist and names what is wrong otherwise', () => {
    const ckpt = path.join(dir, 'ckpt');
    mkdirSync(ckpt);
    expect(readManifest(ckpt)).toEqual({ error: `the trainer wrote no manifest.json in ${ckpt}` });
    writeFileSync(path.join(ckpt, 'manifest.json'), '{"kind": "lora", "files": ["a"], "baseModel": "m"}');
    expect((readManifest(ckpt) as { error: string }).error).toMatch(/kind: Invalid option/);
    writeFileSync(path.join(ckpt, 'manifest.json'), '{"kind": "adapter", "files": ["adapter.safetensors"], "baseModel": "m"}');
    expect((readManifest(ckpt) as { error: string }).error).toMatch(/lists 'adapter.safetensors', which is not in/);
    writeFileSync(path.join(ckpt, 'manifest.json'), '{"kind": "full", "files": ["../etc"], "baseModel": "m"}');
    expect((readManifest(ckpt) as { error: string }).error).toMatch(/outside the checkpoint directory/);
    writeFileSync(path.join(ckpt, 'adapter.safetensors'), 'w');
    writeFileSync(path.join(ckpt, 'manifest.json'), '{"kind": "adapter", "files": ["adapter.safetensors"], "baseModel": "m", "format": "peft"}');
    expect(readManifest(ckpt)).toEqual({ manifest: { kind: 'adapter', files: ['adapter.safetensors'], baseModel: 'm', format: 'peft' } });
  });
});

describe('command templates', () => {
  it('fills placeholders shell-quoted, leaves $VAR to the shell, and unescapes doubled braces', () => {
    expect(renderTemplate('train --data {dataset} --out {outputDir} --x $HOME ${HOME} {{a}}', { dataset: '/d/my data.jsonl', outputDir: '/o' })).toBe(
      "train --data '/d/my data.jsonl' --out /o --x $HOME ${HOME} {a}",
    );
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(unknownPlaceholders('a {dataset} {nope} {.status} {"x":1} ${HOME}')).toEqual(['nope']);
    expect(() => renderTemplate('{seed}', {})).toThrow(/\{seed\} has no value/);
    expect(templateEnv({ dataset: '/d', seed: '3' })).toEqual({ FLYWHEEL_DATASET: '/d', FLYWHEEL_SEED: '3' });
  });
});

describe('dataset export', () => {
  it('streams examples to train.jsonl under the round dir and refuses an empty set', async () => {
    async function* many() {
      for (let i = 0; i < 5000; i++) yield { prompt: `p${i}`, completion: `c${i}` };
    }
    const out = await exportChatDataset(dir, { runId: 'r', round: 2 }, many());
    expect(out).toMatchObject({ path: path.join(dir, 'r/round-2/train.jsonl'), examples: 5000 });
    await expect(exportChatDataset(dir, { runId: 'r', round: 3 }, [])).rejects.toThrow(/no examples to export for run r round 3/);
  });
});
