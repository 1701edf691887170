/**
 * The progress protocol a trainer speaks: JSON lines like `{"step": 120, "loss": 0.53, "epoch": 1.2, "lr": 2e-5}`
 * on stdout (mixed with any other output) or in a progress file. Lines that are not such objects are ignored, so
 * a trainer's ordinary logging never breaks it.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export interface ProgressPoint {
  step: number;
  loss?: number;
  epoch?: number;
  lr?: number;
  /** Any other numeric fields the trainer reported (grad_norm, tokens_per_second, ...). */
  [metric: string]: number | undefined;
}

/** The progress point a line holds, or null when the line is ordinary output. */
export function parseProgressLine(line: string): ProgressPoint | null {
  const text = line.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  if (typeof record.step !== 'number' || !Number.isFinite(record.step)) return null;
  const point: ProgressPoint = { step: record.step };
  for (const [key, v] of Object.entries(record)) {
    if (key !== 'step' && typeof v === 'number' && Number.isFinite(v) && /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key)) point[key] = v;
  }
  return point;
}

/** One line for heartbeats and the CLI, e.g. `step 120 · loss 0.5300 · epoch 1.20 · lr 2e-5`. */
export function describeProgress(point: ProgressPoint): string {
  const parts = [`step ${point.step}`];
  if (point.loss !== undefined) parts.push(`loss ${point.loss.toFixed(4)}`);
  if (point.epoch !== undefined) parts.push(`epoch ${Number(point.epoch.toFixed(2))}`);
  if (point.lr !== undefined) parts.push(`lr ${point.lr.toExponential(2)}`);
  return parts.join(' · ');
}

/** Keeps a history at most `max` points long by dropping every other point of the older half; the last stays. */
export function thinHistory(points: ProgressPoint[], max: number): ProgressPoint[] {
  if (points.length <= max) return points;
  const half = Math.floor(points.length / 2);
  const older = points.slice(0, half).filter((_, i) => i % 2 === 0);
  return thinHistory([...older, ...points.slice(half)], max);
}

/**
 * Reads progress points from files that only grow (a job log, a progress file), each poll reading only what was
 * appended since the last one. A torn last line waits for its end.
 */
export class ProgressReader {
  private readonly offsets = new Map<string, { offset: number; rest: string }>();
  private points: ProgressPoint[] = [];

  constructor(private readonly max = 2_000) {}

  /** Reads what `files` gained and returns the whole history, oldest first. */
  read(files: readonly string[]): ProgressPoint[] {
    for (const file of files) {
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        continue; // not written yet
      }
      const at = this.offsets.get(file) ?? { offset: 0, rest: '' };
      if (size < at.offset) Object.assign(at, { offset: 0, rest: '' }); // truncated and rewritten
      if (size === at.offset) {
        this.offsets.set(file, at);
        continue;
      }
      const length = size - at.offset;
      const buffer = Buffer.alloc(length);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, buffer, 0, length, at.offset);
      } finally {
        closeSync(fd);
      }
      const text = at.rest + buffer.toString('utf8');
      const lines = text.split('\n');
      const rest = lines.pop() ?? '';
      for (const line of lines) {
        const point = parseProgressLine(line);
        if (point) this.points.push(point);
      }
      this.offsets.set(file, { offset: size, rest });
    }
    this.points = thinHistory(this.points, this.max);
    return this.points;
  }
}
