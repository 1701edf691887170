/**
 * The report's charts as Chart.js configurations (plain JSON: the page draws them with the inlined library). Each
 * function shapes rows into one chart, or says why there is none (a run without search has no search chart).
 */
import type { BudgetBin, ModelErrorCount, ProblemRound, ReportRound, SearchOutcome, TrainerJobRow } from './types.js';

export interface ChartSpec {
  id: string;
  title: string;
  /** One sentence under the title: what to read from it. */
  caption: string;
  config: { type: string; data: { labels?: Array<string | number>; datasets: Array<Record<string, unknown>> }; options: Record<string, unknown> };
}

export type Chart = ChartSpec | { id: string; title: string; none: string };

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
export const color = (i: number) => PALETTE[i % PALETTE.length];

export const percentAxis = (title: string) => ({ min: 0, max: 1, title: { display: true, text: title }, ticks: { format: { style: 'percent' } } });
export const axis = (title: string, extra: Record<string, unknown> = {}) => ({ title: { display: true, text: title }, ...extra });
export const base = (scales: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  animation: false,
  responsive: true,
  maintainAspectRatio: false,
  plugins: { legend: { position: 'bottom' } },
  scales,
  ...extra,
});

export const roundLabel = (r: Pick<ReportRound, 'round' | 'promoted'>) => (r.round === 0 ? 'round 0 (base)' : `round ${r.round}${r.promoted ? ' ★ promoted' : ''}`);

const sortedKs = (rounds: ReportRound[], key: 'passAtK' | 'majAtK') =>
  [...new Set(rounds.flatMap((r) => Object.keys(r[key])))].map(Number).sort((a, b) => a - b);

/** Held-out greedy pass@1, pass@k, maj@k and accuracy with search per round; promoted rounds starred. */
export function learningCurve(rounds: ReportRound[]): Chart {
  const evaluated = rounds.filter((r) => r.greedyPassAt1 !== null || Object.keys(r.passAtK).length > 0);
  const title = 'Learning curve (held-out)';
  if (evaluated.length === 0) return { id: 'learning', title, none: 'no round has been evaluated yet' };
  const points = (values: Array<number | null>) => values;
  const promotedStyle = evaluated.map((r) => (r.promoted || r.round === 0 ? 'star' : 'circle'));
  const radius = evaluated.map((r) => (r.promoted && r.round > 0 ? 9 : 4));
  const datasets: Array<Record<string, unknown>> = [
    { label: 'greedy pass@1', data: points(evaluated.map((r) => r.greedyPassAt1)), borderColor: color(0), backgroundColor: color(0), pointStyle: promotedStyle, pointRadius: radius, borderWidth: 3 },
  ];
  let i = 1;
  for (const k of sortedKs(evaluated, 'passAtK')) {
    datasets.push({ label: `pass@${k}`, data: evaluated.map((r) => r.passAtK[k] ?? null), borderColor: color(i), backgroundColor: color(i++), pointRadius: 3 });
  }
  for (const k of sortedKs(evaluated, 'majAtK')) {
    datasets.push({ label: `maj@${k}`, data: evaluated.map((r) => r.majAtK[k] ?? null), borderColor: color(i), backgroundColor: color(i++), borderDash: [6, 4], pointRadius: 3 });
  }
  const search = evaluated.find((r) => r.search)?.search;
  if (search) {
    datasets.push({
      label: `with search: ${search.strategy}@${search.budget} calls`,
      data: evaluated.map((r) => r.search?.accuracy ?? null),
      borderColor: '#111827',
      backgroundColor: '#111827',
      borderWidth: 3,
      borderDash: [2, 3],
      pointRadius: 4,
    });
  }
  return {
    id: 'learning',
    title,
    caption: 'Each round trains a candidate on the previous round\'s verified traces; ★ marks rounds whose candidate was promoted. Dotted: the same model with search.',
    config: { type: 'line', data: { labels: evaluated.map(roundLabel), datasets }, options: base({ y: percentAxis('held-out accuracy'), x: axis('round') }) },
  };
}

/** c(k) = exp(a·k^b) at `k`. */
export const coverageFit = (fit: { a: number; b: number }, k: number) => Math.exp(fit.a * Math.pow(k, fit.b));

/** k from 1 to `max` in steps of √2: enough points for a smooth fitted curve on a log axis. */
export function kGrid(max: number): number[] {
  const out: number[] = [];
  for (let k = 1; k <= max * 1.0001; k *= Math.SQRT2) out.push(Number(k.toFixed(3)));
  return out;
}

