/**
 * The `templates` launcher: any scheduler driven by three shell command templates whose output is parsed.
 * `submit` gets `{script}` (the job script flywheel wrote, on the shared workdir) and `{jobName}`; the job id is
 * taken from its output with `jobIdPattern`; `status` prints something `states` maps to queued / running /
 * succeeded / failed; `cancel` stops it. status.json, written by the job script, still decides how a job ended
 * when the script ran. Kubernetes example: config/examples/k8s-job.yaml and the README.
 */
import { commandFailure, runShell } from './exec.js';
import type { JobFiles, JobRecord } from './jobdir.js';
import type { LaunchContext, LaunchIdentity, Launcher, SchedulerView } from './launcher.js';
import { renderTemplate } from './template.js';

export interface TemplatesLauncherOptions {
  submit: string;
  /** A regular expression whose first group is the job id in submit's output; default: all of its trimmed output. */
  jobIdPattern?: string;
  status: string;
  /** Regular expressions matched against status output (first match wins, in this order). */
  states: { succeeded: string; failed: string; queued?: string; running?: string };
  /** When status output (or its error) matches this, the scheduler does not know the job. */
  notFoundPattern?: string;
  cancel: string;
  timeoutMs?: number;
}

export function createTemplatesLauncher(options: TemplatesLauncherOptions): Launcher {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const states = {
    succeeded: new RegExp(options.states.succeeded, 'm'),
    failed: new RegExp(options.states.failed, 'm'),
    queued: options.states.queued ? new RegExp(options.states.queued, 'm') : null,
    running: options.states.running ? new RegExp(options.states.running, 'm') : null,
  };
  const notFound = options.notFoundPattern ? new RegExp(options.notFoundPattern, 'mi') : /not ?found/i;
  const idPattern = options.jobIdPattern ? new RegExp(options.jobIdPattern, 'm') : null;
  async function status(files: JobFiles, record: JobRecord, jobId: string): Promise<SchedulerView> {
    const values = { ...record.values, jobDir: files.dir, jobName: record.name, jobId, script: files.script };
    const command = renderTemplate(options.status, values, 'finetune.launcher.status');
    const out = await runShell(command, { timeoutMs, cwd: files.dir }).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
    const text = `${out.stdout}\n${out.stderr}`.trim();
    if (out.code !== 0) {
      if (notFound.test(text)) return { state: 'unknown', detail: `the scheduler does not know job ${jobId}: ${text.split('\n')[0]}` };
      return { state: 'unreachable', detail: `status of job ${jobId} exited ${out.code}: ${text.split('\n')[0] ?? ''}` };
    }
    const shown = out.stdout.trim();
    const detail = `job ${jobId}: ${shown.split('\n')[0] || '(no output)'}`;
    if (states.succeeded.test(shown)) return { state: 'ended', exitCode: 0, detail };
    if (states.failed.test(shown)) return { state: 'ended', exitCode: null, detail };
    if (states.queued?.test(shown)) return { state: 'queued', detail };
    return { state: 'running', detail };
  }

  return {
    kind: 'templates',
    scriptHeader: () => [],
    async launch({ files, record, env, values }: LaunchContext): Promise<LaunchIdentity> {
      const command = renderTemplate(options.submit, { ...values, script: files.script, jobName: record.name }, 'finetune.launcher.submit');
      const out = await runShell(command, { env, cwd: files.dir, timeoutMs });
      if (out.code !== 0) throw commandFailure(`the submit command (${command})`, out);
      const jobId = idPattern ? idPattern.exec(out.stdout)?.[1] : out.stdout.trim();
      if (!jobId) throw new Error(`the submit command printed no job id${idPattern ? ` matching /${idPattern.source}/` : ''}: '${out.stdout.trim()}'`);
      return { scheduler: { jobId } };
    },
    async recover(files, record) {
      const started = files.readStarted();
      if (started?.schedulerJobId) return { scheduler: { jobId: started.schedulerJobId } };
      // Schedulers that take the job's name as its id (Kubernetes) know it by the name flywheel gave it.
      const view = await status(files, record, record.name);
      return view.state === 'unknown' || view.state === 'unreachable' ? null : { scheduler: { jobId: record.name } };
    },
    async view(files, record) {
      const jobId = record.scheduler?.jobId;
      if (!jobId) return { state: 'unknown', detail: 'no scheduler job id was recorded' };
      return status(files, record, jobId);
    },
    async cancel(files, record) {
      const jobId = record.scheduler?.jobId ?? record.name;
      const command = renderTemplate(options.cancel, { ...record.values, jobDir: files.dir, jobName: record.name, jobId, script: files.script }, 'finetune.launcher.cancel');
      const out = await runShell(command, { timeoutMs, cwd: files.dir });
      if (out.code !== 0 && !notFound.test(`${out.stdout}\n${out.stderr}`)) throw commandFailure(`the cancel command (${command})`, out);
    },
  };
}
