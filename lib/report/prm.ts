/**
 * The report's process reward model: the PRM gate's record read back from `rounds.stats.prm`, the table of the
 * rounds that trained one, and its held-out chart. A run that trained no PRM has none of them.
 */
import { axis, base, color, percentAxis, type Chart } from './charts.js';
import { pct } from './round-table.js';
import type { PrmGate, PrmRound } from './types.js';

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const record = (x: unknown): Record<string, unknown> | null => (x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : null);

/**
 * The gate's measurement in a round's `stats.prm`, or null when the gate has not measured (a skipped PRM, a job still
 * running). Stats of older runs lack fields later code writes (balancedAccuracy): those read as null.
 *
 * @example prmGateOf({ heldOut: { accuracy: 0.8, auc: 0.9, steps: 40, positives: 10 }, incumbent: null, promoted: true, reason: 'first PRM' })
 */
export function prmGateOf(stats: unknown): PrmGate | null {
  const prm = record(stats);
  const heldOut = record(prm?.heldOut);
  if (!prm || !heldOut) return null;
  const incumbent = record(prm.incumbent);
  return {
    heldOut: {
      accuracy: num(heldOut.accuracy),
      balancedAccuracy: num(heldOut.balancedAccuracy),
      auc: num(heldOut.auc),
      steps: num(heldOut.steps) ?? 0,
      positives: num(heldOut.positives) ?? 0,
    },
    incumbent: incumbent
      ? { model: String(incumbent.model ?? ''), accuracy: num(incumbent.accuracy), balancedAccuracy: num(incumbent.balancedAccuracy), auc: num(incumbent.auc) }
      : null,
    promoted: prm.promoted === true,
    reason: typeof prm.reason === 'string' ? prm.reason : '',
    scorerCalls: num(prm.scorerCalls) ?? 0,
  };
}

const auc = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(3));

/** Step labels summed over the rounds that labelled them, with the split: `120 (round 0: 80, round 1: 40)`. */
export function stepLabelsCell(byRound: Record<string, number> | null): string {
  if (!byRound || Object.keys(byRound).length === 0) return '—';
  const entries = Object.entries(byRound).sort(([a], [b]) => Number(a) - Number(b));
  const total = entries.reduce((n, [, v]) => n + Number(v), 0);
  return `${total} (${entries.map(([r, n]) => `round ${r}: ${n}`).join(', ')})`;
}

/** The PRM table's header and one row of plain text per round (the page escapes them). */
export function prmTable(rounds: readonly PrmRound[]): { head: string[]; rows: string[][] } {
  return {
    head: [
      'round',
      'PRM',
      'step labels trained on (by searched round)',
      'examples',
      'trainer job',
      'held-out balanced accuracy',
      'accuracy',
      'AUC',
      'held-out labels (good)',
      'incumbent balanced accuracy',
      'promoted',
      'gate',
      'PRM requests by searches',
    ],
    rows: rounds.map((r) => {
      const g = r.gate;
      const incumbent = !g ? '—' : g.incumbent ? `${pct(g.incumbent.balancedAccuracy)} (${g.incumbent.model})` : 'none (first PRM)';
      return [
        String(r.round),
        r.model ?? '—',
        stepLabelsCell(r.stepLabelsByRound),
        r.examples === null ? '—' : String(r.examples),
        r.externalJobId ? `${r.jobStatus} (${r.externalJobId})` : r.jobStatus,
        pct(g?.heldOut.balancedAccuracy),
        pct(g?.heldOut.accuracy),
        auc(g?.heldOut.auc),
        g ? `${g.heldOut.steps} (${g.heldOut.positives} good)` : '—',
        incumbent,
        !g ? '—' : g.promoted ? 'yes' : 'no',
        g?.reason || '—',
        r.searchScorerCalls === null ? '—' : String(r.searchScorerCalls),
      ];
    }),
  };
}

/** Held-out balanced accuracy and AUC of each round's PRM, beside the incumbent's balanced accuracy it was gated on. */
export function prmChart(rounds: readonly PrmRound[]): Chart {
  const measured = rounds.filter((r) => r.gate);
  const title = 'Process reward model on held-out step labels';
  if (measured.length === 0) return { id: 'prm', title, none: 'no PRM has been measured by its gate yet' };
  const labels = measured.map((r) => `round ${r.round}${r.gate!.promoted ? ' ★ promoted' : ''}`);
  const datasets = [
    {
      label: 'balanced accuracy',
      data: measured.map((r) => r.gate!.heldOut.balancedAccuracy),
      borderColor: color(0),
      backgroundColor: color(0),
      pointStyle: measured.map((r) => (r.gate!.promoted ? 'star' : 'circle')),
      pointRadius: measured.map((r) => (r.gate!.promoted ? 9 : 4)),
      borderWidth: 3,
    },
    { label: 'AUC', data: measured.map((r) => r.gate!.heldOut.auc), borderColor: color(1), backgroundColor: color(1), pointRadius: 3 },
    {
      label: 'incumbent balanced accuracy',
      data: measured.map((r) => r.gate!.incumbent?.balancedAccuracy ?? null),
      borderColor: '#6b7280',
      backgroundColor: '#6b7280',
      borderDash: [6, 4],
      pointRadius: 3,
    },
  ];
  return {
    id: 'prm',
    title,
    caption: "Each round's PRM scored on the held-out searches' step labels; the gate promotes it unless its balanced accuracy drops below the incumbent's (dashed) by more than finetune.prm.maxAccuracyDrop; ★ promoted.",
    config: {
      type: 'line',
      data: { labels, datasets },
      options: base({ y: percentAxis('held-out balanced accuracy / AUC'), x: axis('round') }, { spanGaps: true }),
    },
  };
}
