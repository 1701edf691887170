/**
 * One sandboxed run: a fresh temporary directory, `unshare` into new namespaces, the setup script as pid 1, the
 * program under its limits. Killing `unshare` kills pid 1 (`--kill-child`), and the kernel then kills every
 * process left in the pid namespace, so nothing the program started outlives the run.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSandboxCgroup } from './cgroup.js';
import { prlimitArgs, type SandboxLimits } from './limits.js';
import { SETUP_SCRIPT } from './setup-script.js';
import type { SandboxTools } from './tools.js';

export interface SandboxRequest {
  /** Files written to /work, the program's working directory: plain names (`main.py`), no directories. */
  files: Record<string, string>;
  /** The program's argv; argv[0] is an absolute path that exists inside the sandbox (see `binds`). */
  command: string[];
  stdin?: string;
  /** Extra directories bound read-only at the same path, e.g. an interpreter's installation prefix. */
  binds?: string[];
  /** Extra PATH entries for the program, before /usr/local/bin:/usr/bin:/bin. */
  path?: string[];
  /** Environment of the program besides PATH, HOME=/work, TMPDIR=/tmp and LANG; nothing else is inherited. */
  env?: Record<string, string>;
  signal?: AbortSignal;
}

export interface SandboxResult {
  /** The program's exit code; null when it was killed by a signal or never ended on its own. */
  exitCode: number | null;
  /** The signal that ended the program (e.g. `SIGKILL`, `SIGXCPU`, `SIGSEGV`), if one did. */
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Past the wall-clock limit: the sandbox was killed. */
  timedOut: boolean;
  /** Wrote more than maxOutputBytes to stdout or stderr: the sandbox was killed, the output cut. */
  outputLimited: boolean;
  /** The cgroup's memory limit was hit and the kernel killed a process (only known with cgroups). */
  oomKilled: boolean;
  /** A fork failed at the cgroup's pids.max (only known with cgroups). */
  processLimitHit: boolean;
  /** Milliseconds from the program's start to its end. */
  wallMs: number;
}

/** The sandbox itself failed (not the program): a setup error, a missing tool, a machine that forbids it. */
export class SandboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxError';
  }
}

const SYSTEM_BINDS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];
const SETUP_TIMEOUT_MS = 30_000;
const FILE_NAME = /^(?!\.\.?$)[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;
/** Sandboxes run as a random uid from this range, so that RLIMIT_NPROC counts one run's processes only. */
const UID_BASE = 1_000_000;
const UID_SPAN = 1_000_000;

/** System directories plus the extra ones, real paths, without those already inside another bound directory. */
async function bindList(extra: string[]): Promise<string[]> {
  const dirs: string[] = [];
  for (const path of SYSTEM_BINDS) {
    try {
      await lstat(path);
      dirs.push(path);
    } catch {
      // this system has no such directory
    }
  }
  for (const path of extra) {
    const real = await realpath(path).catch(() => {
      throw new SandboxError(`cannot bind ${path} into the sandbox: it does not exist`);
    });
    if (!dirs.some((d) => real === d || real.startsWith(d + '/'))) dirs.push(real);
  }
  return dirs;
}

function signalName(status: number): string | null {
  if (status <= 128) return null;
  const n = status - 128;
  const entry = Object.entries(osConstants.signals).find(([, value]) => value === n);
  return entry ? entry[0] : `signal ${n}`;
}

/** Runs one request with known tools and limits. Throws SandboxError when the sandbox could not be set up. */
export async function runWithTools(tools: SandboxTools, request: SandboxRequest, limits: SandboxLimits): Promise<SandboxResult> {
  for (const name of Object.keys(request.files)) {
    if (!FILE_NAME.test(name)) throw new SandboxError(`sandbox file name ${JSON.stringify(name)} is not a plain file name`);
  }
  if (!request.command.length || !request.command[0]!.startsWith('/')) {
    throw new SandboxError(`sandbox command must start with an absolute path, got ${JSON.stringify(request.command[0])}`);
  }
  request.signal?.throwIfAborted();
  const hostDir = await mkdtemp(join(tmpdir(), 'flywheel-sandbox-'));
  const uid = UID_BASE + randomInt(UID_SPAN);
  const cgroup = await createSandboxCgroup(`flywheel-sandbox-${uid}-${process.pid}`, (limits.memoryMb + limits.diskMb) * 1024 * 1024, limits.maxProcesses);
  try {
    await mkdir(join(hostDir, 'root'));
    await mkdir(join(hostDir, 'src'));
    for (const [name, content] of Object.entries(request.files)) await writeFile(join(hostDir, 'src', name), content, { mode: 0o644 });
    const env: Record<string, string> = {
      PATH: tools.setupPath,
      SANDBOX_ROOT: join(hostDir, 'root'),
      SANDBOX_SRC: join(hostDir, 'src'),
      SANDBOX_UID: String(uid),
      SANDBOX_DISK_MB: String(Math.ceil(limits.diskMb)),
      SANDBOX_BINDS: (await bindList(request.binds ?? [])).join('\n'),
      SANDBOX_CGROUPS: cgroup ? cgroup.procsFiles.join('\n') : '',
      SANDBOX_PRLIMIT: prlimitArgs(limits).join('\n'),
      SANDBOX_PATH: [...(request.path ?? []), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
      SANDBOX_PROGRAM_ENV: Object.entries(request.env ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
      SANDBOX_ENV: tools.env,
      SANDBOX_PRLIMIT_BIN: tools.prlimit,
      SANDBOX_SETPRIV_BIN: tools.setpriv,
    };
    const result = await execute(tools, request, limits, env);
    if (cgroup) {
      const events = await cgroup.events();
      result.oomKilled = events.oomKilled;
      result.processLimitHit = events.processLimitHit;
    }
    return result;
  } finally {
    // The namespace's init is dead, but the kernel kills the rest of its processes asynchronously: wait for them, so
    // a verdict never returns while the program still runs (a loaded machine takes a while to reap 30 node processes).
    await processesGone(uid, 10_000);
    await cgroup?.remove();
    await rm(hostDir, { recursive: true, force: true });
  }
}

/** Waits until no process runs as `uid` (the sandbox's own, unique to it), for at most `timeoutMs`. */
async function processesGone(uid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await runsAs(uid))) await new Promise((r) => setTimeout(r, 20));
}

async function runsAs(uid: number): Promise<boolean> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name));
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    // A zombie is no longer running; it only waits for its parent to reap it.
    if (Number(status.match(/^Uid:\s+(\d+)/m)?.[1]) === uid && !/^State:\s+Z/m.test(status)) return true;
  }
  return false;
}

