import { describe, expect, it } from 'vitest';
import { ConfigError, parseRunConfig } from '../../../config/load.js';

const issues = (text: string) => {
  try {
    parseRunConfig(text, 'run.yaml', {});
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
};

describe('costs and budget in the run config', () => {
  it('default to no prices and no limits', () => {
    const config = parseRunConfig('task: {kind: countdown}\n', 'run.yaml', {});
    expect(config.costs).toEqual({ models: {} });
    expect(config.budget).toEqual({});
  });

  it('take model prices, a trainer price per GPU-hour or per trained token, and limits', () => {
    const config = parseRunConfig(
      [
        'task: {kind: countdown}',
        'costs:',
        '  models:',
        '    countdown-mlp: {inputPerMTok: 0.15, outputPerMTok: 0.6}',
        "    'ft:countdown-mlp:*': {inputPerMTok: 0.3, outputPerMTok: 1.2}",
        '  trainer: {perGpuHour: 2.5}',
        'budget: {maxCost: 20, maxTokens: 1000000}',
      ].join('\n'),
      'run.yaml',
      {},
    );
    expect(config.costs.models['ft:countdown-mlp:*']).toEqual({ inputPerMTok: 0.3, outputPerMTok: 1.2 });
    expect(config.costs.trainer).toEqual({ perGpuHour: 2.5, gpus: 1 });
    expect(config.budget).toEqual({ maxCost: 20, maxTokens: 1_000_000 });
    expect(parseRunConfig('task: {kind: countdown}\ncosts: {trainer: {perMTrainedTokens: 3}}\n', 'run.yaml', {}).costs.trainer).toEqual({ perMTrainedTokens: 3 });
  });

  it('name bad prices, unknown keys, and a cost limit without a price for the model', () => {
    expect(issues('task: {kind: countdown}\ncosts: {models: {m: {inputPerMTok: -1, outputPerMTok: 1}}}\n').join('\n')).toMatch(/costs\.models\.m\.inputPerMTok/);
    expect(issues('task: {kind: countdown}\ncosts: {models: {m: {inputPerMtok: 1, outputPerMTok: 1}}}\n').join('\n')).toMatch(/inputPerMtok/);
    expect(issues('task: {kind: countdown}\nbudget: {maxCost: 0}\n').join('\n')).toMatch(/budget\.maxCost/);
    expect(issues('task: {kind: countdown}\nbudget: {maxCost: 5}\n')).toEqual([
      "budget.maxCost: a cost budget needs a price for the model 'countdown-mlp': add costs.models.countdown-mlp: {inputPerMTok, outputPerMTok}",
    ]);
  });
});
