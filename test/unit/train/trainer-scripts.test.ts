/**
 * The reference trainer scripts (trainers/hf_sft.py, trainers/prm_trl.py) import trainers/common.py from beside
 * them: run from another folder (and with PYTHONSAFEPATH, which leaves the script's folder off sys.path) they still
 * parse and check their input; prm_trl runs to its manifest against stand-ins for datasets/transformers/trl/peft,
 * so the shared progress and manifest code runs without torch.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../../lib/train/manifest.js';

const TRAINERS = fileURLToPath(new URL('../../../trainers', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-trainer-scripts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function python(script: string, args: string[], env: Record<string, string> = {}) {
  const run = spawnSync('python3', ['-B', path.join(TRAINERS, script), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, PYTHONSAFEPATH: '1', ...env } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Just enough of datasets, transformers, trl and peft for prm_trl.py to train "two logging steps" and save. */
const STANDINS: Record<string, string> = {
  'datasets.py': 'class Dataset:\n    from_list = staticmethod(lambda rows: rows)\n',
  'transformers.py': [
    'from pathlib import Path',
    'class TrainerCallback: pass',
    'class Tokenizer:',
    '    pad_token = None; eos_token = "</s>"; pad_token_id = 0',
    '    def save_pretrained(self, out): Path(out, "tokenizer_config.json").write_text("{}")',
    'class AutoTokenizer:',
    '    from_pretrained = staticmethod(lambda source: Tokenizer())',
    'class Model:',
    '    config = type("Config", (), {})()',
    'class AutoModelForTokenClassification:',
    '    from_pretrained = staticmethod(lambda source, num_labels: Model())',
    '',
  ].join('\n'),
  'trl/__init__.py': [
    'from pathlib import Path',
    'class PRMConfig:',
    '    def __init__(self, **kw): self.__dict__.update(kw)',
    'class PRMTrainer:',
    '    def __init__(self, model, args, processing_class, train_dataset, peft_config, callbacks): self.args, self.callbacks = args, callbacks',
    '    def train(self):',
    '        for step in (10, 20):',
    '            state = type("State", (), {"global_step": step})()',
    '            for c in self.callbacks: c.on_log(self.args, state, None, logs={"loss": 1 / step, "epoch": step / 20, "learning_rate": 1e-4})',
    '        return type("Result", (), {"training_loss": 0.25, "global_step": 20})()',
    '    def save_model(self, out):',
    '        Path(out, "adapter_model.safetensors").write_text("weights")',
    '        Path(out, "trainer").mkdir(exist_ok=True); Path(out, "trainer", "scratch.bin").write_text("scratch")',
    '',
  ].join('\n'),
  'peft/__init__.py': 'class LoraConfig:\n    def __init__(self, **kw): pass\nclass PeftModel: pass\n',
};

describe('trainer scripts', () => {
  it.each(['hf_sft.py', 'prm_trl.py'])('%s: --help from another folder lists the shared flags', (script) => {
    const run = python(script, ['--help']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    for (const flag of ['--data', '--output', '--base-model', '--init', '--mode', '--epochs', '--lr-multiplier', '--batch-size', '--seed', '--progress-file']) {
      expect(run.stdout).toContain(flag);
    }
  });

  it.each([
    ['hf_sft.py', 'hf_sft'],
    ['prm_trl.py', 'prm_trl'],
  ])('%s: a bad flag value or a missing file is exit code 2, named by the script', (script, prog) => {
    const bad = python(script, ['--data', 'x.jsonl', '--output', 'out', '--base-model', 'm', '--epochs', 'many']);
    expect(bad).toMatchObject({ status: 2, stderr: `${prog}: --epochs must be a int, got 'many'\n` });
    const missing = python(script, ['--data', path.join(dir, 'none.jsonl'), '--output', 'out', '--base-model', 'm']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(new RegExp(`^${prog}: cannot read .*none\\.jsonl: No such file or directory\\n$`));
  });

  it('prm_trl.py: progress lines on stdout and in the progress file, then the manifest of the checkpoint alone', () => {
    const standins = path.join(dir, 'standins');
    for (const [file, text] of Object.entries(STANDINS)) {
      mkdirSync(path.dirname(path.join(standins, file)), { recursive: true });
      writeFileSync(path.join(standins, file), text);
    }
    const data = path.join(dir, 'train.jsonl');
    writeFileSync(data, `${JSON.stringify({ prompt: 'p', completions: ['a', 'b'], labels: [true, false], soft_labels: [0.9, 0.1] })}\n`);
    const output = path.join(dir, 'out');
    const progressFile = path.join(dir, 'progress.jsonl');
    const run = python('prm_trl.py', ['--data', data, '--output', output, '--base-model', 'm'], { PYTHONPATH: standins, FLYWHEEL_PROGRESS_FILE: progressFile });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const progress = ['{"step": 10, "loss": 0.1, "epoch": 0.5, "lr": 0.0001}', '{"step": 20, "loss": 0.05, "epoch": 1.0, "lr": 0.0001}'];
    const lines = run.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(progress);
    expect(JSON.parse(lines[2]!)).toMatchObject({ event: 'checkpoint', path: output, finalLoss: 0.25, steps: 20, traces: 1 });
    expect(readFileSync(progressFile, 'utf8')).toBe(`${progress.join('\n')}\n`);
    const read = readManifest(output);
    expect(read).toMatchObject({ manifest: { kind: 'adapter', format: 'peft-prm', baseModel: 'm', files: ['adapter_model.safetensors', 'tokenizer_config.json'] } });
  });
});
