/**
 * Where the services are. The environment wins (`DATABASE_URL`, `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
 * `FLYWHEEL_MODEL_URL`); otherwise the stack that `flywheel dev` started and described in `.flywheel/stack.json`.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectDatabase, DatabaseUnreachableError, type Database } from '../db/client.js';

export interface Connections {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  /** Base URL of the embedded model server, if one runs. */
  modelUrl: string | null;
  uiUrl: string | null;
}

export interface StackFile extends Connections {
  pid: number;
  startedAt: string;
  /** True when `flywheel dev` runs a worker of its own. */
  worker: boolean;
}

/** The folder for embedded state (Postgres data, Temporal's SQLite file, models): `FLYWHEEL_HOME` or `./.flywheel`. */
export function flywheelHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.FLYWHEEL_HOME ?? '.flywheel');
}

const stackPath = (home: string) => path.join(home, 'stack.json');

export function writeStackFile(home: string, stack: StackFile): void {
  writeFileSync(stackPath(home), JSON.stringify(stack, null, 2) + '\n');
}

export function removeStackFile(home: string, pid = process.pid): void {
  const current = readStackFile(home);
  if (current && current.pid === pid) rmSync(stackPath(home), { force: true });
}

/** The running `flywheel dev` stack, or null when there is none (or its process is gone). */
export function readStackFile(home: string): StackFile | null {
  const file = stackPath(home);
  if (!existsSync(file)) return null;
  try {
    const stack = JSON.parse(readFileSync(file, 'utf8')) as StackFile;
    process.kill(stack.pid, 0);
    return stack;
  } catch {
    return null;
  }
}

export class MissingServiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingServiceError';
  }
}

/** Connections for commands that talk to running services (run, status, resume, worker). */
export function resolveConnections(env: NodeJS.ProcessEnv = process.env): Connections {
  const stack = readStackFile(flywheelHome(env));
  const databaseUrl = env.DATABASE_URL || stack?.databaseUrl;
  const temporalAddress = env.TEMPORAL_ADDRESS || stack?.temporalAddress;
  if (!databaseUrl || !temporalAddress) {
    const missing = [!databaseUrl && 'DATABASE_URL', !temporalAddress && 'TEMPORAL_ADDRESS'].filter(Boolean).join(' and ');
    throw new MissingServiceError(
      `no ${missing}: set ${missing.includes(' and ') ? 'them' : 'it'}, or start the embedded stack in another terminal with \`npx flywheel dev\``,
    );
  }
  return {
    databaseUrl,
    temporalAddress,
    namespace: env.TEMPORAL_NAMESPACE || stack?.namespace || 'default',
    modelUrl: env.FLYWHEEL_MODEL_URL || stack?.modelUrl || null,
    uiUrl: env.FLYWHEEL_UI_URL || stack?.uiUrl || null,
  };
}

const WHAT_TO_DO =
  'start the embedded stack in another terminal with `npx flywheel dev`, or point flywheel at running services with ' +
  'DATABASE_URL and TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE)';

/** Postgres at the resolved URL does not answer: exit 3, with the (redacted) address and what to do. */
export async function openDatabase(url: string, options: { migrate?: boolean } = {}): Promise<Database> {
  try {
    return await connectDatabase(url, options);
  } catch (err) {
    if (err instanceof DatabaseUnreachableError) throw new MissingServiceError(`${err.message}\n  ${WHAT_TO_DO}`);
    throw err;
  }
}

/** Temporal at `address` does not answer: exit 3, with the address and what to do (not a tonic transport error). */
export async function connectTemporal<T>(address: string, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300);
    throw new MissingServiceError(`cannot reach Temporal at ${address} (${reason})\n  ${WHAT_TO_DO}`);
  }
}
