/** What the command trainer needs from a launcher: start the job script, say what became of it, stop it. */
import type { JobFiles, JobRecord, LauncherKind } from './jobdir.js';

/** What the scheduler knows of a job that has not written status.json (yet). */
export type SchedulerView =
  | { state: 'queued' | 'running'; detail?: string }
  /** It ended: the scheduler's verdict, e.g. `slurm job 12: TIMEOUT, exit 0:15`. */
  | { state: 'ended'; detail: string; exitCode: number | null }
  /** The scheduler does not know it (forgotten after it ended, or the process is gone). */
  | { state: 'unknown'; detail: string }
  /** The scheduler did not answer; the job is presumed to live on. */
  | { state: 'unreachable'; detail: string };

export type LaunchIdentity = Pick<JobRecord, 'local' | 'scheduler'>;

export interface LaunchContext {
  files: JobFiles;
  record: JobRecord;
  /** The environment the job gets (the FLYWHEEL_* variables are also exported by the script). */
  env: NodeJS.ProcessEnv;
  /** Template values (launcher templates use them too). */
  values: Record<string, string>;
}

export interface Launcher {
  readonly kind: LauncherKind;
  /** Lines the job script starts with (e.g. `#SBATCH` options). */
  scriptHeader(context: LaunchContext): string[];
  /** Starts the job; returns how to find it again. */
  launch(context: LaunchContext): Promise<LaunchIdentity>;
  /** A job whose launch may or may not have happened before a crash: its identity if it was launched, else null. */
  recover(files: JobFiles, record: JobRecord): Promise<LaunchIdentity | null>;
  view(files: JobFiles, record: JobRecord): Promise<SchedulerView>;
  cancel(files: JobFiles, record: JobRecord): Promise<void>;
}
