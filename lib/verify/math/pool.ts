/**
 * Math verdicts in a small pool of worker threads, each verdict with a time limit: the compute engine is
 * synchronous, so an answer like `10^{10^{10}}` or a 50 kB expression would otherwise stall the whole shard. A
 * worker past the limit is terminated and replaced; its verdict is an "error".
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Verdict } from '../types.js';
import type { MathOptions } from './options.js';

export interface MathJob {
  gold: string;
  text: string;
  options: MathOptions;
}

// The worker runs the TypeScript verdict module through tsx's loader, in the CLI and under vitest alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { register } = await import('tsx/esm/api');
  register();
  const { verifyMath } = await import(workerData.module);
  parentPort.on('message', (job) => {
    try {
      parentPort.postMessage({ id: job.id, verdict: verifyMath(job.gold, job.text, job.options) });
    } catch (err) {
      parentPort.postMessage({ id: job.id, error: String(err && err.message || err) });
    }
  });
  parentPort.postMessage({ ready: true });
})().catch((err) => { throw err; });
`;

interface Pending {
  id: number;
  job: MathJob;
  timeoutMs: number;
  resolve(v: Verdict): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: Pending | null;
  timer: NodeJS.Timeout | null;
}

export class MathPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly size = Math.max(1, Math.min(4, availableParallelism() - 1))) {}

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: new URL('./verdict.ts', import.meta.url).href },
    });
    worker.unref();
    let markReady: () => void = () => {};
    const slot: Slot = { worker, ready: new Promise((r) => (markReady = r)), busy: null, timer: null };
    worker.on('message', (msg: { ready?: boolean; id?: number; verdict?: Verdict; error?: string }) => {
      if (msg.ready) return markReady();
      const pending = slot.busy;
      if (!pending || pending.id !== msg.id) return;
      this.finish(slot);
      if (msg.error !== undefined) pending.reject(new Error(msg.error));
      else pending.resolve(msg.verdict!);
      this.pump();
    });
    worker.on('error', (err) => {
      const pending = slot.busy;
      this.replace(slot);
      pending?.reject(err);
      this.pump();
    });
    return slot;
  }

  private finish(slot: Slot) {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.busy = null;
  }

  private replace(slot: Slot) {
    this.finish(slot);
    void slot.worker.terminate();
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private pump() {
    while (this.queue.length && !this.closed) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) {
        slot = this.spawn();
        this.slots.push(slot);
      }
      if (!slot) return;
      const pending = this.queue.shift()!;
      const chosen = slot;
      chosen.busy = pending;
      void chosen.ready.then(() => {
        if (chosen.busy !== pending) return;
        // The clock starts when the worker has the job, so loading the engine never counts against a verdict.
        chosen.timer = setTimeout(() => {
          this.replace(chosen);
          pending.resolve({
            score: 0,
            correct: false,
            answer: null,
            detail: `error: no verdict within ${pending.timeoutMs} ms (the answer is too costly to compare)`,
          });
          this.pump();
        }, pending.timeoutMs);
        chosen.worker.postMessage({ id: pending.id, ...pending.job });
      });
    }
  }

  /** One verdict, or an "error" verdict past `timeoutMs`. */
  verify(job: MathJob, timeoutMs: number): Promise<Verdict> {
    if (this.closed) return Promise.reject(new Error('math verifier pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }
}

let shared: MathPool | null = null;

/** The process's pool (workers are unref'd: an idle pool never keeps a process alive). */
export function sharedMathPool(): MathPool {
  shared ??= new MathPool();
  return shared;
}

/** Stops the process's pool (a CLI command that is done with verdicts). */
export async function closeSharedMathPool(): Promise<void> {
  const pool = shared;
  shared = null;
  await pool?.close();
}
