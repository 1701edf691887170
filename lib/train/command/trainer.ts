/**
 * The `command` trainer backend: the user's own trainer command (TRL, axolotl, LLaMA-Factory, a torchrun script,
 * `flywheel train-policy`), run by a launcher (local process, Slurm, any scheduler through templates). Every job of
 * a round lives in its own directory on the shared workdir, so a restarted worker finds it, never starts it twice,
 * and reads how it ended from the status file its script wrote. Success means exit 0 and a checkpoint manifest.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DATASET_NAME, exportChatDataset, exportStepwiseDataset } from '../dataset.js';
import { readManifest } from '../manifest.js';
import { describeProgress, ProgressReader } from '../progress.js';
import type { ChatExampleLike, JobTag, SubmitRequest, Trainer, TrainerJob } from '../types.js';
import { trainerEnv } from './exec.js';
import { createJobDir, jobDir, jobIdFor, jobIndices, jobScript, type JobFiles, type JobRecord, type LauncherKind } from './jobdir.js';
import type { Launcher, SchedulerView } from './launcher.js';
import { createLocalLauncher } from './local.js';
import { createSlurmLauncher, templateBody, type SlurmLauncherOptions } from './slurm.js';
import { renderTemplate, templateEnv, type TemplateValues } from './template.js';
import { createTemplatesLauncher, type TemplatesLauncherOptions } from './templates.js';
import { roundDir } from '../dataset.js';

export type LauncherOptions =
  | { kind: 'local' }
  | ({ kind: 'slurm' } & SlurmLauncherOptions)
  | ({ kind: 'templates' } & TemplatesLauncherOptions);

export interface CommandTrainerOptions {
  /** A directory the worker and the trainer both see (a shared filesystem on a cluster). */
  workdir: string;
  /** The trainer command line, with `{placeholders}` (see template.ts). */
  command: string;
  launcher: LauncherOptions;
  /** Variables the job gets besides FLYWHEEL_* (no secrets: those come from `passEnv`). */
  env?: Record<string, string>;
  /** Names of credential-like variables of the worker that the job may inherit (e.g. HF_TOKEN). */
  passEnv?: string[];
  /** The worker's environment (default process.env). */
  baseEnv?: NodeJS.ProcessEnv;
  /** How long a job whose submit was cut short may stay unseen by its launcher before it counts as never started. */
  submitGraceMs?: number;
}

/** The served name of a round's model: unique to run, round and attempt, so an adapter is never swapped under an old name. */
export function modelNameFor(suffix: string, tag: JobTag, index: number): string {
  return `${suffix}-${tag.runId}-r${tag.round}${index > 1 ? `-j${index}` : ''}`;
}

