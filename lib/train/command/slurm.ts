/**
 * The `slurm` launcher: `sbatch --parsable` of the job script with the user's options as `#SBATCH` lines, the job
 * named and commented with its run, round and attempt so a worker that crashed between sbatch and recording the
 * id finds it again with squeue. State comes from `scontrol show job`; once Slurm forgets a finished job
 * (MinJobAge), status.json still says how it ended, so neither sacct nor slurmdbd is needed.
 */
import { readFileSync } from 'node:fs';
import { commandFailure, runCommand } from './exec.js';
import type { JobFiles, JobRecord } from './jobdir.js';
import type { LaunchContext, LaunchIdentity, Launcher, SchedulerView } from './launcher.js';
import { renderTemplate } from './template.js';

export interface SlurmLauncherOptions {
  partition?: string;
  gres?: string;
  time?: string;
  account?: string;
  cpusPerTask?: number;
  mem?: string;
  /** Extra sbatch options, one per `#SBATCH` line, e.g. `--qos=high`. */
  sbatch?: string[];
  /**
   * A batch script template (its text, already read) used as the job's body instead of the plain command: it may
   * hold `#SBATCH` lines and module loads, and runs `{command}`... through the same placeholders as the command.
   */
  scriptTemplate?: string;
  /** Where the Slurm commands are (default: on PATH). */
  binDir?: string;
}

const QUEUED = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT', 'RESIZING']);

/** `comment` Slurm keeps with the job: how squeue tells our job from another job of the same name. */
export function slurmComment(record: JobRecord): string {
  return `flywheel:${record.id}`;
}

/** JobState and ExitCode from `scontrol show job` output. */
export function parseScontrolJob(text: string): { state: string; exitCode: number | null; signal: number | null; reason: string | null } | null {
  const state = /\bJobState=(\S+)/.exec(text)?.[1];
  if (!state) return null;
  const exit = /\bExitCode=(\d+):(\d+)/.exec(text);
  const reason = /\bReason=(\S+)/.exec(text)?.[1] ?? null;
  return { state, exitCode: exit ? Number(exit[1]) : null, signal: exit ? Number(exit[2]) : null, reason: reason === 'None' ? null : reason };
}

function unreachable(text: string): boolean {
  return /Unable to contact slurm controller|Socket timed out|Connection refused|Zero Bytes were transmitted|slurm_load_jobs error: (?!Invalid job id)/i.test(text);
}

