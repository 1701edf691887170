/**
 * Screenshots for `docs/resume-from-ui.md`, taken from the real Temporal Web UI in headless Chromium: a run whose
 * first round waits for attention (the model server is down), the operator's way through the UI to `resumeRound`
 * (the update is really sent from the UI's dialog), and the run completed afterwards.
 *
 * It starts everything it needs (a Temporal dev server with its UI, a fresh Postgres database, the embedded model
 * server behind a fault proxy, workers) and stops all of it, also on failure or Ctrl-C. Needs Debian's `chromium`
 * (or CHROMIUM=/path/to/chrome) and no network. Run it after a change to the UI text of rounds (summaries, details,
 * handler descriptions) or a Temporal CLI bump, and commit the images:
 *
 *   npx tsx docs/screenshots.ts
 *
 * (`tsx` kills its child outright when a Ctrl-C finds it busy for a few milliseconds, as while it starts, and then the
 * test database stays behind; `node --import tsx docs/screenshots.ts` has no such middleman.)
 */
import { mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { createRun, startRunWorkflow } from '../cli/start.js';
import { parseRunConfig } from '../config/load.js';
import { startTemporalDevServer } from '../infra/temporal-server.js';
import { startFaultProxy } from '../test/helpers/fault-proxy.js';
import { testDatabase, testModelServer, testWorkers } from '../test/helpers/services.js';
import { FLYWHEEL_STATUS, roundStatusQuery, workflowIds } from '../workflows/shared.js';

const IMAGES = fileURLToPath(new URL('./img/', import.meta.url));
const VIEWPORT = { width: 1400, height: 900 };
const NAMESPACE = 'default';
const NOTE = { note: 'model server back' };

/** Small and quick: two rounds of countdown; with the model server down, retries give up in about a second. */
const CONFIG = parseRunConfig(`
name: resume-demo
rounds: 1
task: {kind: countdown, seed: 5, train: 24, test: 12}
generate: {samplesPerProblem: 4, shardSamples: 32}
finetune: {hyperparameters: {nEpochs: 5}, pollIntervalMs: 100}
evaluate: {samples: 2, k: [1, 2]}
model: {maxRetries: 0, timeoutMs: 2000}
durability: {activityAttempts: 2, retryInitialIntervalMs: 100, retryMaxIntervalMs: 200, heartbeatTimeoutSeconds: 5}
`);

/** The list's columns (the gear icon under the table sets the same): our search attributes next to the status. */
const LIST_COLUMNS = [
  { label: 'Status', pinned: true },
  { label: 'Workflow ID', pinned: true },
  { label: 'FlywheelStatus', pinned: false },
  { label: 'FlywheelStage', pinned: false },
  { label: 'FlywheelRound', pinned: false },
  { label: 'Type', pinned: false },
];

const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** What was started, stopped in reverse order whatever happens (an error, Ctrl-C). */
class Cleanup {
  private readonly steps: Array<{ name: string; stop: () => Promise<unknown> }> = [];
  private done: Promise<void> | null = null;

  add(name: string, stop: () => Promise<unknown>): void {
    this.steps.push({ name, stop });
    // Started after the cleanup ended (an interrupt came while it was starting): stop it at once.
    if (this.done) void this.done.then(() => this.stopAll());
  }

  /** Stops everything; every caller waits for the same cleanup. */
  run(): Promise<void> {
    this.done ??= this.stopAll();
    return this.done;
  }

  private async stopAll(): Promise<void> {
    // Popped one at a time, so that what is added meanwhile is stopped too.
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      const { name, stop } = step;
      await stop().catch((err: unknown) => console.error(`stopping ${name} failed: ${(err as Error).message ?? err}`));
    }
  }
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  // Ctrl-C reaches this process twice (from the terminal and relayed by tsx): stop once, ignore the rest.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`${signal}: stopping what was started`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await takeScreenshots(cleanup);
  } finally {
    await cleanup.run();
  }
}

/** Postgres, Temporal with its UI, the model server behind a fault proxy (down), workers and a client. */
async function startServices(cleanup: Cleanup) {
  const db = await testDatabase();
  cleanup.add('the test database', () => db.drop());
  const temporal = await startTemporalDevServer({ log: () => {} });
  cleanup.add('the Temporal dev server', () => temporal.stop());
  const model = await testModelServer();
  cleanup.add('the model server', () => model.close());
  const proxy = await startFaultProxy({ target: model.url.replace(/\/v1$/, '') });
  cleanup.add('the fault proxy', () => proxy.close());
  await proxy.down();
  const workers = await testWorkers({ temporal, db, modelUrl: proxy.url });
  cleanup.add('the workers', () => workers.shutdown());
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: NAMESPACE });
  cleanup.add('the Temporal client', () => client.connection.close());
  return { db, uiUrl: temporal.uiUrl!, proxy, client };
}

