/** Live progress of a run from Postgres: one line per stage change, refreshed in place on a terminal. */
import type { Db } from '../db/client.js';
import { roundReports, type RoundReport } from './report.js';

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

/** Polls until `until` settles, writing progress lines to `out` (stderr). */
export async function followProgress<T>(db: Db, runId: string, until: Promise<T>, out: NodeJS.WriteStream = process.stderr): Promise<T> {
  let settled = false;
  const done = until.finally(() => {
    settled = true;
  });
  let lastKey = '';
  let lastLine = '';
  const tty = out.isTTY;
  while (!settled) {
    const rounds = await roundReports(db, runId).catch(() => []);
    const current = rounds[rounds.length - 1];
    if (current) {
      const line = describeProgress(current);
      const key = `${current.round}:${current.stage}`;
      if (key !== lastKey) {
        if (lastLine) out.write(tty ? `\r\x1b[2K${lastLine}\n` : `${lastLine}\n`);
        lastKey = key;
      }
      if (tty && line !== lastLine) out.write(`\r\x1b[2K${line}`);
      lastLine = line;
    }
    await Promise.race([done.catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
  }
  if (lastLine) out.write(tty ? `\r\x1b[2K${lastLine}\n` : `${lastLine}\n`);
  return done;
}