/** Measured coverage c(k) of each round's model, its fit, and where doubling k stops paying (< 1 point). */
export function coverageCurves(rounds: ReportRound[]): Chart {
  const withCoverage = rounds.filter((r) => r.coverage && r.coverage.points.length > 0);
  const title = 'Coverage curve c(k): held-out problems solved by at least one of k samples';
  if (withCoverage.length === 0) return { id: 'coverage', title, none: 'no coverage measured yet (the evaluate stage computes it)' };
  const maxK = Math.max(...withCoverage.flatMap((r) => [...r.coverage!.points.map((p) => p.k), r.coverage!.stopsPayingAt ?? 0]));
  const datasets: Array<Record<string, unknown>> = [];
  withCoverage.forEach((r, i) => {
    const cov = r.coverage!;
    datasets.push({ label: `round ${r.round} measured`, data: cov.points.map((p) => ({ x: p.k, y: p.coverage })), borderColor: color(i), backgroundColor: color(i), showLine: false, pointRadius: 5 });
    if (cov.fit) {
      const fit = cov.fit;
      const stop = cov.stopsPayingAt ? `, doubling k past ${cov.stopsPayingAt} gains < 1 point` : '';
      datasets.push({
        label: `round ${r.round} fit exp(${fit.a.toFixed(2)}·k^${fit.b.toFixed(2)}), R²=${fit.r2.toFixed(2)}${stop}`,
        data: kGrid(Math.max(2, maxK)).map((k) => ({ x: k, y: coverageFit(fit, k) })),
        borderColor: color(i),
        backgroundColor: color(i),
        borderDash: [6, 4],
        pointRadius: 0,
        showLine: true,
      });
    }
  });
  const last = withCoverage[withCoverage.length - 1]!.coverage!;
  if (last.stopsPayingAt) {
    datasets.push({
      label: `k = ${last.stopsPayingAt}: more sampling stops paying (round ${withCoverage[withCoverage.length - 1]!.round})`,
      data: [
        { x: last.stopsPayingAt, y: 0 },
        { x: last.stopsPayingAt, y: 1 },
      ],
      borderColor: '#6b7280',
      backgroundColor: '#6b7280',
      borderDash: [2, 2],
      pointRadius: 0,
      showLine: true,
    });
  }
  return {
    id: 'coverage',
    title,
    caption: 'Points are measured pass@k; dashed lines the fit c(k) = exp(a·k^b) (Brown et al. 2024), extrapolated to where another doubling of k gains less than a point.',
    config: { type: 'scatter', data: { datasets }, options: base({ x: axis('k (samples per problem)', { type: 'logarithmic', min: 1 }), y: percentAxis('coverage') }) },
  };
}

/** Planned → traces → verified → correct → in a training set, per round, with search traces beside. */
export function funnel(rounds: ReportRound[], trainedFromRound: Record<string, number>): Chart {
  const title = 'Funnel per round: samples planned → traces → verified → correct → training set';
  if (rounds.length === 0) return { id: 'funnel', title, none: 'no round has started' };
  const series: Array<[string, (r: ReportRound) => number]> = [
    ['planned', (r) => r.planned],
    ['traces', (r) => r.traces],
    ['verified', (r) => r.verified],
    ['verified correct', (r) => r.correct],
    ['in the next training set', (r) => trainedFromRound[r.round] ?? 0],
    ['search traces (train)', (r) => r.searchTraces],
  ];
  return {
    id: 'funnel',
    title,
    caption: 'Sampled traces of each round (train problems), how many the verifier accepted and how many the next round trained on; step-level search adds traces of its own (right).',
    config: {
      type: 'bar',
      data: { labels: rounds.map((r) => `round ${r.round}`), datasets: series.map(([label, f], i) => ({ label, data: rounds.map(f), backgroundColor: color(i) })) },
      options: base({ y: axis('traces', { type: 'logarithmic' }), x: axis('round') }),
    },
  };
}

/**
 * Accuracy against model calls: for each round and strategy, the share of problems whose chosen answer verified
 * using at most x calls (a step function over the problems' spent calls).
 */
