import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { type Log, stderrLog } from './log.js';
import { portOrFree } from './ports.js';
import { OutputTail, commandLine, isAlive, sleep, startWatchdog, terminate } from './processes.js';
import { FLYWHEEL_SEARCH_ATTRIBUTES, type SearchAttributeKind } from './search-attributes.js';
import { ensureTemporalCli } from './temporal-cli.js';

export { FLYWHEEL_SEARCH_ATTRIBUTES, type SearchAttributeKind } from './search-attributes.js';

export interface TemporalDevServerOptions {
  /** SQLite file for persistent state (created if missing); omit for an in-memory server. */
  dbFile?: string;
  /** Frontend gRPC port; omitted or taken: a free one (a taken one is reported through `log`). */
  port?: number;
  /** Web UI port; omitted or taken: a free one; `false`: no UI. */
  uiPort?: number | false;
  namespace?: string;
  ip?: string;
  log?: Log;
  /** The `temporal` CLI to run; default: the pinned one, installed on first use. */
  executable?: string;
  /** How long to wait for the frontend, the namespace and the search attributes; default 60 s. */
  startTimeoutMs?: number;
}

export interface TemporalDevServer {
  /** host:port for `Connection.connect({ address })`. */
  address: string;
  uiUrl: string | null;
  namespace: string;
  pid: number;
  dbFile: string | null;
  /** Where the server writes its (warn-level) log; null for an in-memory server. */
  logFile: string | null;
  /** Ends the server (SIGTERM, then SIGKILL after a grace period). Safe to call twice. */
  stop(): Promise<void>;
}

/** What we leave next to the db file while a server runs, to find it (or its orphan) again. */
interface ServerRecord {
  pid: number;
  ownerPid: number;
  address: string;
  uiUrl: string | null;
  startedAt: string;
}

const STOP_GRACE_MS = 10_000;
const DEFAULT_START_TIMEOUT_MS = 60_000;

/**
 * Starts `temporal server start-dev` and resolves once its frontend answers, the namespace exists and our search
 * attributes are registered. The dev server registers `--search-attribute` flags only in a new database, so they are
 * (re)ensured through the operator service as well. The server ends with `stop()`, or with this process: a watchdog
 * ends it even when this process is killed.
 *
 * @example
 * const temporal = await startTemporalDevServer({ dbFile: '.flywheel/temporal.db', port: 7233, uiPort: 8233 });
 * const connection = await Connection.connect({ address: temporal.address });
 * // ...
 * await temporal.stop();
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions = {}): Promise<TemporalDevServer> {
  const log = options.log ?? stderrLog;
  const namespace = options.namespace ?? 'default';
  const ip = options.ip ?? '127.0.0.1';
  const executable = options.executable ?? (await ensureTemporalCli({ log }));
  const dbFile = options.dbFile ? path.resolve(options.dbFile) : null;
  const logFile = dbFile ? logFileFor(dbFile) : null;
  if (dbFile) {
    await mkdir(path.dirname(dbFile), { recursive: true });
    await clearPreviousServer(dbFile, log);
  }

  const maxAttempts = 3;
  for (let attempt = 1; ; attempt++) {
    const ports = await choosePorts(options, ip, log);
    const started = await spawnServer({ executable, dbFile, logFile, namespace, ip, ...ports });
    // Recorded at once, so that a start cut short still leaves a trace the next start can clean up after.
    if (dbFile) await writeServerRecord(dbFile, started);
    try {
      await waitUntilReady(started, namespace, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    } catch (error) {
      await started.stop();
      if (dbFile) await rm(recordFileFor(dbFile), { force: true });
      const bindFailed = /address already in use|bind:/i.test(String((error as Error).message));
      if (bindFailed && attempt < maxAttempts) {
        log(`the Temporal dev server could not bind its ports (taken meanwhile); retrying with others`);
        continue;
      }
      throw error;
    }
    return {
      address: started.address,
      uiUrl: started.uiUrl,
      namespace,
      pid: started.pid,
      dbFile,
      logFile,
      async stop() {
        await started.stop();
        if (dbFile) await rm(recordFileFor(dbFile), { force: true });
      },
    };
  }
}

/**
 * Registers our search attributes in `namespace` where missing; idempotent. Fails when one exists with another type.
 * Works against any server that allows the operator service (dev server, self-hosted).
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  attributes: Record<string, SearchAttributeKind> = FLYWHEEL_SEARCH_ATTRIBUTES,
): Promise<void> {
  const existing = await listCustomSearchAttributes(connection, namespace);
  const missing: Record<string, number> = {};
  for (const [name, kind] of Object.entries(attributes)) {
    const found = existing[name];
    if (found === undefined) missing[name] = INDEXED_VALUE_TYPE[kind];
    else if (found !== INDEXED_VALUE_TYPE[kind]) {
      throw new Error(
        `search attribute ${name} exists in namespace ${namespace} with another type (${typeName(found)}, not ${kind}); ` +
          `remove it (temporal operator search-attribute remove --name ${name}) or use a fresh namespace`,
      );
    }
  }
  if (Object.keys(missing).length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (error) {
    // Another process added them between our list and add.
    if (!/already exists/i.test(String((error as Error).message))) throw error;
  }
}

/** Custom search attributes of a namespace, by name, as `IndexedValueType` numbers. */
export async function listCustomSearchAttributes(
  connection: Connection,
  namespace: string,
): Promise<Record<string, number>> {
  const response = await connection.operatorService.listSearchAttributes({ namespace });
  return Object.fromEntries(
    Object.entries(response.customAttributes ?? {}).map(([name, type]) => [name, Number(type)]),
  );
}

