/**
 * A real single-node Slurm cluster (Debian's slurmctld, slurmd and munge) under a temporary directory, for the
 * integration tests and CI: its own munge key and socket, its own ports, state and spool dirs, and `SLURM_CONF`
 * for the client commands. It needs root (slurmd runs jobs as the submitting user) and starts in a few seconds.
 *
 *   npx tsx infra/slurm.ts check    starts a cluster, runs one job through sbatch, stops it (exit 0 when it works)
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { isAlive, waitForExit } from './processes.js';

const run = promisify(execFile);

export interface SlurmCluster {
  /** Root of the cluster's files (config, state, spool, logs). */
  dir: string;
  /** Path of slurm.conf; pass it to client commands as `SLURM_CONF`. */
  conf: string;
  /** The environment client commands need: `{ SLURM_CONF }`. */
  env: { SLURM_CONF: string };
  nodeName: string;
  /** Slurm's own record of every job that ended (jobcomp/filetxt), one line per job. */
  jobCompFile: string;
  /** SIGTERM to slurmctld and wait until it is gone (jobs keep running under slurmd). */
  stopController(): Promise<void>;
  /** Starts slurmctld again on the saved state. */
  startController(): Promise<void>;
  /** Stops slurmd, slurmctld and munged by their pid files (SIGTERM), then removes the directory. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

/** Why a cluster cannot start here (not root, a binary missing), or null when it can try. */
export function slurmUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'Slurm test clusters need Linux';
  if (process.getuid?.() !== 0) return 'starting slurmd needs root (it runs jobs as their user)';
  for (const bin of ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/sbin/mungekey', '/usr/bin/sbatch']) {
    if (!existsSync(bin)) return `${bin} is missing: apt-get install -y slurmctld slurmd slurm-client munge`;
  }
  try {
    execFileSync('id', ['munge'], { stdio: 'ignore' });
  } catch {
    return 'there is no munge user (the munge package creates it)';
  }
  return null;
}

