/**
 * What one sandboxed run may use. Every limit is enforced by the kernel (rlimits, a tmpfs size, cgroups where
 * this machine lets us create them), and the wall clock by the caller, which kills the whole pid namespace.
 */
export interface SandboxLimits {
  /** Wall-clock time from the program's start; the whole sandbox is killed after it. */
  timeoutMs: number;
  /** CPU seconds per process (RLIMIT_CPU). Defaults to the wall time rounded up, plus one. */
  cpuSeconds: number;
  /** Memory in MiB: RLIMIT_AS and RLIMIT_DATA per process, and the cgroup's total where cgroups are available. */
  memoryMb: number;
  /**
   * Whether RLIMIT_AS applies as well as RLIMIT_DATA. Off for Node.js, whose V8 reserves far more address space
   * than it uses and hangs at start under a small RLIMIT_AS; RLIMIT_DATA still bounds what it can commit.
   */
  limitAddressSpace: boolean;
  /** Processes and threads of the sandbox's uid (RLIMIT_NPROC), and the cgroup's pids.max. */
  maxProcesses: number;
  /** Size of the sandbox's tmpfs root, which holds /work, /tmp and /dev/shm; also RLIMIT_FSIZE. */
  diskMb: number;
  /** Open files per process (RLIMIT_NOFILE). */
  maxOpenFiles: number;
  /** Bytes of stdout and of stderr captured; a program that writes more is killed. */
  maxOutputBytes: number;
}

export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  timeoutMs: 10_000,
  cpuSeconds: 11,
  memoryMb: 512,
  limitAddressSpace: true,
  maxProcesses: 64,
  diskMb: 64,
  maxOpenFiles: 256,
  maxOutputBytes: 1 << 20,
});

/** Fills in defaults; `cpuSeconds` follows `timeoutMs` unless given. Throws on a limit that makes no sense. */
export function resolveLimits(limits: Partial<SandboxLimits> = {}): SandboxLimits {
  const defined = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Partial<SandboxLimits>;
  const timeoutMs = defined.timeoutMs ?? DEFAULT_SANDBOX_LIMITS.timeoutMs;
  const resolved: SandboxLimits = {
    ...DEFAULT_SANDBOX_LIMITS,
    ...defined,
    cpuSeconds: defined.cpuSeconds ?? Math.ceil(timeoutMs / 1000) + 1,
  };
  for (const key of ['timeoutMs', 'cpuSeconds', 'memoryMb', 'maxProcesses', 'diskMb', 'maxOpenFiles', 'maxOutputBytes'] as const) {
    const value = resolved[key];
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`sandbox limit ${key} must be a positive number, got ${value}`);
  }
  return resolved;
}

/** The `prlimit` options for these limits (soft = hard, so a program cannot raise them again). */
export function prlimitArgs(limits: SandboxLimits): string[] {
  const mib = 1024 * 1024;
  const both = (n: number) => `${Math.floor(n)}:${Math.floor(n)}`;
  const args = [
    `--cpu=${both(limits.cpuSeconds)}`,
    `--data=${both(limits.memoryMb * mib)}`,
    `--nproc=${both(limits.maxProcesses)}`,
    `--fsize=${both(limits.diskMb * mib)}`,
    `--nofile=${both(limits.maxOpenFiles)}`,
    '--core=0:0',
  ];
  if (limits.limitAddressSpace) args.push(`--as=${both(limits.memoryMb * mib)}`);
  return args;
}
