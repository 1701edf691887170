/** Runs test/helpers/trainer-driver.ts as its own process group, with its JSON lines parsed as they come. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killGroup, processEnv } from './processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface DriverEvent {
  event: string;
  id?: string;
  status?: string;
  job?: { status: string; error: string | null; exitCode?: number | null; logTail?: string | null; model: string | null; progressHistory?: number; checkpoint?: { path: string } | null };
  message?: string;
}

export function startDriver(options: Record<string, unknown>, env: Record<string, string | undefined> = {}) {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'test/helpers/trainer-driver.ts'), JSON.stringify(options)], {
    cwd: ROOT,
    env: processEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const events: DriverEvent[] = [];
  let output = '';
  let buffer = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk;
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      try {
        events.push(JSON.parse(line) as DriverEvent);
      } catch {
        // not ours
      }
    }
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  let exited = false;
  child.once('exit', () => {
    exited = true;
    for (const w of waiters) w();
  });
  const pid = child.pid!;
  return {
    events,
    output: () => output,
    /** Resolves with the first event matching, or rejects when the driver exits first or time runs out. */
    waitFor(match: (e: DriverEvent) => boolean, timeoutMs = 120_000): Promise<DriverEvent> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (found) return done(() => resolve(found));
          if (exited) done(() => reject(new Error(`the driver exited before the awaited event:\n${output}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no awaited event within ${timeoutMs} ms:\n${output}`))), timeoutMs);
        const done = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
    /** SIGKILL to the driver's process group, as the OOM killer would; resolves once nothing of it is left. */
    async kill(): Promise<void> {
      await killGroup(pid, 5_000);
    },
  };
}
