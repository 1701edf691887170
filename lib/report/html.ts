/**
 * The run report as one self-contained HTML page: the charting library and the data are inlined, so the file opens
 * offline and the page makes no request. Tables are rendered here (escaped); charts are drawn in the page from
 * their Chart.js configurations.
 */
import {
  adaptiveBins,
  coverageCurves,
  difficulty,
  difficultyChart,
  errorKind,
  errorsChart,
  funnel,
  learningCurve,
  searchCompute,
  trainerChart,
  type Chart,
} from './charts.js';
import { prmChart, prmTable } from './prm.js';
import { roundColumns } from './round-table.js';
import type { ReportInput, ReportRound } from './types.js';

export interface RenderOptions {
  /** The source of Chart.js's UMD build, inlined into the page. */
  chartJs: string;
  /** Reload the page every N seconds (a live run served by `flywheel dev`); never in a file. */
  refreshSeconds?: number;
  /** Link back to the index of runs (served pages only). */
  indexHref?: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a <script> element (no `</script>`, no HTML comment openers, no U+2028). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A script's source that cannot end its <script> element early. */
const inlineScript = (source: string) => source.replace(/<\/script/gi, '<\\/script').replace(/\/\/# sourceMappingURL=.*$/gm, '');

/** The PRM's charts, below the grid (only for a run that trained one). */
const prmCharts = (input: ReportInput): Chart[] => (input.prm.length > 0 ? [prmChart(input.prm)] : []);

/** The charts every report has (each one draws, or says why it cannot). */
function gridCharts(input: ReportInput): Chart[] {
  const d = difficulty(input.problemRounds);
  return [
    learningCurve(input.rounds),
    coverageCurves(input.rounds),
    funnel(input.rounds, input.trainedFromRound),
    searchCompute(input.searchOutcomes),
    adaptiveBins(input.budgetBins),
    difficultyChart(d),
    trainerChart(input.trainer),
    errorsChart(input.modelErrors, input.rounds.map((r) => r.round)),
  ];
}

function roundsTable(rounds: ReportRound[]): string {
  const columns = roundColumns(rounds);
  const head = ['round', 'model', 'stage', ...columns.head, 'model errors'];
  const rows = rounds.map((r) => [String(r.round), r.model ?? '—', r.stage, ...columns.cells(r), String(r.modelErrors)]);
  return table(head, rows);
}

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function chartSection(chart: Chart): string {
  if ('none' in chart) {
    return `<section class="chart-box" data-chart-id="${escapeHtml(chart.id)}" data-none="true"><h2>${escapeHtml(chart.title)}</h2><p class="none">${escapeHtml(chart.none)}</p></section>`;
  }
  return `<section class="chart-box" data-chart-id="${escapeHtml(chart.id)}"><h2>${escapeHtml(chart.title)}</h2><p class="caption">${escapeHtml(chart.caption)}</p><div class="canvas-box"><canvas id="chart-${escapeHtml(chart.id)}"></canvas></div></section>`;
}

function lineageSection(input: ReportInput): string {
  if (input.lineage.length === 0) return `<p class="none">no lineage recorded for ${escapeHtml(input.currentModel)}</p>`;
  return table(
    ['depth', 'model', 'trained from', 'training set of round', 'examples', 'traces by sampled round'],
    input.lineage.map((l) => [
      String(l.depth),
      l.model,
      l.trainedFrom ?? '— (base model)',
      l.datasetRound === null ? '—' : String(l.datasetRound),
      l.datasetItems === null ? '—' : String(l.datasetItems),
      l.tracesByRound ? Object.entries(l.tracesByRound).map(([r, n]) => `round ${r}: ${n}`).join(', ') : '—',
    ]),
  );
}

/** The second learner, for a run that trained one: nothing at all otherwise. */
function prmSection(input: ReportInput, charts: Chart[]): string {
  if (input.prm.length === 0) return '';
  const { head, rows } = prmTable(input.prm);
  return `<section id="prm"><h2 class="section">Process reward model</h2>
<p class="caption">Each round's PRM (finetune.prm): the step labels its dataset held, its trainer job, the PRM gate's measurement on held-out step labels beside the incumbent's, and the PRM requests the round's searches made.</p>
${table(head, rows)}
<div class="grid">${charts.map(chartSection).join('\n')}</div></section>`;
}

function hardestSection(input: ReportInput): string {
  const d = difficulty(input.problemRounds);
  if (d.hardest.length === 0) return '';
  return `<h3>Hardest train problems (lowest share of correct samples over all rounds)</h3>${table(
    ['problem', 'correct / samples', 'rounds sampled', 'prompt'],
    d.hardest.map((h) => [h.problem, `${h.c} / ${h.n}`, String(h.rounds), (input.prompts[String(h.problemId)] ?? '').slice(0, 300)]),
  )}`;
}

function errorsTable(input: ReportInput): string {
  if (input.modelErrors.length === 0) return '';
  const byKind = new Map<string, { n: number; final: number; example: string }>();
  for (const e of input.modelErrors) {
    const k = errorKind(e.error);
    const cur = byKind.get(k) ?? { n: 0, final: 0, example: e.error };
    cur.n += e.n;
    if (e.final) cur.final += e.n;
    byKind.set(k, cur);
  }
  return table(['kind', 'failed attempts', 'final (no retry left)', 'example message'], [...byKind].map(([k, v]) => [k, String(v.n), String(v.final), v.example.slice(0, 200)]));
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#111827;background:#f9fafb}
header{background:#111827;color:#f9fafb;padding:16px 28px}header h1{margin:0 0 4px;font-size:20px}header p{margin:0;color:#d1d5db}
header a{color:#93c5fd}main{padding:16px 28px;max-width:1500px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(620px,1fr));gap:16px}
.chart-box{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px}
.chart-box h2{font-size:15px;margin:0 0 2px}.caption{color:#4b5563;margin:0 0 8px;font-size:12.5px}
.canvas-box{position:relative;height:320px}.none{color:#6b7280;font-style:italic}
table{border-collapse:collapse;background:#fff;margin:8px 0 16px;font-size:12.5px}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f4f6}
td{max-width:520px;overflow-wrap:anywhere}pre{background:#fff;border:1px solid #e5e7eb;padding:12px;overflow:auto;max-height:420px;font-size:12px}
h2.section{font-size:16px;margin:24px 0 4px}`;

/** The whole page. */
export function renderReport(input: ReportInput, options: RenderOptions): string {
  const grid = gridCharts(input);
  const prm = prmCharts(input);
  const charts = [...grid, ...prm];
  const drawn = charts.filter((c): c is Extract<Chart, { config: unknown }> => 'config' in c);
  const refresh = options.refreshSeconds ? `<meta http-equiv="refresh" content="${options.refreshSeconds}">` : '';
  const back = options.indexHref ? ` · <a href="${escapeHtml(options.indexHref)}">all runs</a>` : '';
  const live = options.refreshSeconds ? ` · live: refreshes every ${options.refreshSeconds} s` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">${refresh}
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>flywheel report · ${escapeHtml(input.name)} · ${escapeHtml(input.runId)}</title>
<style>${STYLE}</style></head>
<body>
<header><h1>flywheel run ${escapeHtml(input.runId)} · ${escapeHtml(input.name)}</h1>
<p>${escapeHtml(input.state)} · ${input.rounds.length} round(s) · base model ${escapeHtml(input.baseModel)} · current model ${escapeHtml(input.currentModel)} · started ${escapeHtml(input.createdAt)} · report of ${escapeHtml(input.generatedAt)}${live}${back}</p></header>
<main>
<h2 class="section">Rounds</h2>
${roundsTable(input.rounds)}
<div class="grid">
${grid.map(chartSection).join('\n')}
</div>
${prmSection(input, prm)}
${hardestSection(input)}
<h2 class="section">Lineage of the current model</h2>
${lineageSection(input)}
<h2 class="section">Model errors</h2>
${errorsTable(input) || '<p class="none">no failed model request in this run</p>'}
<h2 class="section">Run config</h2>
<pre>${escapeHtml(JSON.stringify(input.config, null, 2))}</pre>
</main>
<script>${inlineScript(options.chartJs)}</script>
<script id="flywheel-charts" type="application/json">${scriptJson(drawn.map((c) => ({ id: c.id, config: c.config })))}</script>
<script>${inlineScript(DRAW)}</script>
</body></html>
`;
}

/** In the page: draw every chart, then say how many points each one drew (tests and people can read it). */
const DRAW = `
(function drawCharts() {
  var specs = JSON.parse(document.getElementById('flywheel-charts').textContent);
  var percent = function (v) { return (100 * v).toFixed(0) + '%'; };
  specs.forEach(function (spec) {
    var canvas = document.getElementById('chart-' + spec.id);
    var box = canvas.closest('.chart-box');
    try {
      var config = spec.config;
      Object.keys(config.options.scales || {}).forEach(function (key) {
        var scale = config.options.scales[key];
        if (scale.ticks && scale.ticks.format && scale.ticks.format.style === 'percent') {
          delete scale.ticks.format;
          scale.ticks.callback = percent;
        }
      });
      var chart = new Chart(canvas, config);
      var points = chart.data.datasets.reduce(function (n, d) { return n + d.data.filter(function (v) { return v !== null && v !== undefined; }).length; }, 0);
      box.setAttribute('data-rendered', 'true');
      box.setAttribute('data-points', String(points));
    } catch (err) {
      box.setAttribute('data-error', String(err && err.message || err));
    }
  });
  document.body.setAttribute('data-charts-drawn', String(specs.length));
})();
`;