function execute(tools: SandboxTools, request: SandboxRequest, limits: SandboxLimits, env: Record<string, string>): Promise<SandboxResult> {
  return new Promise<SandboxResult>((resolve, reject) => {
    // setpriv --pdeathsig: should this worker die, unshare dies too, and with it the whole sandbox.
    const argv = [
      '--pdeathsig', 'KILL', '--', tools.unshare,
      '--mount', '--net', '--pid', '--ipc', '--uts', '--fork', '--kill-child', '--propagation', 'private',
      '/bin/sh', '-c', SETUP_SCRIPT, 'flywheel-sandbox', ...request.command,
    ];
    const child = spawn(tools.setpriv, argv, { env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    const result: SandboxResult = {
      exitCode: null, signal: null, stdout: '', stderr: '',
      timedOut: false, outputLimited: false, oomKilled: false, processLimitHit: false, wallMs: 0,
    };
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let status = '';
    let ready = false;
    let startedAt = 0;
    let aborted = false;
    let setupTimedOut = false;
    let wallTimer: NodeJS.Timeout | undefined;
    const kill = () => child.kill('SIGKILL');
    const setupTimer = setTimeout(() => {
      setupTimedOut = true;
      kill();
    }, SETUP_TIMEOUT_MS);
    const onAbort = () => {
      aborted = true;
      kill();
    };
    request.signal?.addEventListener('abort', onAbort, { once: true });

    const collect = (chunks: Buffer[], chunk: Buffer, seen: number): number => {
      const room = limits.maxOutputBytes - seen;
      if (room > 0) chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      if (chunk.length > room) {
        result.outputLimited = true;
        kill();
      }
      return seen + chunk.length;
    };
    child.stdout!.on('data', (chunk: Buffer) => (outBytes = collect(out, chunk, outBytes)));
    child.stderr!.on('data', (chunk: Buffer) => (errBytes = collect(err, chunk, errBytes)));
    const statusPipe = child.stdio[3] as NodeJS.ReadableStream;
    statusPipe.on('data', (chunk: Buffer) => {
      status += chunk.toString('utf8');
      if (!ready && status.startsWith('ready\n')) {
        ready = true;
        startedAt = Date.now();
        clearTimeout(setupTimer);
        wallTimer = setTimeout(() => {
          result.timedOut = true;
          kill();
        }, limits.timeoutMs);
      }
    });
    child.stdin!.on('error', () => {}); // a program that never reads its stdin closes the pipe early
    child.stdin!.end(request.stdin ?? '');

    child.on('error', (error) => {
      clearTimeout(setupTimer);
      clearTimeout(wallTimer);
      request.signal?.removeEventListener('abort', onAbort);
      reject(new SandboxError(`could not start the sandbox (${tools.unshare}): ${error.message}`));
    });
    child.on('close', () => {
      clearTimeout(setupTimer);
      clearTimeout(wallTimer);
      request.signal?.removeEventListener('abort', onAbort);
      result.wallMs = ready ? Date.now() - startedAt : 0;
      result.stdout = Buffer.concat(out).toString('utf8');
      result.stderr = Buffer.concat(err).toString('utf8');
      if (aborted) {
        reject(request.signal?.reason ?? new Error('sandboxed run aborted'));
        return;
      }
      if (!ready) {
        const why = setupTimedOut ? `timed out after ${SETUP_TIMEOUT_MS / 1000}s` : result.stderr.trim() || 'no output';
        reject(new SandboxError(`sandbox setup failed: ${why}`));
        return;
      }
      const exit = status.match(/^exit (\d+)$/m);
      if (exit) {
        const code = Number(exit[1]);
        result.signal = signalName(code);
        result.exitCode = result.signal ? null : code;
      } else {
        result.signal = 'SIGKILL'; // killed by us (time or output) before it ended
      }
      resolve(result);
    });
  });
}
