/**
 * The `local` launcher: the job script as a detached process (its own session, via setsid) on the worker's
 * machine, so it outlives the worker. It is recorded by pid, start time and boot id; a restarted worker finds it by
 * them (a pid reused by another process is not mistaken for it) and reads its exit status from status.json.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { JobFiles, JobRecord } from './jobdir.js';
import type { LaunchContext, LaunchIdentity, Launcher, SchedulerView } from './launcher.js';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or null when there is no such process. */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return Number(fields[19]);
  } catch {
    return null;
  }
}

export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function isSameProcess(identity: NonNullable<JobRecord['local']>): boolean {
  return identity.bootId === bootId() && processStartTicks(identity.pid) === identity.startTicks;
}

export function createLocalLauncher(): Launcher {
  return {
    kind: 'local',
    scriptHeader: () => [],
    async launch({ files, env }: LaunchContext): Promise<LaunchIdentity> {
      const log = openSync(files.log, 'a');
      try {
        const child = spawn('bash', [files.script], { cwd: files.dir, env, detached: true, stdio: ['ignore', log, log] });
        const pid = await new Promise<number>((resolve, reject) => {
          child.once('error', (err) => reject(new Error(`cannot start the trainer job script ${files.script}: ${err.message}`)));
          child.once('spawn', () => resolve(child.pid!));
        });
        child.unref();
        const startTicks = processStartTicks(pid);
        if (startTicks === null) {
          // It ended already (or failed at once): its status.json tells, so any identity that cannot match will do.
          return { local: { pid, startTicks: -1, bootId: bootId() } };
        }
        return { local: { pid, startTicks, bootId: bootId() } };
      } finally {
        closeSync(log);
      }
    },
    async recover(files: JobFiles): Promise<LaunchIdentity | null> {
      // The script writes started.json first thing; give a just-spawned one a moment to get there.
      for (let i = 0; i < 20; i++) {
        const started = files.readStarted();
        if (started) return { local: { pid: started.pid, startTicks: processStartTicks(started.pid) ?? -1, bootId: bootId() } };
        if (files.readStatus()) return { local: { pid: -1, startTicks: -1, bootId: bootId() } };
        await new Promise((r) => setTimeout(r, 100));
      }
      return null;
    },
    async view(_files, record): Promise<SchedulerView> {
      const identity = record.local;
      if (!identity) return { state: 'unknown', detail: 'no process was recorded for this job' };
      if (isSameProcess(identity)) return { state: 'running', detail: `pid ${identity.pid}` };
      return { state: 'unknown', detail: `process ${identity.pid} is gone` };
    },
    async cancel(_files, record) {
      const identity = record.local;
      if (!identity || !isSameProcess(identity)) return;
      try {
        process.kill(-identity.pid, 'SIGTERM'); // its whole session/process group: the trainer and its children
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    },
  };
}