/** The slurm.conf of a test cluster: every path under `dir`, no accounting database, jobs scheduled at once. */
export function slurmConf(options: {
  dir: string;
  clusterName: string;
  nodeName: string;
  cpus: number;
  ctldPort: number;
  slurmdPort: number;
  mungeSocket: string;
}): string {
  const { dir } = options;
  return [
    `ClusterName=${options.clusterName}`,
    `SlurmctldHost=${options.nodeName}(127.0.0.1)`,
    `SlurmctldPort=${options.ctldPort}`,
    `SlurmdPort=${options.slurmdPort}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `AuthInfo=socket=${options.mungeSocket}`,
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool`,
    `SlurmctldPidFile=${dir}/run/slurmctld.pid`,
    `SlurmdPidFile=${dir}/run/slurmd.pid`,
    `SlurmctldLogFile=${dir}/log/slurmctld.log`,
    `SlurmdLogFile=${dir}/log/slurmd.log`,
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core',
    'AccountingStorageType=accounting_storage/none',
    'JobAcctGatherType=jobacct_gather/none',
    'JobCompType=jobcomp/filetxt',
    `JobCompLoc=${dir}/log/jobcomp.txt`,
    'SchedulerParameters=batch_sched_delay=0',
    'MpiDefault=none',
    'ReturnToService=2',
    'SlurmctldTimeout=30',
    'SlurmdTimeout=60',
    // Finished jobs leave scontrol's view after this many seconds: short, so tests see Slurm forget a job.
    'MinJobAge=10',
    `NodeName=${options.nodeName} NodeAddr=127.0.0.1 CPUs=${options.cpus} State=UNKNOWN`,
    `PartitionName=debug Nodes=${options.nodeName} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, logs: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const tails = logs.filter(existsSync).map((f) => `--- ${f}\n${readFileSync(f, 'utf8').trim().split('\n').slice(-15).join('\n')}`);
      throw new Error(`the test Slurm cluster: ${what} did not happen within ${timeoutMs} ms\n${tails.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** slurmstepd processes started by the slurmd of the cluster whose config is `conf`. */
function stepDaemons(conf: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'slurmstepd') continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`SLURM_CONF=${conf}`)) found.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

async function stopByPidFile(file: string, name: string): Promise<void> {
  const pid = readPid(file);
  if (!pid || !isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  // slurmctld saves its state and drains its RPC threads first (up to MessageTimeout when a client went away).
  if (!(await waitForExit(pid, 30_000))) {
    process.kill(pid, 'SIGKILL');
    if (!(await waitForExit(pid, 5_000))) throw new Error(`${name} (pid ${pid}) survived SIGKILL`);
  }
}

/**
 * Starts munged (as the munge user), slurmctld and slurmd; resolves once the node is idle and takes jobs.
 *
 * @example
 * const cluster = await startSlurmCluster();
 * await execa('sbatch', ['--wrap', 'true'], { env: { ...process.env, ...cluster.env } });
 * await cluster.stop();
 */
export async function startSlurmCluster(options: { cpus?: number } = {}): Promise<SlurmCluster> {
  const reason = slurmUnavailableReason();
  if (reason) throw new Error(`cannot start a Slurm test cluster: ${reason}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flywheel-slurm-'));
  // munged refuses a socket directory that others cannot traverse.
  chmodSync(dir, 0o755);
  const munge = (await run('id', ['-u', 'munge'])).stdout.trim();
  const mungeGid = (await run('id', ['-g', 'munge'])).stdout.trim();
  for (const sub of ['state', 'spool', 'log', 'run', 'munge-key', 'munge-run']) mkdirSync(path.join(dir, sub));
  for (const sub of ['munge-key', 'munge-run']) chownSync(path.join(dir, sub), Number(munge), Number(mungeGid));
  chmodSync(path.join(dir, 'munge-key'), 0o700);
  const keyFile = path.join(dir, 'munge-key/munge.key');
  const mungeSocket = path.join(dir, 'munge-run/munge.socket');
  const mungePid = path.join(dir, 'munge-run/munged.pid');
  const nodeName = os.hostname().split('.')[0] ?? os.hostname();
  const conf = path.join(dir, 'slurm.conf');
  const env = { SLURM_CONF: conf };
  const ctldPid = path.join(dir, 'run/slurmctld.pid');
  const slurmdPid = path.join(dir, 'run/slurmd.pid');
  const logs = [path.join(dir, 'log/slurmctld.log'), path.join(dir, 'log/slurmd.log'), path.join(dir, 'munge-key/munged.log')];
  const childEnv = { ...process.env, ...env };

  const stopAll = async () => {
    await stopByPidFile(slurmdPid, 'slurmd');
    await stopByPidFile(ctldPid, 'slurmctld');
    await stopByPidFile(mungePid, 'munged');
    // A step daemon whose job never got to report its end (the controller was down) outlives slurmd and ignores
    // SIGTERM; it is this cluster's when it inherited this cluster's SLURM_CONF.
    for (const pid of stepDaemons(conf)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  };

  try {
    await run('runuser', ['-u', 'munge', '--', 'mungekey', '--create', `--keyfile=${keyFile}`]);
    await run('runuser', [
      '-u', 'munge', '--', 'munged',
      `--socket=${mungeSocket}`,
      `--key-file=${keyFile}`,
      `--pid-file=${mungePid}`,
      `--log-file=${path.join(dir, 'munge-key/munged.log')}`,
      `--seed-file=${path.join(dir, 'munge-key/munged.seed')}`,
    ]);
    writeFileSync(
      conf,
      slurmConf({
        dir,
        clusterName: `fw${path.basename(dir).slice(-6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`,
        nodeName,
        cpus: options.cpus ?? os.cpus().length,
        ctldPort: await freePort(),
        slurmdPort: await freePort(),
        mungeSocket,
      }),
    );
    await run('/usr/sbin/slurmctld', ['-f', conf, '-i'], { env: childEnv });
    await run('/usr/sbin/slurmd', ['-f', conf, '-N', nodeName], { env: childEnv });
    await waitFor(
      'the node becoming idle',
      async () => {
        const out = await run('sinfo', ['-h', '-N', '-o', '%t'], { env: childEnv }).catch(() => ({ stdout: '' }));
        return /^idle/m.test(out.stdout);
      },
      30_000,
      logs,
    );
  } catch (err) {
    await stopAll().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    dir,
    conf,
    env,
    nodeName,
    jobCompFile: path.join(dir, 'log/jobcomp.txt'),
    async stopController() {
      await stopByPidFile(ctldPid, 'slurmctld');
    },
    async startController() {
      await run('/usr/sbin/slurmctld', ['-f', conf, '-i'], { env: childEnv });
      await waitFor('slurmctld answering', async () => (await run('scontrol', ['ping'], { env: childEnv }).catch(() => ({ stdout: '' }))).stdout.includes('UP'), 30_000, logs);
    },
    async stop({ keepDir = false } = {}) {
      await stopAll();
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Lines of jobcomp/filetxt, Slurm's own record of every job that ended, whose job name starts with `namePrefix`
 * (all of them for '').
 */
export function jobCompRecords(file: string, namePrefix: string): Array<{ jobId: string; name: string; state: string; exitCode: string }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && (/ Name=(\S+)/.exec(line)?.[1] ?? '').startsWith(namePrefix))
    .map((line) => ({
      jobId: /JobId=(\S+)/.exec(line)?.[1] ?? '',
      name: / Name=(\S+)/.exec(line)?.[1] ?? '',
      state: /JobState=(\S+)/.exec(line)?.[1] ?? '',
      exitCode: / ExitCode=(\S+)/.exec(line)?.[1] ?? '', // not DerivedExitCode
    }));
}

async function check(): Promise<void> {
  const cluster = await startSlurmCluster();
  try {
    const env = { ...process.env, ...cluster.env };
    const out = path.join(cluster.dir, 'check.out');
    const { stdout } = await run('sbatch', ['--parsable', '--job-name=flywheel-check', `--output=${out}`, '--wrap', 'echo slurm-ok'], { env });
    const jobId = stdout.trim().split(';')[0];
    await waitFor('the check job finishing', () => jobCompRecords(cluster.jobCompFile, 'flywheel-check').length > 0, 60_000, [out]);
    const [record] = jobCompRecords(cluster.jobCompFile, 'flywheel-check');
    const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
    if (!record) throw new Error(`the check job ${jobId} finished but left no job completion record`);
    if (record.state !== 'COMPLETED' || !text.includes('slurm-ok')) {
      throw new Error(`the check job ${jobId} ended ${record.state} (exit ${record.exitCode}); output: ${text.trim() || '(none)'}`);
    }
    console.log(`slurm cluster ok: job ${jobId} ran on ${cluster.nodeName}`);
  } finally {
    await cluster.stop();
  }
}

/** A cluster to run against by hand (`SLURM_CONF=... flywheel dev`), until SIGINT / SIGTERM. */
async function up(): Promise<void> {
  const cluster = await startSlurmCluster();
  console.log(`slurm cluster up on ${cluster.nodeName}, partition debug; Ctrl-C stops it.\nexport SLURM_CONF=${cluster.conf}\n# Slurm's job records: ${cluster.jobCompFile}`);
  await new Promise<void>((resolve) => {
    process.on('SIGINT', () => resolve());
    process.on('SIGTERM', () => resolve());
  });
  await cluster.stop();
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const command = process.argv[2];
  if (command !== 'check' && command !== 'up') {
    console.error('usage: tsx infra/slurm.ts check | up   (check: start, run one job, stop; up: start and keep it until Ctrl-C)');
    process.exit(2);
  }
  (command === 'up' ? up() : check()).catch((err: unknown) => {
    console.error(`slurm check failed: ${(err as Error).message}`);
    process.exit(3);
  });
}