export function createLauncher(options: LauncherOptions, env: NodeJS.ProcessEnv): Launcher {
  switch (options.kind) {
    case 'local':
      return createLocalLauncher();
    case 'slurm':
      return createSlurmLauncher(options, env);
    case 'templates':
      return createTemplatesLauncher(options);
  }
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * @example
 * const trainer = createCommandTrainer({
 *   workdir: '/shared/flywheel',
 *   command: 'flywheel train-policy --data {dataset} --output {outputDir} --seed {seed}',
 *   launcher: { kind: 'slurm', partition: 'gpu', gres: 'gpu:1', time: '02:00:00' },
 * });
 */
export function createCommandTrainer(options: CommandTrainerOptions): Trainer & { readonly launcher: LauncherKind } {
  const baseEnv = options.baseEnv ?? process.env;
  const launcher = createLauncher(options.launcher, baseEnv);
  const readers = new Map<string, ProgressReader>();
  const submitGraceMs = options.submitGraceMs ?? 15_000;
  const workdir = path.resolve(options.workdir);

  function readerFor(jobId: string): ProgressReader {
    let reader = readers.get(jobId);
    if (!reader) readers.set(jobId, (reader = new ProgressReader()));
    return reader;
  }

  /** A job record whose launch was cut short: find it through the launcher, or learn that it never started. */
  async function settle(files: JobFiles, record: JobRecord): Promise<JobRecord | null> {
    if (record.state === 'submitted') return record;
    const identity = await launcher.recover(files, record);
    if (identity) {
      const settled: JobRecord = { ...record, ...identity, state: 'submitted' };
      files.writeRecord(settled);
      return settled;
    }
    return null;
  }

  function describe(files: JobFiles, record: JobRecord, view: SchedulerView | null): TrainerJob {
    const history = readerFor(record.id).read([files.log, files.progress]);
    const last = history.at(-1);
    const base = {
      id: record.id,
      launcher: record.launcher,
      progressHistory: history,
      model: null,
      exitCode: null,
      logTail: null,
      checkpoint: null,
    } satisfies Partial<TrainerJob>;
    const status = files.readStatus();
    if (status) {
      const tail = files.logTail();
      if (status.exitCode === 0) {
        const read = readManifest(files.output);
        if ('manifest' in read) {
          return { ...base, status: 'succeeded', model: record.modelName, error: null, progress: last ? describeProgress(last) : 'done', exitCode: 0, checkpoint: { path: files.output, manifest: read.manifest } };
        }
        return { ...base, status: 'failed', exitCode: 0, logTail: tail, progress: null, error: `the trainer exited 0 but left no usable checkpoint: ${read.error}.${tailText(files, tail)}` };
      }
      const how = status.signal ? `was terminated (SIG${status.signal}, exit ${status.exitCode})` : `exited with code ${status.exitCode}`;
      return {
        ...base,
        status: record.cancelRequested ? 'cancelled' : 'failed',
        exitCode: status.exitCode,
        logTail: tail,
        progress: null,
        error: `the trainer ${how}.${tailText(files, tail)}`,
      };
    }
    const progress = last ? describeProgress(last) : null;
    if (!view) return { ...base, status: 'queued', error: null, progress: 'submitting' };
    switch (view.state) {
      case 'queued':
        return { ...base, status: 'queued', error: null, progress: progress ?? view.detail ?? null };
      case 'running':
        return { ...base, status: 'running', error: null, progress: progress ?? view.detail ?? null };
      case 'unreachable':
        // The job lives on where the scheduler runs it; say so and keep waiting rather than fail the round.
        return { ...base, status: files.readStarted() ? 'running' : 'queued', error: null, progress: `${progress ? `${progress} · ` : ''}${view.detail}` };
      case 'ended':
      case 'unknown': {
        const tail = files.logTail();
        const cancelled = record.cancelRequested === true;
        return {
          ...base,
          status: cancelled ? 'cancelled' : 'failed',
          exitCode: view.state === 'ended' ? view.exitCode : null,
          logTail: tail,
          progress: null,
          error: `${view.detail}, and the job script wrote no status.json (killed by the scheduler, out of memory or time, or the node was lost).${tailText(files, tail)}`,
        };
      }
    }
  }

  async function get(jobId: string): Promise<TrainerJob> {
    const files = jobDir(workdir, jobId);
    const record = files.readRecord();
    const settled = await settle(files, record);
    if (!settled) {
      if (Date.now() - Date.parse(record.createdAt) < submitGraceMs) return describe(files, record, null);
      return {
        id: jobId, launcher: record.launcher, status: 'failed', model: null, progress: null, exitCode: null, logTail: null, checkpoint: null, progressHistory: [],
        error: `the submit of job ${jobId} was cut short before ${record.launcher} accepted it; resume the round to submit it again`,
      };
    }
    if (files.readStatus()) return describe(files, settled, null);
    return describe(files, settled, await launcher.view(files, settled));
  }

  return {
    backend: 'command',
    launcher: launcher.kind,
    async upload(jsonl, filename) {
      const dir = path.join(workdir, 'uploads');
      await mkdir(dir, { recursive: true });
      const target = path.join(dir, path.basename(filename));
      const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, jsonl);
      await rename(tmp, target);
      return target;
    },
    async exportDataset(tag: JobTag, examples: AsyncIterable<ChatExampleLike>, systemPrompt?: string) {
      return (await exportChatDataset(workdir, tag, examples, systemPrompt)).path;
    },
    async exportStepwise(tag, examples) {
      return (await exportStepwiseDataset(workdir, tag, examples)).path;
    },
    async find(tag) {
      const latest = jobIndices(workdir, tag).at(-1);
      if (latest === undefined) return null;
      const id = jobIdFor(tag, latest);
      const job = await get(id);
      // A submit that never reached the launcher is no job; the next submit reuses its directory.
      if (job.status === 'failed' && job.error?.includes('was cut short before')) return null;
      return job;
    },
    async submit(request: SubmitRequest) {
      const { tag } = request;
      const { files, index } = await claimJobDir(tag);
      const id = jobIdFor(tag, index);
      const modelName = modelNameFor(request.suffix, tag, index);
      const hp = request.hyperparameters;
      const values: TemplateValues = {
        dataset: request.trainingFile,
        datasetDir: path.dirname(request.trainingFile),
        datasetName: DATASET_NAME,
        baseModel: request.baseModel,
        fromModel: request.continueFrom?.model ?? request.baseModel,
        fromCheckpoint: request.continueFrom?.checkpointPath ?? '',
        outputDir: files.output,
        modelName,
        jobDir: files.dir,
        jobName: `flywheel-${tag.runId}-r${tag.round}${tag.learner === 'prm' ? '-prm' : ''}-j${index}`,
        progressFile: files.progress,
        runId: tag.runId,
        round: String(tag.round),
        seed: String(request.seed),
        epochs: hp.nEpochs === undefined ? '' : String(hp.nEpochs),
        learningRateMultiplier: hp.learningRateMultiplier === undefined ? '' : String(hp.learningRateMultiplier),
        batchSize: hp.batchSize === undefined ? '' : String(hp.batchSize),
        hyperparameters: JSON.stringify(hp),
      };
      const plain = Object.fromEntries(Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined));
      const record: JobRecord = {
        version: 1,
        id,
        name: values.jobName!,
        launcher: launcher.kind,
        tag,
        index,
        state: 'submitting',
        createdAt: new Date().toISOString(),
        modelName,
        baseModel: request.baseModel,
        values: plain,
      };
      const command = renderTemplate(options.command, values, 'finetune.command');
      const slurmTemplate = options.launcher.kind === 'slurm' ? options.launcher.scriptTemplate : undefined;
      const body = slurmTemplate ? templateBody(slurmTemplate, plain, command) : command;
      const flywheelEnv = { ...(options.env ?? {}), ...templateEnv(values) };
      const env = trainerEnv(baseEnv, options.passEnv ?? [], flywheelEnv);
      const context = { files, record, env, values: plain };
      await writeFile(files.script, jobScript({ files, jobId: id, header: launcher.scriptHeader(context), env: flywheelEnv, body }), { mode: 0o755 });
      files.writeRecord(record);
      const identity = await launcher.launch(context);
      const submitted: JobRecord = { ...record, ...identity, state: 'submitted' };
      files.writeRecord(submitted);
      return describe(files, submitted, { state: 'queued', detail: `submitted to ${launcher.kind}` });
    },
    get,
    async cancel(jobId) {
      const files = jobDir(workdir, jobId);
      const record = await settle(files, files.readRecord());
      if (!record || files.readStatus()) return;
      files.writeRecord({ ...record, cancelRequested: true });
      await launcher.cancel(files, record);
    },
  };

  /** The next job directory, or the last one when its submit never reached the launcher. */
  async function claimJobDir(tag: JobTag): Promise<{ files: JobFiles; index: number }> {
    const latest = jobIndices(workdir, tag).at(-1);
    if (latest !== undefined) {
      const files = jobDir(workdir, jobIdFor(tag, latest));
      let record: JobRecord | null = null;
      try {
        record = files.readRecord();
      } catch {
        // A directory without a record: created, then the worker died. Reuse it.
        return { files, index: latest };
      }
      if (record.state === 'submitting' && !(await settle(files, record))) return { files, index: latest };
      const job = TERMINAL.has((await get(jobIdFor(tag, latest))).status);
      if (!job) {
        throw new Error(
          `round ${tag.round} of run ${tag.runId} already has a live trainer job (${jobIdFor(tag, latest)}); ` +
            'a second one is not submitted (cancel it first)',
        );
      }
    }
    return createJobDir(workdir, tag);
  }
}

function tailText(files: JobFiles, tail: string | null): string {
  return tail ? ` Last lines of ${files.log}:\n${tail}` : ` ${files.log} is empty.`;
}

export { roundDir };
