/**
 * Running untrusted programs confined. What a sandboxed run gets, and what enforces it:
 *
 * | limit                         | enforced by                                                                 |
 * |-------------------------------|-----------------------------------------------------------------------------|
 * | no network                    | a new network namespace (only a downed loopback)                            |
 * | no view of other processes    | a new pid namespace, /proc mounted with hidepid=invisible                   |
 * | no writes outside its own dir | a private root (tmpfs) with /usr, /etc, ... bound read-only; only /work,    |
 * |                               | /tmp and /dev/shm writable; the repo, /root and /home are not there at all  |
 * | disk                          | the tmpfs size (`diskMb`) and RLIMIT_FSIZE                                  |
 * | no privileges                 | a random unprivileged uid/gid per run, no capabilities, no_new_privs        |
 * | no secrets                    | an empty environment (PATH, HOME, TMPDIR, LANG only)                        |
 * | CPU                           | RLIMIT_CPU per process                                                      |
 * | memory                        | RLIMIT_AS (Python) and RLIMIT_DATA per process; a memory cgroup for all of  |
 * |                               | them together where the machine lets us create one (v1 or v2)               |
 * | processes                     | RLIMIT_NPROC of the run's own uid; a pids cgroup where available            |
 * | wall time                     | a timer that kills the namespace's init, and so every process in it         |
 * | output                        | capped capture; a program that writes more is killed                        |
 * | cleanup                       | the mount namespace and tmpfs vanish with the run; the host temp dir and    |
 * |                               | cgroups are removed; a dying worker takes its sandboxes with it (pdeathsig) |
 *
 * Built from util-linux (`unshare`, `setpriv`, `prlimit`), `mount` and coreutils (`chroot`, `env -C`), all in
 * Debian's base system; it needs root with CAP_SYS_ADMIN (a VM, or a privileged container). Where that is missing
 * the sandbox refuses with SandboxUnavailableError, naming what is missing: code is never run unconfined.
 */
export { probeSandbox, runInSandbox, SandboxError, SandboxUnavailableError, type SandboxSupport } from './sandbox.js';
export { DEFAULT_SANDBOX_LIMITS, resolveLimits, type SandboxLimits } from './limits.js';
export type { SandboxRequest, SandboxResult } from './spawn.js';