async function takeScreenshots(cleanup: Cleanup): Promise<void> {
  mkdirSync(IMAGES, { recursive: true });
  log('starting Postgres, the Temporal dev server with its UI, the model server behind a fault proxy, workers');
  const { db, uiUrl, proxy, client } = await startServices(cleanup);

  const runId = await createRun(db.db, { config: CONFIG, file: 'resume-demo.yaml', dir: process.cwd() }, proxy.url);
  const run = await startRunWorkflow(client, runId, `flywheel run ${CONFIG.name}: ${CONFIG.rounds} rounds`);
  const round = client.workflow.getHandle(workflowIds.round(runId, 0));
  const needsAttention = async () => (await round.query(roundStatusQuery).catch(() => null))?.needsAttention;
  log(`run ${runId} started with the model server down; waiting for round 0 to need attention`);
  await waitUntil('round 0 to need attention', 120_000, async () => (await needsAttention()) === true);

  // Our cleanup closes the browser: Playwright's own signal handlers would end this process before the rest is stopped.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  cleanup.add('Chromium', () => browser.close());
  const page = await openUi(browser, uiUrl);
  const ui = `${uiUrl}/namespaces/${NAMESPACE}/workflows`;
  const shots: string[] = [];
  const shoot = async (name: string, clip: Partial<Clip> = {}) => {
    await screenshot(page, name, clip);
    shots.push(name);
  };

  log('01: the workflow list, filtered by FlywheelStatus');
  await page.goto(`${ui}?query=${encodeURIComponent(`FlywheelStatus="${FLYWHEEL_STATUS.needsAttention}"`)}`);
  await listShows(page, [round.workflowId, run.workflowId]);
  await shoot('01-needs-attention-list.png', { height: 360 });

  log('02: the round explains itself (User Metadata tab)');
  await page.goto(`${ui}/${encodeURIComponent(round.workflowId)}`);
  await page.getByRole('tab', { name: 'User Metadata' }).click();
  await markdownShows(page, 'needs attention');
  await fitMarkdownFrames(page);
  await shoot('02-round-current-details.png');

  log('03: More Actions');
  await page.getByRole('button', { name: 'More Actions' }).click();
  const sendUpdate = page.getByRole('menuitem', { name: 'Send an Update' });
  await sendUpdate.waitFor();
  await shoot('03-more-actions.png', { height: 440 });
  await sendUpdate.click();

  log('04: Send an Update: the update names and their descriptions');
  const dialog = page.locator('dialog[open]');
  await dialog.getByRole('heading', { name: 'Send an Update' }).waitFor();
  await dialog.getByTestId('update-select-button').click();
  const option = dialog.getByRole('option', { name: /resumeRound/ });
  await option.waitFor();
  await shoot('04-choose-resumeRound.png', around(await box(dialog), 24));

  log('05: resumeRound chosen, with a note; the model server is back');
  await option.click();
  // The data field is a CodeMirror editor: insert the text whole, so that its bracket completion adds nothing.
  await dialog.locator('.cm-content').click();
  await page.keyboard.insertText(JSON.stringify(NOTE));
  await dialog.locator('.cm-content').getByText(NOTE.note).waitFor();
  await page.mouse.move(0, 0);
  await proxy.up();
  await shoot('05-update-filled.png', around(await box(dialog), 24));

  log('submitting resumeRound from the UI');
  await dialog.getByRole('button', { name: 'Submit' }).click();
  // The dialog closes once the workflow took the update; a rejected one (say, its validator's answer) stays as an alert.
  const refused = dialog.getByRole('alert').filter({ hasText: /\S/ }).first();
  await waitUntil('the update dialog to close', 30_000, async () => {
    if (await refused.isVisible()) throw new Error(`the UI could not send resumeRound: ${await refused.innerText()}`);
    return (await dialog.count()) === 0;
  });
  await waitUntil('round 0 to leave NeedsAttention', 30_000, async () => (await needsAttention()) === false);

  log('waiting for the run to complete');
  const result = await run.result();
  if (result.state !== 'completed') throw new Error(`run ${runId} ended ${result.state}, not completed`);

  log('06: the history of round 0: failed shards, resumeRound, the retry');
  await page.goto(`${ui}/${encodeURIComponent(round.workflowId)}`);
  await page.getByRole('button', { name: 'Descending' }).click();
  await page.getByRole('button', { name: 'Ascending' }).waitFor();
  await page.locator('svg text', { hasText: 'resumeRound' }).first().waitFor();
  const history = page.getByRole('heading', { name: 'Event History' });
  await history.evaluate((el) => el.scrollIntoView({ block: 'center' }));
  const heading = await box(history);
  const below = await box(page.getByRole('button', { name: 'Compact' }));
  await shoot('06-round-history-resumed.png', { x: heading.x - 16, y: heading.y - 12, width: VIEWPORT.width - heading.x + 16, height: below.y - heading.y - 8 });

  log('07: the run and its rounds, completed');
  await page.goto(`${ui}?query=${encodeURIComponent(`FlywheelRunId="${runId}"`)}`);
  await listShows(page, [run.workflowId, round.workflowId, workflowIds.round(runId, 1)], 'Completed');
  await shoot('07-run-completed-list.png', { height: 400 });

  log('08: the run page, its rounds as child workflows');
  await page.goto(`${ui}/${encodeURIComponent(run.workflowId)}`);
  await page.getByRole('tab', { name: /^Relationships/ }).click();
  await page.getByRole('link', { name: workflowIds.round(runId, 1) }).waitFor();
  await shoot('08-run-rounds.png', { height: 800 });

  for (const name of shots) console.log(`docs/img/${name}  ${Math.round(statSync(`${IMAGES}${name}`).size / 1024)} KB`);
}

