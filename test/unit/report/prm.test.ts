import { describe, expect, it } from 'vitest';
import { prmChart, prmGateOf, prmTable, stepLabelsCell } from '../../../lib/report/prm.js';
import type { PrmRound } from '../../../lib/report/types.js';

const gateStats = {
  jobId: 'ftjob-2',
  model: 'prm-2',
  baseModel: 'prm-1',
  datasetId: 9,
  heldOut: { accuracy: 0.8, balancedAccuracy: 0.65, auc: 0.7321, steps: 50, positives: 12 },
  incumbent: { model: 'prm-1', accuracy: 0.78, balancedAccuracy: 0.6, auc: 0.7 },
  scorerCalls: 100,
  promoted: true,
  reason: 'balanced held-out step accuracy 0.6500 ≥ 0.5800',
};

const round = (over: Partial<PrmRound> = {}): PrmRound => ({
  round: 2,
  model: 'prm-2',
  jobStatus: 'succeeded',
  externalJobId: 'ftjob-2',
  stepLabelsByRound: { '1': 20, '0': 100 },
  examples: 40,
  gate: prmGateOf(gateStats),
  searchScorerCalls: 321,
  ...over,
});

describe('the PRM in the report', () => {
  it('reads the gate back from the round stats; a skipped PRM or an older run\'s stats read as far as they go', () => {
    expect(prmGateOf(gateStats)).toEqual({
      heldOut: { accuracy: 0.8, balancedAccuracy: 0.65, auc: 0.7321, steps: 50, positives: 12 },
      incumbent: { model: 'prm-1', accuracy: 0.78, balancedAccuracy: 0.6, auc: 0.7 },
      promoted: true,
      reason: gateStats.reason,
      scorerCalls: 100,
    });
    expect(prmGateOf({ skipped: 'no step labels to train on' })).toBeNull();
    expect(prmGateOf(null)).toBeNull();
    // Before the gate recorded balanced accuracy; AUC of one class only is stored as null.
    const older = prmGateOf({ heldOut: { accuracy: 0.9, auc: null, steps: 10, positives: 0 }, incumbent: null, promoted: false, reason: 'r' });
    expect(older?.heldOut).toEqual({ accuracy: 0.9, balancedAccuracy: null, auc: null, steps: 10, positives: 0 });
    expect(older?.incumbent).toBeNull();
  });

  it('one row per round: labels summed by searched round, the gate beside the incumbent, the searches\' PRM requests', () => {
    expect(stepLabelsCell({ '1': 20, '0': 100 })).toBe('120 (round 0: 100, round 1: 20)');
    expect(stepLabelsCell(null)).toBe('—');
    const { head, rows } = prmTable([round(), round({ round: 3, model: null, jobStatus: 'running', externalJobId: null, stepLabelsByRound: null, gate: null, searchScorerCalls: 0 })]);
    expect(rows[0]).toEqual([
      '2',
      'prm-2',
      '120 (round 0: 100, round 1: 20)',
      '40',
      'succeeded (ftjob-2)',
      '65.0%',
      '80.0%',
      '0.732',
      '50 (12 good)',
      '60.0% (prm-1)',
      'yes',
      gateStats.reason,
      '321',
    ]);
    expect(rows[1]).toEqual(['3', '—', '—', '40', 'running', '—', '—', '—', '—', '—', '—', '—', '0']);
    expect(head).toHaveLength(rows[0]!.length);
  });

  it('charts held-out balanced accuracy and AUC of the measured rounds, or says none is measured', () => {
    const chart = prmChart([round({ round: 1, gate: prmGateOf({ ...gateStats, incumbent: null, promoted: false }) }), round(), round({ round: 3, gate: null })]);
    if (!('config' in chart)) throw new Error('expected a chart');
    expect(chart.config.data.labels).toEqual(['round 1', 'round 2 ★ promoted']);
    expect(chart.config.data.datasets.map((d) => [d.label, d.data])).toEqual([
      ['balanced accuracy', [0.65, 0.65]],
      ['AUC', [0.7321, 0.7321]],
      ['incumbent balanced accuracy', [null, 0.6]],
    ]);
    expect(prmChart([round({ gate: null })])).toEqual({ id: 'prm', title: expect.any(String), none: 'no PRM has been measured by its gate yet' });
  });
});
