import { describe, expect, it } from 'vitest';
import { renderReport, scriptJson } from '../../../lib/report/html.js';
import type { ReportInput } from '../../../lib/report/types.js';

const input = (over: Partial<ReportInput> = {}): ReportInput => ({
  runId: 'r1',
  name: 'demo <b>',
  state: 'completed',
  createdAt: '2026-01-01T00:00:00Z',
  baseModel: 'base',
  currentModel: 'ft:base:1',
  config: { name: 'demo', note: '</script><script>alert(1)</script>' },
  rounds: [],
  trainedFromRound: {},
  searchOutcomes: [],
  budgetBins: [],
  problemRounds: [{ problemId: 7, problem: 'p7', round: 0, n: 4, c: 0 }],
  prompts: { '7': 'Make <24> from 1 2 3 4' },
  trainer: [],
  lineage: [],
  modelErrors: [],
  prm: [],
  generatedAt: '2026-01-01T00:01:00Z',
  ...over,
});

describe('the report page', () => {
  it('escapes what it shows: no text from the run can open a tag or end a script', () => {
    const html = renderReport(input(), { chartJs: 'window.Chart = function () {};' });
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('demo &lt;b&gt;');
    expect(html).toContain('Make &lt;24&gt; from 1 2 3 4');
    expect(scriptJson({ a: '</script><!--' })).toBe('{"a":"\\u003c/script\\u003e\\u003c!--"}');
    expect(JSON.parse(scriptJson({ a: '</script>\u2028' }))).toEqual({ a: '</script>\u2028' });
  });

  it('inlines the library without its source map link, refreshes only when asked, and forbids requests', () => {
    const html = renderReport(input(), { chartJs: 'var Chart = 1;\n//# sourceMappingURL=chart.umd.min.js.map' });
    expect(html).toContain('var Chart = 1;');
    expect(html).not.toContain('sourceMappingURL');
    expect(html).not.toContain('http-equiv="refresh"');
    expect(html).toContain(`content="default-src 'none'; script-src 'unsafe-inline'`);
    const live = renderReport(input({ state: 'running' }), { chartJs: '', refreshSeconds: 5, indexHref: '/' });
    expect(live).toContain('<meta http-equiv="refresh" content="5">');
    expect(live).toContain('<a href="/">all runs</a>');
  });

  it('has a PRM section only for a run that trained a PRM, escaped like the rest', () => {
    const without = renderReport(input(), { chartJs: '' });
    expect(without).not.toContain('Process reward model');
    expect(without).not.toContain('data-chart-id="prm"');
    const prm = {
      round: 1,
      model: 'prm-<1>',
      jobStatus: 'succeeded',
      externalJobId: 'ftjob-1',
      stepLabelsByRound: { '0': 30 },
      examples: 12,
      gate: {
        heldOut: { accuracy: 0.75, balancedAccuracy: 0.7, auc: 0.8125, steps: 40, positives: 10 },
        incumbent: null,
        promoted: true,
        reason: 'the run has no measured PRM yet',
        scorerCalls: 40,
      },
      searchScorerCalls: 96,
    };
    const html = renderReport(input({ prm: [prm] }), { chartJs: '' });
    expect(html).toContain('<section id="prm"><h2 class="section">Process reward model</h2>');
    expect(html).toContain('<td>prm-&lt;1&gt;</td>');
    expect(html).not.toContain('prm-<1>');
    expect(html).toContain('data-chart-id="prm"><h2>');
    const specs = JSON.parse(html.match(/<script id="flywheel-charts" type="application\/json">(.*?)<\/script>/)![1]!) as Array<{ id: string }>;
    expect(specs.map((s) => s.id)).toContain('prm');
  });

  it('says why a chart is missing instead of drawing an empty one', () => {
    const html = renderReport(input(), { chartJs: '' });
    expect(html).toContain('data-chart-id="learning" data-none="true"');
    expect(html).toContain('no round has been evaluated yet');
    expect(html).toContain('data-chart-id="difficulty"><h2>');
  });
});
