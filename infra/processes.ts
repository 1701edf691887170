import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Whether a process with this pid runs (and we may signal it). A zombie (exited, not yet reaped) does not. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Linux only (elsewhere false): an orphan's zombie lingers where PID 1 does not reap, e.g. in some containers. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** The command line of a live process, where the OS exposes it (Linux /proc), else null. */
export async function commandLine(pid: number): Promise<string | null> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

/** Resolves true once `pid` is gone, false if it still runs after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/**
 * Ends a process, or its whole process group when `group` (it was spawned detached): `signal` first, SIGKILL when
 * it has not exited after `graceMs`. Resolves once it is gone.
 */
export async function terminate(
  pid: number,
  { signal = 'SIGTERM', graceMs = 10_000, group = false }: { signal?: NodeJS.Signals; graceMs?: number; group?: boolean } = {},
): Promise<void> {
  const target = group ? -pid : pid;
  if (!signalQuietly(target, signal)) return;
  if (await waitForExit(pid, graceMs)) return;
  signalQuietly(target, 'SIGKILL');
  await waitForExit(pid, 5_000);
}

function signalQuietly(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch {
    return false;
  }
}

export interface Watchdog {
  /** Stand the watchdog down (the server was stopped on purpose). */
  release(): void;
}

/**
 * Makes sure a server we spawned does not outlive us, even when we die by SIGKILL or a crash: a tiny `sh` holds the
 * read end of a pipe whose write end only this process has; when this process dies the kernel closes it, `read`
 * returns, and the watchdog signals the server (then SIGKILLs it after `graceSeconds`). Plain POSIX, so it also works
 * where Linux's parent-death signal does not (macOS).
 */
export function startWatchdog(
  pid: number,
  { signal = 'TERM', group = false, graceSeconds = 10 }: { signal?: 'TERM' | 'INT'; group?: boolean; graceSeconds?: number } = {},
): Watchdog {
  const target = group ? `-${pid}` : String(pid);
  const script =
    'read _ignored; ' +
    // No `--` before the pid: dash's kill takes a negative pid (a process group) as is, and rejects `--`.
    `kill -${signal} "$1" 2>/dev/null || exit 0; ` +
    `i=0; while [ $i -lt ${graceSeconds * 10} ] && kill -0 "$1" 2>/dev/null; do sleep 0.1; i=$((i+1)); done; ` +
    'kill -KILL "$1" 2>/dev/null; exit 0';
  const watchdog = spawn('/bin/sh', ['-c', script, 'flywheel-watchdog', target], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true, // its own process group: a Ctrl+C meant for us does not end the watchdog before it acts
  });
  watchdog.on('error', () => undefined);
  watchdog.stdin?.on('error', () => undefined);
  // Neither the process nor its pipe may keep our event loop alive.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      if (watchdog.exitCode === null && watchdog.pid) signalQuietly(watchdog.pid, 'SIGKILL');
      watchdog.stdin?.destroy();
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keeps the last lines of a process's output, to quote in an error when it fails to start. */
export class OutputTail {
  private lines: string[] = [];
  private partial = '';

  constructor(private readonly maxLines = 40) {}

  push(chunk: string | Buffer): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts.filter((line) => line.trim() !== ''));
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
  }

  toString(): string {
    return [...this.lines, this.partial].filter(Boolean).join('\n');
  }
}
