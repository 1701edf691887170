import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Log, stderrLog } from './log.js';
import { isAlive, sleep } from './processes.js';

const execFileAsync = promisify(execFile);

/**
 * The Temporal CLI we run, pinned: it embeds Temporal server 1.29.1 and the Web UI. Later tags carry a `replace`
 * directive that `go install pkg@version` refuses.
 */
export const TEMPORAL_CLI_VERSION = '1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** `${XDG_CACHE_HOME:-~/.cache}/flywheel/bin`: where installed binaries live, shared by every checkout. */
export function flywheelBinDir(): string {
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cacheHome, 'flywheel', 'bin');
}

/**
 * The cached pinned CLI. `go install` builds report version `0.0.0-DEV`, so the file name is what identifies the
 * pinned build; a `.json` marker next to it says how it got there.
 */
export function cachedTemporalCliPath(): string {
  return path.join(flywheelBinDir(), `temporal-${TEMPORAL_CLI_VERSION}`);
}

/**
 * The pinned `temporal` CLI if it is already here, else null. Looks at, in order: `FLYWHEEL_TEMPORAL_CLI` (an error
 * when it names no executable), the cache, and a `temporal` on PATH only when `temporal --version` says it is
 * the pinned version.
 */
export async function locateTemporalCli(): Promise<string | null> {
  const fromEnv = process.env.FLYWHEEL_TEMPORAL_CLI;
  if (fromEnv) {
    if (await isExecutable(fromEnv)) return path.resolve(fromEnv);
    throw new Error(
      `FLYWHEEL_TEMPORAL_CLI=${fromEnv} is not an executable file. Point it at a temporal CLI v${TEMPORAL_CLI_VERSION} ` +
        `binary, or unset it to use the cached one (install it with \`npx tsx infra/temporal-cli.ts install\`).`,
    );
  }
  const cached = cachedTemporalCliPath();
  if (await isExecutable(cached)) return cached;
  return findPinnedOnPath();
}

async function findPinnedOnPath(): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'temporal');
    if (!(await isExecutable(candidate))) continue;
    const version = await reportedVersion(candidate);
    return version === TEMPORAL_CLI_VERSION ? candidate : null; // only the first one on PATH is what users run
  }
  return null;
}

/** The version `temporal --version` prints ("temporal version 1.5.1 (Server …)"), or null. */
export async function reportedVersion(executable: string): Promise<string | null> {
  try {
    const { stdout } = await execFileAsync(executable, ['--version'], { timeout: 10_000 });
    return /^temporal version v?(\S+)/m.exec(stdout)?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * The path of the pinned CLI, installing it into the cache first when it is missing: with `go install` where Go is
 * present (a few minutes the first time), else with the Temporal SDK's own download. Concurrent callers (two
 * processes) wait on one install through a lock file.
 *
 * @example
 * const temporal = await ensureTemporalCli({ log: console.error });
 */
export async function ensureTemporalCli({
  log = stderrLog,
  useGo = true,
}: {
  log?: Log;
  /** false skips `go install` and goes straight to the SDK download (to exercise that path). */
  useGo?: boolean;
} = {}): Promise<string> {
  const found = await locateTemporalCli();
  if (found) return found;

  const binDir = flywheelBinDir();
  await mkdir(binDir, { recursive: true });
  const release = await acquireInstallLock(path.join(binDir, `temporal-${TEMPORAL_CLI_VERSION}.lock`), log);
  try {
    const installedMeanwhile = await locateTemporalCli();
    if (installedMeanwhile) return installedMeanwhile;
    await removeLeftoverInstalls(binDir);

    const failures: string[] = [];
    const go = useGo ? await findGo() : null;
    if (go) {
      try {
        return await installWithGo(go, log);
      } catch (error) {
        failures.push(`go install failed: ${errorText(error)}`);
        log(`go install failed; trying the Temporal SDK download instead`);
      }
    } else {
      failures.push(useGo ? 'Go is not installed (no `go` on PATH or in /usr/local/go/bin)' : 'Go was not tried');
    }
    try {
      return await installWithSdkDownload(log);
    } catch (error) {
      failures.push(`the Temporal SDK download failed: ${errorText(error)}`);
    }
    throw new Error(
      [
        `Could not install the Temporal CLI v${TEMPORAL_CLI_VERSION} into ${cachedTemporalCliPath()}:`,
        ...failures.map((failure) => `  - ${failure}`),
        'To fix, do one of:',
        `  - install Go (1.24 or later) and run \`npx tsx infra/temporal-cli.ts install\` again`,
        `  - build it anywhere with \`go install ${TEMPORAL_CLI_MODULE}@v${TEMPORAL_CLI_VERSION}\` and copy it to ` +
          cachedTemporalCliPath(),
        `  - set FLYWHEEL_TEMPORAL_CLI to a temporal CLI v${TEMPORAL_CLI_VERSION} binary`,
        '  - or set TEMPORAL_ADDRESS to use a Temporal server you already run',
      ].join('\n'),
    );
  } finally {
    await release();
  }
}

/** Temp folders of installs that died midway; only called while holding the lock, so none is in use. */
async function removeLeftoverInstalls(binDir: string): Promise<void> {
  for (const name of await readdir(binDir)) {
    if (name.startsWith('.go-install-') || name.startsWith('.sdk-download-')) {
      await rm(path.join(binDir, name), { recursive: true, force: true });
    }
  }
}

async function findGo(): Promise<string | null> {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  if (process.env.GOROOT) dirs.push(path.join(process.env.GOROOT, 'bin'));
  dirs.push('/usr/local/go/bin');
  for (const dir of dirs) {
    const candidate = path.join(dir, process.platform === 'win32' ? 'go.exe' : 'go');
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

/** Builds into a fresh GOBIN inside the cache folder, then renames: same filesystem, so the swap is atomic. */
async function installWithGo(go: string, log: Log): Promise<string> {
  const started = Date.now();
  const gobin = await mkdtemp(path.join(flywheelBinDir(), '.go-install-'));
  try {
    const target = `${TEMPORAL_CLI_MODULE}@v${TEMPORAL_CLI_VERSION}`;
    log(`building the Temporal CLI: ${go} install ${target} (a few minutes the first time)`);
    // The machine's own `go env` (GOPROXY, GOSUMDB, GOFLAGS, caches) applies; we only redirect the output.
    await execFileAsync(go, ['install', target], {
      cwd: gobin,
      env: { ...process.env, GOBIN: gobin },
      timeout: 30 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stderr?: string; message: string }) => {
      throw new Error((error.stderr || error.message).trim().split('\n').slice(-15).join('\n'));
    });
    const built = path.join(gobin, process.platform === 'win32' ? 'temporal.exe' : 'temporal');
    const goVersion = (await execFileAsync(go, ['version'])).stdout.trim();
    return await moveIntoCache(built, { source: 'go install', module: target, builtWith: goVersion }, started, log);
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
}

/**
 * The SDK's ephemeral dev server downloads the CLI into `downloadDir` as `temporal-v<version>` when it first
 * starts; starting and stopping one is the supported way to trigger that download.
 */
async function installWithSdkDownload(log: Log): Promise<string> {
  const started = Date.now();
  const downloadDir = await mkdtemp(path.join(flywheelBinDir(), '.sdk-download-'));
  try {
    log(`downloading the Temporal CLI v${TEMPORAL_CLI_VERSION} through @temporalio/testing`);
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const environment = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download', version: `v${TEMPORAL_CLI_VERSION}`, downloadDir },
        ui: false,
      },
    });
    await environment.teardown();
    const entries = await readdir(downloadDir);
    const downloaded = entries.find((name) => name.startsWith('temporal') && !name.endsWith('.downloading'));
    if (!downloaded) throw new Error(`the SDK finished but left no temporal binary in ${downloadDir}`);
    return await moveIntoCache(
      path.join(downloadDir, downloaded),
      { source: 'temporal.download via @temporalio/testing', version: `v${TEMPORAL_CLI_VERSION}` },
      started,
      log,
    );
  } finally {
    await rm(downloadDir, { recursive: true, force: true });
  }
}

