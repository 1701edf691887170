/**
 * The server's data directory: models, files, fine-tuning jobs and their events, as plain files so that a restart
 * finds everything where it was. Writes go to a temporary file and are renamed into place, so a crash never leaves
 * half a JSON document behind.
 *
 *   models/<job id>.json            fine-tuned model: metadata and weights
 *   files/<file id>.json, .data     uploaded file: metadata and bytes
 *   jobs/<job id>.json              fine-tuning job
 *   jobs/<job id>.events.jsonl      its events, oldest first
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export class DataDir {
  constructor(readonly root: string) {
    for (const dir of ['models', 'files', 'jobs']) fs.mkdirSync(path.join(root, dir), { recursive: true });
  }

  private full(rel: string): string {
    return path.join(this.root, rel);
  }

  writeJson(rel: string, value: unknown): void {
    this.writeBytes(rel, Buffer.from(JSON.stringify(value)));
  }

  writeBytes(rel: string, bytes: Buffer): void {
    const target = this.full(rel);
    const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, target);
  }

  readJson<T>(rel: string): T {
    return JSON.parse(fs.readFileSync(this.full(rel), 'utf8')) as T;
  }

  readBytes(rel: string): Buffer {
    return fs.readFileSync(this.full(rel));
  }

  exists(rel: string): boolean {
    return fs.existsSync(this.full(rel));
  }

  /** File names in a folder that end with `suffix`, sorted. */
  list(dir: string, suffix: string): string[] {
    return fs
      .readdirSync(this.full(dir))
      .filter((name) => name.endsWith(suffix) && !name.endsWith('.tmp'))
      .sort();
  }

  appendLine(rel: string, line: string): void {
    fs.appendFileSync(this.full(rel), `${line}\n`);
  }

  /** The lines of a JSONL file; a torn last line (crash mid-append) is dropped. */
  readJsonLines<T>(rel: string): T[] {
    if (!this.exists(rel)) return [];
    const out: T[] = [];
    for (const line of fs.readFileSync(this.full(rel), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // Only the last line can be torn; skipping it loses one event message, nothing else.
      }
    }
    return out;
  }

  remove(rel: string): void {
    fs.rmSync(this.full(rel), { force: true });
  }
}

let lastMillis = 0;

/**
 * An id like OpenAI's (`file-…`, `ftjob-…`, `ftevent-…`) that sorts in creation order: a strictly increasing
 * millisecond stamp, then random hex.
 */
export function newId(prefix: string): string {
  lastMillis = Math.max(Date.now(), lastMillis + 1);
  return `${prefix}-${lastMillis.toString(16).padStart(12, '0')}${randomBytes(6).toString('hex')}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
