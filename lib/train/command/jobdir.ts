/**
 * One trainer job on disk, under `<workdir>/<run>/round-<n>/job-<k>/` (a PRM's: `.../round-<n>/prm/job-<k>/`, so the
 * round's two learners never share or reattach to each other's jobs): the record of how it was launched
 * (`job.json`), the script that runs it (`job.sh`), its log and progress file, the `started.json` and `status.json`
 * its script writes, and the output directory the trainer writes its checkpoint to. Everything a restarted worker
 * needs to find the job again and learn how it ended is here, not in the worker's memory or the scheduler's.
 *
 *   job.json        JobRecord (written before launching, then with the launcher's identity of the job)
 *   job.sh          the wrapper: exports the FLYWHEEL_* variables, runs the command, writes status.json
 *   log.txt         stdout and stderr of the trainer
 *   progress.jsonl  where the trainer may write progress lines (FLYWHEEL_PROGRESS_FILE)
 *   started.json    {pid, host, schedulerJobId, startedAt}, written when the script starts
 *   status.json     {exitCode, signal, finishedAt}, written (temp file + rename) when the command ended
 *   output/         the checkpoint and its manifest.json (FLYWHEEL_OUTPUT_DIR)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { roundDir } from '../dataset.js';
import type { JobTag } from '../types.js';
import { shellQuote } from './template.js';

export type LauncherKind = 'local' | 'slurm' | 'templates';

export interface JobRecord {
  version: 1;
  id: string;
  /** The name the scheduler knows the job by, unique to run, round and attempt. */
  name: string;
  launcher: LauncherKind;
  tag: JobTag;
  /** 1 for the round's first job, 2 after a resume replaced it, ... */
  index: number;
  /** `submitting` until the launcher accepted the job and its identity is written here. */
  state: 'submitting' | 'submitted';
  createdAt: string;
  modelName: string;
  baseModel: string;
  /** The template values the job was launched with (paths, names, hyperparameters: nothing secret). */
  values: Record<string, string>;
  /** Local launcher: the detached process, recognised by its pid and start time (a reused pid is not it). */
  local?: { pid: number; startTicks: number; bootId: string };
  /** Slurm and template launchers: the scheduler's id of the job. */
  scheduler?: { jobId: string };
  cancelRequested?: boolean;
}

export interface JobStatusFile {
  exitCode: number;
  signal: string | null;
  finishedAt: string;
}

export interface JobStartedFile {
  pid: number;
  host: string;
  schedulerJobId: string | null;
  startedAt: string;
}

export class JobFiles {
  constructor(readonly dir: string) {}
  get record() {
    return path.join(this.dir, 'job.json');
  }
  get script() {
    return path.join(this.dir, 'job.sh');
  }
  get log() {
    return path.join(this.dir, 'log.txt');
  }
  get progress() {
    return path.join(this.dir, 'progress.jsonl');
  }
  get started() {
    return path.join(this.dir, 'started.json');
  }
  get status() {
    return path.join(this.dir, 'status.json');
  }
  get output() {
    return path.join(this.dir, 'output');
  }

  readRecord(): JobRecord {
    try {
      return JSON.parse(readFileSync(this.record, 'utf8')) as JobRecord;
    } catch (err) {
      throw new Error(`cannot read the job record ${this.record}: ${(err as Error).message}`);
    }
  }

  writeRecord(record: JobRecord): void {
    writeAtomic(this.record, `${JSON.stringify(record, null, 2)}\n`);
  }

  readStatus(): JobStatusFile | null {
    return readJsonOrNull<JobStatusFile>(this.status);
  }

  readStarted(): JobStartedFile | null {
    return readJsonOrNull<JobStartedFile>(this.started);
  }

  /** The last `lines` lines of the log (at most 8 KB read). */
  logTail(lines = 30): string | null {
    if (!existsSync(this.log)) return null;
    const size = statSync(this.log).size;
    const length = Math.min(size, 8 * 1024);
    const buffer = Buffer.alloc(length);
    const fd = openSync(this.log, 'r');
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    const text = buffer.toString('utf8').trimEnd();
    return text ? text.split('\n').slice(-lines).join('\n') : null;
  }
}

function readJsonOrNull<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null; // not written yet (written by rename, so never half there)
  }
}

export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * `<run>/round-<n>/job-<k>` (the policy) or `<run>/round-<n>/prm/job-<k>` (the PRM): the id the fine_tunes row
 * records; it names the job's directory under the workdir.
 */
export function jobIdFor(tag: JobTag, index: number): string {
  return `${tag.runId}/round-${tag.round}/${tag.learner === 'prm' ? 'prm/' : ''}job-${index}`;
}

const JOB_ID = /^([A-Za-z0-9._-]+)\/round-(\d+)\/(prm\/)?job-(\d+)$/;