/** temporal.api.enums.v1.IndexedValueType: wire values, fixed by the protocol. */
const INDEXED_VALUE_TYPE: Record<SearchAttributeKind, number> = { Keyword: 2, Int: 3 };

function typeName(value: number): string {
  const names = ['Unspecified', 'Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'];
  return names[value] ?? `type ${value}`;
}

function logFileFor(dbFile: string): string {
  const { dir, name } = path.parse(dbFile);
  return path.join(dir, `${name}.log`);
}

function recordFileFor(dbFile: string): string {
  return `${dbFile}.server.json`;
}

async function writeServerRecord(dbFile: string, server: SpawnedServer): Promise<void> {
  const record: ServerRecord = {
    pid: server.pid,
    ownerPid: process.pid,
    address: server.address,
    uiUrl: server.uiUrl,
    startedAt: new Date().toISOString(),
  };
  await writeFile(recordFileFor(dbFile), `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * A server recorded for this db file that still runs: an error when its owner lives (two servers on one SQLite file
 * would corrupt it), else an orphan whose watchdog could not act (e.g. the machine was suspended), which we end.
 */
async function clearPreviousServer(dbFile: string, log: Log): Promise<void> {
  const recordFile = recordFileFor(dbFile);
  let record: ServerRecord;
  try {
    record = JSON.parse(await readFile(recordFile, 'utf8')) as ServerRecord;
  } catch {
    return;
  }
  const cmdline = isAlive(record.pid) ? await commandLine(record.pid) : null;
  const stillOurs = isAlive(record.pid) && (cmdline === null || cmdline.includes(dbFile));
  if (stillOurs && isAlive(record.ownerPid)) {
    throw new Error(
      `a Temporal dev server already runs on ${dbFile} (pid ${record.pid}, ${record.address}), started by ` +
        `pid ${record.ownerPid}${record.ownerPid === process.pid ? ' (this process: stop it first)' : ''}. ` +
        `Connect to it, stop that process, or use another db file.`,
    );
  }
  if (stillOurs) {
    log(`ending an orphaned Temporal dev server (pid ${record.pid}) left on ${dbFile}`);
    await terminate(record.pid, { group: true, graceMs: STOP_GRACE_MS });
  }
  await rm(recordFile, { force: true });
}

async function choosePorts(
  options: TemporalDevServerOptions,
  ip: string,
  log: Log,
): Promise<{ port: number; uiPort: number | null }> {
  const frontend = await portOrFree(options.port, ip);
  if (frontend.moved) log(`port ${options.port} is taken; the Temporal frontend uses ${frontend.port} instead`);
  if (options.uiPort === false) return { port: frontend.port, uiPort: null };
  let ui = await portOrFree(options.uiPort, ip);
  while (ui.port === frontend.port) ui = await portOrFree(undefined, ip);
  if (ui.moved) log(`port ${options.uiPort} is taken; the Temporal UI uses ${ui.port} instead`);
  return { port: frontend.port, uiPort: ui.port };
}

interface SpawnedServer {
  pid: number;
  address: string;
  uiUrl: string | null;
  port: number;
  host: string;
  child: ChildProcess;
  exited: Promise<void>;
  /** The server's recent output, for errors. */
  output(): Promise<string>;
  stop(): Promise<void>;
}

async function spawnServer(spec: {
  executable: string;
  dbFile: string | null;
  logFile: string | null;
  namespace: string;
  ip: string;
  port: number;
  uiPort: number | null;
}): Promise<SpawnedServer> {
  const args = ['server', 'start-dev', '--ip', spec.ip, '--port', String(spec.port), '--log-level', 'warn'];
  args.push('--color', 'never');
  if (spec.namespace !== 'default') args.push('--namespace', spec.namespace);
  for (const [name, kind] of Object.entries(FLYWHEEL_SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${kind}`);
  if (spec.dbFile) args.push('--db-filename', spec.dbFile);
  if (spec.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(spec.uiPort));

  // A file log is written by the server itself, so it survives us; an in-memory server's output is only kept as a
  // tail for error messages.
  const logHandle = spec.logFile ? await open(spec.logFile, 'a') : null;
  const logOffset = logHandle ? (await logHandle.stat()).size : 0;
  const tail = new OutputTail();
  const child = spawn(spec.executable, args, {
    stdio: ['ignore', logHandle?.fd ?? 'pipe', logHandle?.fd ?? 'pipe'],
    detached: true, // its own process group, so stop() ends the whole tree and a terminal's Ctrl+C reaches us first
  });
  // Listen before any await: 'spawn' and 'error' fire on the next tick.
  const spawnedOrFailed = new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid as number));
    child.once('error', (error) => reject(new Error(`could not run ${spec.executable}: ${error.message}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdout?.on('data', (chunk: Buffer) => tail.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => tail.push(chunk));
  await logHandle?.close();
  const spawned = await spawnedOrFailed;
  const watchdog = startWatchdog(spawned, { signal: 'TERM', group: true, graceSeconds: STOP_GRACE_MS / 1000 });

  const host = spec.ip === '0.0.0.0' ? '127.0.0.1' : spec.ip === '::' ? '::1' : spec.ip;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  let stopping: Promise<void> | null = null;
  return {
    pid: spawned,
    address: `${hostPart}:${spec.port}`,
    uiUrl: spec.uiPort === null ? null : `http://${hostPart}:${spec.uiPort}`,
    port: spec.port,
    host,
    child,
    exited,
    async output() {
      if (!spec.logFile) return tail.toString();
      const text = await readFile(spec.logFile, 'utf8').catch(() => '');
      return text.slice(logOffset).trim().split('\n').slice(-40).join('\n');
    },
    stop() {
      stopping ??= (async function stopServer() {
        watchdog.release();
        if (child.exitCode === null && child.signalCode === null) {
          await terminate(spawned, { group: true, graceMs: STOP_GRACE_MS });
          await exited;
        }
      })();
      return stopping;
    },
  };
}

async function waitUntilReady(server: SpawnedServer, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let died = false;
  void server.exited.then(() => (died = true));
  let lastError: unknown = null;
  let connection: Connection | null = null;

  async function fail(reason: string): Promise<never> {
    const output = await server.output();
    throw new Error(`${reason}${output ? `\n--- temporal server output ---\n${output}` : ''}`);
  }

  try {
    for (;;) {
      if (died) {
        // Let the output land before quoting it.
        await sleep(100);
        return await fail(`the Temporal dev server exited during start-up (code ${server.child.exitCode})`);
      }
      if (Date.now() > deadline) {
        return await fail(
          `the Temporal dev server at ${server.address} was not ready after ${timeoutMs / 1000}s` +
            (lastError ? ` (last error: ${(lastError as Error).message})` : ''),
        );
      }
      try {
        if (!connection) {
          if (!(await canConnect(server.host, server.port))) throw new Error('frontend port not open yet');
          connection = await Connection.connect({ address: server.address, connectTimeout: 2_000 });
        }
        await connection.workflowService.describeNamespace({ namespace });
        await ensureSearchAttributes(connection, namespace);
        const registered = await listCustomSearchAttributes(connection, namespace);
        const missing = Object.keys(FLYWHEEL_SEARCH_ATTRIBUTES).filter((name) => !(name in registered));
        if (missing.length > 0) throw new Error(`search attributes not visible yet: ${missing.join(', ')}`);
        if (server.uiUrl && !(await answers(server.uiUrl))) throw new Error(`the UI at ${server.uiUrl} does not answer yet`);
        return;
      } catch (error) {
        lastError = error;
        await sleep(100);
      }
    }
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.status < 500;
  } catch {
    return false;
  }
}