/**
 * A fresh browser context (a `launch`ed Chromium has a fresh, temporary profile) with the list columns preset, in
 * UTC and English so that the pictures do not depend on the machine.
 */
async function openUi(browser: Browser, uiUrl: string): Promise<Page> {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, timezoneId: 'UTC', locale: 'en-US', colorScheme: 'light' });
  // Where the UI keeps the column choice (per namespace); the script runs in the page, before the UI's own.
  const columns = JSON.stringify({ [NAMESPACE]: LIST_COLUMNS });
  await context.addInitScript({
    content: `localStorage.getItem('namespace-workflow-table-columns') ?? localStorage.setItem('namespace-workflow-table-columns', ${JSON.stringify(columns)});`,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (err) => console.error(`UI error: ${err.message}`));
  await page.goto(uiUrl);
  return page;
}

/** Waits until the list shows every workflow id (with `status` in its row, when given). */
async function listShows(page: Page, ids: string[], status?: string): Promise<void> {
  for (const id of ids) {
    const row = page.getByRole('row').filter({ hasText: id });
    await row.first().waitFor();
    if (status) {
      await waitUntil(`${id} to show ${status}`, 30_000, async () => {
        if ((await row.first().innerText()).includes(status)) return true;
        await page.reload();
        await row.first().waitFor();
        return false;
      });
    }
  }
  // The row count in the header comes with the rows, the column headers a little later.
  await page.getByRole('columnheader', { name: 'FlywheelStatus' }).first().waitFor();
  // Folding the saved views panel leaves room for the search attribute columns.
  const fold = page.getByRole('button', { name: 'Collapse saved views' });
  if (await fold.isVisible()) await fold.click();
}

/** Waits for a markdown frame of the User Metadata tab that contains `text`. */
async function markdownShows(page: Page, text: string): Promise<void> {
  await waitUntil(`the current details to say "${text}"`, 30_000, async () => {
    for (const frame of page.frames()) {
      if (!frame.url().includes('/render?')) continue;
      const body = await frame.locator('body').innerText().catch(() => '');
      if (body.includes(text)) return true;
    }
    return false;
  });
}

/**
 * Makes the markdown frames of the User Metadata tab show all their text. The UI sizes each frame once, when it loads,
 * a few lines short of its text (the rest scrolls), and its frames lose their stylesheet, so a long line in a code
 * block runs off to the right. Wrap such lines and fit each frame to its content, so the picture shows the whole
 * explanation: the words are the workflow's, only the layout differs.
 */
async function fitMarkdownFrames(page: Page): Promise<void> {
  for (const handle of await page.locator('iframe[src*="/render?"]').elementHandles()) {
    const frame = await handle.contentFrame();
    if (!frame) continue;
    // Through the CSSOM: the frame's content security policy refuses a style sheet of ours.
    await frame.locator('pre').evaluateAll((blocks) => {
      for (const pre of blocks) Object.assign(pre.style, { whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' });
    });
    const height = await frame.locator('html').evaluate((html) => html.scrollHeight);
    await handle.evaluate((el, h) => el.setAttribute('height', `${h + 8}px`), height);
  }
}

interface Clip {
  x: number;
  y: number;
  width: number;
  height: number;
}

async function box(locator: Locator): Promise<Clip> {
  const b = await locator.boundingBox();
  if (!b) throw new Error('element to frame is not visible');
  return b;
}

/** `clip` grown by `margin` on every side, kept inside the viewport. */
function around(clip: Clip, margin: number): Clip {
  const x = Math.max(0, Math.floor(clip.x - margin));
  const y = Math.max(0, Math.floor(clip.y - margin));
  return {
    x,
    y,
    width: Math.min(VIEWPORT.width - x, Math.ceil(clip.width + 2 * margin)),
    height: Math.min(VIEWPORT.height - y, Math.ceil(clip.height + 2 * margin)),
  };
}

async function screenshot(page: Page, name: string, clip: Partial<Clip> = {}): Promise<void> {
  // Let fonts and transitions (menus fade and scale in) settle.
  await page.evaluate('document.fonts.ready.then(() => true)');
  await page.waitForTimeout(400);
  const full = { x: 0, y: 0, ...VIEWPORT };
  await page.screenshot({ path: `${IMAGES}${name}`, clip: { ...full, ...clip } });
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function log(message: string): void {
  console.log(`screenshots: ${message}`);
}

await main();
