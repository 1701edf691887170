import { describe, expect, it } from 'vitest';
import { ConfigError, parseRunConfig } from '../../../config/load.js';

function issues(yaml: string) {
  try {
    parseRunConfig(yaml, 'run.yaml', {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  return expect.unreachable(`accepted: ${yaml}`);
}

describe('finetune.prm and search.step.value', () => {
  it('default: no PRM is trained and steps are valued by rollouts', () => {
    const config = parseRunConfig('task: {kind: countdown}\n');
    expect(config.finetune.prm).toEqual({ enabled: false, backend: 'openai', from: 'previous', hyperparameters: {}, suffix: 'prm', window: 'all', maxAccuracyDrop: 0 });
    expect(config.search.step).toMatchObject({ value: 'rollout', valueMix: 0.5 });
  });

  it('a PRM trained by command, and a mixed value read from an endpoint', () => {
    const config = parseRunConfig(
      'task: {kind: countdown}\n' +
        'finetune:\n  workdir: /tmp/ft\n  prm: {enabled: true, backend: command, command: "flywheel train-prm --data {dataset} --output {outputDir}", hyperparameters: {nEpochs: 5}}\n' +
        'search:\n  step: {strategy: mcts, value: mix, valueMix: 0.3, prm: {url: "http://127.0.0.1:8000/v1/reward", model: prm-1}}\n',
    );
    expect(config.finetune.prm).toMatchObject({ enabled: true, backend: 'command', hyperparameters: { nEpochs: 5 } });
    expect(config.search.step).toMatchObject({ value: 'mix', valueMix: 0.3, prm: { url: 'http://127.0.0.1:8000/v1/reward', model: 'prm-1', format: 'flywheel' } });
    // A PRM trained by the run needs no endpoint: the current one is asked by name.
    expect(parseRunConfig('task: {kind: countdown}\nfinetune: {prm: {enabled: true}}\nsearch: {step: {strategy: beam, value: prm}}\n').search.step.prm).toBeUndefined();
  });

  it('names what is missing', () => {
    expect(issues('task: {kind: countdown}\nsearch: {step: {strategy: beam, value: prm}}\n')).toEqual([
      'search.step.prm: search.step.value: prm needs a PRM: train one each round (finetune.prm.enabled: true) or name its endpoint in search.step.prm ({url, model, format})',
    ]);
    expect(issues('task: {kind: countdown}\nfinetune: {prm: {enabled: true, backend: command}}\n')).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^finetune\.prm\.command: .*needs the PRM trainer command line/),
        expect.stringMatching(/^finetune\.workdir: /),
      ]),
    );
    expect(issues('task: {kind: countdown}\nsearch: {step: {value: prm, valueMix: 2, prm: {url: "http://x/reward"}}}\n')[0]).toMatch(/^search\.step\.valueMix/);
  });

  it('a PRM trained by command needs something to serve it: a deploy, or an endpoint that serves it by name', () => {
    const ft = 'finetune:\n  workdir: /tmp/ft\n  prm: {enabled: true, backend: command, command: "flywheel train-prm --data {dataset} --output {outputDir}"}\n';
    const base = `task: {kind: countdown}\n${ft}`;
    // Refused whatever search.step.value is: the PRM gate asks the reward endpoint for every new PRM by name.
    for (const search of ['', 'search: {step: {strategy: mcts, value: prm}}\n', 'search: {step: {strategy: mcts, value: rollout}}\n']) {
      expect(issues(base + search)).toEqual([
        expect.stringMatching(/^finetune\.prm\.backend: finetune\.prm\.backend: command leaves each PRM as a checkpoint on disk, and with deploy\.kind: none nothing serves it: .*Deploy it \(deploy\.kind: vllm-lora.*or name in search\.step\.prm/),
      ]);
    }
    // Valid: deployed (into the inference replicas, beside the policy), or an endpoint that serves it by name.
    expect(parseRunConfig(`${base}deploy: {kind: vllm-lora}\nsearch: {step: {strategy: mcts, value: mix}}\n`).deploy.kind).toBe('vllm-lora');
    expect(parseRunConfig(`${base}search: {step: {strategy: mcts, value: prm, prm: {url: "http://127.0.0.1:8000/v1/reward"}}}\n`).search.step.prm).toBeDefined();
    // Nothing trained, nothing to serve: a PRM backend left configured but disabled, or the openai backend (the server serves its jobs).
    expect(parseRunConfig(`task: {kind: countdown}\nfinetune: {workdir: /tmp/ft, prm: {enabled: false, backend: command, command: "x {dataset}"}}\n`).finetune.prm.enabled).toBe(false);
    expect(parseRunConfig('task: {kind: countdown}\nfinetune: {prm: {enabled: true}}\n').finetune.prm.backend).toBe('openai');
  });
});
