/**
 * Live progress of a run from Postgres. On a terminal: a bar per round and stage (cli-progress) with counts, rate
 * and ETA where the stage has a count (generate, verify), a status line where it has none; finished stages stay
 * on screen. Not on a terminal: one line per stage, as it finishes.
 */
import cliProgress from 'cli-progress';
import type { Db } from '../db/client.js';
import { roundReports, type RoundReport } from '../db/report.js';

export function describeProgress(r: RoundReport): string {
  const head = `round ${r.round} · ${r.stage}`;
  switch (r.stage) {
    case 'generate':
      return `${head} · ${r.traces}/${r.planned} traces`;
    case 'verify':
      return `${head} · ${r.verified}/${r.traces} verified · ${r.correct} correct`;
    case 'search':
      return `${head} · ${r.correct}/${r.traces} correct`;
    case 'filter':
      return `${head} · building the training set`;
    case 'fine-tune':
      return `${head} · ${r.datasetItems ?? 0} examples · trainer job ${r.fineTuneJobs ? 'running' : 'submitting'}`;
    case 'deploy':
      return `${head} · loading ${r.model ?? 'the new model'} into the inference replicas`;
    case 'evaluate':
      return `${head} · held-out eval of ${r.model ?? '?'}`;
    case 'promote':
      return `${head} · greedy pass@1 ${r.greedyPassAt1 === null ? '—' : (100 * r.greedyPassAt1).toFixed(1) + '%'}`;
    case 'done':
      return `round ${r.round} · done · greedy pass@1 ${r.greedyPassAt1 === null ? '—' : (100 * r.greedyPassAt1).toFixed(1) + '%'}`;
    default:
      return head;
  }
}

/** What a stage counts, when it counts something: done out of total. */
export function stageCount(r: RoundReport): { done: number; total: number; unit: string } | null {
  if (r.stage === 'generate') return { done: r.traces, total: Math.max(r.planned, r.traces), unit: 'traces' };
  if (r.stage === 'verify') return { done: r.verified, total: Math.max(r.traces, r.verified), unit: 'verdicts' };
  return null;
}

export interface ProgressView {
  /** The run's rounds as they stand now. */
  update(rounds: RoundReport[]): void;
  stop(): void;
}

type Stream = NodeJS.WritableStream & { isTTY?: boolean };

/** Lines, one per stage once it is over (for logs and pipes). */
export function lineProgress(out: Stream): ProgressView {
  let lastKey = '';
  let lastLine = '';
  return {
    update(rounds) {
      const current = rounds[rounds.length - 1];
      if (!current) return;
      const key = `${current.round}:${current.stage}`;
      if (key !== lastKey && lastLine) out.write(`${lastLine}\n`);
      lastKey = key;
      lastLine = describeProgress(current);
    },
    stop() {
      if (lastLine) out.write(`${lastLine}\n`);
      lastLine = '';
    },
  };
}

const COUNTED = '{label} {bar} {value}/{total} {unit} · {rate}/s · ETA {eta_formatted}';
const STATUS = '{label} {bar} {detail}';

/** Bars on a terminal: one per round and stage, created when the stage starts, full when it ends. */
export function barProgress(out: Stream): ProgressView {
  const multibar = new cliProgress.MultiBar(
    { stream: out, clearOnComplete: false, hideCursor: true, barsize: 24, format: COUNTED, etaBuffer: 20, autopadding: true, forceRedraw: true },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, { bar: cliProgress.SingleBar; started: number; counted: boolean }>();
  let last: { key: string; report: RoundReport } | null = null;
  const finish = (key: string) => {
    const entry = bars.get(key);
    if (!entry) return;
    const total = entry.bar.getTotal();
    entry.bar.update(total, { detail: 'done' });
  };
  return {
    update(rounds) {
      const current = rounds[rounds.length - 1];
      if (!current) return;
      const key = `${current.round}:${current.stage}`;
      if (last && last.key !== key) finish(last.key);
      const count = stageCount(current);
      const label = `round ${current.round} ${current.stage.padEnd(9)}`;
      let entry = bars.get(key);
      if (!entry && current.stage !== 'done') {
        const bar = count
          ? multibar.create(count.total, count.done, { label, unit: count.unit, rate: '0', detail: '' })
          : multibar.create(1, 0, { label, detail: describeProgress(current) }, { format: STATUS });
        entry = { bar, started: Date.now(), counted: count !== null };
        bars.set(key, entry);
      }
      if (entry) {
        if (count && entry.counted) {
          const seconds = Math.max(0.001, (Date.now() - entry.started) / 1000);
          entry.bar.setTotal(count.total);
          entry.bar.update(count.done, { rate: (count.done / seconds).toFixed(0) });
        } else if (!count) {
          entry.bar.update(0, { detail: describeProgress(current) });
        }
      }
      last = { key, report: current };
    },
    stop() {
      if (last) finish(last.key);
      multibar.stop();
    },
  };
}

export function progressView(out: Stream): ProgressView {
  return out.isTTY ? barProgress(out) : lineProgress(out);
}

/** Polls until `until` settles, drawing progress on `out` (stderr). */
export async function followProgress<T>(db: Db, runId: string, until: Promise<T>, out: Stream = process.stderr): Promise<T> {
  let settled = false;
  const done = until.finally(() => {
    settled = true;
  });
  const view = progressView(out);
  try {
    while (!settled) {
      view.update(await roundReports(db, runId).catch(() => []));
      await Promise.race([done.catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
    }
    view.update(await roundReports(db, runId).catch(() => []));
  } finally {
    view.stop();
  }
  return done;
}
