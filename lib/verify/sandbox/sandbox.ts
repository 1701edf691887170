/**
 * The sandbox's public entry: find out once whether this machine can confine a program (tools, root, namespaces
 * that really work), and refuse, naming what is missing, rather than ever run code unconfined.
 */
import { cgroupVersion, type CgroupVersion } from './cgroup.js';
import { resolveLimits, type SandboxLimits } from './limits.js';
import { runWithTools, SandboxError, type SandboxRequest, type SandboxResult } from './spawn.js';
import { findSandboxTools, type SandboxTools } from './tools.js';

export interface SandboxSupport {
  available: boolean;
  /** What is missing, each in words that say what to install or change; empty when available. */
  missing: string[];
  /** Whether runs also get a memory+pids cgroup (a total over all their processes), and which version. */
  cgroup: CgroupVersion | null;
}

/** This machine cannot confine a program; the message says what is missing. */
export class SandboxUnavailableError extends Error {
  readonly missing: string[];
  constructor(missing: string[]) {
    super(
      `the code sandbox is not available on this worker, so no program is run: missing ${missing.join('; ')}. ` +
        'Run the verify queue on a worker that has them (see lib/verify/sandbox).',
    );
    this.name = 'SandboxUnavailableError';
    this.missing = missing;
  }
}

type Probe = { support: SandboxSupport; tools: SandboxTools | null; at: number };
let probe: Promise<Probe> | undefined;
/** A failed trial run may have been bad luck (a full /tmp, say): try again after this long. */
const REPROBE_AFTER_MS = 60_000;

async function probeOnce(): Promise<Probe> {
  const { tools, missing } = await findSandboxTools();
  const at = Date.now();
  if (!tools) return { support: { available: false, missing, cgroup: null }, tools: null, at: Infinity };
  try {
    const trial = await runWithTools(tools, { files: { probe: 'ok\n' }, command: ['/bin/sh', '-c', 'cat probe'] }, resolveLimits({ timeoutMs: 10_000 }));
    if (trial.exitCode !== 0 || trial.stdout !== 'ok\n') {
      const why = `exit ${trial.exitCode ?? trial.signal}, stderr: ${trial.stderr.trim().slice(0, 300)}`;
      return { support: { available: false, missing: [`a working sandbox (a trial run failed: ${why})`], cgroup: null }, tools: null, at };
    }
  } catch (err) {
    const why = (err as Error).message;
    return {
      support: {
        available: false,
        missing: [`namespaces and mounts that work here (a trial run failed: ${why}); in a container this needs CAP_SYS_ADMIN`],
        cgroup: null,
      },
      tools: null,
      at,
    };
  }
  return { support: { available: true, missing: [], cgroup: await cgroupVersion() }, tools, at: Infinity };
}

/** The cached probe; a failed trial run is retried once it is a minute old (missing tools or root are not). */
async function currentProbe(): Promise<Probe> {
  probe ??= probeOnce();
  const found = await probe;
  if (!found.support.available && Date.now() - found.at > REPROBE_AFTER_MS) {
    probe = probeOnce();
    return probe;
  }
  return found;
}

/** Whether and how this machine can sandbox programs; probed once per process (a trial run of a shell). */
export async function probeSandbox(): Promise<SandboxSupport> {
  return (await currentProbe()).support;
}

/**
 * Runs a program confined: no network, a private read-only root with only /work, /tmp and /dev/shm writable
 * (a size-capped tmpfs, gone afterwards), an unprivileged uid without capabilities, an empty environment, rlimits
 * on CPU, memory, processes, file size and open files, and a wall-clock limit. What the program does is reported
 * in the result, never thrown; throws SandboxUnavailableError when this machine cannot confine it, and
 * SandboxError when a run's setup fails.
 *
 * @example
 * const r = await runInSandbox({ files: { 'main.py': 'print(1)' }, command: ['/usr/bin/python3', 'main.py'] }, { timeoutMs: 5000 });
 * r.exitCode === 0 && r.stdout === '1\n';
 */
export async function runInSandbox(request: SandboxRequest, limits: Partial<SandboxLimits> = {}): Promise<SandboxResult> {
  const { support, tools } = await currentProbe();
  if (!support.available || !tools) throw new SandboxUnavailableError(support.missing);
  return runWithTools(tools, request, resolveLimits(limits));
}

export { SandboxError };
