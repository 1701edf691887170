/**
 * The run report in headless Chromium (Debian's `chromium` through playwright-core), from a real 2-round run:
 * every chart draws its data, the page makes no network request (it is opened from a file, offline, with every
 * request recorded), and the served index and pages of `flywheel dev` / `report --serve` work the same way. The run
 * trains no PRM, so its page has no PRM section; the last test adds PRMs to its rounds and finds the section.
 * `FLYWHEEL_UPDATE_SCREENSHOTS=1` writes the screenshot to docs/img/report.png (linked from the README).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'drizzle-orm';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun } from '../../cli/start.js';
import { reportHtml } from '../../cli/report-page.js';
import { serveReports, type ReportServer } from '../../cli/report-server.js';
import { runFlywheel } from '../helpers/processes.js';
import { tempDir } from '../helpers/services.js';
import { fixtureConfig, startFixtureRun, startFixtureServices, storeFixturePrms, type FixtureServices } from './report-fixture.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../docs/img/report.png', import.meta.url));
/** Charts this run has data for; the trainer (the local model reports no loss) and errors (none) say why not. */
const DRAWN = ['learning', 'coverage', 'funnel', 'search-calls', 'bins', 'difficulty'];

let services: FixtureServices;
let browser: Browser;
let runId: string;
let server: ReportServer;
const dir = tempDir('report');

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM)`);
  services = await startFixtureServices();
  const run = await startFixtureRun(services, 'report');
  runId = run.runId;
  [browser] = await Promise.all([
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] }),
    run.result,
  ]);
  server = await serveReports(services.db.db, { port: 0 });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await services?.stop();
  dir.remove();
});

/** A page that records every request it makes. */
async function recordingPage(): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  return { page, requests };
}

describe('flywheel report', () => {
  it('is one self-contained file: Chart.js and the data inline, nothing to fetch', async () => {
    const html = await reportHtml(services.db.db, runId);
    writeFileSync(path.join(dir.dir, 'report.html'), html);
    expect(html).toContain('Chart.js v4');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|sourceMappingURL|@import|url\(http/i);
    expect(html).toContain(runId);
    // A finished run's page does not reload itself.
    expect(html).not.toContain('http-equiv="refresh"');
    // It trained no PRM: no PRM section, no PRM chart.
    expect(html).not.toContain('Process reward model');
    expect(html).not.toContain('data-chart-id="prm"');
  });

  it('draws every chart with data from the run in Chromium, offline, making no request', async () => {
    const file = pathToFileURL(path.join(dir.dir, 'report.html')).href;
    const { page, requests } = await recordingPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    await page.goto(file, { waitUntil: 'load' });
    await page.waitForSelector('body[data-charts-drawn]');
    expect(errors).toEqual([]);
    // The only request is the file itself.
    expect(requests).toEqual([file]);

    const boxes = await page.$$eval('.chart-box', (els) =>
      els.map((el) => ({
        id: el.getAttribute('data-chart-id'),
        rendered: el.getAttribute('data-rendered'),
        points: Number(el.getAttribute('data-points') ?? 0),
        error: el.getAttribute('data-error'),
        none: el.getAttribute('data-none') === 'true' ? el.querySelector('.none')?.textContent : null,
      })),
    );
    expect(boxes.map((b) => b.id)).toEqual(['learning', 'coverage', 'funnel', 'search-calls', 'bins', 'difficulty', 'trainer', 'errors']);
    for (const id of DRAWN) {
      const box = boxes.find((b) => b.id === id)!;
      expect(box, id).toMatchObject({ rendered: 'true', error: null });
      expect(box.points, id).toBeGreaterThan(0);
    }
    expect(boxes.find((b) => b.id === 'trainer')!.none).toMatch(/^not reported/);
    expect(boxes.find((b) => b.id === 'errors')!.none).toBe('no failed model request in this run');

    // Each canvas really has ink on it (not a blank chart with axes only, which would be a few hundred pixels).
    const ink = await page.$$eval('canvas', (canvases) =>
      canvases.map((el) => {
        // In the page: a canvas (the test's types know no DOM).
        const c = el as unknown as { id: string; width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
        return { id: c.id, painted, width: c.width };
      }),
    );
    expect(ink.map((c) => c.id)).toEqual(DRAWN.map((id) => `chart-${id}`));
    for (const c of ink) expect(c.painted, c.id).toBeGreaterThan(2000);

    // Numbers from the run: the learning curve has a point per round (3 series at least), the funnel six series.
    expect(boxes.find((b) => b.id === 'learning')!.points).toBeGreaterThanOrEqual(3 * 3);
    expect(boxes.find((b) => b.id === 'funnel')!.points).toBe(6 * 3);
    const text = await page.textContent('main');
    expect(text).toContain('Lineage of the current model');
    expect(text).toContain('Hardest train problems');
    expect(text).toContain('"samplesPerProblem": 8');

    // The header, the rounds table and every chart (the tables below them are text).
    const bottom = await page.$eval('.grid', (el) => el.getBoundingClientRect().bottom + 16);
    const shot = await page.screenshot({ fullPage: true, clip: { x: 0, y: 0, width: 1400, height: Math.ceil(bottom) } });
    expect(shot.length).toBeGreaterThan(50_000);
    if (process.env.FLYWHEEL_UPDATE_SCREENSHOTS === '1') writeFileSync(SCREENSHOT, shot);
    await page.close();
  });

  it('is served with an index of runs; a live run\'s page refreshes itself', async () => {
    // A second run, stored but not started: it is live (created) until a workflow runs it.
    const pending = await createRun(services.db.db, { config: fixtureConfig('report-pending'), file: 'pending.yaml', dir: process.cwd() }, services.model.url);
    const { page, requests } = await recordingPage();
    await page.goto(`${server.url}/`);
    const links = await page.$$eval('a', (as) => as.map((a) => a.getAttribute('href')));
    expect(links).toEqual(expect.arrayContaining([`/runs/${runId}`, `/runs/${pending}`]));
    await page.click(`a[href="/runs/${runId}"]`);
    await page.waitForSelector('body[data-charts-drawn]');
    expect(await page.$$eval('.chart-box[data-rendered="true"]', (els) => els.length)).toBe(DRAWN.length);
    // Only the two pages themselves were requested.
    expect(requests).toEqual([`${server.url}/`, `${server.url}/runs/${runId}`]);

    const live = await fetch(`${server.url}/runs/${pending}`).then((r) => r.text());
    expect(live).toContain('<meta http-equiv="refresh" content="5">');
    const finished = await fetch(`${server.url}/runs/${runId}`).then((r) => r.text());
    expect(finished).not.toContain('http-equiv="refresh"');
    const missing = await fetch(`${server.url}/runs/no-such-run`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('no run &quot;no-such-run&quot; in the database');
    await page.close();
  });

  it('`flywheel report <run> --out` writes the page; an unknown run exits 2', async () => {
    const env = { DATABASE_URL: services.db.url, TEMPORAL_ADDRESS: services.temporal.address, FLYWHEEL_HOME: dir.dir };
    const out = path.join(dir.dir, 'cli-report.html');
    const res = await runFlywheel(['report', runId, '--out', out], env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`wrote ${out}`);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain(`flywheel run ${runId}`);
    expect(html).toContain('id="flywheel-charts"');
    const missing = await runFlywheel(['report', 'no-such-run', '--out', out], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no run "no-such-run"');
  });

  // Last: it adds PRMs to the fixture run, which the tests above see without.
  it('a run that trained PRMs gets a Process reward model section with its numbers and a drawn chart', async () => {
    const prms = await storeFixturePrms(services.db.db, runId);
    const html = await reportHtml(services.db.db, runId);
    const file = path.join(dir.dir, 'report-prm.html');
    writeFileSync(file, html);
    const { page, requests } = await recordingPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    await page.waitForSelector('body[data-charts-drawn]');
    expect(errors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(file).href]);

    expect(await page.textContent('#prm h2')).toBe('Process reward model');
    const rows = await page.$$eval('#prm table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const searches = async (round: number) => {
      const res = await services.db.db.execute(sql`SELECT count(*)::int AS n FROM flywheel.search_results s JOIN flywheel.rounds r ON r.id = s.round_id WHERE r.run_id = ${runId} AND r.index = ${round}`);
      return Number((res.rows[0] as { n: number }).n);
    };
    expect(await searches(1)).toBeGreaterThan(0);
    expect(rows).toEqual([
      ['1', 'prm-report-1', '24 (round 0: 24)', '10', 'succeeded (ftjob-prm-r1)', '68.8%', '81.3%', '0.742', '48 (12 good)', 'none (first PRM)', 'yes', prms[0]!.gate!.reason, String(3 * (await searches(1)))],
      ['2', 'prm-report-2', '42 (round 0: 24, round 1: 18)', '16', 'succeeded (ftjob-prm-r2)', '56.3%', '75.0%', '0.602', '48 (12 good)', '68.8% (prm-report-1)', 'no', prms[1]!.gate!.reason, String(2 * (await searches(2)))],
    ]);
    // Its chart draws balanced accuracy and AUC of both rounds and the incumbent of round 2; the grid is as before.
    const prmBox = await page.$eval('.chart-box[data-chart-id="prm"]', (el) => ({ rendered: el.getAttribute('data-rendered'), points: el.getAttribute('data-points'), error: el.getAttribute('data-error') }));
    expect(prmBox).toEqual({ rendered: 'true', points: '5', error: null });
    expect(await page.$$eval('.grid .chart-box', (els) => els.map((el) => el.getAttribute('data-chart-id')))).toEqual(['learning', 'coverage', 'funnel', 'search-calls', 'bins', 'difficulty', 'trainer', 'errors', 'prm']);
    await page.close();
  });

  it('the committed screenshot exists and is a PNG', () => {
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });
});
