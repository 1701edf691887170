/**
 * A memory and pids cgroup per sandboxed run, where this machine lets us make one: rlimits bound each process,
 * the cgroup bounds all of them together and tells us afterwards whether the kernel killed for memory. Best
 * effort: without writable cgroups the sandbox still runs under its rlimits.
 */
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type CgroupVersion = 'v1' | 'v2';

export interface SandboxCgroup {
  version: CgroupVersion;
  /** `cgroup.procs` files the sandbox's first process writes itself into. */
  procsFiles: string[];
  /** What the kernel recorded: an OOM kill, or a fork refused at pids.max. */
  events(): Promise<{ oomKilled: boolean; processLimitHit: boolean }>;
  remove(): Promise<void>;
}

interface Hierarchy {
  /** Where the cgroups of this run go (our own cgroup's directory). */
  parent: string;
  controllers: Array<'memory' | 'pids'>;
}

interface Layout {
  version: CgroupVersion;
  /** v1: one hierarchy per controller; v2: one hierarchy holding both. */
  hierarchies: Hierarchy[];
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

/** Our own cgroup's directory in a hierarchy mounted at `mountPoint` whose root is `mountRoot`. */
function ownDirectory(mountPoint: string, mountRoot: string, ownPath: string): string {
  const relative = ownPath.startsWith(mountRoot) ? ownPath.slice(mountRoot.length) : '';
  return join(mountPoint, relative);
}

async function canCreateIn(parent: string): Promise<boolean> {
  const probe = join(parent, `flywheel-probe-${process.pid}-${Date.now()}`);
  try {
    await mkdir(probe);
    await rmdir(probe);
    return true;
  } catch {
    return false;
  }
}

async function detectLayout(): Promise<Layout | null> {
  const mountinfo = await readText('/proc/self/mountinfo');
  const ownCgroups = await readText('/proc/self/cgroup');
  if (!mountinfo || !ownCgroups) return null;
  const own = new Map<string, string>(); // controller ('' for v2) -> path
  for (const line of ownCgroups.trim().split('\n')) {
    const [, controllers, path] = line.split(/:(.*?):/);
    if (path === undefined) continue;
    for (const c of controllers === '' ? [''] : controllers!.split(',')) own.set(c, path);
  }
  const mounts = mountinfo
    .trim()
    .split('\n')
    .map(function parseMount(line) {
      const [pre, post = ''] = line.split(' - ');
      const fields = pre!.split(' ');
      const [fstype, , superOptions = ''] = post.split(' ');
      return { root: fields[3], point: fields[4], fstype, options: superOptions.split(',') };
    });

  // cgroup v2, when memory and pids are enabled for our own cgroup's children.
  const unified = mounts.find((m) => m.fstype === 'cgroup2');
  if (unified && own.has('')) {
    const parent = ownDirectory(unified.point!, unified.root!, own.get('')!);
    const enabled = (await readText(join(parent, 'cgroup.subtree_control')))?.trim().split(/\s+/) ?? [];
    if (enabled.includes('memory') && enabled.includes('pids') && (await canCreateIn(parent))) {
      return { version: 'v2', hierarchies: [{ parent, controllers: ['memory', 'pids'] }] };
    }
  }

  // cgroup v1: separate memory and pids hierarchies.
  const hierarchies: Hierarchy[] = [];
  for (const controller of ['memory', 'pids'] as const) {
    const mount = mounts.find((m) => m.fstype === 'cgroup' && m.options.includes(controller));
    if (!mount) return null;
    const candidates = [ownDirectory(mount.point!, mount.root!, own.get(controller) ?? '/'), mount.point!];
    let parent: string | undefined;
    for (const candidate of candidates) {
      if (await canCreateIn(candidate)) {
        parent = candidate;
        break;
      }
    }
    if (!parent) return null;
    hierarchies.push({ parent, controllers: [controller] });
  }
  return { version: 'v1', hierarchies };
}

let layout: Promise<Layout | null> | undefined;

/** Which cgroup version sandboxes use on this machine, or null when they cannot have cgroups. */
export async function cgroupVersion(): Promise<CgroupVersion | null> {
  layout ??= detectLayout().catch(() => null);
  return (await layout)?.version ?? null;
}

function counter(text: string | null, key: string): number {
  const match = text?.match(new RegExp(`^${key} (\\d+)$`, 'm'));
  return match ? Number(match[1]) : 0;
}

/** Creates the cgroups for one run, or returns null when this machine has none we can use. */
export async function createSandboxCgroup(name: string, memoryBytes: number, maxProcesses: number): Promise<SandboxCgroup | null> {
  layout ??= detectLayout().catch(() => null);
  const found = await layout;
  if (!found) return null;
  const dirs: string[] = [];
  const removeAll = async () => {
    for (const dir of dirs) {
      // The last processes of a killed namespace can take a moment to leave the cgroup.
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }
  };
  try {
    let memoryDir = '';
    let pidsDir = '';
    for (const h of found.hierarchies) {
      const dir = join(h.parent, name);
      await mkdir(dir);
      dirs.push(dir);
      if (h.controllers.includes('memory')) memoryDir = dir;
      if (h.controllers.includes('pids')) pidsDir = dir;
    }
    const bytes = String(Math.floor(memoryBytes));
    if (found.version === 'v2') {
      await writeFile(join(memoryDir, 'memory.max'), bytes);
      await writeFile(join(memoryDir, 'memory.swap.max'), '0').catch(() => {});
    } else {
      await writeFile(join(memoryDir, 'memory.limit_in_bytes'), bytes);
      await writeFile(join(memoryDir, 'memory.memsw.limit_in_bytes'), bytes).catch(() => {}); // no swap accounting: fine
    }
    await writeFile(join(pidsDir, 'pids.max'), String(maxProcesses));
    return {
      version: found.version,
      procsFiles: dirs.map((d) => join(d, 'cgroup.procs')),
      async events() {
        const memory =
          found.version === 'v2' ? await readText(join(memoryDir, 'memory.events')) : await readText(join(memoryDir, 'memory.oom_control'));
        const pids = await readText(join(pidsDir, 'pids.events'));
        return { oomKilled: counter(memory, 'oom_kill') > 0, processLimitHit: counter(pids, 'max') > 0 };
      },
      remove: removeAll,
    };
  } catch {
    await removeAll();
    return null;
  }
}
