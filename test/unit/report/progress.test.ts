import { describe, expect, it } from 'vitest';
import { barProgress, lineProgress, stageCount } from '../../../cli/progress.js';
import type { RoundReport } from '../../../db/report.js';

const report = (over: Partial<RoundReport>): RoundReport => ({
  round: 0,
  model: 'm',
  sampler: 'm',
  stage: 'generate',
  status: 'running',
  planned: 800,
  traces: 0,
  verified: 0,
  correct: 0,
  errors: 0,
  fineTuneJobs: 0,
  datasetItems: null,
  greedyPassAt1: null,
  passAtK: {},
  majAtK: {},
  promoted: null,
  searchTraces: 0,
  searchProblemsSolved: 0,
  search: null,
  modelErrors: 0,
  coverage: null,
  rationalized: 0,
  rationalizedCorrect: 0,
  tokens: 0,
  cost: null,
  ...over,
});

/** A terminal that records what is written to it (cursor moves included, as cli-progress sends them). */
function fakeTerminal() {
  let text = '';
  const stream = {
    isTTY: true,
    columns: 160,
    write(chunk: string) {
      text += chunk;
      return true;
    },
    cursorTo() {
      return true;
    },
    moveCursor() {
      return true;
    },
    clearLine() {
      return true;
    },
    clearScreenDown() {
      return true;
    },
    on() {
      return stream;
    },
    removeListener() {
      return stream;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('progress', () => {
  it('counts generate and verify, and nothing for stages without a count', () => {
    expect(stageCount(report({ stage: 'generate', traces: 200 }))).toEqual({ done: 200, total: 800, unit: 'traces' });
    expect(stageCount(report({ stage: 'verify', traces: 800, verified: 100 }))).toEqual({ done: 100, total: 800, unit: 'verdicts' });
    expect(stageCount(report({ stage: 'fine-tune' }))).toBeNull();
  });

  it('off a terminal: one line per stage, written when it is over', () => {
    let out = '';
    const view = lineProgress({ write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream);
    view.update([report({ traces: 100 })]);
    view.update([report({ traces: 800 })]);
    expect(out).toBe('');
    view.update([report({ stage: 'verify', traces: 800, verified: 10 })]);
    expect(out).toBe('round 0 · generate · 800/800 traces\n');
    view.stop();
    expect(out).toBe('round 0 · generate · 800/800 traces\nround 0 · verify · 10/800 verified · 0 correct\n');
  });

  it('on a terminal: a bar per stage with counts, rate and ETA; stages without a count show their status', () => {
    const term = fakeTerminal();
    const view = barProgress(term.stream);
    view.update([report({ traces: 400 })]);
    view.update([report({ stage: 'fine-tune', datasetItems: 120, fineTuneJobs: 1 })]);
    view.stop();
    const text = term.text();
    expect(text).toMatch(/round 0 generate .* 800\/800 traces · \d+\/s · ETA/);
    expect(text).toContain('round 0 fine-tune');
    expect(text).toContain('done');
  });
});