export function createSlurmLauncher(options: SlurmLauncherOptions, env: NodeJS.ProcessEnv = process.env): Launcher {
  const bin = (name: string) => (options.binDir ? `${options.binDir}/${name}` : name);
  const slurm = (name: string, args: string[]) => runCommand(bin(name), args, { env, timeoutMs: 60_000 });

  async function findByName(record: JobRecord): Promise<string | null> {
    const out = await slurm('squeue', ['-h', '--states=all', `--name=${record.name}`, '-o', '%i|%k']);
    if (out.code !== 0) throw commandFailure('squeue', out);
    const comment = slurmComment(record);
    const line = out.stdout.split('\n').find((l) => l.split('|')[1]?.trim() === comment);
    return line ? line.split('|')[0]!.trim() : null;
  }

  return {
    kind: 'slurm',
    scriptHeader({ files, record }: LaunchContext) {
      const lines = [
        `--job-name=${record.name}`,
        `--comment=${slurmComment(record)}`,
        `--output=${files.dir}/slurm-%j.out`,
        `--chdir=${files.dir}`,
        ...(options.partition ? [`--partition=${options.partition}`] : []),
        ...(options.account ? [`--account=${options.account}`] : []),
        ...(options.time ? [`--time=${options.time}`] : []),
        ...(options.gres ? [`--gres=${options.gres}`] : []),
        ...(options.cpusPerTask ? [`--cpus-per-task=${options.cpusPerTask}`] : []),
        ...(options.mem ? [`--mem=${options.mem}`] : []),
        ...(options.sbatch ?? []),
      ];
      const templateHeader = options.scriptTemplate ? leadingDirectives(options.scriptTemplate) : [];
      return [...lines.map((l) => `#SBATCH ${l}`), ...templateHeader];
    },
    async launch({ files, env: jobEnv }: LaunchContext): Promise<LaunchIdentity> {
      const out = await runCommand(bin('sbatch'), ['--parsable', files.script], { env: jobEnv, cwd: files.dir, timeoutMs: 120_000 });
      if (out.code !== 0) throw commandFailure(`sbatch ${files.script}`, out);
      const jobId = out.stdout.trim().split('\n').at(-1)?.split(';')[0]?.trim();
      if (!jobId || !/^\d+(_\d+)?$/.test(jobId)) throw new Error(`sbatch printed no job id (got '${out.stdout.trim()}')`);
      return { scheduler: { jobId } };
    },
    async recover(files: JobFiles, record: JobRecord): Promise<LaunchIdentity | null> {
      const started = files.readStarted();
      if (started?.schedulerJobId) return { scheduler: { jobId: started.schedulerJobId } };
      const jobId = await findByName(record);
      return jobId ? { scheduler: { jobId } } : null;
    },
    async view(files: JobFiles, record: JobRecord): Promise<SchedulerView> {
      const jobId = record.scheduler?.jobId;
      if (!jobId) return { state: 'unknown', detail: 'no Slurm job id was recorded' };
      const out = await slurm('scontrol', ['show', 'job', '-o', jobId]).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
      const text = `${out.stdout}\n${out.stderr}`;
      if (out.code !== 0) {
        if (/Invalid job id/i.test(text)) return { state: 'unknown', detail: `Slurm no longer knows job ${jobId}` };
        if (unreachable(text) || out.code === -1) return { state: 'unreachable', detail: `Slurm did not answer about job ${jobId}: ${text.trim().split('\n')[0]}` };
        return { state: 'unreachable', detail: `scontrol show job ${jobId} exited ${out.code}: ${text.trim().split('\n')[0]}` };
      }
      const job = parseScontrolJob(out.stdout);
      if (!job) return { state: 'unreachable', detail: `scontrol show job ${jobId} printed no JobState` };
      if (QUEUED.has(job.state)) return { state: 'queued', detail: `slurm job ${jobId} ${job.state}${job.reason ? ` (${job.reason})` : ''}` };
      if (RUNNING.has(job.state)) return { state: 'running', detail: `slurm job ${jobId} ${job.state}` };
      const slurmOut = readSlurmOutput(files, jobId);
      return {
        state: 'ended',
        exitCode: job.exitCode,
        detail: `slurm job ${jobId} ended ${job.state} (ExitCode ${job.exitCode ?? '?'}:${job.signal ?? '?'}${job.reason ? `, ${job.reason}` : ''})${slurmOut ? `; slurm output: ${slurmOut}` : ''}`,
      };
    },
    async cancel(_files, record) {
      const jobId = record.scheduler?.jobId ?? (await findByName(record));
      if (!jobId) return;
      const out = await slurm('scancel', [jobId]);
      if (out.code !== 0 && !/Invalid job id|already completing or completed/i.test(out.stderr)) throw commandFailure(`scancel ${jobId}`, out);
    },
  };
}

/** What Slurm itself wrote for the job before our script took over its output (e.g. a missing node, a bad option). */
function readSlurmOutput(files: JobFiles, jobId: string): string | null {
  try {
    const text = readFileSync(`${files.dir}/slurm-${jobId}.out`, 'utf8').trim();
    return text ? text.split('\n').slice(-5).join(' | ') : null;
  } catch {
    return null;
  }
}

/** The `#SBATCH` lines (and comments) a script template starts with; sbatch reads directives only up there. */
export function leadingDirectives(template: string): string[] {
  const out: string[] = [];
  for (const line of template.split('\n')) {
    if (line.startsWith('#!')) continue;
    if (line.startsWith('#') || line.trim() === '') {
      if (line.startsWith('#SBATCH')) out.push(line);
      continue;
    }
    break;
  }
  return out;
}

/**
 * A script template's body: everything but its shebang and `#SBATCH` lines, placeholders filled, and `{command}`
 * replaced by the trainer command as it is (already rendered, so not quoted again).
 */
export function templateBody(template: string, values: Record<string, string>, command: string): string {
  const lines = template.split('\n').filter((l) => !l.startsWith('#!') && !l.startsWith('#SBATCH'));
  const parts = lines.join('\n').split('{command}');
  if (parts.length < 2) throw new Error('finetune.launcher.scriptTemplate: the template never runs {command}');
  return parts.map((part) => renderTemplate(part, values, 'finetune.launcher.scriptTemplate')).join(command);
}
