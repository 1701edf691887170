/**
 * Real `flywheel` processes for integration tests: a command run to completion (`runFlywheel`), or a long-lived one
 * (`spawnFlywheel`, `startWorkerProcess`) whose output is captured and which can be killed like an operator or the
 * OOM killer would: SIGKILL to its whole process group, then proof that nothing of it is left.
 *
 * `tsx` starts the real program in a child process of its own, so a process here is a process *group* (spawned
 * detached): a signal goes to every member, as Ctrl-C in a terminal does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const MAIN = path.join(ROOT, 'cli/main.ts');

/** Variables a test process must not inherit from the test runner: the test says where the services are. */
const SERVICE_VARIABLES = [
  'DATABASE_URL',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'FLYWHEEL_MODEL_URL',
  'FLYWHEEL_UI_URL',
  'FLYWHEEL_HOME',
  'FLYWHEEL_TEST_KEY',
];

/** The runner's environment without service variables, plus `env` (an `undefined` value removes a variable). */
export function processEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const name of SERVICE_VARIABLES) delete out[name];
  // vitest marks its own environment; a child that sees these may behave like a test.
  delete out.VITEST;
  delete out.VITEST_MODE;
  delete out.VITEST_POOL_ID;
  delete out.VITEST_WORKER_ID;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface FlywheelProcess {
  /** The pid of the `tsx` launcher, which is also the process group id. */
  pid: number;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr interleaved as they came. */
  output(): string;
  /** Resolves when the launcher exits. */
  exited: Promise<Exit>;
  /** Resolves with the first match in the output so far or to come; rejects on exit or timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Every live process of the group (the launcher and the program it started). */
  members(): number[];
  /** Sends `signal` to the whole group. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL to the whole group; resolves once no member is left (throws if one survives). */
  kill(): Promise<Exit>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once every member is gone. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `tsx cli/main.ts <args>` in its own process group, capturing its output.
 *
 * @example
 * const dev = spawnFlywheel(['dev', '--no-worker'], { FLYWHEEL_HOME: home, DATABASE_URL: url });
 * await dev.waitForOutput(/flywheel dev is up/);
 */
export function spawnFlywheel(args: string[], env: Record<string, string | undefined>): FlywheelProcess {
  const child = spawn(TSX, [MAIN, ...args], {
    cwd: ROOT,
    env: processEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out = { stdout: '', stderr: '', all: '' };
  const waiters = new Set<() => void>();
  const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString();
    out[stream] += text;
    out.all += text;
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));
  let exit: Exit | null = null;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      for (const w of waiters) w();
      resolve(exit);
    });
    child.once('error', (err) => {
      out.all += `\n[spawn error] ${err.message}\n`;
      exit = { code: -1, signal: null };
      resolve(exit);
    });
  });
  if (!child.pid) throw new Error(`could not start ${TSX} ${args.join(' ')}`);
  const pid = child.pid;

  const members = () => processGroup(pid);
  const signal = (sig: NodeJS.Signals) => signalGroup(pid, sig);
  const waitGone = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (members().length > 0 || exit === null) {
      if (Date.now() > deadline) return false;
      await sleep(25);
    }
    return true;
  };
  let stopping: Promise<void> | null = null;

  return {
    pid,
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    output: () => out.all,
    exited,
    waitForOutput(pattern, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.all.match(pattern);
          if (m) return done(() => resolve(m));
          if (exit) {
            return done(() =>
              reject(new Error(`flywheel ${args.join(' ')} exited (${JSON.stringify(exit)}) before printing ${pattern}:\n${tail(out.all)}`)),
            );
          }
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`flywheel ${args.join(' ')} did not print ${pattern} within ${timeoutMs} ms:\n${tail(out.all)}`))),
          timeoutMs,
        );
        const done = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
    members,
    signal,
    async kill() {
      signal('SIGKILL');
      if (!(await waitGone(10_000))) {
        throw new Error(`process group ${pid} survived SIGKILL: ${members().join(', ')}`);
      }
      return exited;
    },
    stop(graceMs = 15_000) {
      stopping ??= (async () => {
        if (exit && members().length === 0) return;
        signal('SIGTERM');
        if (await waitGone(graceMs)) return;
        signal('SIGKILL');
        await waitGone(10_000);
      })();
      return stopping;
    },
  };
}

export interface CommandResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs `tsx cli/main.ts <args>` to completion. */
export async function runFlywheel(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 120_000,
): Promise<CommandResult> {
  const p = spawnFlywheel(args, env);
  const timer = setTimeout(() => p.signal('SIGKILL'), timeoutMs);
  try {
    const exit = await p.exited;
    // The output pipes may still hold the last bytes when 'exit' fires.
    await Promise.all([streamEnd(p.child.stdout), streamEnd(p.child.stderr)]);
    return { ...exit, stdout: p.stdout(), stderr: p.stderr() };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A worker's environment: where the services are (`DATABASE_URL`, `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
 * `FLYWHEEL_MODEL_URL`), or a `FLYWHEEL_HOME` whose stack.json says it; always a `FLYWHEEL_HOME`, so that a stack
 * of the developer's own is never picked up by accident.
 */
export type WorkerEnv = Record<string, string | undefined> & { FLYWHEEL_HOME: string };

/**
 * `flywheel worker` as a separate process; resolves once it logs that it serves its queues.
 *
 * @example
 * const worker = await startWorkerProcess({ DATABASE_URL, TEMPORAL_ADDRESS, FLYWHEEL_MODEL_URL, FLYWHEEL_HOME });
 * await worker.kill(); // SIGKILL, and proof that it is gone
 */
export async function startWorkerProcess(env: WorkerEnv, queues?: string): Promise<FlywheelProcess> {
  const worker = spawnFlywheel(['worker', ...(queues ? ['--queues', queues] : [])], env);
  try {
    await worker.waitForOutput(/worker serving flywheel/, 120_000);
  } catch (err) {
    await worker.stop();
    throw err;
  }
  return worker;
}

/** Sends `signal` to every process of group `pgid`; nothing when the group is gone already. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone already.
  }
}

/**
 * SIGKILL to process group `pgid`, as the OOM killer would; resolves true once no member is left, false if one
 * is still there after `timeoutMs`.
 */
export async function killGroup(pgid: number, timeoutMs = 10_000): Promise<boolean> {
  signalGroup(pgid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (processGroup(pgid).length > 0) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

/** Live (non-zombie) processes whose process group is `pgid` (Linux /proc). */
export function processGroup(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may contain spaces and parentheses, so parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const pgrp = Number(fields[2]);
    if (pgrp === pgid && state !== 'Z' && state !== 'X') found.push(Number(entry));
  }
  return found;
}

/** Whether a process runs (a zombie, exited but not reaped, does not). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 120_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function streamEnd(stream: NodeJS.ReadableStream | null): Promise<void> {
  if (!stream || (stream as unknown as { readableEnded?: boolean }).readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    setTimeout(resolve, 2_000);
  });
}

function tail(text: string, lines = 40): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
