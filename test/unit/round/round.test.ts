import { describe, expect, it } from 'vitest';
import { runConfigSchema, type RunConfigInput } from '../../../config/schema.js';
import { planAdaptiveBudgets } from '../../../lib/round/adaptive.js';
import { MAX_SHARDS, planRound, shardCount } from '../../../lib/round/plan.js';
import { promotionGate, roundPromoted } from '../../../lib/round/promotion.js';
import { samplingModel, splitOf } from '../../../lib/round/purpose.js';
import { groupByProblem, sampleGroups, verifiesAtEval, verifiesDuringSearch } from '../../../lib/round/samples.js';
import { describeStages, STAGES, stagesToRun } from '../../../lib/round/stages.js';

const config = (extra: Partial<RunConfigInput> = {}) => runConfigSchema.parse({ task: { kind: 'countdown' }, ...extra });

describe('stages', () => {
  it('round 0 evaluates and samples; later rounds train first', () => {
    expect(stagesToRun(0)).toEqual(['evaluate', 'generate', 'verify', 'search']);
    expect(stagesToRun(3)).toEqual(STAGES.filter((s) => s !== 'deploy'));
    expect(describeStages(0)).toBe('evaluate → generate → verify → search');
  });
  it('a run that deploys loads the new model between fine-tune and evaluate, from round 1 on', () => {
    expect(stagesToRun(3, new Set(), { deploy: true })).toEqual([...STAGES]);
    expect(describeStages(1, { deploy: true })).toBe('filter → fine-tune → deploy → evaluate → promote → generate → verify → search');
    expect(stagesToRun(0, new Set(), { deploy: true })).toEqual(['evaluate', 'generate', 'verify', 'search']);
    expect(planRound(config({ deploy: { kind: 'vllm-lora' } }), 1, { train: 10, test: 10 }, new Set(['filter', 'fine-tune'])).stages).toEqual(['deploy', 'evaluate', 'promote', 'generate', 'verify', 'search']);
  });
  it('leaves out the stages recorded as done, keeping the order', () => {
    expect(stagesToRun(2, new Set(['filter', 'fine-tune', 'generate']))).toEqual(['evaluate', 'promote', 'verify', 'search']);
  });
});

describe('purpose', () => {
  it('train reads the train split with the sampler, eval the test split with the model', () => {
    const round = { index: 2, sampler: 'ft:b', model: 'ft:c' };
    expect(splitOf('train')).toBe('train');
    expect(splitOf('eval')).toBe('test');
    expect(samplingModel(round, 'train')).toBe('ft:b');
    expect(samplingModel(round, 'eval')).toBe('ft:c');
  });
  it('says which field is missing and which stage sets it', () => {
    expect(() => samplingModel({ index: 4, sampler: null, model: 'm' }, 'train')).toThrow(/round 4 has no sampler yet: the promote stage/);
    expect(() => samplingModel({ index: 4, sampler: 's', model: null }, 'eval')).toThrow(/round 4 has no model yet: the fine-tune stage/);
  });
});

describe('promotion', () => {
  const gate = { candidate: 'ft:new', current: 'base', before: 0.5, after: 0.5, minImprovement: 0 };
  it('promotes a new model at least as good as the current one', () => {
    expect(promotionGate(gate).promoted).toBe(true);
    expect(promotionGate({ ...gate, after: 0.49 }).promoted).toBe(false);
    expect(promotionGate({ ...gate, minImprovement: 0.05, after: 0.54 }).promoted).toBe(false);
    expect(promotionGate({ ...gate, before: null, after: null }).promoted).toBe(true);
    expect(promotionGate({ ...gate, after: null }).promoted).toBe(false);
  });
  it('never promotes the current model again (fine-tuning skipped)', () => {
    expect(promotionGate({ ...gate, candidate: 'base', before: null }).promoted).toBe(false);
  });
  it('a round says what its promote stage recorded; round 0 is the base', () => {
    expect(roundPromoted({ index: 0, stats: {} })).toBe(true);
    expect(roundPromoted({ index: 1, stats: { promote: { promoted: false } } })).toBe(false);
    expect(roundPromoted({ index: 1, stats: { promote: { promoted: true } } })).toBe(true);
    expect(() => roundPromoted({ index: 2, stats: {} })).toThrow(/round 2 has no record of its promote stage/);
  });
});