export function parseJobId(jobId: string): { tag: JobTag; index: number } {
  const m = JOB_ID.exec(jobId);
  if (!m) throw new Error(`'${jobId}' is not a command-trainer job id (expected <run>/round-<n>/job-<k> or <run>/round-<n>/prm/job-<k>)`);
  const tag: JobTag = { runId: m[1]!, round: Number(m[2]), ...(m[3] ? { learner: 'prm' as const } : {}) };
  return { tag, index: Number(m[4]) };
}

/** The directory holding a learner's jobs of the round: the round's own for the policy, `prm/` under it for the PRM. */
export function learnerDir(workdir: string, tag: JobTag): string {
  return tag.learner === 'prm' ? path.join(roundDir(workdir, tag), 'prm') : roundDir(workdir, tag);
}

export function jobDir(workdir: string, jobId: string): JobFiles {
  const { tag, index } = parseJobId(jobId);
  return new JobFiles(path.join(learnerDir(workdir, tag), `job-${index}`));
}

/** The indices of the round's job directories, ascending. */
export function jobIndices(workdir: string, tag: JobTag): number[] {
  const dir = learnerDir(workdir, tag);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^job-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Creates the next job directory of the round; `mkdir` fails if another submit took the index first. */
export function createJobDir(workdir: string, tag: JobTag): { files: JobFiles; index: number } {
  mkdirSync(learnerDir(workdir, tag), { recursive: true });
  for (let attempt = 0; attempt < 100; attempt++) {
    const index = (jobIndices(workdir, tag).at(-1) ?? 0) + 1;
    const dir = path.join(learnerDir(workdir, tag), `job-${index}`);
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    mkdirSync(path.join(dir, 'output'));
    return { files: new JobFiles(dir), index };
  }
  throw new Error(`could not create a job directory under ${learnerDir(workdir, tag)}`);
}

/**
 * The job script: `header` lines (e.g. `#SBATCH ...`) first, where schedulers read them; then the FLYWHEEL_*
 * variables, `started.json`, the trainer `body` in a subshell, and `status.json` written by rename when it ends,
 * also when the job is terminated (SIGTERM, SIGINT), so the exit status outlives the scheduler's memory of it.
 */
export function jobScript(options: { files: JobFiles; jobId: string; header: string[]; env: Record<string, string>; body: string }): string {
  const { files } = options;
  const q = shellQuote;
  const exports = Object.entries(options.env).map(([k, v]) => `export ${k}=${q(v)}`);
  return [
    '#!/usr/bin/env bash',
    ...options.header,
    `# Written by flywheel for trainer job ${options.jobId}: runs the trainer command, then records its exit`,
    '# status in status.json (temp file + rename), which outlives the scheduler\'s memory of the job.',
    `cd ${q(files.dir)} || exit 97`,
    `exec >>${q(files.log)} 2>&1`,
    ...exports,
    'flywheel_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }',
    'flywheel_status() {',
    `  printf '{"exitCode":%d,"signal":%s,"finishedAt":"%s"}\\n' "$1" "$2" "$(flywheel_now)" > status.json.$$.tmp && mv -f status.json.$$.tmp status.json`,
    '}',
    // The traps come before started.json, so a cancel that follows started.json is always recorded; one that lands
    // between the trainer's start and `flywheel_child=$!` still finds it through `$!`.
    // The trainer runs as a job of its own process group (set -m), waited for in the background, so a SIGTERM to
    // this script (scancel, a time limit, a local cancel) is forwarded to the whole trainer at once and recorded.
    'flywheel_child=',
    'flywheel_stop() { flywheel_child=${flywheel_child:-$!}; [ -n "$flywheel_child" ] && { kill -"$1" -- -"$flywheel_child" 2>/dev/null; wait "$flywheel_child"; }; flywheel_status "$2" "\\"$1\\""; exit "$2"; }',
    "trap 'flywheel_stop TERM 143' TERM",
    "trap 'flywheel_stop INT 130' INT",
    `printf '{"pid":%d,"host":"%s","schedulerJobId":%s,"startedAt":"%s"}\\n' $$ "\${HOSTNAME:-}" "$([ -n "\${SLURM_JOB_ID:-}" ] && printf '"%s"' "$SLURM_JOB_ID" || printf null)" "$(flywheel_now)" > started.json.$$.tmp && mv -f started.json.$$.tmp started.json`,
    `mkdir -p ${q(files.output)}`,
    'set -m',
    '(',
    options.body,
    ') &',
    'flywheel_child=$!',
    'wait "$flywheel_child"',
    'flywheel_code=$?',
    'flywheel_status "$flywheel_code" null',
    'exit "$flywheel_code"',
    '',
  ].join('\n');
}