export function accuracyByCalls(outcomes: SearchOutcome[]): Array<{ label: string; purpose: string; points: Array<{ x: number; y: number }> }> {
  const groups = new Map<string, SearchOutcome[]>();
  for (const o of outcomes) {
    if (o.calls <= 0) continue; // searches over stored samples spend no calls of their own
    const key = `${o.purpose}\u0000${o.strategy}\u0000${o.round}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  return [...groups.entries()].map(([key, rows]) => {
    const [purpose, strategy, round] = key.split('\u0000');
    const sorted = [...rows].sort((a, b) => a.calls - b.calls);
    const points: Array<{ x: number; y: number }> = [];
    let solved = 0;
    sorted.forEach((o, i) => {
      if (o.correct) solved++;
      if (i === sorted.length - 1 || sorted[i + 1]!.calls !== o.calls) points.push({ x: o.calls, y: solved / sorted.length });
    });
    return { label: `${strategy} round ${round} (${purpose === 'eval' ? 'held-out' : 'train, unsolved'})`, purpose: purpose!, points };
  });
}

export function searchCompute(outcomes: SearchOutcome[]): Chart {
  const title = 'Search accuracy against model calls';
  const curves = accuracyByCalls(outcomes);
  if (curves.length === 0) return { id: 'search-calls', title, none: 'no step-level search in this run (search.step.strategy: none)' };
  return {
    id: 'search-calls',
    title,
    caption: 'Share of searched problems solved within x model calls (one call = one generated sequence), from flywheel.search_results.',
    config: {
      type: 'scatter',
      data: {
        datasets: curves.map((c, i) => ({ label: c.label, data: c.points, borderColor: color(i), backgroundColor: color(i), showLine: true, stepped: true, pointRadius: 2, borderDash: c.purpose === 'eval' ? [] : [5, 3] })),
      },
      options: base({ x: axis('model calls', { type: 'logarithmic', min: 1 }), y: percentAxis('solved') }),
    },
  };
}

const BIN_ORDER = ['solved-always', 'easy', 'medium', 'hard', 'unseen'];

/** The adaptive plan per round: samples given to each difficulty bin. */
export function adaptiveBins(bins: BudgetBin[]): Chart {
  const title = 'Adaptive budgets: samples per difficulty bin';
  if (bins.length === 0) return { id: 'bins', title, none: 'adaptive budgets were off in this run (adaptive.enabled: false)' };
  const rounds = [...new Set(bins.map((b) => b.round))].sort((a, b) => a - b);
  const names = [...new Set(bins.map((b) => b.bin))].sort((a, b) => rank(a) - rank(b));
  return {
    id: 'bins',
    title,
    caption: 'Where each round put its compute (Snell et al. 2024): bars are samples, the legend\'s counts are problems per bin over all rounds.',
    config: {
      type: 'bar',
      data: {
        labels: rounds.map((r) => `round ${r}`),
        datasets: names.map((bin, i) => ({
          label: `${bin} (${bins.filter((b) => b.bin === bin).reduce((a, b) => a + b.problems, 0)} problem-rounds)`,
          data: rounds.map((r) => bins.find((b) => b.round === r && b.bin === bin)?.samples ?? 0),
          backgroundColor: color(i),
        })),
      },
      options: base({ x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'samples' } } }),
    },
  };
}

const rank = (bin: string) => (BIN_ORDER.indexOf(bin) < 0 ? BIN_ORDER.length : BIN_ORDER.indexOf(bin));

export interface Difficulty {
  /** Problems solved (by some sample) in every round they were sampled, in some rounds, in none. */
  always: number;
  sometimes: number;
  never: number;
  perRound: Array<{ round: number; none: number; some: number; all: number }>;
  hardest: Array<{ problemId: number; problem: string; n: number; c: number; rounds: number }>;
}

/** Per-problem difficulty across rounds, from samples drawn (n) and correct (c) per problem and round. */
export function difficulty(rows: ProblemRound[], hardest = 10): Difficulty {
  const byProblem = new Map<number, ProblemRound[]>();
  for (const r of rows) byProblem.set(r.problemId, [...(byProblem.get(r.problemId) ?? []), r]);
  let always = 0;
  let sometimes = 0;
  let never = 0;
  const summary: Difficulty['hardest'] = [];
  for (const [problemId, rs] of byProblem) {
    const solvedRounds = rs.filter((r) => r.c > 0).length;
    if (solvedRounds === rs.length) always++;
    else if (solvedRounds === 0) never++;
    else sometimes++;
    summary.push({ problemId, problem: rs[0]!.problem, n: rs.reduce((a, r) => a + r.n, 0), c: rs.reduce((a, r) => a + r.c, 0), rounds: rs.length });
  }
  const perRound = [...new Set(rows.map((r) => r.round))]
    .sort((a, b) => a - b)
    .map((round) => {
      const rs = rows.filter((r) => r.round === round);
      return { round, none: rs.filter((r) => r.c === 0).length, some: rs.filter((r) => r.c > 0 && r.c < r.n).length, all: rs.filter((r) => r.n > 0 && r.c === r.n).length };
    });
  summary.sort((a, b) => a.c / a.n - b.c / b.n || b.n - a.n || a.problemId - b.problemId);
  return { always, sometimes, never, perRound, hardest: summary.slice(0, hardest) };
}

export function difficultyChart(d: Difficulty): Chart {
  const title = 'Train problems by how often their samples were right';
  if (d.perRound.length === 0) return { id: 'difficulty', title, none: 'no train samples verified yet' };
  const series: Array<[string, (r: Difficulty['perRound'][number]) => number, string]> = [
    ['no sample correct', (r) => r.none, '#dc2626'],
    ['some samples correct', (r) => r.some, '#ca8a04'],
    ['every sample correct', (r) => r.all, '#16a34a'],
  ];
  return {
    id: 'difficulty',
    title,
    caption: `Across rounds: ${d.always} problems solved in every round, ${d.sometimes} in some, ${d.never} never (by sampling; search may have solved them).`,
    config: {
      type: 'bar',
      data: { labels: d.perRound.map((r) => `round ${r.round}`), datasets: series.map(([label, f, c]) => ({ label, data: d.perRound.map(f), backgroundColor: c })) },
      options: base({ x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'train problems' } } }),
    },
  };
}

/**
 * Loss per step from what a trainer reported, in the shapes trainers use: `[{step, loss}]`, `{steps: [...]}`,
 * `{loss: [..]}` (index = step), or objects with `train_loss`. Null when there is nothing numeric to draw.
 */
export function lossPoints(progress: unknown): Array<{ x: number; y: number }> | null {
  if (progress === null || progress === undefined) return null;
  let entries: unknown = progress;
  if (!Array.isArray(entries) && typeof entries === 'object') {
    const o = entries as Record<string, unknown>;
    entries = o.steps ?? o.events ?? o.history ?? (Array.isArray(o.loss) ? (o.loss as unknown[]).map((loss, step) => ({ step, loss })) : null);
  }
  if (!Array.isArray(entries)) return null;
  const points: Array<{ x: number; y: number }> = [];
  entries.forEach((e, i) => {
    const o = (e ?? {}) as Record<string, unknown>;
    const loss = Number(o.loss ?? o.train_loss ?? o.trainLoss);
    const step = Number(o.step ?? o.global_step ?? o.iteration ?? i);
    if (Number.isFinite(loss) && Number.isFinite(step)) points.push({ x: step, y: loss });
  });
  return points.length ? points : null;
}

export function trainerChart(jobs: TrainerJobRow[]): Chart {
  const title = 'Trainer progress: loss per step';
  const curves = jobs.map((j) => ({ job: j, points: lossPoints(j.progress) })).filter((c) => c.points);
  if (jobs.length === 0) return { id: 'trainer', title, none: 'no trainer job yet (round 0 trains nothing)' };
  if (curves.length === 0) return { id: 'trainer', title, none: 'not reported: the trainer backend did not report loss per step for any job' };
  return {
    id: 'trainer',
    title,
    caption: 'Training loss per step as each round\'s trainer job reported it.',
    config: {
      type: 'scatter',
      data: { datasets: curves.map((c, i) => ({ label: `round ${c.job.round} (${c.job.externalJobId ?? c.job.backend})`, data: c.points, borderColor: color(i), backgroundColor: color(i), showLine: true, pointRadius: 1 })) },
      options: base({ x: axis('step'), y: axis('loss') }),
    },
  };
}

/** A failed model request's message as a kind: what an operator fixes differs between them. */
export function errorKind(error: string): string {
  if (/^429\b/.test(error)) return 'rate limited (429)';
  if (/^5\d\d\b/.test(error)) return `server error (${error.slice(0, 3)})`;
  if (/^(408|409)\b/.test(error)) return `retryable HTTP ${error.slice(0, 3)}`;
  if (/^4\d\d\b/.test(error)) return `client error (${error.slice(0, 3)})`;
  if (/timed out|timeout/i.test(error)) return 'timeout';
  if (/malformed/i.test(error)) return 'malformed response';
  if (/could not connect|ECONN|ENOTFOUND|EAI_AGAIN|socket/i.test(error)) return 'connection';
  return 'other';
}

export function errorsChart(errors: ModelErrorCount[], rounds: number[]): Chart {
  const title = 'Model errors by kind (every failed attempt, retried or final)';
  if (errors.length === 0) return { id: 'errors', title, none: 'no failed model request in this run' };
  const kinds = [...new Set(errors.map((e) => errorKind(e.error)))].sort();
  return {
    id: 'errors',
    title,
    caption: 'From flywheel.model_errors: a fault is counted even when a retry then succeeded.',
    config: {
      type: 'bar',
      data: {
        labels: rounds.map((r) => `round ${r}`),
        datasets: kinds.map((kind, i) => ({
          label: `${kind} (${errors.filter((e) => errorKind(e.error) === kind && e.final).reduce((a, e) => a + e.n, 0)} final)`,
          data: rounds.map((r) => errors.filter((e) => e.round === r && errorKind(e.error) === kind).reduce((a, e) => a + e.n, 0)),
          backgroundColor: color(i),
        })),
      },
      options: base({ x: { stacked: true }, y: { stacked: true, title: { display: true, text: 'failed attempts' } } }),
    },
  };
}