describe('round plan', () => {
  it('sizes shards by samples, at most one per problem and MAX_SHARDS per stage', () => {
    expect(shardCount(500, 16, 1024)).toBe(8);
    expect(shardCount(3, 1000, 10)).toBe(3);
    expect(shardCount(1_000_000, 16, 1024)).toBe(MAX_SHARDS);
    expect(shardCount(0, 16, 1024)).toBe(1);
  });
  it('plans held-out shards by greedy plus samples, and search only when a strategy is set', () => {
    const plain = planRound(config({ evaluate: { greedy: true, samples: 7, k: [1] } }), 1, { train: 100, test: 64 }, new Set(['filter']));
    expect(plain).toMatchObject({ stages: STAGES.filter((s) => s !== 'deploy').slice(1), evalShards: 1, planned: 1600, searchTrain: false, searchEval: false, rationalize: false });
    const searching = planRound(config({ search: { step: { strategy: 'mcts', train: 'none', eval: false } } }), 0, { train: 10, test: 10 }, new Set());
    expect(searching).toMatchObject({ searchTrain: false, searchEval: false });
    const adaptive = planRound(config({ search: { step: { strategy: 'mcts', train: 'none' } }, adaptive: { enabled: true } }), 1, { train: 10, test: 10 }, new Set());
    expect(adaptive).toMatchObject({ searchTrain: true, searchEval: true });
  });
});

describe('samples', () => {
  it('train draws the round samples; eval greedy plus its samples', () => {
    const c = config({ generate: { samplesPerProblem: 4, temperature: 0.7 }, evaluate: { greedy: true, samples: 2, temperature: 0.9, k: [1, 2] } });
    expect(sampleGroups(c, 'train')).toEqual([{ strategy: 'sample', n: 4, temperature: 0.7 }]);
    expect(sampleGroups(c, 'eval')).toEqual([
      { strategy: 'greedy', n: 1, temperature: 0 },
      { strategy: 'sample', n: 2, temperature: 0.9 },
    ]);
    expect(sampleGroups(config({ evaluate: { greedy: false, samples: 0, k: [] } }), 'eval')).toEqual([]);
  });
  it('verifies at eval only for verifiers that read nothing hidden, unless told', () => {
    expect(verifiesAtEval(config())).toBe(true);
    expect(verifiesAtEval(config({ verifier: { name: 'math' } }))).toBe(false);
    expect(verifiesAtEval(config({ verifier: { name: 'math' }, search: { step: { verifyAtEval: true } } }))).toBe(true);
    expect(verifiesDuringSearch(config({ verifier: { name: 'math' } }), 'train')).toBe(true);
    expect(verifiesDuringSearch(config({ verifier: { name: 'math' } }), 'eval')).toBe(false);
  });
  it('groups rows by problem in order', () => {
    const rows = [{ problemId: 2, i: 0 }, { problemId: 2, i: 1 }, { problemId: 1, i: 2 }];
    expect([...groupByProblem(rows)]).toEqual([[2, [rows[0], rows[1]]], [1, [rows[2]]]]);
  });
});

describe('adaptive budgets', () => {
  it('keeps the uniform total and gives search budget only to problems binned for search', () => {
    const c = config({ generate: { samplesPerProblem: 4 }, adaptive: { enabled: true, minSamples: 1, maxSamples: 8 }, search: { step: { strategy: 'mcts', budget: 8 } } });
    const history = [
      { problemId: 1, round: 0, n: 4, c: 4 },
      { problemId: 2, round: 0, n: 4, c: 0 },
    ];
    const plan = planAdaptiveBudgets(c, [1, 2, 3], history);
    expect(plan.map((p) => p.problemId)).toEqual([1, 2, 3]);
    expect(plan.reduce((s, p) => s + p.samples + p.searchBudget, 0)).toBeLessThanOrEqual(12);
    for (const p of plan) expect(p.strategy === 'none' ? p.searchBudget === 0 : p.samples <= 1).toBe(true);
    expect(plan.find((p) => p.problemId === 1)?.bin).toBe('solved-always');
  });
});
