import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRunConfig, parseRunConfig } from '../../../config/load.js';
import { renderTemplate, TEMPLATE_VARIABLES } from '../../../lib/train/command/template.js';
import { leadingDirectives, templateBody } from '../../../lib/train/command/slurm.js';

const EXAMPLES = fileURLToPath(new URL('../../../config/examples', import.meta.url));
const TRAINERS = fileURLToPath(new URL('../../../trainers', import.meta.url));

function exampleFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? exampleFiles(path.join(dir, e.name)) : e.name.endsWith('.yaml') ? [path.join(dir, e.name)] : [],
  );
}

// Every placeholder given a value, as a job would get them.
const values = Object.fromEntries(Object.keys(TEMPLATE_VARIABLES).map((k) => [k, `/v/${k}`]));

describe('config/examples', () => {
  const files = exampleFiles(EXAMPLES);
  it('has the cluster examples, each with an sbatch variant', () => {
    const names = files.map((f) => path.relative(EXAMPLES, f)).sort();
    for (const trainer of ['hf-sft', 'trl-sft', 'axolotl', 'llamafactory']) {
      expect(names).toContain(`cluster/${trainer}.yaml`);
      expect(names).toContain(`cluster/${trainer}-sbatch.yaml`);
    }
    expect(names).toEqual(expect.arrayContaining(['countdown.yaml', 'countdown-slurm.yaml', 'cluster/k8s-job.yaml']));
  });

  for (const file of files) {
    it(`${path.relative(EXAMPLES, file)} passes validation, and its command templates render`, () => {
      const { config } = loadRunConfig(file, {});
      const ft = config.finetune;
      if (ft.backend !== 'command') return;
      expect(ft.workdir).toBeTruthy();
      const command = renderTemplate(ft.command!, values, 'finetune.command');
      expect(command).not.toMatch(/(?<!\$)\{[A-Za-z]+\}/);
      if (ft.launcher.kind === 'templates') {
        for (const t of [ft.launcher.submit, ft.launcher.status, ft.launcher.cancel]) renderTemplate(t, values);
      }
      if (file.endsWith('-sbatch.yaml') || file.endsWith('countdown-slurm.yaml')) expect(ft.launcher.kind).toBe('slurm');
      if (config.deploy.kind !== 'none') expect(['vllm-lora', 'sglang-lora', 'sglang-weights', 'command']).toContain(config.deploy.kind);
    });
  }

  it('countdown-slurm.yaml: the embedded trainer under Slurm, deployed with vllm-lora', () => {
    const { config } = loadRunConfig(path.join(EXAMPLES, 'countdown-slurm.yaml'), {});
    expect(config.finetune).toMatchObject({ backend: 'command', launcher: { kind: 'slurm' } });
    expect(config.finetune.command).toMatch(/train-policy --data \{dataset\} --output \{outputDir\}/);
    expect(config.deploy.kind).toBe('vllm-lora');
  });

  it('countdown-prm-command.yaml: both learners as local command jobs, the PRM by `flywheel train-prm`', () => {
    const { config } = loadRunConfig(path.join(EXAMPLES, 'countdown-prm-command.yaml'), {});
    expect(config.search.step).toMatchObject({ strategy: 'mcts', value: 'prm' });
    expect(config.finetune.prm).toMatchObject({ enabled: true, backend: 'command' });
    const command = renderTemplate(config.finetune.prm.command!, values, 'finetune.prm.command');
    expect(command).toMatch(/train-prm --data \/v\/dataset --output \/v\/outputDir --init \/v\/fromCheckpoint/);
  });

  it('the sbatch script template keeps its directives and runs the command', () => {
    const template = readFileSync(path.join(TRAINERS, 'sbatch-template.sh'), 'utf8');
    expect(leadingDirectives(template)).toEqual(['#SBATCH --nodes=1', '#SBATCH --ntasks-per-node=1']);
    expect(templateBody(template, values, 'python3 train.py')).toContain('\npython3 train.py\n');
  });
});

describe('finetune and deploy validation', () => {
  const base = 'task: {kind: countdown}\n';
  it('backend: command needs a command and a workdir', () => {
    expect(() => parseRunConfig(`${base}finetune: {backend: command}`)).toThrow(/finetune\.command: finetune\.backend: command needs the trainer command line[\s\S]*finetune\.workdir/);
  });
  it('an unknown placeholder is a config error naming it', () => {
    expect(() => parseRunConfig(`${base}finetune: {backend: command, workdir: /w, command: "train {datset}"}`)).toThrow(/unknown placeholder \{datset\}/);
  });
  it('a bad launcher option or regex is named', () => {
    expect(() => parseRunConfig(`${base}finetune: {backend: command, workdir: /w, command: x, launcher: {kind: slurm, partitoin: gpu}}`)).toThrow(/partitoin/);
    expect(() =>
      parseRunConfig(`${base}finetune: {backend: command, workdir: /w, command: x, launcher: {kind: templates, submit: a, status: b, cancel: c, states: {succeeded: "(", failed: x}}}`),
    ).toThrow(/not a valid regular expression/);
  });
  it('deploy: command needs its script; model.baseUrls takes URLs', () => {
    expect(() => parseRunConfig(`${base}deploy: {kind: command}`)).toThrow(/deploy\.command/);
    expect(() => parseRunConfig(`${base}model: {baseUrls: [not-a-url]}`)).toThrow(/model\.baseUrls\.0/);
    expect(parseRunConfig(`${base}model: {baseUrls: ["http://a:8000/v1", "http://b:8000/v1"]}`).model.baseUrls).toHaveLength(2);
  });
});
