/**
 * The host programs the sandbox is built from, found once: util-linux (`unshare`, `setpriv`, `prlimit`),
 * `mount`, coreutils (`chroot`, `env`, `cp`, ...). Each missing one is named with the Debian package that has it.
 */
import { access, constants, realpath } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface SandboxTools {
  unshare: string;
  setpriv: string;
  prlimit: string;
  env: string;
  /** PATH for the setup script, which calls mount, chroot, cp, chown, ... by name. */
  setupPath: string;
}

const REQUIRED: Array<{ name: string; pkg: string }> = [
  { name: 'unshare', pkg: 'util-linux' },
  { name: 'setpriv', pkg: 'util-linux' },
  { name: 'prlimit', pkg: 'util-linux' },
  { name: 'mount', pkg: 'mount' },
  { name: 'chroot', pkg: 'coreutils' },
  { name: 'env', pkg: 'coreutils' },
  { name: 'cp', pkg: 'coreutils' },
  { name: 'chown', pkg: 'coreutils' },
  { name: 'sh', pkg: 'dash' },
];

const SYSTEM_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The first executable called `name` on PATH or in the system directories, as a real path; null if none. */
export async function findExecutable(name: string, path = process.env.PATH ?? ''): Promise<string | null> {
  const dirs = [...path.split(delimiter).filter(Boolean), ...SYSTEM_PATH];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return await realpath(candidate);
    } catch {
      // not here
    }
  }
  return null;
}

/** Finds the tools, or lists what is missing (each entry says what to install or change). */
export async function findSandboxTools(): Promise<{ tools: SandboxTools | null; missing: string[] }> {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push(`Linux (this is ${process.platform}): the sandbox uses Linux namespaces`);
  if (process.getuid?.() !== 0) {
    missing.push(
      'root: the sandbox mounts a private root in new namespaces and drops the program to an unprivileged uid; ' +
        'run the worker that serves the `flywheel-verify` task queue as root, in its own VM or in a container with CAP_SYS_ADMIN',
    );
  }
  const found = new Map<string, string>();
  for (const { name, pkg } of REQUIRED) {
    const path = await findExecutable(name);
    if (path) found.set(name, path);
    else missing.push(`\`${name}\` (Debian package ${pkg})`);
  }
  // env, prlimit and setpriv run inside the sandbox's root, where only system directories are bound.
  for (const name of ['env', 'prlimit', 'setpriv']) {
    const path = found.get(name);
    if (path && !/^\/(usr\/)?s?bin\//.test(path)) missing.push(`\`${name}\` under /usr/bin or /bin (found ${path})`);
  }
  if (missing.length) return { tools: null, missing };
  return {
    tools: {
      unshare: found.get('unshare')!,
      setpriv: found.get('setpriv')!,
      prlimit: found.get('prlimit')!,
      env: found.get('env')!,
      setupPath: SYSTEM_PATH.join(':'),
    },
    missing,
  };
}