async function moveIntoCache(
  built: string,
  provenance: Record<string, string>,
  started: number,
  log: Log,
): Promise<string> {
  const destination = cachedTemporalCliPath();
  await chmod(built, 0o755);
  const reported = await reportedVersion(built);
  if (reported === null) throw new Error(`${built} was produced but \`--version\` did not run`);
  const marker = `${destination}.json`;
  const markerTemp = `${marker}.${process.pid}.tmp`;
  const record = { version: TEMPORAL_CLI_VERSION, reports: reported, ...provenance, installedAt: new Date().toISOString() };
  await writeFile(markerTemp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(built, destination);
  await rename(markerTemp, marker);
  log(`installed the Temporal CLI v${TEMPORAL_CLI_VERSION} at ${destination} in ${seconds(Date.now() - started)}`);
  return destination;
}

interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

/** A lock file created with O_EXCL; a lock left by a dead process on this host is taken over. */
async function acquireInstallLock(lockPath: string, log: Log): Promise<() => Promise<void>> {
  const deadline = Date.now() + 45 * 60_000;
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      const holder: LockHolder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
      await handle.writeFile(JSON.stringify(holder));
      await handle.close();
      return async function releaseInstallLock() {
        await unlink(lockPath).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readLockHolder(lockPath);
    if (holder === 'stale') {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${lockPath} (held by pid ${holder?.pid ?? '?'}); remove it if no install runs`);
    }
    if (!announced) {
      log(`another process (pid ${holder?.pid ?? '?'}) is installing the Temporal CLI; waiting for it`);
      announced = true;
    }
    await sleep(1_000);
  }
}

async function readLockHolder(lockPath: string): Promise<LockHolder | 'stale' | null> {
  try {
    const holder = JSON.parse(await readFile(lockPath, 'utf8')) as LockHolder;
    return holder.host === os.hostname() && !isAlive(holder.pid) ? 'stale' : holder;
  } catch {
    // Unreadable: being written right now, or left half-written long ago.
    const age = await stat(lockPath).then((s) => Date.now() - s.mtimeMs, () => 0);
    return age > 60_000 ? 'stale' : null;
  }
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === 'install') {
    const started = Date.now();
    const wasThere = await locateTemporalCli();
    const executable = await ensureTemporalCli({ log: stderrLog, useGo: !argv.includes('--no-go') });
    const how = wasThere ? 'already installed' : 'installed';
    process.stderr.write(`temporal CLI v${TEMPORAL_CLI_VERSION} ${how}; took ${seconds(Date.now() - started)}\n`);
    process.stdout.write(`${executable}\n`);
    return 0;
  }
  if (command === 'path') {
    const executable = await locateTemporalCli();
    if (executable) process.stdout.write(`${executable}\n`);
    else process.stderr.write(`temporal CLI v${TEMPORAL_CLI_VERSION} is not installed; run \`npx tsx infra/temporal-cli.ts install\`\n`);
    return executable ? 0 : 1;
  }
  process.stderr.write('usage: tsx infra/temporal-cli.ts install [--no-go] | path\n');
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${errorText(error)}\n`);
      process.exit(1);
    },
  );
}
